#!/bin/sh
# /init of kiln's test initramfs (tests/linux/build-initramfs.sh puts it there). It runs as PID 1
# with the console on stdin/stdout and reports on lines starting with "KILN-INIT: ", which the
# test harness matches:
#
#   KILN-INIT: start
#   KILN-INIT: uptime_s=<seconds since the kernel started, from /proc/uptime>
#   KILN-INIT: nproc=<online CPUs>
#   KILN-INIT: memtotal_kb=<MemTotal>
#   KILN-INIT: cpus ok | KILN-INIT: FAIL cpus ...         (when kiln.expect_cpus=N is given)
#   KILN-INIT: mem ok | KILN-INIT: FAIL mem ...           (when kiln.expect_mem_mb=M is given)
#   KILN-INIT: type a line
#   KILN-INIT: got <the line> | KILN-INIT: FAIL no line read within <s>s
#   KILN-INIT: done
#
# and then powers the machine off. Kernel command-line parameters it reads (from /proc/cmdline):
#   kiln.expect_cpus=N     nproc must equal N
#   kiln.expect_mem_mb=M   MemTotal must be at most M MiB and at least M MiB less the kernel's
#                          share: the larger of 20% of M and 16 MiB (the test kernel keeps about
#                          11 MiB: MemTotal is 89% of 128 MiB, 94% of 256 MiB, 96% of 512 MiB)
#   kiln.read_timeout=S    seconds to wait for the typed line (default 60)
#   kiln.halt=reboot       end with "reboot -f" instead of "poweroff -f"
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

say() {
	echo "KILN-INIT: $*"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say start
read -r up _ </proc/uptime
say "uptime_s=$up"

expect_cpus=
expect_mem_mb=
read_timeout=60
halt=poweroff
# shellcheck disable=SC2013 # the command line is one line of words
for word in $(cat /proc/cmdline); do
	case "$word" in
	kiln.expect_cpus=*) expect_cpus=${word#*=} ;;
	kiln.expect_mem_mb=*) expect_mem_mb=${word#*=} ;;
	kiln.read_timeout=*) read_timeout=${word#*=} ;;
	kiln.halt=*) halt=${word#*=} ;;
	esac
done

fail() {
	say "FAIL $*"
}

cpus=$(nproc)
say "nproc=$cpus"
memtotal_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
say "memtotal_kb=$memtotal_kb"

if [ -n "$expect_cpus" ]; then
	if [ "$cpus" = "$expect_cpus" ]; then
		say "cpus ok"
	else
		fail "cpus: nproc is $cpus, expected $expect_cpus"
	fi
fi

if [ -n "$expect_mem_mb" ]; then
	hi_kb=$((expect_mem_mb * 1024))
	slack_kb=$((hi_kb / 5))
	[ $slack_kb -lt $((16 * 1024)) ] && slack_kb=$((16 * 1024))
	lo_kb=$((hi_kb - slack_kb))
	if [ "$memtotal_kb" -le "$hi_kb" ] && [ "$memtotal_kb" -ge "$lo_kb" ]; then
		say "mem ok"
	else
		fail "mem: MemTotal is $memtotal_kb kB, expected $lo_kb..$hi_kb kB for ${expect_mem_mb} MiB"
	fi
fi

say "type a line"
# shellcheck disable=SC3045 # busybox ash has read -t
if read -t "$read_timeout" -r line; then
	say "got $line"
else
	fail "no line read within ${read_timeout}s"
fi

# Every check ran; the harness passes a run with "done" and no "FAIL" line.
say "done"
if [ "$halt" = reboot ]; then
	reboot -f
else
	poweroff -f
fi
# Not reached: without a power-off method the kernel halts (and, as PID 1 exits, panics).
sleep 1000000
