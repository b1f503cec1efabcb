#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# snap_merge_offline speed on files (not part of the tests).
#
#   long runs:  1 GiB of exceptions in 8 runs of 128 MiB, 64 KiB chunks,
#               against `dd iflag=direct oflag=direct bs=4M` copying 1 GiB
#               file to file in the same run;
#   scattered:  8192 exceptions of 64 KiB (512 MiB) at random, non-adjacent
#               origin chunks, against copying the same chunks one at a time
#               (bench/copy_chunks.c: O_DIRECT pread + pwrite per chunk).
#
# Best of RUNS (default 3) wall-clock times.  Needs about 5 GiB in
# BENCH_WORK (default bench/work/merge).
#
# Usage: bench/merge.sh [--runs N]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
W=${BENCH_WORK:-$BENCH_DIR/work}/merge
BIN=${THINSNAP_BIN:-$REPO_DIR/build/bin}
FILL=$REPO_DIR/build/tests/fill_pattern
RUNS=3
[ "${1:-}" = --runs ] && RUNS=$2

mkdir -p "$W"
${CC:-cc} -O2 -D_GNU_SOURCE -o "$W/copy_chunks" "$BENCH_DIR/copy_chunks.c"
[ -x "$FILL" ] && [ -x "$BIN/snap_merge_offline" ] || { echo "run make first" >&2; exit 1; }

CS=128                       # sectors: 64 KiB chunks
CB=$((CS * 512))
E=$((CB / 16))               # exceptions per area

# alloc: origin chunks on stdin -> "OLD NEW" allocated as the kernel does
alloc() {
	awk -v e=$E 'BEGIN { c = 2 } { print $1, c; c++; if ((c - 1) % (e + 1) == 0) c++ }'
}

# to_xml NR_CHUNKS < pairs: snap_dump-style XML (runs merged)
to_xml() {
	awk -v n="$1" -v cs=$CS '
		function flush() { if (len == 1) printf "  <exception old_chunk=\"%d\" new_chunk=\"%d\"/>\n", o, c
			else if (len) printf "  <exception_run old_begin=\"%d\" new_begin=\"%d\" length=\"%d\"/>\n", o, c, len }
		BEGIN { printf "<snapshot_store version=\"1\" valid=\"1\" chunk_size=\"%d\" nr_chunks=\"%d\">\n", cs, n }
		{ if (len && $1 == o + len && $2 == c + len) len++; else { flush(); o = $1; c = $2; len = 1 } }
		END { flush(); print "</snapshot_store>" }'
}

secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }

best() { sort -n | head -1; }

# ---- data -------------------------------------------------------------
ORIGIN_CHUNKS=32768          # 2 GiB origin
COW_CHUNKS=16420             # 1 GiB of data + header + areas
[ -s "$W/origin" ] || "$FILL" "$W/origin" $((ORIGIN_CHUNKS * CB)) 1
[ -s "$W/cow" ] || "$FILL" "$W/cow" $((COW_CHUNKS * CB)) 2
[ -s "$W/ddout" ] || "$FILL" "$W/ddout" $((1 << 30)) 3

# long runs: 8 runs of 2048 chunks, spread over the origin
for r in 0 1 2 3 4 5 6 7; do seq $((r * 4096 + 100)) $((r * 4096 + 2147)); done |
	alloc >"$W/long.pairs"
to_xml $COW_CHUNKS <"$W/long.pairs" >"$W/long.xml"
# scattered: 8192 distinct origin chunks, no two adjacent, random order
seq 0 2 $((ORIGIN_CHUNKS - 2)) | shuf -n 8192 --random-source=<(yes) |
	alloc >"$W/scat.pairs"
to_xml $COW_CHUNKS <"$W/scat.pairs" >"$W/scat.xml"

merge_once() {
	"$BIN/snap_restore" -i "$W/$1.xml" -o "$W/cow"
	secs "$BIN/snap_merge_offline" -q --no-other-snapshots --origin "$W/origin" --cow "$W/cow"
}

declare -A T
for ((i = 0; i < RUNS; i++)); do
	T[dd]+="$(secs dd if="$W/cow" of="$W/ddout" iflag=direct oflag=direct bs=4M count=256 conv=notrunc,fdatasync) "
	T[long]+="$(merge_once long) "
	T[one]+="$(secs sh -c "awk '{ print \$2, \$1 }' '$W/scat.pairs' | '$W/copy_chunks' '$W/cow' '$W/origin' $CB") "
	T[scat]+="$(merge_once scat) "
done

# the device's ceiling: 1 GiB read alone, written alone, and both at once
rate() { dd "$@" bs=4M count=256 2>&1 | awk '/copied/ { print $(NF-1), $NF }'; }
CEIL="read $(rate if="$W/cow" of=/dev/null iflag=direct), write $(rate if=/dev/zero of="$W/ddout" oflag=direct conv=notrunc)"
CONC=$( (rate if="$W/cow" of=/dev/null iflag=direct & rate if=/dev/zero of="$W/ddout" oflag=direct conv=notrunc; wait) | tr '\n' ' ')

row() { printf '%s\n' ${T[$1]} | best; }
dd_s=$(row dd) long_s=$(row long) one_s=$(row one) scat_s=$(row scat)
mib() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

cat <<EOT
| case | baseline | baseline s | snap_merge_offline s | speed-up |
|---|---|---:|---:|---:|
| 1 GiB, 8 runs of 128 MiB, 64 KiB chunks | dd iflag=direct oflag=direct bs=4M ($(mib 1073741824 "$dd_s") MiB/s) | $dd_s | $long_s ($(mib 1073741824 "$long_s") MiB/s) | $(ratio "$dd_s" "$long_s")x |
| 512 MiB, 8192 scattered 64 KiB chunks | one chunk at a time, O_DIRECT ($(mib 536870912 "$one_s") MiB/s) | $one_s | $scat_s ($(mib 536870912 "$scat_s") MiB/s) | $(ratio "$one_s" "$scat_s")x |
EOT
echo "device: $CEIL; read and write at the same time: $CONC" >&2

# The ceiling for any copy: with fio (if installed), the best rate of 1 GiB
# read alone and written alone (4 and 16 MiB requests, 4 in flight), and a
# read and a write stream run together.  If the device serves one request
# at a time, a copy can go no faster than 1 / (1/read + 1/write).
if command -v fio >/dev/null; then
	fio_rate() { # fio_rate read|write BS [more fio args]: MiB/s
		local rw=$1 bs=$2 f=$W/cow; shift 2
		[ "$rw" = write ] && f=$W/ddout
		fio --minimal --ioengine=libaio --direct=1 --size=1G --bs="$bs" \
			--iodepth=4 --name=x --filename="$f" --rw="$rw" "$@" 2>/dev/null |
			awk -F';' -v rw="$rw" '{ print int((rw == "read" ? $7 : $48) / 1024) }'
	}
	R=$( (fio_rate read 4M; fio_rate read 16M) | sort -n | tail -1)
	WR=$( (fio_rate write 4M; fio_rate write 16M) | sort -n | tail -1)
	MIX=$(fio --minimal --group_reporting --ioengine=libaio --direct=1 --size=1G \
		--bs=16M --iodepth=8 --name=r --filename="$W/cow" --rw=read \
		--name=w --filename="$W/ddout" --rw=write 2>/dev/null |
		awk -F';' '{ printf "read %d, write %d MiB/s", $7 / 1024, $48 / 1024 }')
	awk -v r="$R" -v w="$WR" -v dd="$(mib 1073741824 "$dd_s")" -v mix="$MIX" 'BEGIN {
		c = 1 / (1 / r + 1 / w)
		printf "fio: read alone %d MiB/s, write alone %d MiB/s, together: %s\n", r, w, mix
		printf "copy ceiling if served one at a time: %d MiB/s = %.2fx dd; 1.2x dd is %d MiB/s\n", c, c / dd, 1.2 * dd
	}' >&2
fi
echo "runs: dd ${T[dd]}/ long ${T[long]}/ one-at-a-time ${T[one]}/ scattered ${T[scat]}" >&2
