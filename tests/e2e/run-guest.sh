#!/usr/bin/env bash
# Run one monitor invocation and check its exit status, stdout and stderr.
#
# usage: run-guest.sh [--name TEXT] [--expect-status N|any] [--expect-out REGEX]...
#                     [--expect-err REGEX]... [--reject-out REGEX]... [--reject-err REGEX]...
#                     [--stdin STRING] [--timeout SECONDS] [--no-kvm] [--skip-unless PROGRAM]...
#                     -- COMMAND ARGS...
#
#   --expect-status  exit status the command must end with (default 33: the guest
#                    printed SUCCESS and wrote 0x10 to the debug-exit port); "any" skips the check
#   --expect-out/err extended regex (grep -E) that must match the captured stdout/stderr
#   --reject-out/err extended regex that must NOT match it
#   --stdin          text fed to the command's stdin, printf %b escapes (\n) expanded;
#                    without it stdin is /dev/null
#   --timeout        seconds before the command is killed and the run fails (default 60)
#   --name           description for the PASS/FAIL line (default: the command line)
#   --no-kvm         the command needs no /dev/kvm (kiln --help, QEMU with TCG): skip the check
#   --skip-unless    a probe run (without arguments) before the command: exit 0 runs the test,
#                    exit 77 skips it with the probe's stdout as the reason, anything else fails
#
# Prints "PASS: <name>" and exits 0, or "FAIL: <what>" plus the captured output and
# exits 1, or "SKIP: <reason>" and exits 77 when /dev/kvm cannot be opened read-write
# (unless --no-kvm) or a --skip-unless probe says so.
set -u

usage() {
	sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 1
}

name=""
expect_status=33
expect_out=()
expect_err=()
reject_out=()
reject_err=()
stdin_text=""
have_stdin=0
timeout_s=60
need_kvm=1
skip_unless=()

while [ $# -gt 0 ]; do
	case "$1" in
	--name) [ $# -ge 2 ] || usage; name=$2; shift 2 ;;
	--expect-status) [ $# -ge 2 ] || usage; expect_status=$2; shift 2 ;;
	--expect-out) [ $# -ge 2 ] || usage; expect_out+=("$2"); shift 2 ;;
	--expect-err) [ $# -ge 2 ] || usage; expect_err+=("$2"); shift 2 ;;
	--reject-out) [ $# -ge 2 ] || usage; reject_out+=("$2"); shift 2 ;;
	--reject-err) [ $# -ge 2 ] || usage; reject_err+=("$2"); shift 2 ;;
	--stdin) [ $# -ge 2 ] || usage; stdin_text=$2; have_stdin=1; shift 2 ;;
	--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
	--no-kvm) need_kvm=0; shift ;;
	--skip-unless) [ $# -ge 2 ] || usage; skip_unless+=("$2"); shift 2 ;;
	--) shift; break ;;
	*) echo "run-guest.sh: unknown option: $1" >&2; usage ;;
	esac
done
[ $# -ge 1 ] || usage
case "$expect_status" in any | [0-9] | [0-9][0-9] | [0-9][0-9][0-9]) ;; *) usage ;; esac
case "$timeout_s" in '' | *[!0-9]*) usage ;; esac
[ -n "$name" ] || name="$*"

if [ "$need_kvm" -eq 1 ] && [ ! -c /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing"
	exit 77
fi
if [ "$need_kvm" -eq 1 ] && ! { : <>/dev/kvm; } 2>/dev/null; then
	echo "SKIP: /dev/kvm is not readable and writable"
	exit 77
fi

for probe in "${skip_unless[@]+"${skip_unless[@]}"}"; do
	reason=$("$probe")
	probe_status=$?
	if [ "$probe_status" -eq 77 ]; then
		echo "SKIP: $reason"
		exit 77
	elif [ "$probe_status" -ne 0 ]; then
		echo "FAIL: $name: probe $probe exited with status $probe_status: $reason"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-guest.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

stdin_file=/dev/null
if [ "$have_stdin" -eq 1 ]; then
	stdin_file=$tmp/stdin
	printf '%b' "$stdin_text" >"$stdin_file"
fi

start=$(date +%s.%N)
timeout --kill-after=5 "$timeout_s" "$@" <"$stdin_file" >"$tmp/out" 2>"$tmp/err"
status=$?
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')

problems=()
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
	problems+=("timed out after $timeout_s s")
elif [ "$expect_status" != any ] && [ "$status" -ne "$expect_status" ]; then
	problems+=("exit status $status, expected $expect_status")
fi
for re in "${expect_out[@]+"${expect_out[@]}"}"; do
	grep -Eaq -- "$re" "$tmp/out" || problems+=("stdout does not match /$re/")
done
for re in "${expect_err[@]+"${expect_err[@]}"}"; do
	grep -Eaq -- "$re" "$tmp/err" || problems+=("stderr does not match /$re/")
done
for re in "${reject_out[@]+"${reject_out[@]}"}"; do
	! grep -Eaq -- "$re" "$tmp/out" || problems+=("stdout matches rejected /$re/")
done
for re in "${reject_err[@]+"${reject_err[@]}"}"; do
	! grep -Eaq -- "$re" "$tmp/err" || problems+=("stderr matches rejected /$re/")
done

if [ ${#problems[@]} -eq 0 ]; then
	echo "PASS: $name (${elapsed} s)"
	exit 0
fi

summary=${problems[0]}
for p in "${problems[@]:1}"; do
	summary="$summary; $p"
done
echo "FAIL: $name: $summary"
echo "  command: $* (exit status $status, ${elapsed} s)"
echo "  stdout:"
sed 's/^/    /' "$tmp/out"
echo "  stderr:"
sed 's/^/    /' "$tmp/err"
exit 1
