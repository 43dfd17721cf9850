#!/bin/sh
# /init of the real-KVM tier's first-level guest (tests/kvm/README.md). It loads the modules
# build-l1.sh put in /lib/modules (in their file names' order), checks that /dev/kvm works,
# builds a root file system from the host's, shared read-only over 9p ("hostroot"), with a
# RAM-backed overlay on each directory that kiln.overlay=DIR[,DIR...] names (so the tests may
# write there and the host sees none of it), mounts the 9p share "out" at /kiln-out, and runs /kiln-out/run.sh there as root in that file system. It reports on
# lines starting with "KILN-L1: " and ends with "KILN-L1: exit N" (run.sh's status; 125 when L1
# could not set up) and a power-off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

say() {
	echo "KILN-L1: $*"
}

finish() {
	say "exit $1"
	sync
	poweroff -f
	sleep 1000000
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Loopback up, as on any host: tests serve on 127.0.0.1 (--net user reaches the host there).
ip link set lo up
say "start: $(cut -d' ' -f1 /proc/uptime) s after the kernel started"

for m in /lib/modules/*.ko; do
	insmod "$m" || { say "FAIL insmod $m"; finish 125; }
done
[ -c /dev/kvm ] || { say "FAIL no /dev/kvm after loading kvm-amd"; finish 125; }
params=
for p in npt nested nrips avic; do
	[ -r /sys/module/kvm_amd/parameters/$p ] && params="$params $p=$(cat /sys/module/kvm_amd/parameters/$p)"
done
say "kvm_amd:$params"

msize=msize=262144
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,$msize hostroot /host ||
	{ say "FAIL cannot mount the host's root (9p share hostroot)"; finish 125; }
# The new root: a tmpfs holding the host's top-level directories bound read-only from the 9p
# share and its top-level symlinks (Debian's merged /usr), then L1's own /proc, /sys, /dev, /tmp
# and /run. The directories named by kiln.overlay= (the repository) get a RAM-backed overlay,
# so tests can write there. (One overlay over the whole 9p root does not do: the mounts made on
# its directories are lost when 9p revalidates them.)
mount -t tmpfs -o mode=0755 newroot /newroot
for entry in /host/* /host/.[!.]*; do
	name=${entry#/host/}
	case "$name" in proc | sys | dev | run | tmp | '.[!.]*') continue ;; esac
	if [ -L "$entry" ]; then
		ln -s "$(readlink "$entry")" "/newroot/$name"
	elif [ -d "$entry" ]; then
		mkdir "/newroot/$name" && mount --bind "$entry" "/newroot/$name"
	fi
done
for d in proc sys dev run tmp kiln-out; do
	mkdir -p "/newroot/$d"
done
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount --move /dev /newroot/dev
mkdir -p /newroot/dev/pts
mount -t devpts -o ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmp /newroot/tmp
mount -t tmpfs -o mode=0755 run /newroot/run
mount -t tmpfs -o mode=0755 rw /rw
overlays=$(sed -n 's/.*kiln\.overlay=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
n=0
for dir in $overlays; do
	n=$((n + 1))
	mkdir -p /rw/$n/upper /rw/$n/work
	# A directory under one of L1's own (a repository in /tmp) needs its mount point made.
	mkdir -p "/newroot$dir"
	mount -t overlay -o "lowerdir=/host$dir,upperdir=/rw/$n/upper,workdir=/rw/$n/work" "overlay$n" "/newroot$dir" ||
		{ say "FAIL cannot mount an overlay on $dir"; finish 125; }
done
mount -t 9p -o trans=virtio,version=9p2000.L,$msize out /newroot/kiln-out ||
	{ say "FAIL cannot mount the results share (9p share out)"; finish 125; }
[ -f /newroot/kiln-out/run.sh ] || { say "FAIL /kiln-out/run.sh is missing"; finish 125; }
say "ready: $(cut -d' ' -f1 /newroot/proc/uptime) s; running /kiln-out/run.sh"
# A heartbeat for the host (run-tier.py): L1's uptime, rewritten every 10 s while L1's own user
# space still runs. When it stops, L1 as a whole has stopped (README.md: "What is known"), which
# the host tells apart from a slow test.
(while :; do cut -d' ' -f1 /proc/uptime >/newroot/kiln-out/heartbeat; sleep 10; done) &
chroot /newroot /bin/sh -c 'cd /kiln-out && exec /bin/sh /kiln-out/run.sh' </dev/console >/dev/console 2>&1
finish $?
