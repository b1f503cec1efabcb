#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The kernel test tier: a real Linux kernel, booted under qemu (TCG), makes
# thin pools and snapshots that our tools must read correctly, and activates
# metadata our tools wrote.  Runs every tests/kernel/scenarios/NN-*.sh (or
# those whose names contain one of the arguments) and ends with
# "N passed, N failed".  When qemu or the kernel cannot be had it prints
# "kernel tier skipped: REASON" and exits 77.
#
# Environment: BUILD (default build: our tools in BUILD/bin, the pattern tool
# in BUILD/kernel/pattern), STATIC (a statically linked thinsnap for the
# guest, default build-static/thinsnap), KERNEL_CACHE (default
# tests/kernel/.cache), QEMU (default qemu-system-x86_64), VM_TIMEOUT (seconds
# per boot, default 600).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
static=${STATIC:-$top/build-static/thinsnap}
case $static in /*) ;; *) static=$top/$static ;; esac
cache=${KERNEL_CACHE:-$here/.cache}

export KDIR=$build/kernel
export WORK=$build/kernel/work
export TS_BIN=$build/bin
export PATTERN=$KDIR/pattern
export STATIC_THINSNAP=$static
export COUNTS=$WORK/counts
export TESTS_TOP=$top KTESTS=$here

for need in "$TS_BIN/thin_check" "$PATTERN"; do
	if [ ! -x "$need" ]; then
		echo "$need is missing: run make check-kernel" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done

start=$(date +%s)
if ! why=$("$here/setup.sh" "$cache" "$KDIR" "$PATTERN" "$static"); then
	echo "kernel tier skipped: ${why:-setup failed}"
	exit 77
fi
echo "kernel: $(cat "$KDIR/kernel-package"), setup $(($(date +%s) - start)) s"

rm -rf "$WORK" && mkdir -p "$WORK" && : >"$COUNTS"
for s in "$here"/scenarios/[0-9]*.sh; do
	name=$(basename "$s" .sh)
	if [ $# -gt 0 ]; then
		hit=
		for a in "$@"; do case $name in *"$a"*) hit=1 ;; esac; done
		[ -n "$hit" ] || continue
	fi
	t0=$(date +%s)
	echo "== $name"
	(
		export SCENARIO=$name
		# shellcheck source=lib.sh
		. "$here/lib.sh"
		mkdir -p "$WORK/$name" && cd "$WORK/$name" || exit 1
		. "$s"
	)
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL $name: the scenario stopped (exit $rc)"
		echo fail >>"$COUNTS"
	fi
	echo "== $name: $(($(date +%s) - t0)) s"
done

passed=$(grep -c '^pass$' "$COUNTS")
failed=$(grep -c '^fail$' "$COUNTS")
echo "kernel tier: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
