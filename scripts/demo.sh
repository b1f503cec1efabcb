#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The built-in example: build a metadata image from examples/demo.xml
# (with Debian's thin_restore until thinsnap has its own), check it and
# dump it with thinsnap.
set -e
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/$build/bin
img=$top/$build/demo-metadata.img
restore=/usr/sbin/thin_restore
if [ ! -x "$restore" ]; then
	echo "demo: $restore is missing: run scripts/install-deps.sh as root" >&2
	exit 1
fi
rm -f "$img"
truncate -s 8M "$img"
"$restore" -i "$top/examples/demo.xml" -o "$img"
echo "== thin_check $img"
"$bin/thin_check" "$img"
echo "== thin_dump $img"
"$bin/thin_dump" "$img"
echo
