# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario 2: our metadata in the kernel.  Each XML (fixtures from tests/xml
# and one from bench/gen_xml) goes through our thin_restore; the host writes
# pattern data where the mappings put it; the kernel activates the pool and
# every thin device must read what the XML predicts.  Then the kernel
# snapshots the first device, writes to it, to its origin and to a new
# device, and our tools must read the result (check_thin_pool).

XMLS="empty-pool snapshots big-block-size one-device many-devices gen"
EXTRA=63 # 4 KiB blocks 0..EXTRA are scanned on every device too

cc -O2 -o gen_xml "$TESTS_TOP/bench/gen_xml.c" || {
	fail "cannot compile bench/gen_xml.c"
	return 0
}
./gen_xml --seed 7 --devices 3 --snapshots 3 --mappings 3000 --mean-run 5 \
	--data-block-size 256 -o gen.xml || {
	fail "gen_xml failed"
	return 0
}

vm_begin
mkdir -p files/ranges
: >job.sh
for x in $XMLS; do
	xml=$TESTS_TOP/tests/xml/$x.xml
	[ "$x" = gen ] && xml=$PWD/gen.xml
	truncate -s 16M "$x.meta"
	if ! "$TS_BIN/thin_restore" -q -i "$xml" -o "$x.meta"; then
		fail "$x: thin_restore failed"
		continue
	fi
	parse_dump "$xml" "$x.xml.d"
	bs=$(sb_value "$x.xml.d" data_block_size)
	nr=$(sb_value "$x.xml.d" nr_data_blocks)
	rm -f "$x.data" && truncate -s $((nr * bs * 512)) "$x.data"
	vm_disk "m-$x" "$x.meta"
	vm_disk "d-$x" "$x.data"
	ids=$(awk '{print $1}' "$x.xml.d/devs" | sort -n | xargs)
	for id in $ids; do
		"$PATTERN" place "$x.data" "$bs" "$id" 1 <"$x.xml.d/map.$id"
	done
	echo "pool_create $x m-$x d-$x $bs || exit 1" >>job.sh
	names=
	for id in $ids; do
		blocks=$(awk -v bs="$bs" -v min=$(((EXTRA + 1) * 8)) \
			'$1 + $3 > m {m = $1 + $3} END {s = m * bs; if (s < min) s = int((min + bs - 1) / bs) * bs; printf "%.0f\n", s}' \
			"$x.xml.d/map.$id")
		echo "$id $blocks" >>"$x.sizes"
		map_blocks "$x.xml.d/map.$id" "$bs" 0 $EXTRA >"files/ranges/$x-$id"
		"$PATTERN" predict "$x.data" "$bs" "files/ranges/$x-$id" \
			<"$x.xml.d/map.$id" >"$x-$id.before"
		echo "thin_activate $x $id $x-$id $blocks || exit 1" >>job.sh
		names="$names $x-$id"
	done
	echo "record $x-before$names" >>job.sh
	# The kernel writes more: a snapshot of the first device, writes to
	# both, and a new device.
	if [ -n "$ids" ]; then
		first=${ids%% *}
		# Unused ids (the kernel takes ids up to 2^24 - 1).
		set -- $(echo "$ids" | tr ' ' '\n' |
			awk '{u[$1] = 1} END {for (i = 1; n < 2; i++) if (!(i in u)) {print i; n++}}')
		snap=$1 new=$2
		size=$(awk -v id="$first" '$1 == id {print $2}' "$x.sizes")
		cp "files/ranges/$x-$first" "files/ranges/$x-$snap"
		cat >>job.sh <<JOB
thin_snap $x $snap $first $x-$first || exit 1
thin_activate $x $snap $x-$snap $size || exit 1
put $x-$snap $snap 1 0-3 40
put $x-$first $first 2 2 41
JOB
		names="$names $x-$snap"
	else
		snap= new=1
	fi
	cat >>job.sh <<JOB
thin_create $x $new $x-$new 32768 || exit 1
put $x-$new $new 1 0-9
record $x$names $x-$new
record_pool $x $x
JOB
	echo "$ids $snap $new" | tr ' ' '\n' | sed '/^$/d' | sort -n | xargs >"$x.ids"
	[ -n "$snap" ] && echo "$x $first $snap $new" >>"writers"
done
echo teardown >>job.sh

if ! vm_run job.sh guest files; then
	fail "the guest job did not complete"
	return 0
fi

for x in $XMLS; do
	[ -e "$x.ids" ] || continue
	for f in "$x".xml.d/map.*; do
		[ -e "$f" ] || continue
		id=${f##*.}
		check "$x: device $id, activated on our thin_restore, reads what the XML predicts" \
			"$PATTERN" compare "$x-$id.before" "guest/$x-before/$x-$id.scan" "$x device $id"
	done
	check_thin_pool "$x" "$x.meta" "$x.data" "guest/$x" "$(cat "$x.ids")"
done
# The kernel's writes are there (so the comparisons are not vacuous).
while read -r x first snap new; do
	expect_runs "$x: the kernel's snapshot $snap" "guest/$x/$x-$snap.scan" \
		"0 3 pat $snap 0 1" "40 40 pat $snap 40 1"
	expect_runs "$x: its origin $first" "guest/$x/$x-$first.scan" \
		"2 2 pat $first 2 2" "41 41 pat $first 41 2"
done <writers
