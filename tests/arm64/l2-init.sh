#!/bin/sh
# /init of the Linux guest kiln boots in the arm64 tier (L2): loads the virtio modules, says how
# many CPUs and what disk it sees, then powers off (PSCI SYSTEM_OFF: kiln ends with status 0).
# With kiln.count on the kernel's command line it counts instead, a line every 0.2 s, for ever
# (the snapshot test).
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
case " $(cat /proc/cmdline) " in
*" kiln.count "*)
	i=0
	while true; do
		echo "KILN-L2: count $i"
		i=$((i + 1))
		sleep 0.2
	done
	;;
esac
echo "KILN-L2: poweroff"
poweroff -f
