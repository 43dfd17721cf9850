#!/usr/bin/env bash
# Start and stop a 2-vCPU guest many times while its second vCPU spins in a tight loop (and
# once more with vCPUs that never got a SIPI): stopping must never hang or lose the status.
#
# usage: stop-race.sh KILN MB_SMP_ELF HELLO64_ELF [RUNS]
set -u
kiln=$1 smp=$2 hello=$3 runs=${4:-50}
if [ ! -c /dev/kvm ] || ! { : <>/dev/kvm; } 2>/dev/null; then
	echo "SKIP: /dev/kvm is not usable"
	exit 77
fi
fail=0
for i in $(seq "$runs"); do
	timeout --kill-after=2 20 "$kiln" run -q --debug-exit -c 2 -p 'cpus=2 ap=spin' -k "$smp" \
		</dev/null >/dev/null 2>&1
	s=$?
	if [ "$s" != 33 ]; then
		echo "FAIL: run $i: status $s$([ "$s" = 124 ] && echo ' (hung: killed by timeout)')"
		fail=1
	fi
	# vCPUs 1-3 never leave wait-for-SIPI: the stop must still reach them.
	timeout --kill-after=2 20 "$kiln" run -q --debug-exit -c 4 -k "$hello" </dev/null >/dev/null 2>&1
	s=$?
	if [ "$s" != 33 ]; then
		echo "FAIL: run $i (4 vCPUs, 3 never started): status $s"
		fail=1
	fi
done
[ "$fail" = 0 ] && echo "PASS: $runs x 2 start/stop cycles, no hang"
exit "$fail"
