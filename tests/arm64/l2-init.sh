#!/bin/sh
# /init of the Linux guest kiln boots in the arm64 tier (L2): loads the virtio modules, says how
# many CPUs and what disk it sees, then powers off (PSCI SYSTEM_OFF: kiln ends with status 0).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# the guest's own clock too (bench/arm64.py shows it beside the VMM's time); read, no fork
read -r up _ </proc/uptime
echo "KILN-L2: user space up, $up s after the kernel started"
# Debian builds virtio-mmio and virtio-blk as modules; run-tier.py put them here, in load order.
for m in /lib/modules/*.ko; do
	insmod "$m" || echo "KILN-L2: insmod $m failed"
done
n=0
while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do
	sleep 0.1
	n=$((n + 1))
done
echo "KILN-L2: cpus $(grep -c '^processor' /proc/cpuinfo)"
if [ -b /dev/vda ]; then
	echo "KILN-L2: disk: $(head -c 64 /dev/vda | head -n1)"
else
	echo "KILN-L2: no /dev/vda"
fi
echo "KILN-L2: poweroff"
poweroff -f
