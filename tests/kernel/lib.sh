# SPDX-License-Identifier: GPL-2.0-or-later
#
# Host-side helpers of the kernel test tier, sourced by run.sh and the
# scenarios.  Set by run.sh: KDIR (vmlinuz, base.cpio), WORK (scratch),
# TS_BIN (our tools), PATTERN (the pattern tool), COUNTS (pass/fail tally).

# --- results ------------------------------------------------------------

SCENARIO=${SCENARIO:-?}

pass() {
	echo "ok   $SCENARIO: $*"
	echo pass >>"$COUNTS"
}

fail() {
	echo "FAIL $SCENARIO: $*"
	echo fail >>"$COUNTS"
}

# check DESCRIPTION COMMAND...: pass if the command succeeds, else fail with
# its output.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$what"
	else
		fail "$what"
		[ -n "$out" ] && printf '%s\n' "$out" | head -20 | sed 's/^/     /'
	fi
}

# --- the virtual machine ----------------------------------------------

vm_begin() {
	VM_ARGS=()
	VM_NDISKS=0
}

# vm_disk NAME FILE: attach FILE as a virtio disk, /dev/disk/NAME in the guest.
vm_disk() {
	if [ ${#1} -gt 20 ]; then
		echo "vm_disk: name $1 is longer than a virtio serial (20)" >&2
		return 1
	fi
	VM_NDISKS=$((VM_NDISKS + 1))
	VM_ARGS+=(-drive "if=none,id=d$VM_NDISKS,file=$2,format=raw,cache=unsafe"
		-device "virtio-blk-pci,drive=d$VM_NDISKS,serial=$1")
}

# vm_new_disk NAME FILE SIZE: a new sparse image, attached.
vm_new_disk() {
	rm -f "$2" && truncate -s "$3" "$2" && vm_disk "$1" "$2"
}

# vm_boot DIR: run qemu on DIR/initrd.  A guest that never reached its job
# (no "init: job starting" on the console when the time ran out: seen once,
# a TCG boot that stalled with qemu idle) has changed no disk, and is
# booted once more.
vm_boot() {
	local dir=$1 start rc try
	for try in 1 2; do
		vm_new_disk_reset "$dir/result.img"
		start=$(date +%s)
		timeout "${VM_TIMEOUT:-600}" "${QEMU:-qemu-system-x86_64}" \
			-machine q35,accel=tcg -cpu max -m 512 -smp 1 \
			-nodefaults -no-reboot -display none -vga none -nic none \
			-serial "file:$dir/console.log" -monitor none \
			-kernel "$KDIR/vmlinuz" -initrd "$dir/initrd" \
			-append "console=ttyS0 quiet panic=-1 rdinit=/init ts.disks=$VM_NDISKS" \
			"${VM_ARGS[@]}" </dev/null >"$dir/qemu.log" 2>&1
		rc=$?
		echo "     (guest ran $(($(date +%s) - start)) s)"
		[ $rc -eq 0 ] && return 0
		if [ $rc -eq 124 ] && [ $try -eq 1 ] &&
			! grep -q '^init: job starting' "$dir/console.log" 2>/dev/null; then
			echo "     (the guest stalled before its job: booting again)"
			continue
		fi
		echo "qemu exited with $rc (timeout 124):"
		tail -5 "$dir/qemu.log" "$dir/console.log"
		return 1
	done
}

# vm_new_disk_reset FILE: FILE (the result disk, already attached) emptied.
vm_new_disk_reset() {
	rm -f "$1" && truncate -s 64M "$1"
}

# vm_run JOB OUTDIR [FILES]: boot the kernel with JOB (a guest shell script)
# as /job.sh and the directory FILES as /job, and unpack the guest's /out
# into OUTDIR.  Fails if the guest did not finish or the job exited
# non-zero; the console is OUTDIR/console.log.
vm_run() {
	local job=$1 dir=$2 jobroot=$2/.jobroot
	rm -rf "$dir" && mkdir -p "$jobroot"
	cp "$job" "$jobroot/job.sh"
	[ -n "${3:-}" ] && cp -r "$3" "$jobroot/job"
	(cd "$jobroot" && find . | cpio -o -H newc --quiet >../job.cpio)
	cat "$KDIR/base.cpio" "$dir/job.cpio" >"$dir/initrd"
	vm_new_disk result "$dir/result.img" 64M
	vm_boot "$dir" || return 1
	tar -xf "$dir/result.img" -C "$dir" 2>/dev/null || {
		echo "no results from the guest; console:"
		tail -20 "$dir/console.log"
		return 1
	}
	rm -f "$dir/result.img" "$dir/initrd" "$dir/job.cpio"
	rm -rf "$jobroot"
	if [ "$(cat "$dir/job.rc" 2>/dev/null)" != 0 ]; then
		echo "guest job failed (exit $(cat "$dir/job.rc" 2>/dev/null)):"
		tail -20 "$dir/job.log"
		return 1
	fi
}

# --- thin pools ----------------------------------------------------------

# parse_dump XML DIR: DIR/sb ("name value" lines of the superblock),
# DIR/devs ("id mapped_blocks"), DIR/map.ID ("virt phys len" in pool blocks)
# from a thin_dump --compat=0.9 XML file.
parse_dump() {
	mkdir -p "$2" && rm -f "$2"/map.* "$2/devs" && : >"$2/devs"
	awk -v dir="$2" '
	function attr(name) {
		if (match($0, " " name "=\"[^\"]*\""))
			return substr($0, RSTART + length(name) + 3,
				      RLENGTH - length(name) - 4)
		return ""
	}
	/<superblock / {
		n = split("transaction time data_block_size nr_data_blocks flags", a)
		for (i = 1; i <= n; i++)
			print a[i], attr(a[i]) > (dir "/sb")
	}
	/<device / {
		dev = attr("dev_id")
		print dev, attr("mapped_blocks") > (dir "/devs")
		f = dir "/map." dev
		printf "" > f
	}
	/<single_mapping / { print attr("origin_block"), attr("data_block"), 1 > f }
	/<range_mapping / {
		print attr("origin_begin"), attr("data_begin"), attr("length") > f
	}
	/<\/device>/ { close(f) }
	' "$1"
}

sb_value() { awk -v k="$2" '$1 == k {print $2}' "$1/sb"; }

# Every data block each mapping covers, "data dev virt", one per line, sorted.
expand_maps() {
	local f dev
	for f in "$1"/map.*; do
		[ -e "$f" ] || continue
		dev=${f##*.}
		awk -v dev="$dev" '{for (i = 0; i < $3; i++) printf "%.0f %s %.0f\n", $2 + i, dev, $1 + i}' "$f"
	done | sort -n -k1,1 -k2,2 -k3,3
}

# The same from thin_rmap's "data B..E -> thin(D) V..W" lines.
expand_rmap() {
	sed -n 's/^data \([0-9]*\)\.\.\([0-9]*\) -> thin(\([0-9]*\)) \([0-9]*\)\.\..*/\1 \2 \3 \4/p' "$1" |
		awk '{for (i = 0; i < $2 - $1; i++) printf "%.0f %s %.0f\n", $1 + i, $3, $4 + i}' |
		sort -n -k1,1 -k2,2 -k3,3
}

# same_blocks DUMP RMAP: two "data dev virt" lists (expand_maps,
# expand_rmap) are equal; else say which data blocks differ.
same_blocks() {
	cmp -s "$1" "$2" && return 0
	LC_ALL=C comm -3 <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") | head -10 |
		awk -F'\t' '$1 != "" {split($1, a, " "); print "data block " a[1] ": the dump maps it to device " a[2] " block " a[3] ", thin_rmap does not"}
			$2 != "" {split($2, a, " "); print "data block " a[1] ": thin_rmap reports device " a[2] " block " a[3] ", the dump does not"}'
	return 1
}

# u64 little-endian at byte OFFSET of FILE.
le64_at() {
	od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '
}

# check_thin_pool LABEL META DATA GUESTDIR "IDS": our tools on metadata the
# kernel wrote.  GUESTDIR holds the guest's record of the pool (pool-status)
# and of its active thin devices (NAME.table/.status/.scan); IDS lists the
# thin devices that must exist.
check_thin_pool() {
	local label=$1 meta=$2 data=$3 g=$4 ids=$5 d=$1.host
	local bs nr total free reserve held
	rm -rf "$d" && mkdir -p "$d"
	check "$label: our thin_check passes" "$TS_BIN/thin_check" "$meta"
	check "$label: Debian's thin_check passes" /usr/sbin/thin_check -q "$meta"
	if ! "$TS_BIN/thin_dump" --compat=0.9 -o "$d/dump.xml" "$meta" 2>"$d/dump.err"; then
		fail "$label: thin_dump: $(head -3 "$d/dump.err")"
		return
	fi
	check "$label: our thin_dump --compat=0.9 = Debian's thin_dump" \
		sh -c "/usr/sbin/thin_dump '$meta' | cmp - '$d/dump.xml'"
	parse_dump "$d/dump.xml" "$d/dump"
	bs=$(sb_value "$d/dump" data_block_size)
	nr=$(sb_value "$d/dump" nr_data_blocks)
	check "$label: dumped devices are $ids" \
		test "$(awk '{print $1}' "$d/dump/devs" | sort -n | xargs)" = "$ids"

	# Pool status: <trans> <meta used>/<total> <data used>/<total> <held> ...
	set -- $(awk '{print $4, $5, $6, $7}' "$g/pool-status" | tr / ' ')
	check "$label: transaction id $1 (kernel) = dump's" \
		test "$1" = "$(sb_value "$d/dump" transaction)"
	total=$3
	reserve=$((total / 10 < 4096 ? total / 10 : 4096))
	free=$("$TS_BIN/thin_check" "$meta" 2>/dev/null | sed -n 's/^METADATA_FREE_BLOCKS=//p')
	check "$label: metadata used $2/$total (kernel, reserve $reserve) = thin_check's free $free" \
		test "$2" = $((total - free + reserve))
	check "$label: data blocks $5 (kernel) = dump's nr_data_blocks" test "$5" = "$nr"
	held=$6
	if [ "$held" = - ]; then
		check "$label: no metadata snapshot in the superblock" \
			test "$(le64_at "$meta" 56)" = 0
		expand_maps "$d/dump" | awk '{print $1}' | sort -u >"$d/used"
	else
		check "$label: held metadata root $held (kernel) = superblock's" \
			test "$(le64_at "$meta" 56)" = "$held"
		if "$TS_BIN/thin_dump" --compat=0.9 -m -o "$d/snap.xml" "$meta" 2>"$d/snap.err"; then
			pass "$label: thin_dump -m dumps the held snapshot"
			parse_dump "$d/snap.xml" "$d/snap"
			{ expand_maps "$d/dump"; expand_maps "$d/snap"; } |
				awk '{print $1}' | sort -u >"$d/used"
		else
			fail "$label: thin_dump -m: $(head -3 "$d/snap.err")"
			expand_maps "$d/dump" | awk '{print $1}' | sort -u >"$d/used"
		fi
	fi
	check "$label: data used $4 (kernel) = data blocks the dump maps" \
		test "$4" = "$(wc -l <"$d/used")"

	# Each active thin device: mapped blocks and what it reads.
	local f name id size mapped highest want_high blocks
	for f in "$g"/*.table; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .table)
		read -r _ size _ _ id <"$f"
		if ! read -r _ _ _ mapped highest <"$g/$name.status" 2>/dev/null ||
			[ -z "$highest" ]; then
			fail "$label: no status of $name from the guest"
			continue
		fi
		if [ ! -e "$d/dump/map.$id" ]; then
			fail "$label: device $id ($name) is active in the kernel but not dumped"
			continue
		fi
		check "$label: device $id: mapped blocks $((mapped / bs)) (kernel) = dump's mapped_blocks" \
			test $((mapped / bs)) = "$(awk -v id="$id" '$1 == id {print $2}' "$d/dump/devs")"
		check "$label: device $id: mapped blocks (kernel) = blocks in the dumped mappings" \
			test $((mapped / bs)) = "$(awk '{n += $3} END {printf "%.0f\n", n}' "$d/dump/map.$id")"
		want_high=$(awk -v bs="$bs" '$1 + $3 > m {m = $1 + $3} END {if (m) printf "%.0f\n", m * bs - 1; else print "-"}' \
			"$d/dump/map.$id")
		check "$label: device $id: highest mapped sector $highest (kernel) = dump's" \
			test "$highest" = "$want_high"
		blocks=$((size / 8))
		[ -e "$g/$name.ranges" ] && blocks=$g/$name.ranges
		"$PATTERN" predict "$data" "$bs" "$blocks" <"$d/dump/map.$id" >"$d/$name.predicted"
		check "$label: device $id ($name) reads in the kernel what the dump's mappings predict" \
			"$PATTERN" compare "$d/$name.predicted" "$g/$name.scan" "$label device $id ($name)"
	done

	# thin_rmap over the whole data device against the dump.
	if "$TS_BIN/thin_rmap" --region "0..$nr" "$meta" >"$d/rmap" 2>"$d/rmap.err"; then
		expand_rmap "$d/rmap" >"$d/rmap.blocks"
		expand_maps "$d/dump" >"$d/dump.blocks"
		check "$label: thin_rmap agrees with the dump" \
			same_blocks "$d/dump.blocks" "$d/rmap.blocks"
	else
		fail "$label: thin_rmap: $(head -3 "$d/rmap.err")"
	fi
}

# expect_runs LABEL SCAN RUN...: the device scanned in the guest holds these
# runs (lines of pattern scan), i.e. the kernel returned what was written.
expect_runs() {
	local label=$1 scan=$2 run
	shift 2
	for run in "$@"; do
		check "$label reads [$run]" grep -qx "$run" "$scan"
	done
}

# map_blocks MAP UNIT [FIRST LAST]: the 4 KiB blocks a map (parse_dump)
# covers, plus FIRST..LAST, as sorted disjoint "first last" lines.
map_blocks() {
	local bpu=$(($2 / 8))
	{
		awk -v b="$bpu" '{printf "%.0f %.0f\n", $1 * b, ($1 + $3) * b - 1}' "$1"
		[ $# -ge 4 ] && echo "$3 $4"
	} | sort -n -k1,1 | awk '
		NR == 1 {f = $1; l = $2; next}
		$1 <= l + 1 {if ($2 > l) l = $2; next}
		{printf "%.0f %.0f\n", f, l; f = $1; l = $2}
		END {if (NR) printf "%.0f %.0f\n", f, l}'
}

# --- snapshots -----------------------------------------------------------

# chunks_of CHUNK BLOCKS...: the chunks (CHUNK sectors) that 4 KiB blocks
# (a or a-b) fall in, one per line, sorted.
chunks_of() {
	local per=$(($1 / 8)) b
	shift
	for b in "$@"; do
		case $b in
		*-*) seq "${b%-*}" "${b#*-}" ;;
		*) echo "$b" ;;
		esac
	done | awk -v p="$per" '{print int($1 / p)}' | sort -n -u
}

# check_snapshot LABEL ORIGIN COW CHUNK GUESTDIR NAME BLOCKS...: our tools on
# a persistent store the kernel wrote.  GUESTDIR/NAME.* is the guest's record
# of the snapshot; BLOCKS are the 4 KiB blocks written to the origin after
# the snapshot was taken or to the snapshot itself (what must have an
# exception).
check_snapshot() {
	local label=$1 origin=$2 cow=$3 chunk=$4 g=$5 name=$6 st out d
	d=$(echo "$label" | tr -c 'A-Za-z0-9\n-' _).host
	shift 6
	rm -rf "$d" && mkdir -p "$d"
	st=$(cut -d' ' -f4- "$g/$name.status")
	if [ "$st" = Invalid ]; then
		check "$label: snap_check fails (exit 64) on the store the kernel invalidated" \
			expect_exit 64 "$TS_BIN/snap_check" "$cow"
		check "$label: snap_check says the snapshot was invalidated" \
			grep -q invalidated .last_stderr
		check "$label: snap_dump writes valid=\"0\"" \
			sh -c "'$TS_BIN/snap_dump' '$cow' 2>/dev/null | grep -q 'valid=\"0\"'"
		return
	fi
	if out=$("$TS_BIN/snap_check" --origin "$origin" --chunk-size "$chunk" "$cow" 2>"$d/check.err"); then
		pass "$label: snap_check passes"
	else
		fail "$label: snap_check: $(head -3 "$d/check.err")"
		return
	fi
	if [ "$st" = Overflow ]; then
		# Full through writes to the snapshot (PO): the header stays valid.
		check "$label: snap_check's figures [${out%%,*}] show a full store" \
			test "$(echo "$out" | sed 's|/.*||')" = "$(echo "$out" | sed 's|^[0-9]*/\([0-9]*\) .*|\1|')"
	else
		check "$label: snap_check's figures [${out%%,*}] = dmsetup status [$st]" \
			test "${out%%,*}" = "$st"
	fi
	if ! "$TS_BIN/snap_dump" -o "$d/dump.xml" "$cow" 2>"$d/dump.err"; then
		fail "$label: snap_dump: $(head -3 "$d/dump.err")"
		return
	fi
	awk '
	function attr(name) {
		if (match($0, " " name "=\"[^\"]*\""))
			return substr($0, RSTART + length(name) + 3,
				      RLENGTH - length(name) - 4)
		return ""
	}
	/<exception / { print attr("old_chunk"), attr("new_chunk"), 1 }
	/<exception_run / { print attr("old_begin"), attr("new_begin"), attr("length") }
	' "$d/dump.xml" >"$d/map"
	check "$label: snap_dump's exception count = snap_check's" \
		test "$(awk '{n += $3} END {print n + 0}' "$d/map")" = "$(echo "$out" | sed -n 's/.*, \([0-9]*\) exceptions*$/\1/p')"
	awk '{for (i = 0; i < $3; i++) print $1 + i}' "$d/map" | sort -n >"$d/old"
	chunks_of "$chunk" "$@" >"$d/want"
	check "$label: snap_dump lists exactly the chunks the kernel copied" \
		diff "$d/want" "$d/old"
	"$PATTERN" predict "$cow" "$chunk" $(($(stat -c %s "$origin") / 4096)) "$origin" \
		<"$d/map" >"$d/predicted"
	check "$label: $name reads in the kernel what the exceptions and the origin predict" \
		"$PATTERN" compare "$d/predicted" "$g/$name.scan" "$label $name"
}

# expect_exit CODE COMMAND...: the command exits with CODE; its stderr is
# kept in .last_stderr.
expect_exit() {
	local want=$1 rc
	shift
	"$@" >/dev/null 2>.last_stderr
	rc=$?
	[ $rc -eq "$want" ] || { echo "exit $rc, expected $want"; cat .last_stderr; return 1; }
}

# same_image LABEL EXPECTED GOT: the two images are byte-identical; if not,
# pattern compare names the first 4 KiB blocks that differ (cmp the byte).
same_image() {
	local label=$1 d=.same.$$
	if cmp -s "$2" "$3"; then
		pass "$label"
		return
	fi
	fail "$label: $(cmp "$2" "$3" 2>&1 | head -1)"
	"$PATTERN" scan "$2" >"$d.1" && "$PATTERN" scan "$3" >"$d.2" &&
		"$PATTERN" compare "$d.1" "$d.2" "$label" 2>&1 | head -5 | sed 's/^/     /'
	rm -f "$d.1" "$d.2"
}
