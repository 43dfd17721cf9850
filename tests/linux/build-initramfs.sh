#!/usr/bin/env bash
# Builds kiln's test initramfs: an UNCOMPRESSED newc cpio archive with Debian's static busybox,
# a symlink for each of its applets, /dev/console, the mount points, and tests/linux/init.sh as
# /init. Uncompressed because a guest kernel decompresses its initramfs at ring 0, which an
# emulating host (PVM) runs slowly; the kernel needs no RD_* decompressor for it either.
#
# usage: build-initramfs.sh OUT.cpio
#   KILN_INITRAMFS_MODULES="NAME..." and KILN_INITRAMFS_KVER=VERSION also put those modules of
#   /lib/modules/VERSION (and what they need) in /lib/modules, which /init loads first.
#   KILN_INITRAMFS_PROGRAMS="NAME..." also puts those programs of the host (from PATH: socat for
#   the vsock test) with the shared libraries `ldd` names (tests/linux/program-specs.py). Without
#   it the archive is what it was before.
#
# The archive is reproducible: entries sorted, owned by 0:0, mtime $SOURCE_DATE_EPOCH (default 0),
# inode numbers counted from 1 (tests/linux/mkcpio.py writes it; no root needed for the device
# node). It takes well under a second, so it is rebuilt rather than cached.
# Exit status: 0 written, 1 error, 77 busybox-static is missing and we are not root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

[ $# -eq 1 ] || { echo "usage: build-initramfs.sh OUT.cpio" >&2; exit 1; }
out=$1

need_pkgs busybox-static python3 binutils
# shellcheck disable=SC2086 # a list of program names
for name in ${KILN_INITRAMFS_PROGRAMS:-}; do
	case "$name" in
	socat) need_pkgs socat ;;
	esac
done
busybox=/bin/busybox
# Debian's busybox package (the dynamic one) also installs /bin/busybox; take the static one's.
if ! file_type=$(LC_ALL=C readelf -d "$busybox" 2>&1) || ! grep -q 'no dynamic section' <<<"$file_type"; then
	if [ -x /usr/lib/initramfs-tools/bin/busybox ] &&
		LC_ALL=C readelf -d /usr/lib/initramfs-tools/bin/busybox 2>&1 | grep -q 'no dynamic section'; then
		busybox=/usr/lib/initramfs-tools/bin/busybox
	else
		echo "build-initramfs.sh: $busybox is not statically linked (is busybox-static installed?)" >&2
		exit 1
	fi
fi

spec=$(mktemp "${TMPDIR:-/tmp}/kiln-initramfs.XXXXXX")
trap 'rm -f "$spec"' EXIT

{
	echo "# kiln test initramfs ($(pkg_version busybox-static))"
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /etc /root; do
		mode=0755
		[ "$d" = /tmp ] && mode=1777
		[ "$d" = /root ] && mode=0700
		echo "dir $d $mode"
	done
	echo "nod /dev/console 0600 c 5 1"
	echo "nod /dev/null 0666 c 1 3"
	echo "file /bin/busybox $busybox 0755"
	echo "file /init $here/init.sh 0755"
	# Applets where Debian's busybox puts them (bin/, sbin/, usr/bin/, usr/sbin/).
	"$busybox" --list-full | LC_ALL=C sort | while read -r applet; do
		case "$applet" in
		bin/busybox | "") continue ;;
		# Without module tools the kernel's module requests fail at once (Debian's kernel on a
		# host that cannot run them: tests/linux/debian-kernel.sh).
		*bin/modprobe | *bin/insmod | *bin/rmmod | *bin/depmod | *bin/lsmod)
			[ "${KILN_INITRAMFS_NO_MODULE_TOOLS:-}" = 1 ] && continue ;;
		bin/* | sbin/* | usr/bin/* | usr/sbin/*) ;;
		*) continue ;;
		esac
		echo "slink /$applet /bin/busybox 0777"
	done
	# Kernel modules /init loads first (a distribution kernel's virtio drivers), in load order.
	if [ -n "${KILN_INITRAMFS_MODULES:-}" ]; then
		echo "dir /lib 0755"
		echo "dir /lib/modules 0755"
		# shellcheck disable=SC2086 # a list of module names
		python3 "$here/module-specs.py" "/lib/modules/${KILN_INITRAMFS_KVER:?with KILN_INITRAMFS_MODULES}" \
			$KILN_INITRAMFS_MODULES
	fi
} >"$spec"
if [ -n "${KILN_INITRAMFS_PROGRAMS:-}" ]; then
	# shellcheck disable=SC2086 # a list of program names
	more=$(python3 "$here/program-specs.py" "$spec" $KILN_INITRAMFS_PROGRAMS)
	echo "$more" >>"$spec"
fi

python3 "$here/mkcpio.py" "$spec" "$out"
