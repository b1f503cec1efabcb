# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for guest jobs (sourced by /init before /job.sh).  Disks are
# /dev/disk/NAME (NAME = the serial the host gave the drive); results go
# under /out, which the host unpacks.  Sizes are in 512-byte sectors, block
# ranges for pattern writes in 4 KiB blocks.

disk() { echo "/dev/disk/$1"; }
sectors() { blockdev --getsz "$1"; }

# pool_create NAME META DATA BLOCK_SECTORS [FEATURE...]
pool_create() {
	local name=$1 meta=$2 data=$3 bs=$4 len
	shift 4
	len=$(($(sectors "$(disk "$data")") / bs * bs))
	dmsetup create "$name" --table \
		"0 $len thin-pool $(disk "$meta") $(disk "$data") $bs 0 $# $*" &&
		dmsetup mknodes "$name"
}

# thin_create POOL ID NAME SECTORS: a new thin device, activated as NAME.
thin_create() {
	dmsetup message "$1" 0 "create_thin $2" && thin_activate "$@"
}

# thin_activate POOL ID NAME SECTORS
thin_activate() {
	dmsetup create "$3" --table "0 $4 thin /dev/mapper/$1 $2" &&
		dmsetup mknodes "$3"
}

# thin_snap POOL ID ORIGIN_ID [ORIGIN_NAME]: snapshot, the active origin
# suspended around it as the kernel requires.
thin_snap() {
	local rc
	[ -n "${4:-}" ] && dmsetup suspend "$4"
	dmsetup message "$1" 0 "create_snap $2 $3"
	rc=$?
	[ -n "${4:-}" ] && dmsetup resume "$4"
	return $rc
}

# thin_delete POOL ID [NAME]
thin_delete() {
	[ -n "${3:-}" ] && dmsetup remove "$3"
	dmsetup message "$1" 0 "delete $2"
}

# put NAME TAG GEN RANGE...: pattern blocks written through /dev/mapper/NAME.
put() {
	local name=$1
	shift
	pattern write "/dev/mapper/$name" "$@"
}

# record DIR NAME...: table, status and a scan of each device under /out/DIR.
# A device with a block list /job/ranges/NAME (see pattern.c) is scanned
# only there, and the list is kept as DIR/NAME.ranges.
record() {
	local dir=/out/$1 n f
	shift
	mkdir -p "$dir"
	# One dmsetup call for all devices ("NAME: line"), split per device.
	dmsetup table >/tmp/dm.table
	dmsetup status >/tmp/dm.status
	for f in table status; do
		awk -v dir="$dir" -v ext="$f" -v names=" $* " '{
			n = substr($1, 1, length($1) - 1)
			if (index(names, " " n " ")) {
				sub(/^[^ ]+ /, "")
				print > (dir "/" n "." ext)
			}
		}' "/tmp/dm.$f"
	done
	for n in "$@"; do
		[ -s "$dir/$n.table" ] || echo "record: no device $n"
		if [ -e "/job/ranges/$n" ]; then
			cp "/job/ranges/$n" "$dir/$n.ranges"
			pattern scan "/dev/mapper/$n" "$dir/$n.ranges" >"$dir/$n.scan"
		else
			pattern scan "/dev/mapper/$n" >"$dir/$n.scan"
		fi
	done
}

# record_pool DIR POOL: the pool's table and status (status commits first).
record_pool() {
	mkdir -p "/out/$1"
	dmsetup status "$2" >"/out/$1/pool-status"
	dmsetup table "$2" >"/out/$1/pool-table"
}

# copy_disk FROM TO: raw copy of a disk as it is now (e.g. live metadata).
copy_disk() {
	dd if="$(disk "$1")" of="$(disk "$2")" bs=1M iflag=direct oflag=direct 2>/dev/null
}

# teardown: remove every device-mapper device, users before what they use.
teardown() {
	local pass name
	for pass in 1 2 3 4 5; do
		for name in $(dmsetup ls | awk '$1 != "No" {print $1}'); do
			dmsetup remove "$name" 2>/dev/null
		done
		[ -z "$(dmsetup ls | awk '$1 != "No" {print $1}')" ] && return 0
	done
	echo "teardown: devices left: $(dmsetup ls)"
	return 1
}

# origin_create NAME DISK: a snapshot-origin device on DISK.
origin_create() {
	dmsetup create "$1" --table \
		"0 $(sectors "$(disk "$2")") snapshot-origin $(disk "$2")" &&
		dmsetup mknodes "$1"
}

# snap_create NAME ORIGIN_NAME ORIGIN_DISK COW_DISK CHUNK [P|PO]: a
# persistent snapshot, the origin suspended around its creation as lvm2 does.
snap_create() {
	local rc
	dmsetup suspend "$2"
	dmsetup create "$1" --table \
		"0 $(sectors "$(disk "$3")") snapshot $(disk "$3") $(disk "$4") ${6:-P} $5"
	rc=$?
	dmsetup resume "$2"
	dmsetup mknodes "$1"
	return $rc
}

# merge_start ORIGIN_NAME ORIGIN_DISK SNAP_NAME COW_DISK CHUNK: the kernel's
# merge as lvm2 starts it: the snapshot device goes away and the origin's
# table becomes snapshot-merge on the snapshot's store.
merge_start() {
	dmsetup remove "$3" || return 1
	dmsetup suspend "$1" &&
		dmsetup load "$1" --table \
			"0 $(sectors "$(disk "$2")") snapshot-merge $(disk "$2") $(disk "$4") P $5" &&
		dmsetup resume "$1"
}

# merge_wait NAME: poll the snapshot-merge status until allocated equals
# metadata (every exception merged); fails after about 5 minutes.
merge_wait() {
	local i=0 st
	while [ $i -lt 3000 ]; do
		st=$(dmsetup status "$1" | awk '{split($4, a, "/"); print (a[1] == $5)}')
		[ "$st" = 1 ] && return 0
		i=$((i + 1))
		sleep 0.1
	done
	echo "merge_wait: $1 did not finish: $(dmsetup status "$1")"
	return 1
}

# copy_disk_at FROM TO MIB: raw copy of disk FROM into disk TO at MIB MiB
# (several copies on one disk keep the number of virtio devices down).
copy_disk_at() {
	dd if="$(disk "$1")" of="$(disk "$2")" bs=1M seek="$3" conv=notrunc \
		iflag=direct oflag=direct 2>/dev/null
}
