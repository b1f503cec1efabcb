#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# seed.sh BUILD DIR: write starting inputs for the fuzz targets into
# DIR/<target>/, made by our own tools from the test fixtures:
#   thin_xml    the XML fixtures of tests/xml;
#   thin_md     those restored onto 1 MiB images, checksums replaced by
#               md_tag's kind tags;
#   snap_xml    small stores: runs, singles, three areas, invalid,
#               unformatted;
#   snap_store  those restored onto images.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$1 dir=$2
bin=$build/bin
mkdir -p "$dir"/{thin_xml,thin_md,snap_xml,snap_store}

for x in "$top"/tests/xml/*.xml; do
	n=$(basename "$x" .xml)
	cp "$x" "$dir/thin_xml/$n.xml"
	img=$dir/thin_md/$n.img
	truncate -s 1M "$img"
	if "$bin/thin_restore" -q -i "$x" -o "$img"; then
		"$build/tests/md_tag" "$img" >/dev/null
	else
		rm -f "$img" # does not fit in 1 MiB
	fi
done

store() { # name chunk_size nr_chunks valid, exceptions as "old new" on stdin
	{
		echo "<snapshot_store version=\"1\" valid=\"$4\" chunk_size=\"$2\" nr_chunks=\"$3\">"
		while read -r o n; do
			echo "  <exception old_chunk=\"$o\" new_chunk=\"$n\"/>"
		done
		echo "</snapshot_store>"
	} >"$dir/snap_xml/$1.xml"
}
printf '%s\n' "5 2" "6 3" "7 4" "100 5" "9 6" | store runs 8 64 1
# chunk size 8: 256 exceptions per area, areas at chunks 1, 258, 515
seq 0 599 | awk '{ c = $1 + 2; if (c >= 258) c++; if (c >= 515) c++; print $1 * 3, c }' |
	store three-areas 8 700 1
store invalid 16 64 0 </dev/null
store empty 32 16 1 </dev/null
echo '<snapshot_store formatted="0" size="2048"/>' >"$dir/snap_xml/unformatted.xml"
for x in "$dir"/snap_xml/*.xml; do
	img=$dir/snap_store/$(basename "$x" .xml).img
	bytes=$(sed -n '1s/.*chunk_size="\([0-9]*\)" nr_chunks="\([0-9]*\)".*/\1 \2/p' "$x" |
		awk '{ print $1 * $2 * 512 }')
	truncate -s "${bytes:-1M}" "$img"
	"$bin/snap_restore" -q -i "$x" -o "$img" ||
		{ echo "seed.sh: snap_restore failed on $x" >&2; exit 1; }
done
