#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# thinsnap benchmark kit: builds thin-pool metadata images of a few sizes
# with bench/gen_xml + Debian's thin_restore, then times Debian's
# thin-provisioning-tools (0.9.0) against thinsnap on the same images.
#
# Usage: bench/run.sh [--runs N] [--rebuild] [--restore] [--repair|--repair-ours]
#                     [small|medium|short|large|all ...]
#        (default sizes: small medium)
#
# Environment:
#   THINSNAP_BIN  directory with our thin_check/thin_dump (default: build/bin)
#   DEBIAN_BIN    directory with Debian's tools (default: /usr/sbin)
#   BENCH_WORK    cache/work directory (default: bench/work)
#   CC            compiler for gen_xml (default: cc)

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
WORK=${BENCH_WORK:-$BENCH_DIR/work}
THINSNAP_BIN=${THINSNAP_BIN:-$REPO_DIR/build/bin}
DEBIAN_BIN=${DEBIAN_BIN:-/usr/sbin}
CC=${CC:-cc}
TIME_BIN=/usr/bin/time
GEN_SRC=$BENCH_DIR/gen_xml.c
GEN=$WORK/gen_xml
RUNS=3
REBUILD=0
WITH_RESTORE=0
WITH_REPAIR=0       # 1: time both thin_repairs, 2: ours only
KIT_VERSION=1        # bump when the image recipe changes (cache key)

usage() {
	cat <<EOF
Usage: bench/run.sh [--runs N] [--rebuild] [--restore] [--repair|--repair-ours]
                    [small|medium|short|large|all ...]

Times Debian's thin_check / thin_check --skip-mappings / thin_dump against
thinsnap's on the same metadata image (page cache warm, best of N runs) and
checks that 'thin_dump --compat=0.9' output equals Debian's.

Sizes (metadata image file / mapped blocks):
  small    8 MiB /    150,000
  medium 512 MiB / 10,000,000
  large    3 GiB / 56,000,000   (first build takes several minutes)
Default: small medium.

  --runs N     timed runs per command, the best is reported (default 3)
  --rebuild    regenerate the cached images of the selected sizes
  --restore    also time thin_restore of the size's XML (one run each after
               a warm-up; Debian's takes about 3 minutes on large)
  --repair     also time thin_repair of the image onto a scratch file of the
               same size (one run each after a warm-up; Debian's takes about
               9 minutes on large) and check that the repaired metadata
               dumps exactly like the image
  --repair-ours  the same with our thin_repair only (Debian's column "-")

Images are cached in \$BENCH_WORK (default bench/work/), keyed by their
parameters.  THINSNAP_BIN (default build/bin) selects our binaries,
DEBIAN_BIN (default /usr/sbin) Debian's.
Results are also written as markdown to \$BENCH_WORK/last-results.md.
EOF
}

die() { echo "run.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- options
sizes=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || die "--runs needs a value"; RUNS=$2; shift 2 ;;
	--runs=*) RUNS=${1#--runs=}; shift ;;
	--rebuild) REBUILD=1; shift ;;
	--restore) WITH_RESTORE=1; shift ;;
	--repair) WITH_REPAIR=1; shift ;;
	--repair-ours) WITH_REPAIR=2; shift ;;
	-h|--help) usage; exit 0 ;;
	small|medium|short|large) sizes+=("$1"); shift ;;
	all) sizes+=(small medium short large); shift ;;
	*) usage >&2; exit 2 ;;
	esac
done
[ ${#sizes[@]} -gt 0 ] || sizes=(small medium)
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"

# ---------------------------------------------------------------- size table
# image: metadata file size; the rest are gen_xml parameters.  The mapping
# counts fill about 60% of the image with Debian 0.9.0's thin_restore, which
# uses ~33 bytes of metadata per mapping (half-full leaves, no sharing).
size_params() {
	case $1 in
	small)
		IMG_SIZE=$((8 << 20)); SEED=1; DEVICES=4; SNAPSHOTS=2
		MAPPINGS=150000; MEAN_RUN=8; DIVERGENCE=10 ;;
	medium)
		IMG_SIZE=$((512 << 20)); SEED=2; DEVICES=8; SNAPSHOTS=4
		MAPPINGS=10000000; MEAN_RUN=16; DIVERGENCE=10 ;;
	short)	# medium's mapping count in short runs: the shape of issue 3's
		# 106 MB, 10M-mapping XML (most lines per mapping)
		IMG_SIZE=$((512 << 20)); SEED=7; DEVICES=8; SNAPSHOTS=4
		MAPPINGS=10000000; MEAN_RUN=8; DIVERGENCE=10 ;;
	large)
		IMG_SIZE=$((3 << 30)); SEED=3; DEVICES=16; SNAPSHOTS=8
		MAPPINGS=56000000; MEAN_RUN=16; DIVERGENCE=10 ;;
	*) die "unknown size $1" ;;
	esac
	DATA_BLOCK_SIZE=128
	GEN_ARGS=(--seed "$SEED" --devices "$DEVICES" --snapshots "$SNAPSHOTS"
		--mappings "$MAPPINGS" --mean-run "$MEAN_RUN"
		--snap-divergence "$DIVERGENCE" --data-block-size "$DATA_BLOCK_SIZE")
}

# ---------------------------------------------------------------- prerequisites
if [ ! -x "$TIME_BIN" ]; then
	die "$TIME_BIN is missing (needed for peak RSS): apt-get install time"
fi
for t in thin_restore thin_check thin_dump; do
	[ -x "$DEBIAN_BIN/$t" ] ||
		die "$DEBIAN_BIN/$t is missing: apt-get install thin-provisioning-tools"
done
DEBIAN_VERSION=$("$DEBIAN_BIN/thin_check" -V 2>/dev/null || echo "?")

have_ours=1
for t in thin_check thin_dump; do
	if [ ! -x "$THINSNAP_BIN/$t" ]; then
		have_ours=0
	fi
done
if [ $have_ours = 0 ]; then
	echo "NOTE: thinsnap binaries not found in $THINSNAP_BIN" \
	     "(build them with 'make', or set THINSNAP_BIN)."
	echo "      Showing Debian's numbers only."
	echo
fi

mkdir -p "$WORK"

if [ ! -x "$GEN" ] || [ "$GEN_SRC" -nt "$GEN" ]; then
	echo "compiling $GEN"
	"$CC" -O2 -Wall -Wextra -o "$GEN.tmp" "$GEN_SRC"
	mv -f "$GEN.tmp" "$GEN"
fi
GEN_HASH=$(sha256sum "$GEN_SRC" | cut -c1-12)

# high-resolution clock in seconds (bash 5), falling back to date
now() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		echo "${EPOCHREALTIME/,/.}"
	else
		date +%s.%N
	fi
}

fsec() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---------------------------------------------------------------- images
# sets IMG, INFO for size $1 (building the image when not cached)
prepare_image() {
	local size=$1 key xml tmp t0 t1 need est used
	size_params "$size"
	key=$(printf '%s ' "$KIT_VERSION" "$size" "$IMG_SIZE" "${GEN_ARGS[@]}" "$GEN_HASH" \
		"$DEBIAN_VERSION" | sha256sum | cut -c1-12)
	IMG=$WORK/$size-$key.img
	INFO=$WORK/$size-$key.info
	xml=$WORK/$size-$key.xml
	XMLF=$xml

	if [ $REBUILD = 1 ]; then
		rm -f "$IMG" "$INFO" "$xml"
	fi
	if [ -f "$IMG" ] && [ -f "$INFO" ]; then
		echo "[$size] using cached image $IMG"
		return
	fi
	# drop stale images of this size (other parameters)
	rm -f "$WORK/$size"-*.img "$WORK/$size"-*.info "$WORK/$size"-*.xml \
		"$WORK/$size"-*.tmp

	echo "[$size] generating XML: gen_xml ${GEN_ARGS[*]}"
	t0=$(now)
	"$GEN" "${GEN_ARGS[@]}" --stats -o "$xml.tmp" 2>"$INFO.tmp"
	t1=$(now)
	mv -f "$xml.tmp" "$xml"
	echo "gen_seconds $(fsec "$t0" "$t1")" >>"$INFO.tmp"

	# metadata estimate: Debian's restore leaves leaves half full (~124
	# mappings per metadata block), plus per-device trees and the data
	# space map; make the file at least 1.5 times that.
	need=$(awk '/^data blocks used/ { print $NF }' "$INFO.tmp")
	est=$(( (MAPPINGS / 120 + (DEVICES + SNAPSHOTS) * 4 + need / 16000 + 64) \
		* 4096 * 3 / 2 ))
	if [ "$est" -gt "$IMG_SIZE" ]; then
		echo "[$size] note: image enlarged from $IMG_SIZE to $est bytes"
		IMG_SIZE=$est
	fi

	tmp=$IMG.tmp
	rm -f "$tmp"
	truncate -s "$IMG_SIZE" "$tmp"
	echo "[$size] restoring with Debian thin_restore into $IMG_SIZE bytes"
	t0=$(now)
	"$DEBIAN_BIN/thin_restore" -q -i "$xml" -o "$tmp" ||
		die "Debian thin_restore failed on $xml"
	t1=$(now)
	echo "restore_seconds $(fsec "$t0" "$t1")" >>"$INFO.tmp"

	"$DEBIAN_BIN/thin_check" -q "$tmp" ||
		die "Debian thin_check rejects the restored image $tmp"
	if "$DEBIAN_BIN/thin_dump" "$tmp" | cmp -s - "$xml"; then
		echo "[$size] round trip OK (Debian thin_dump == generated XML)"
		echo "roundtrip OK" >>"$INFO.tmp"
	else
		echo "[$size] WARNING: Debian thin_dump differs from the generated XML"
		echo "roundtrip DIFF" >>"$INFO.tmp"
	fi
	used=$(od -An -t u8 -j $((0xC8)) -N 8 "$tmp" | tr -d ' ')
	echo "image_bytes $IMG_SIZE" >>"$INFO.tmp"
	echo "metadata_blocks_used $used" >>"$INFO.tmp"
	echo "xml_bytes $(stat -c %s "$xml")" >>"$INFO.tmp"
	mv -f "$tmp" "$IMG"
	mv -f "$INFO.tmp" "$INFO"
	echo "[$size] generation $(awk '/^gen_seconds/ {print $2}' "$INFO") s," \
	     "restore $(awk '/^restore_seconds/ {print $2}' "$INFO") s"
}

info() { awk -v k="$1" '$1 == k { print $2 }' "$INFO"; }

# ---------------------------------------------------------------- timing
# run_once OUTFILE cmd...: stdout/stderr discarded; sets R_SEC R_RSS R_RC
run_once() {
	local out=$1 t0 t1 last
	shift
	t0=$(now)
	set +e
	"$TIME_BIN" -f '%e %M' -o "$out" "$@" >/dev/null 2>&1
	R_RC=$?
	set -e
	t1=$(now)
	R_SEC=$(fsec "$t0" "$t1")
	last=$(tail -n 1 "$out")
	R_RSS=${last##* }
	[[ $R_RSS =~ ^[0-9]+$ ]] || R_RSS=0
}

# bench LABEL: times the commands in the arrays dcmd (Debian) and ocmd
# (ours): warm both once, then RUNS alternating runs of each
results=()          # "size|label|deb|ours|ratio|debrss|oursrss|debruns|oursruns"
bench() {
	local label=$1
	local tf=$WORK/.time.$$ i dbest="" obest="" drss=0 orss=0 druns="" oruns=""
	local dfail="" ofail="" ratio dcol ocol drcol orcol

	# an empty dcmd: Debian's command is not run (too slow), column "-"
	if [ ${#dcmd[@]} -eq 0 ]; then
		dfail="-"
	else
		run_once "$tf" "${dcmd[@]}"
		[ $R_RC = 0 ] || dfail="FAIL(rc=$R_RC)"
	fi
	if [ $have_ours = 1 ]; then
		run_once "$tf" "${ocmd[@]}"
		[ $R_RC = 0 ] || ofail="FAIL(rc=$R_RC)"
	fi
	for ((i = 0; i < RUNS; i++)); do
		if [ ${#dcmd[@]} -gt 0 ]; then
			run_once "$tf" "${dcmd[@]}"
			[ $R_RC = 0 ] || dfail="FAIL(rc=$R_RC)"
			druns+="${druns:+ }$R_SEC"
			if [ -z "$dbest" ] || awk -v a="$R_SEC" -v b="$dbest" 'BEGIN { exit !(a < b) }'; then
				dbest=$R_SEC
			fi
			if [ "$R_RSS" -gt "$drss" ]; then drss=$R_RSS; fi
		fi
		if [ $have_ours = 1 ]; then
			run_once "$tf" "${ocmd[@]}"
			[ $R_RC = 0 ] || ofail="FAIL(rc=$R_RC)"
			oruns+="${oruns:+ }$R_SEC"
			if [ -z "$obest" ] || awk -v a="$R_SEC" -v b="$obest" 'BEGIN { exit !(a < b) }'; then
				obest=$R_SEC
			fi
			if [ "$R_RSS" -gt "$orss" ]; then orss=$R_RSS; fi
		fi
	done
	rm -f "$tf"

	dcol=${dfail:-$dbest}
	drcol=$(awk -v k="$drss" 'BEGIN { printf "%.1f", k / 1024 }')
	if [ $have_ours = 1 ]; then
		ocol=${ofail:-$obest}
		orcol=$(awk -v k="$orss" 'BEGIN { printf "%.1f", k / 1024 }')
		if [ -z "$dfail$ofail" ]; then
			ratio=$(awk -v a="$dbest" -v b="$obest" \
				'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "inf" }')
		else
			ratio=-
		fi
	else
		ocol=n/a; orcol=n/a; ratio=n/a; oruns=n/a
	fi
	results+=("$CUR_SIZE|$label|$dcol|$ocol|$ratio|$drcol|$orcol|$druns|$oruns")
	printf '  %-30s debian %9s  ours %9s  ratio %7s\n' \
		"$label" "$dcol" "$ocol" "$ratio"
}

# ---------------------------------------------------------------- main
verify=()           # "size|MATCH/DIFF/..."
sizeinfo=()         # "size|image MiB|used MiB|devices|mappings|lines|xml MiB|gen s|restore s"

for CUR_SIZE in "${sizes[@]}"; do
	prepare_image "$CUR_SIZE"
	size_params "$CUR_SIZE"
	sizeinfo+=("$CUR_SIZE|$(awk -v b="$(info image_bytes)" 'BEGIN { printf "%.0f", b / 1048576 }')|$(awk -v b="$(info metadata_blocks_used)" 'BEGIN { printf "%.1f", b * 4096 / 1048576 }')|$((DEVICES + SNAPSHOTS)) ($SNAPSHOTS snap)|$(awk '/^mappings/ {print $2}' "$INFO")|$(awk '/^mapping lines/ {print $3}' "$INFO")|$(awk -v b="$(info xml_bytes)" 'BEGIN { printf "%.1f", b / 1048576 }')|$(info gen_seconds)|$(info restore_seconds)")

	echo "[$CUR_SIZE] timing (best of $RUNS, page cache warm)"
	D=$DEBIAN_BIN O=$THINSNAP_BIN
	dcmd=("$D/thin_check" "$IMG"); ocmd=("$O/thin_check" "$IMG")
	bench "thin_check"
	dcmd=("$D/thin_check" --skip-mappings "$IMG")
	ocmd=("$O/thin_check" --skip-mappings "$IMG")
	bench "thin_check --skip-mappings"
	dcmd=("$D/thin_dump" "$IMG"); ocmd=("$O/thin_dump" --compat=0.9 "$IMG")
	bench "thin_dump >/dev/null"
	# the whole data device: every mapping of the pool, reversed
	nr_data=$(od -An -t u8 -j $((0x40)) -N 8 "$IMG" | tr -d ' ')
	dcmd=("$D/thin_rmap" --region "0..$nr_data" "$IMG")
	ocmd=("$O/thin_rmap" --region "0..$nr_data" "$IMG")
	bench "thin_rmap (whole pool) >/dev/null"
	if [ "$WITH_RESTORE" = 1 ] && [ -f "$XMLF" ]; then
		# one timed run each (Debian needs minutes on the large size)
		rimg=$WORK/.restore-out.img
		rm -f "$rimg"
		truncate -s "$(stat -c %s "$IMG")" "$rimg"
		saved_runs=$RUNS
		RUNS=1
		dcmd=("$D/thin_restore" -q -i "$XMLF" -o "$rimg")
		ocmd=("$O/thin_restore" -q -i "$XMLF" -o "$rimg")
		bench "thin_restore"
		RUNS=$saved_runs
		rm -f "$rimg"
	fi
	if [ "$WITH_REPAIR" != 0 ]; then
		# one timed run each after a warm-up, onto a scratch file
		rimg=$WORK/.repair-out.img
		rm -f "$rimg"
		truncate -s "$(stat -L -c %s "$IMG")" "$rimg"
		saved_runs=$RUNS
		RUNS=1
		dcmd=()
		[ "$WITH_REPAIR" = 1 ] && dcmd=("$D/thin_repair" -i "$IMG" -o "$rimg")
		ocmd=("$O/thin_repair" -q -i "$IMG" -o "$rimg")
		bench "thin_repair"
		RUNS=$saved_runs
		if [ $have_ours = 1 ] && cmp -s <("$O/thin_dump" "$IMG") <("$O/thin_dump" "$rimg"); then
			echo "  thin_repair output dumps like the image: MATCH"
			verify+=("$CUR_SIZE thin_repair|MATCH (repaired dump == image dump)")
		else
			echo "  thin_repair output dumps like the image: DIFF"
			verify+=("$CUR_SIZE thin_repair|DIFF (repaired dump != image dump)")
		fi
		rm -f "$rimg"
	fi

	if [ $have_ours = 1 ]; then
		set +e
		cmpout=$(cmp <("$D/thin_dump" "$IMG") \
			<("$O/thin_dump" --compat=0.9 "$IMG" 2>/dev/null) 2>&1)
		rc=$?
		set -e
		if [ $rc = 0 ]; then
			v=MATCH
		else
			v="DIFF${cmpout:+ (${cmpout##*: })}"
		fi
	else
		v="n/a (no thinsnap binaries)"
	fi
	verify+=("$CUR_SIZE|$v")
	echo "  thin_dump --compat=0.9 vs Debian: $v"
	echo
done

# ---------------------------------------------------------------- report
host_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "uncommitted")
md=$WORK/last-results.md
{
	echo "## Benchmark results ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "- host: ${host_cpu:-unknown CPU}, $(nproc) CPUs, kernel $(uname -r)"
	echo "- Debian thin-provisioning-tools $DEBIAN_VERSION ($DEBIAN_BIN); thinsnap $commit ($THINSNAP_BIN)"
	echo "- page cache warm; times are wall seconds, best of $RUNS; RSS is the peak over the runs"
	echo
	echo "| size | image MiB | metadata used MiB | devices | mappings | XML mapping lines | XML MiB | gen s | Debian restore s |"
	echo "|---|---:|---:|---|---:|---:|---:|---:|---:|"
	for r in "${sizeinfo[@]}"; do
		IFS='|' read -r a b c d e f g h i <<<"$r"
		echo "| $a | $b | $c | $d | $e | $f | $g | $h | $i |"
	done
	echo
	echo "| size | command | Debian s | ours s | ratio (Debian/ours) | Debian RSS MiB | ours RSS MiB |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	for r in "${results[@]}"; do
		IFS='|' read -r a b c d e f g h i <<<"$r"
		echo "| $a | \`$b\` | $c | $d | $e | $f | $g |"
	done
	echo
	echo "thin_dump --compat=0.9 output vs Debian thin_dump:"
	echo
	for r in "${verify[@]}"; do
		IFS='|' read -r a b <<<"$r"
		echo "- $a: $b"
	done
	echo
	echo "Individual runs (seconds; Debian baseline repeated $RUNS times):"
	echo
	echo "| size | command | Debian runs | ours runs |"
	echo "|---|---|---|---|"
	for r in "${results[@]}"; do
		IFS='|' read -r a b c d e f g h i <<<"$r"
		echo "| $a | \`$b\` | $h | $i |"
	done
} >"$md"

echo "==================================================================="
printf '%-7s %-28s %9s %9s %8s %10s %10s\n' size command "Debian s" "ours s" ratio \
	"Deb MiB" "ours MiB"
for r in "${results[@]}"; do
	IFS='|' read -r a b c d e f g h i <<<"$r"
	printf '%-7s %-28s %9s %9s %8s %10s %10s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g"
done
echo
echo "Debian baseline, all runs (s):"
for r in "${results[@]}"; do
	IFS='|' read -r a b c d e f g h i <<<"$r"
	printf '  %-7s %-28s %s\n' "$a" "$b" "$h"
done
if [ $have_ours = 1 ]; then
	echo "thinsnap, all runs (s):"
	for r in "${results[@]}"; do
		IFS='|' read -r a b c d e f g h i <<<"$r"
		printf '  %-7s %-28s %s\n' "$a" "$b" "$i"
	done
fi
echo
for r in "${verify[@]}"; do
	IFS='|' read -r a b <<<"$r"
	echo "thin_dump --compat=0.9 vs Debian [$a]: $b"
done
echo
echo "markdown written to $md"
