#!/bin/sh
# /init of the Linux guest kiln boots in the arm64 tier (L2): says how many CPUs and what disk it
# sees, then powers off (PSCI SYSTEM_OFF: kiln ends with status 0).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "KILN-L2: user space up"
echo "KILN-L2: cpus $(grep -c '^processor' /proc/cpuinfo)"
if [ -b /dev/vda ]; then
	echo "KILN-L2: disk: $(head -c 64 /dev/vda | head -n1)"
else
	echo "KILN-L2: no /dev/vda"
fi
echo "KILN-L2: poweroff"
poweroff -f
