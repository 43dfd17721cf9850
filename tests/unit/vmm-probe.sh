#!/bin/sh
# vmm-probe.sh VMM_PROBE: bench/vmm_probe.c (bench/arm64.py's probe) on small shell commands in
# place of a VMM: its line's fields, a marker split across two reads, the copy of the output, the
# exit status, the timeout, a failed exec and its usage errors. No time is asserted, only their
# order and which are -1.
probe=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
field() { # NAME LINE
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# A marker written in two pieces, with a pause between, so the probe reads it in two chunks.
line=$("$probe" -t 20 -m 'MARK-ER' -g 1 -o "$tmp/out" sh -c \
	'printf "first\nMARK"; sleep 0.3; printf -- "-ER\nlast\n"; sleep 0.2')
echo "split marker: $line"
first=$(field first_ns "$line") marker=$(field marker_ns "$line") exit_ns=$(field exit_ns "$line")
[ "$first" -ge 0 ] || fail "first_ns $first"
[ "$marker" -ge "$first" ] || fail "marker_ns $marker before first_ns $first"
[ "$exit_ns" -ge "$marker" ] || fail "exit_ns $exit_ns before marker_ns $marker"
[ "$(field rss_kib "$line")" -gt 0 ] || fail "no rss_kib at the marker"
[ "$(field hwm_kib "$line")" -ge "$(field rss_kib "$line")" ] || fail "hwm_kib below rss_kib"
[ "$(field guest_kib "$line")" -ge 0 ] || fail "guest_kib not read with -g"
[ "$(field status "$line")" = 0 ] || fail "status $(field status "$line")"
[ "$(field timed_out "$line")" = 0 ] || fail "timed out"
printf 'first\nMARK-ER\nlast\n' | cmp -s - "$tmp/out" || fail "-o copy differs: $(cat "$tmp/out")"

# No marker in the output: marker and memory -1; the exit status comes through.
line=$("$probe" -m 'never' sh -c 'echo out; exit 3')
echo "no marker: $line"
[ "$(field marker_ns "$line")" = -1 ] || fail "marker_ns without a marker"
[ "$(field rss_kib "$line")" = -1 ] || fail "rss_kib without a marker"
[ "$(field guest_kib "$line")" = -1 ] || fail "guest_kib without a marker"
[ "$(field status "$line")" = 3 ] || fail "status $(field status "$line"), expected 3"

# No output at all; stdin is /dev/null (cat ends at once).
line=$("$probe" -t 20 cat)
echo "no output: $line"
[ "$(field first_ns "$line")" = -1 ] || fail "first_ns without output"
[ "$(field timed_out "$line")" = 0 ] || fail "cat timed out: stdin is not /dev/null"

# The timeout kills it.
line=$("$probe" -t 1 sleep 30)
echo "timeout: $line"
[ "$(field timed_out "$line")" = 1 ] || fail "no timed_out=1"
[ "$(field signal "$line")" = 9 ] || fail "signal $(field signal "$line"), expected 9"
[ "$(field status "$line")" = -1 ] || fail "status after a signal"

# A program that does not exist: status 127 and a message.
line=$("$probe" /nonexistent/vmm 2>"$tmp/err")
echo "no program: $line"
[ "$(field status "$line")" = 127 ] || fail "status $(field status "$line"), expected 127"
grep -q '/nonexistent/vmm' "$tmp/err" || fail "no message naming the program"

# Usage errors: exit 2, one line.
for args in "-t 0 true" "-t x true" "-g 0 true" "-g -5 true" "-m '' true" ""; do
	eval "set -- $args"
	"$probe" "$@" >/dev/null 2>"$tmp/err"
	s=$?
	[ "$s" = 2 ] || fail "vmm-probe $args: exit $s, expected 2"
	[ "$(wc -l <"$tmp/err")" = 1 ] || fail "vmm-probe $args: $(wc -l <"$tmp/err") lines on stderr"
done

[ "$fails" = 0 ] && echo "vmm-probe: all cases passed"
[ "$fails" = 0 ]
