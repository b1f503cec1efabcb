# SPDX-License-Identifier: GPL-2.0-or-later
#
# The tier's own tools, on the host, without a guest: the pattern tool must
# tell apart what it wrote and name the block that differs, so that the
# scenarios' comparisons can fail.

truncate -s 1M img
"$PATTERN" write img 7 1 0-3 10
"$PATTERN" scan img >scan
check "pattern scan describes written blocks as runs" \
	test "$(cat scan)" = "0 3 pat 7 0 1
4 9 zero
10 10 pat 7 10 1
11 255 zero"
# Map unit 16 sectors (two blocks): virtual unit 5 -> physical unit 0.
echo "5 0 1" | "$PATTERN" predict img 16 16 >pred
check "pattern predict follows a map" \
	test "$(cat pred)" = "0 9 zero
10 11 pat 7 0 1
12 15 zero"
printf '10 11\n' >ranges
echo "5 0 1" | "$PATTERN" predict img 16 ranges >pred.r
check "pattern predict over a block list" test "$(cat pred.r)" = "10 11 pat 7 0 1"
"$PATTERN" scan img ranges >scan.r
check "pattern compare names each differing block" \
	test "$("$PATTERN" compare pred.r scan.r "self dev 7")" = \
	"self dev 7: 4 KiB block 10: expected pattern of device 7 block 0 generation 1, read pattern of device 7 block 10 generation 1
self dev 7: 4 KiB block 11: expected pattern of device 7 block 1 generation 1, read zeroes"
check "pattern compare fails on a difference" \
	expect_exit 1 "$PATTERN" compare pred.r scan.r x
check "pattern compare passes on equal scans" "$PATTERN" compare scan scan x
# One byte changed inside a pattern block: "other data", not the pattern.
printf 'X' | dd of=img bs=1 seek=$((10 * 4096 + 100)) conv=notrunc 2>/dev/null
check "a changed byte makes the block other data" \
	sh -c "'$PATTERN' scan img | grep -q '^10 10 other '"
