#!/bin/sh
# /init of the arm64 tier's first-level guest (docs/arm64.md): Debian's arm64 kernel
# under qemu-system-aarch64 TCG with EL2 (virtualization=on), which gives it a /dev/kvm (KVM is
# built in). Everything it needs is in its initramfs (run-tier.py): an arm64 busybox, the
# cross-built kiln with its shared libraries, the test guests, and an arm64 kernel, initramfs and
# disk for the Linux boots. It runs the tests one after another and reports each on a line
# "KILN-ARM64: PASS|FAIL|SKIP NAME[: reason]" after its output ("  NAME | line"), and ends
# with "KILN-ARM64: exit N" and a power-off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export LD_LIBRARY_PATH=/kiln/lib

say() {
	echo "KILN-ARM64: $*"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
say "start: $(cut -d' ' -f1 /proc/uptime) s after the kernel started"
if [ ! -c /dev/kvm ]; then
	say "no /dev/kvm in L1: $(dmesg | grep -i -m1 kvm)"
	say "exit 125"
	poweroff -f
fi
say "kvm: $(dmesg | grep -m1 'kvm \[' | sed 's/^\[[ 0-9.]*\] //')"
only=$(sed -n 's/.*kiln\.only=\([^ ]*\).*/\1/p' /proc/cmdline)
cd /kiln
. /kiln/inner.sh
say "exit $failed"
sync
poweroff -f
sleep 1000
