#!/usr/bin/env bash
# Run kiln where it must refuse to start: check the exit status, that stderr is exactly one
# line, and that the line matches a regex (names the file, option or value that is wrong).
#
# usage: expect-error.sh STATUS REGEX -- COMMAND ARGS...
# Prints PASS/FAIL; exits 0 or 1. Needs no /dev/kvm for image and option errors, which kiln
# reports before it opens KVM.
set -u
[ $# -ge 4 ] && [ "$3" = "--" ] || { echo "usage: expect-error.sh STATUS REGEX -- CMD..." >&2; exit 1; }
want_status=$1 regex=$2
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout --kill-after=5 30 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
status=$?
lines=$(wc -l <"$tmp/err")
problem=""
[ "$status" = "$want_status" ] || problem="exit status $status, expected $want_status"
[ -z "$problem" ] && [ "$lines" != 1 ] && problem="stderr has $lines lines, expected exactly 1"
[ -z "$problem" ] && ! grep -Eq -- "$regex" "$tmp/err" && problem="stderr does not match /$regex/"
[ -z "$problem" ] && [ -s "$tmp/out" ] && problem="unexpected output on stdout"
if [ -n "$problem" ]; then
	echo "FAIL: $*: $problem"
	sed 's/^/    stderr: /' "$tmp/err"
	sed 's/^/    stdout: /' "$tmp/out" | head -20
	exit 1
fi
echo "PASS: $* -> $status: $(cat "$tmp/err")"
