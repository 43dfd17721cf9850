#!/usr/bin/env bash
# Builds the initramfs of the real-KVM tier's first-level guest ("L1", tests/kvm/README.md):
# Debian's static busybox, the modules that give L1 a /dev/kvm on an emulated AMD SVM CPU
# (irqbypass, ccp, kvm, kvm-amd), a view of the host's file system (virtio-pci, 9p, overlayfs),
# TAP devices (tun) and vhost-vsock, each with what it depends on, in load order, and
# tests/kvm/l1-init.sh as /init.
#
# usage: build-l1.sh KERNEL_VERSION OUT.cpio
#   KERNEL_VERSION  a Debian kernel whose modules are in /lib/modules/KERNEL_VERSION
#
# Uncompressed and reproducible (tests/linux/mkcpio.py); it takes about a second, so it is
# rebuilt on each run rather than cached. Exit status: 0 written, 1 error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
linux=$here/../linux

[ $# -eq 2 ] || { echo "usage: build-l1.sh KERNEL_VERSION OUT.cpio" >&2; exit 1; }
version=$1
out=$2
moddir=/lib/modules/$version
[ -f "$moddir/modules.dep" ] || { echo "build-l1.sh: $moddir/modules.dep is missing" >&2; exit 1; }

busybox=/bin/busybox
if ! LC_ALL=C readelf -d "$busybox" 2>&1 | grep -q 'no dynamic section'; then
	echo "build-l1.sh: $busybox is not statically linked (is busybox-static installed?)" >&2
	exit 1
fi

# Modules in load order: each one after everything modules.dep says it needs. tun: the network
# tests' TAP devices; vhost_vsock: /dev/vhost-vsock and host AF_VSOCK sockets, for QEMU's
# vhost-vsock-device in bench/vsock.py.
modules=$(python3 "$linux/module-specs.py" "$moddir" kvm-amd virtio_pci 9pnet_virtio 9p overlay tun \
	vhost_vsock)

spec=$(mktemp "${TMPDIR:-/tmp}/kiln-l1.XXXXXX")
trap 'rm -f "$spec"' EXIT
{
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /etc /lib /lib/modules \
		/host /rw /newroot; do
		echo "dir $d 0755"
	done
	echo "nod /dev/console 0600 c 5 1"
	echo "nod /dev/null 0666 c 1 3"
	echo "file /bin/busybox $busybox 0755"
	echo "file /init $here/l1-init.sh 0755"
	"$busybox" --list-full | LC_ALL=C sort | while read -r applet; do
		case "$applet" in
		bin/busybox | "") continue ;;
		bin/* | sbin/* | usr/bin/* | usr/sbin/*) echo "slink /$applet /bin/busybox 0777" ;;
		esac
	done
	echo "$modules"
} >"$spec"

python3 "$linux/mkcpio.py" "$spec" "$out"
