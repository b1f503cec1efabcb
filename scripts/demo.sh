#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The built-in example: write a metadata image from examples/demo.xml with
# thin_restore, check it with thin_check and dump it with thin_dump.
set -e
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/$build/bin
img=$top/$build/demo-metadata.img
rm -f "$img"
truncate -s 8M "$img"
echo "== thin_restore -i examples/demo.xml -o $img"
"$bin/thin_restore" -i "$top/examples/demo.xml" -o "$img"
echo "== thin_check $img"
"$bin/thin_check" "$img"
echo "== thin_dump $img"
"$bin/thin_dump" "$img"
echo
