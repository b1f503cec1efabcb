#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The manual pages (man8/) and the bash completion (completions/thinsnap)
# against what the tools accept: every option that `TOOL -h` lists must be
# documented and completed, nothing else may be documented as an option,
# the pages must render without groff warnings, and the completion must
# offer exactly the expected candidates.
#
# groff and man are not installed by scripts/install-deps.sh; the
# rendering tests skip (with a message) when they are missing.

load helpers

TOOLS="thin_check thin_dump thin_restore thin_rmap snap_check snap_dump snap_restore
	snap_merge_offline thin_repair snap_repair"

setup() {
	TOP=$BATS_TEST_DIRNAME/../..
	MAN=$TOP/man8
	COMP=$TOP/completions/thinsnap
	# file name completion must not depend on bash-completion being loaded
	unset -f _filedir 2>/dev/null || true
	# shellcheck disable=SC1090
	source "$COMP"
	compfn=$(complete -p thin_dump | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
}

# need_tools: skip unless the tools are built (the -h output is the
# reference for the options)
need_tools() {
	[ -x "$TS_BIN/thin_check" ] && [ -x "$TS_BIN/thin_dump" ] ||
		skip "tools not built in $TS_BIN (run make)"
}

# long_opts TOOL: the long options TOOL -h lists, one a line, sorted
long_opts() {
	"$TS_BIN/$1" -h | grep -oE -- '--[a-z][a-z-]*' | sort -u
}

# short_opts TOOL: the short options TOOL -h lists, one a line, sorted
short_opts() {
	"$TS_BIN/$1" -h | grep -oE -- '\{-[a-zA-Z]\|' | tr -d '{|' | sort -u
}

# man_text PAGE: the page source with roff's \- turned into - and font
# escapes (\fB, \fI, \fR, \fP) removed
man_text() {
	sed 's/\\-/-/g; s/\\f[BIRP]//g' "$1"
}

# man_option_heads PAGE: options named in the tagged paragraphs (the line
# after each .TP) of the OPTIONS section, one a line, sorted
man_option_heads() {
	man_text "$1" | awk '
		/^\.SH/ { in_opts = ($2 == "OPTIONS") }
		in_opts && tp { print; tp = 0; next }
		in_opts && /^\.TP/ { tp = 1 }' |
		grep -oE -- '(^|[^a-zA-Z-])--?[a-zA-Z][a-z-]*' |
		grep -oE -- '--?[a-zA-Z][a-z-]*' | sort -u
}

# has_word TEXT-FILE WORD: WORD occurs not as part of a longer option
has_word() {
	grep -qE -- "(^|[^a-zA-Z-])$2([^a-zA-Z-]|\$)" "$1"
}

# complete_words WORD...: run the registered completion function as bash
# would for the command line WORD... with the cursor at the end of the last
# word; leaves the candidates in COMPREPLY
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	"$compfn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]:-}"
}

# expect_reply "CANDIDATES" WORD...: the candidates, in order, are exactly
# CANDIDATES (space-separated; "" for none)
expect_reply() {
	local want=$1
	shift
	complete_words "$@"
	if [ "${COMPREPLY[*]}" != "$want" ]; then
		echo "completing: $*" >&2
		echo "expected:  [$want]" >&2
		echo "got:       [${COMPREPLY[*]}]" >&2
		return 1
	fi
}

# expect_reply_set "CANDIDATES" WORD...: the same, in any order
expect_reply_set() {
	local want=$1 got
	shift
	complete_words "$@"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	want=$(printf '%s\n' $want | sort | tr '\n' ' ')
	if [ "$got" != "$want" ]; then
		echo "completing: $*" >&2
		echo "expected:  [$want]" >&2
		echo "got:       [$got]" >&2
		return 1
	fi
}

# ---- manual pages ---------------------------------------------------------

@test "each tool and thinsnap has a man page with SPDX line, .TH and the usual sections" {
	for page in thin_check thin_dump thinsnap; do
		f=$MAN/$page.8
		[ -f "$f" ] || { echo "missing $f" >&2; return 1; }
		[ "$(head -n 1 "$f")" = '.\" SPDX-License-Identifier: GPL-2.0-or-later' ]
		grep -q "^\.TH $(echo "$page" | tr a-z A-Z) 8 " "$f"
		for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO"; do
			grep -qE "^\.SH \"?$sec\"?\$" "$f" ||
				{ echo "$page.8: no section $sec" >&2; return 1; }
		done
	done
	for page in thin_check thin_dump; do
		for sec in OUTPUT SAFETY LIMITATIONS; do
			grep -q "^\.SH $sec\$" "$MAN/$page.8" ||
				{ echo "$page.8: no section $sec" >&2; return 1; }
		done
	done
	grep -q '^\.SH CHECKS$' "$MAN/thin_check.8"
}

@test "every long option in -h output is in the tool's man page" {
	need_tools
	for tool in $TOOLS; do
		man_text "$MAN/$tool.8" >"$BATS_TEST_TMPDIR/$tool.txt"
		opts=$(long_opts "$tool")
		[ -n "$opts" ]
		for o in $opts; do
			has_word "$BATS_TEST_TMPDIR/$tool.txt" "$o" ||
				{ echo "$tool.8 does not mention $o" >&2; return 1; }
		done
	done
}

@test "the OPTIONS section documents exactly the options -h lists, long and short" {
	need_tools
	for tool in $TOOLS; do
		want=$( (long_opts "$tool"; short_opts "$tool") | sort -u)
		have=$(man_option_heads "$MAN/$tool.8")
		if [ "$want" != "$have" ]; then
			echo "$tool: -h vs OPTIONS section of $tool.8:" >&2
			diff <(echo "$want") <(echo "$have") >&2 || true
			return 1
		fi
	done
}

@test "thinsnap.8 lists every command of thinsnap -h" {
	need_tools
	cmds=$("$TS_BIN/../thinsnap" -h | sed -n 's/^  \([a-z_]*\)$/\1/p')
	[ -n "$cmds" ]
	man_text "$MAN/thinsnap.8" >"$BATS_TEST_TMPDIR/thinsnap.txt"
	for c in $cmds; do
		grep -qx "\.B $c" "$BATS_TEST_TMPDIR/thinsnap.txt" ||
			{ echo "thinsnap.8 has no entry for $c" >&2; return 1; }
		[ -f "$MAN/$c.8" ]
	done
}

@test "man pages render without groff warnings" {
	command -v groff >/dev/null 2>&1 ||
		skip "groff is not installed (scripts/install-deps.sh does not install it)"
	for page in "$MAN"/*.8; do
		err=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
		if [ -n "$err" ]; then
			echo "$page:" >&2
			echo "$err" >&2
			return 1
		fi
	done
}

@test "man --warnings renders the pages without warnings" {
	command -v man >/dev/null 2>&1 ||
		skip "man is not installed (scripts/install-deps.sh does not install it)"
	command -v groff >/dev/null 2>&1 ||
		skip "groff is not installed (scripts/install-deps.sh does not install it)"
	for page in "$MAN"/*.8; do
		err=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		if [ -n "$err" ]; then
			echo "$page:" >&2
			echo "$err" >&2
			return 1
		fi
	done
}

# ---- bash completion ------------------------------------------------------

@test "completion file: SPDX line, valid bash, registered for all names" {
	[ "$(head -n 1 "$COMP")" = "# SPDX-License-Identifier: GPL-2.0-or-later" ]
	bash -n "$COMP"
	[ -n "$compfn" ]
	declare -F "$compfn" >/dev/null
	for name in thinsnap $TOOLS; do
		[ "$(complete -p "$name")" = "complete -F $compfn $name" ]
	done
}

@test "every option in -h output is in the completion file" {
	need_tools
	for tool in $TOOLS; do
		for o in $(long_opts "$tool") $(short_opts "$tool"); do
			has_word "$COMP" "$o" ||
				{ echo "completion has no $o (for $tool)" >&2; return 1; }
		done
	done
}

@test "completing '-' offers exactly the options of -h" {
	need_tools
	for tool in $TOOLS; do
		want=$( (long_opts "$tool"; short_opts "$tool") | sort -u | tr '\n' ' ')
		expect_reply_set "$want" "$tool" -
		expect_reply_set "$want" thinsnap "$tool" -
		want=$(long_opts "$tool" | tr '\n' ' ')
		expect_reply_set "$want" "$tool" --
	done
}

@test "completing option prefixes" {
	expect_reply "--format" thin_dump --f
	expect_reply "--compat" thin_dump --c
	expect_reply "--dev-id --data-block-size" thin_dump --d
	expect_reply "--output --override-mapping-root --override-details-root" thin_dump --o
	expect_reply "--override-mapping-root --override-details-root" thin_dump --ov
	expect_reply "--output" thin_dump --ou
	expect_reply "--super-block-only --skip-mappings" thin_check --s
	expect_reply "--clear-needs-check-flag" thin_check --cl
	expect_reply "--ignore-non-fatal-errors" thin_check --i
	expect_reply "--auto-repair" thin_check --a
	expect_reply "--quiet" /usr/sbin/thin_check --q
	expect_reply "" thin_check --format
	expect_reply "" thin_check --nosuch
}

@test "completing --format and --compat values, also after '='" {
	need_tools
	fmts=$("$TS_BIN/thin_dump" -h | sed -n 's/.*--format} {\(.*\)}.*/\1/p' | tr '|' ' ')
	compats=$("$TS_BIN/thin_dump" -h | sed -n 's/.*--compat} {\(.*\)}.*/\1/p' | tr '|' ' ')
	[ "$fmts" = "xml human_readable" ]
	[ "$compats" = "1.3 0.9" ]
	expect_reply "$fmts" thin_dump --format ""
	expect_reply "$fmts" thin_dump -f ""
	expect_reply "human_readable" thin_dump --format h
	expect_reply "xml" thin_dump -q -f x
	expect_reply "$fmts" thin_dump --format = ""
	expect_reply "xml" thin_dump --format = x
	expect_reply "--format=human_readable" thin_dump --format=hu
	expect_reply "$compats" thin_dump --compat ""
	expect_reply "0.9" thin_dump --compat 0
	expect_reply "1.3" thin_dump --compat = 1
	expect_reply "0.9" thinsnap thin_dump --compat 0
	expect_reply "" thin_dump --format z
	expect_reply "" thin_dump --dev-id ""
	expect_reply "" thin_check --override-mapping-root ""
}

@test "completing file names for inputs and -o/--output" {
	d=$BATS_TEST_TMPDIR/files
	mkdir -p "$d/meta.dir"
	touch "$d/meta.img" "$d/meta2.img" "$d/other.xml"
	cd "$d"
	expect_reply_set "meta.img meta2.img meta.dir" thin_check me
	expect_reply_set "meta.img meta2.img meta.dir" thin_dump -f xml me
	expect_reply_set "other.xml" thin_dump -o o
	expect_reply_set "other.xml" thin_dump --output o
	expect_reply_set "other.xml" thin_dump --output = o
	expect_reply_set "meta.img meta2.img meta.dir" thinsnap thin_dump -m me
	expect_reply_set "meta.img meta2.img meta.dir" thin_dump --metadata-snap me
	expect_reply_set "meta.img meta2.img meta.dir" thin_check -q me
	expect_reply_set "" thin_check -- --s
}

@test "thinsnap: first word completes command names, then delegates" {
	need_tools
	cmds=$("$TS_BIN/../thinsnap" -h | sed -n 's/^  \([a-z_]*\)$/\1/p' | tr '\n' ' ')
	expect_reply_set "$cmds" thinsnap ""
	expect_reply_set "$(tr ' ' '\n' <<<"$cmds" | grep '^thin_' | tr '\n' ' ')" thinsnap thin_
	expect_reply "snap_check snap_dump snap_restore snap_merge_offline snap_repair" thinsnap snap_
	expect_reply "thin_dump" thinsnap thin_d
	expect_reply "-h --help -V --version" thinsnap -
	expect_reply "--format" thinsnap thin_dump --f
	expect_reply "--skip-mappings" thinsnap thin_check --sk
	expect_reply "" thinsnap nosuch --f
}
