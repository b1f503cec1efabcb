#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Regenerates the XML fixtures in this directory.
#
#   tests/xml/gen-fixtures.sh            write *.xml only
#   tests/xml/gen-fixtures.sh --debian   also restore every fixture with the
#                                        reference tools ($DEB_BIN, default
#                                        /usr/sbin, Debian 0.9.0), check that
#                                        thin_check passes and that thin_dump
#                                        reproduces the XML byte for byte, and
#                                        (re)write <name>.debian-human.txt and
#                                        <name>.debian-check.txt
#
# The XML is written in exactly the layout of Debian's thin_dump 0.9.0, so a
# fixture is also the expected `thin_dump` output of the image restored from
# it.  Everything is deterministic (no $RANDOM, no dates).
#
# Pipeline for most fixtures:
#   commands | sim | sort | fmt > NAME.xml
# "sim" is a tiny model of the pool target (create_thin, create_snap, writes
# that break sharing as in FORMATS.md A.6/A.12); "fmt" merges mappings into
# maximal runs and prints them the way thin_dump 0.9.0 does.  awk here may be
# mawk: numbers stay below 2^53 and are printed with %.0f (mawk's %d clamps
# at 2^31-1).  Fixtures with numbers beyond 2^53 are written literally.

# shellcheck disable=SC2016  # awk programs in single quotes
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
DEB_BIN=${DEB_BIN:-/usr/sbin}
IMG_SIZE=${IMG_SIZE:-8M}

# ---------------------------------------------------------------------------
# Simulator.  Input commands, one per line:
#   sb TIME TRANS FLAGS VERSION DATA_BLOCK_SIZE NR_DATA_BLOCKS
#                               initial superblock values (first line)
#   trans N                     set the pool transaction id
#   settime T                   set the pool time directly
#   alloc N                     next data block to try to allocate
#   thin DEV                    create_thin
#   delete DEV                  delete a device (its data blocks are not
#                               reused by later allocations)
#   snap NEW ORIGIN             create_snap (time++ first)
#   write DEV ORIGIN [LEN]      kernel-style write: unmapped or shared
#                               (time < snap_time) blocks get a fresh data
#                               block and the current time
#   map DEV ORIGIN DATA TIME [LEN]
#                               raw mapping(s) ORIGIN+k -> DATA+k, TIME
# Output (unsorted): "-1 0 S ...", "DEV -1 D trans ctime stime",
# "DEV ORIGIN M data time".
sim_awk='
function die(m) { printf "sim: line %d: %s\n", NR, m > "/dev/stderr"; err = 1; exit 1 }
# mawk turns integers >= 2^31 into "%.6g" strings when used as array
# subscripts, so every key is built explicitly.
function key(x) { return sprintf("%.0f", x) }
function need(d) { if (!(d in dtr)) die("no device " d) }
function allocate(  b) {
	while (key(nxt) in used) nxt++
	if (nxt >= nrdata) die("out of data blocks")
	b = nxt; used[key(b)] = 1; nxt++
	return b
}
$1 == "sb"      { now = $2 + 0; tr = $3 + 0; sflags = $4; sver = $5; sbs = $6; nrdata = $7 + 0; next }
$1 == "trans"   { tr = $2 + 0; next }
$1 == "settime" { now = $2 + 0; next }
$1 == "alloc"   { nxt = $2 + 0; next }
$1 == "thin"    { d = key($2); if (d in dtr) die("duplicate device " d)
		  dtr[d] = tr; dct[d] = now; dst[d] = now; next }
$1 == "snap"    { d = key($2); o = key($3); need(o); if (d in dtr) die("duplicate device " d)
		  now++
		  dtr[d] = tr; dct[d] = now; dst[d] = now; dst[o] = now
		  for (k in mdata) {
			split(k, p, SUBSEP)
			if (p[1] == o) { mdata[d, p[2]] = mdata[k]; mtime[d, p[2]] = mtime[k] }
		  }
		  next }
$1 == "delete"  { d = key($2); need(d)
		  delete dtr[d]; delete dct[d]; delete dst[d]
		  for (k in mdata) {
			split(k, p, SUBSEP)
			if (p[1] == d) { delete mdata[k]; delete mtime[k] }
		  }
		  next }
$1 == "write"   { d = key($2); need(d); len = (NF >= 4) ? $4 + 0 : 1
		  for (i = 0; i < len; i++) {
			o = key($3 + i)
			if (((d, o) in mdata) && mtime[d, o] >= dst[d]) continue
			mdata[d, o] = allocate(); mtime[d, o] = now
		  }
		  next }
$1 == "map"     { d = key($2); need(d); len = (NF >= 6) ? $6 + 0 : 1
		  for (i = 0; i < len; i++) {
			o = key($3 + i); b = $4 + i
			if ((d, o) in mdata) die("remap of " d "/" o)
			if (b >= nrdata) die("data block " b " >= nr_data_blocks")
			mdata[d, o] = b; mtime[d, o] = $5 + 0; used[key(b)] = 1
		  }
		  next }
/^[ \t]*(#|$)/  { next }
                { die("bad command: " $0) }
END {
	if (err) exit 1
	printf "-1 0 S %.0f %.0f %s %s %s %.0f\n", now, tr, sflags, sver, sbs, nrdata
	for (d in dtr) printf "%s -1 D %.0f %.0f %.0f\n", d, dtr[d], dct[d], dst[d]
	for (k in mdata) {
		split(k, p, SUBSEP)
		printf "%s %s M %.0f %.0f\n", p[1], p[2], mdata[k], mtime[k]
	}
}'

sim() {
	awk "$sim_awk"
}

# ---------------------------------------------------------------------------
# Formatter: sorted simulator output -> thin_dump 0.9.0 XML.
fmt_awk='
function die(m) { printf "fmt: %s\n", m > "/dev/stderr"; err = 1; exit 1 }
function flush_run() {
	if (!have) return
	if (len == 1)
		line[n++] = sprintf("    <single_mapping origin_block=\"%.0f\" data_block=\"%.0f\" time=\"%.0f\"/>", ob, db, tm)
	else
		line[n++] = sprintf("    <range_mapping origin_begin=\"%.0f\" data_begin=\"%.0f\" length=\"%.0f\" time=\"%.0f\"/>", ob, db, len, tm)
	have = 0
}
function flush_dev(  i) {
	if (!indev) return
	flush_run()
	printf "  <device dev_id=\"%.0f\" mapped_blocks=\"%.0f\" transaction=\"%.0f\" creation_time=\"%.0f\" snap_time=\"%.0f\">\n", dev, cnt, dtrans, dct, dst
	for (i = 0; i < n; i++) print line[i]
	print "  </device>"
	indev = 0
}
$3 == "S" {
	sbtime = $4 + 0; nrdata = $9 + 0
	printf "<superblock uuid=\"\" time=\"%.0f\" transaction=\"%.0f\" flags=\"%.0f\" version=\"%.0f\" data_block_size=\"%.0f\" nr_data_blocks=\"%.0f\">\n", $4, $5, $6, $7, $8, $9
	next
}
$3 == "D" {
	flush_dev()
	if (indevs[$1 + 0]++) die("duplicate device " $1)
	dev = $1 + 0; dtrans = $4 + 0; dct = $5 + 0; dst = $6 + 0
	if (dct > sbtime || dst > sbtime) die("device " dev ": time beyond superblock time")
	if (dct > dst) die("device " dev ": creation_time > snap_time")
	indev = 1; n = 0; cnt = 0; have = 0; last = -1
	next
}
$3 == "M" {
	if (!indev || $1 + 0 != dev) die("mapping outside its device: " $0)
	o = $2 + 0; d = $4 + 0; t = $5 + 0
	if (o <= last) die("device " dev ": origin " o " not increasing")
	if (d >= nrdata) die("device " dev ": data block " d " >= nr_data_blocks")
	if (t > sbtime) die("device " dev ": mapping time " t " > superblock time")
	last = o; cnt++
	if (have && o == ob + len && d == db + len && t == tm) { len++; next }
	flush_run()
	ob = o; db = d; tm = t; len = 1; have = 1
	next
}
{ die("bad line: " $0) }
END {
	if (err) exit 1
	flush_dev()
	print "</superblock>"
}'

fmt() {
	awk "$fmt_awk"
}

# commands on stdin -> $here/$1
build() {
	local out="$here/$1" tmp
	tmp=$(mktemp "$here/.$1.XXXXXX")
	if sim | sort -k1,1n -k2,2n | fmt >"$tmp"; then
		chmod 644 "$tmp"
		mv "$tmp" "$out"
	else
		rm -f "$tmp"
		echo "gen-fixtures: failed to build $1" >&2
		exit 1
	fi
}

# literal XML on stdin -> $here/$1
literal() {
	cat >"$here/$1"
}

# ---------------------------------------------------------------------------
# Fixtures

# No devices at all: Debian prints the superblock start and end tags on two
# lines.
empty_pool() {
	echo "sb 0 0 0 2 128 16384"
}

# One device, time 3 (it was snapshotted three times, the snapshots have
# been deleted), a mix of runs and singles.  $1 = superblock flags.
one_device() {
	cat <<EOF
sb 0 0 $1 2 128 4096
thin 0
snap 1 0
snap 2 0
snap 3 0
delete 1
delete 2
delete 3
trans 5
# 0..9 -> 100..109 t0, then the same progression with other times: runs
# must break on a time change only.
map 0 0 100 0 10
map 0 10 110 1 5
map 0 15 115 2
map 0 16 116 0 4
# 900 consecutive mappings (crosses several 252-entry leaves), split by time
map 0 100 1000 0 600
map 0 700 1600 3 300
# descending data blocks at the very end of the data device: all singles
map 0 1000 4095 1
map 0 1001 4094 1
map 0 1002 4093 1
# origin gap with consecutive data, data gap with consecutive origin
map 0 1100 2000 2
map 0 1102 2001 2
map 0 1200 2100 0
map 0 1201 2102 0
# shortest range
map 0 1300 2200 1 2
# range ending right below the singles at the end of the data device
map 0 5000 4083 3 10
# a virtual block far out (needs a 33-bit key)
map 0 4294967295 3000 2
EOF
}

# Several independent devices (pool time 0): long runs, many singles, gaps,
# an empty device.
runs_singles() {
	echo "sb 0 0 0 2 128 65536"
	echo "trans 0"; echo "thin 1"
	echo "trans 1"; echo "thin 2"
	echo "trans 2"; echo "thin 3"
	echo "trans 4"; echo "thin 5"
	echo "trans 6"; echo "thin 8"
	echo "trans 7"
	# dev 1: long runs
	echo "map 1 0 0 0 5000"
	echo "map 1 6000 10000 0 4000"
	echo "map 1 10000 20000 0 1000"
	echo "map 1 11000 21001 0 1"
	echo "map 1 11001 21003 0 700"
	# dev 2: 1000 singles on every other block, then 1000 singles with
	# consecutive origins but descending data
	awk 'BEGIN {
		for (i = 0; i < 1000; i++) printf "map 2 %d %d 0\n", 2 * i, 30000 + 3 * i
		for (i = 0; i < 1000; i++) printf "map 2 %d %d 0\n", 3000 + i, 40999 - i
	}'
	# dev 3: empty
	# dev 5: alternating segments of length 1..50 with origin and data gaps
	awk 'BEGIN {
		o = 7; d = 45000
		for (i = 0; i < 300; i++) {
			l = (i * 37) % 50 + 1
			printf "map 5 %d %d 0 %d\n", o, d, l
			o += l + (i % 3); d += l + 1 + (i % 2)
		}
	}'
	# dev 8: near the end of the data device, runs separated by singles
	awk 'BEGIN {
		o = 100000; d = 65536 - 2000
		for (i = 0; i < 40; i++) {
			printf "map 8 %d %d 0 %d\n", o, d, 40; o += 40; d += 40
			printf "map 8 %d %d 0\n", o, d + 5; o += 1; d += 10
		}
		printf "map 8 %d %d 0 %d\n", 200000, 65536 - 16, 16
	}'
}

# An origin and three snapshots (one of them a snapshot of a snapshot),
# built with kernel rules: each create_snap bumps the time, writes to
# shared blocks get fresh data blocks stamped with the current time.
snapshots() {
	cat <<EOF
sb 0 0 0 2 128 1024
thin 1
trans 1
write 1 0 300
write 1 350 50
snap 2 1
trans 2
write 1 10 10
write 2 50 5
write 1 300 10
snap 3 1
trans 3
write 1 100 5
write 1 10 3
write 3 200
write 3 399
snap 4 2
trans 4
write 4 0 5
write 2 250
write 2 50
write 1 120
write 4 500 4
EOF
}

# 300 devices: ids 0,3,6,..,894 and 16777215.  Every 50th device is a
# snapshot of the previous one; every device with index = 3 (mod 7) stays
# empty.
many_devices() {
	echo "sb 0 0 0 2 128 8192"
	awk 'BEGIN {
		for (i = 0; i < 299; i++) {
			id = 3 * i
			printf "trans %d\n", i
			if (i > 0 && i % 50 == 0) {
				printf "snap %d %d\n", id, id - 3
				printf "write %d %d\n", id - 3, i % 4 * 10
				continue
			}
			printf "thin %d\n", id
			if (i % 7 == 3) continue
			printf "write %d %d %d\n", id, i % 4 * 10, i % 13 + 2
			for (k = 0; k < i % 3; k++) printf "write %d %d\n", id, 100 + 3 * k
		}
		print "trans 299"
		print "thin 16777215"
		print "write 16777215 0 3"
		print "write 16777215 16777215"
		print "trans 300"
	}'
}

# One device with about 100000 mappings: 70% of segments are singles taken
# from the top of the data device downwards, the rest runs of 2..41 blocks
# (1% of them 300..999 blocks) taken from the bottom upwards; random origin
# gaps and times 0..2.  Park-Miller RNG, so the result is deterministic.
large_device() {
	echo "sb 0 0 0 2 128 131072"
	echo "thin 7"
	echo "snap 8 7"; echo "snap 9 7"; echo "delete 8"; echo "delete 9"
	echo "trans 9"
	awk 'function rnd() { seed = (seed * 16807) % 2147483647; return seed }
	BEGIN {
		seed = 20240601; o = 0; rd = 0; sd = 131071; cnt = 0
		while (cnt < 100000) {
			if (rnd() % 4 == 0) o += 1 + rnd() % 5
			t = rnd() % 3
			if (rnd() % 10 < 7) {
				printf "map 7 %d %d %d\n", o, sd, t
				sd--; o++; cnt++
			} else {
				l = (rnd() % 100 == 0) ? 300 + rnd() % 700 : 2 + rnd() % 40
				printf "map 7 %d %d %d %d\n", o, rd, t, l
				rd += l; o += l; cnt += l
			}
		}
	}'
}

# data_block_size 384 sectors: a multiple of 128 but not a power of two.
big_block_size() {
	cat <<EOF
sb 0 0 0 2 384 1000
thin 0
trans 1
thin 1
trans 2
map 0 0 0 0 100
map 0 100 500 0
map 0 200 101 0 50
map 1 0 200 0 300
map 1 400 999 0
EOF
}

# data_block_size 2097152 sectors (1 GiB), the largest the kernel allows.
big_block_size_1g() {
	cat <<EOF
sb 0 0 0 2 2097152 64
thin 0
trans 1
map 0 0 0 0 8
map 0 9 63 0
map 0 10 20 0 3
EOF
}

# Numbers beyond 2^53 (the simulator cannot hold them): transaction ids up
# to 2^64-1, pool/mapping/device time 2^24-1 (the largest mapping time that
# fits block_time), virtual blocks up to 2^64-1, dev_id 2^32-1 (the largest
# Debian 0.9.0 accepts; it keeps dev ids in 32 bits).
high_transaction() {
	literal high-transaction.xml <<'EOF'
<superblock uuid="" time="16777215" transaction="18446744073709551615" flags="0" version="2" data_block_size="128" nr_data_blocks="16777216">
  <device dev_id="0" mapped_blocks="0" transaction="9223372036854775807" creation_time="0" snap_time="16777215">
  </device>
  <device dev_id="1" mapped_blocks="9" transaction="9223372036854775808" creation_time="16777214" snap_time="16777215">
    <range_mapping origin_begin="0" data_begin="0" length="3" time="16777214"/>
    <single_mapping origin_block="3" data_block="3" time="16777215"/>
    <single_mapping origin_block="9223372036854775807" data_block="16777215" time="16777215"/>
    <range_mapping origin_begin="18446744073709551612" data_begin="16777211" length="4" time="16777215"/>
  </device>
  <device dev_id="16777215" mapped_blocks="1" transaction="18446744073709551614" creation_time="16777215" snap_time="16777215">
    <single_mapping origin_block="18446744073709551615" data_block="4" time="16777215"/>
  </device>
  <device dev_id="4294967295" mapped_blocks="0" transaction="18446744073709551615" creation_time="16777215" snap_time="16777215">
  </device>
</superblock>
EOF
}

empty_pool         | build empty-pool.xml
one_device 0       | build one-device.xml
one_device 1       | build needs-check.xml
runs_singles       | build runs-singles.xml
snapshots          | build snapshots.xml
many_devices       | build many-devices.xml
large_device       | build large-device.xml
big_block_size     | build big-block-size.xml
big_block_size_1g  | build big-block-size-1g.xml
high_transaction

# ---------------------------------------------------------------------------
# Reference outputs

[ "${1:-}" = --debian ] || exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
for xml in "$here"/*.xml; do
	name=$(basename "$xml" .xml)
	img="$work/$name.img"
	rm -f "$img"
	truncate -s "$IMG_SIZE" "$img"
	if ! "$DEB_BIN/thin_restore" -i "$xml" -o "$img" >"$work/restore.out" 2>&1; then
		echo "FAIL $name: thin_restore"; cat "$work/restore.out"; fail=1; continue
	fi
	if ! "$DEB_BIN/thin_check" "$img" >"$here/$name.debian-check.txt" 2>"$work/check.err"; then
		echo "FAIL $name: thin_check"; cat "$work/check.err"; fail=1; continue
	fi
	"$DEB_BIN/thin_dump" -f human_readable "$img" >"$here/$name.debian-human.txt"
	"$DEB_BIN/thin_dump" "$img" >"$work/dump.xml"
	if cmp -s "$xml" "$work/dump.xml"; then
		echo "ok   $name"
	else
		echo "FAIL $name: thin_dump differs"; diff "$xml" "$work/dump.xml" | head -20; fail=1
	fi
done
exit $fail
