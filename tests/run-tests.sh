#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run every unit test (cmocka) and CLI test (bats) and end with the line
# "N passed, N failed".  Exit status is non-zero if anything failed.
# BUILD selects the build directory (default: build).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
export TS_BIN=$build/bin TS_BUILD=$build
passed=0
failed=0

# cmocka: one line per test, "[       OK ]" or "[  FAILED  ]".
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1)
	rc=$?
	p=$(grep -c '^\[       OK \]' <<<"$out")
	f=$(grep -c '^\[  FAILED  \]' <<<"$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or failed outside a test
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ]; then
		echo "$out"
	fi
	echo "unit $(basename "$t"): $p passed, $f failed"
done

# fuzz targets without libFuzzer: every seed (tests/fuzz/seed.sh) and every
# input kept in tests/fuzz/corpus/<target>/ (ones the fuzzer found) is one
# test; it passes when the target returns (no crash, sanitizer report or
# broken oracle) within 60 s.
seeds=$build/fuzz-seeds
rm -rf "$seeds"
if ! "$top"/tests/fuzz/seed.sh "$build" "$seeds"; then
	echo "fuzz: seed.sh failed"
	failed=$((failed + 1))
fi
for r in "$build"/tests/fuzz/replay_*; do
	[ -x "$r" ] || continue
	t=${r##*/replay_}
	p=0 f=0
	for input in "$seeds/$t"/* "$top/tests/fuzz/corpus/$t"/*; do
		[ -f "$input" ] || continue
		if timeout 60 "$r" "$input" >/dev/null 2>"$seeds/$t.err"; then
			p=$((p + 1))
		else
			f=$((f + 1))
			echo "fuzz $t: FAILED on $input"
			tail -n 20 "$seeds/$t.err"
		fi
	done
	passed=$((passed + p))
	failed=$((failed + f))
	echo "fuzz $t: $p passed, $f failed"
done

# bats: TAP lines "ok N ..." / "not ok N ...".
if ! command -v bats >/dev/null 2>&1; then
	echo "bats is not installed (scripts/install-deps.sh)" >&2
	failed=$((failed + 1))
else
	tap=$(bats --tap "$top"/tests/cli/*.bats 2>&1)
	# failures and skips (a skip is an "ok" line saying why)
	echo "$tap" | awk '!/^ok / || /^ok .* # skip/'
	p=$(grep -c '^ok ' <<<"$tap")
	f=$(grep -c '^not ok ' <<<"$tap")
	s=$(grep -Ec '^ok .* # skip' <<<"$tap")
	if ! grep -q '^1\.\.' <<<"$tap"; then
		f=$((f + 1)) # bats itself failed
	fi
	# a skipped test has not passed
	passed=$((passed + p - s))
	failed=$((failed + f))
	echo "cli: $((p - s)) passed, $f failed, $s skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
