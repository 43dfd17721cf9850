#!/usr/bin/env bash
# Boots Debian's packaged kernel (linux-image-amd64: the newest /boot/vmlinuz-6.1.*, a bzImage)
# with kiln and kiln's busybox initramfs, and checks it at kernel level (tests/linux/kiln-boot.py).
#
# usage: debian-kernel.sh KILN [--image bzImage|vmlinux|auto] [kiln-boot.py options, e.g. -c 2]
#   --image bzImage  boot /boot/vmlinuz-* as it is
#   --image vmlinux  boot the ELF kernel inside it, unpacked here on the host (the same kernel,
#                    without its xz decompressor, which runs at ring 0 in the guest: more than an
#                    hour where ring 0 is emulated, tests/linux/README.md)
#   --image auto     (default) vmlinux on a PVM host, bzImage elsewhere
# Exit status: kiln-boot.py's (0 pass, 1 fail, 77 skip: no /dev/kvm, or the package is missing
# and we are not root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

[ $# -ge 1 ] || { echo "usage: debian-kernel.sh KILN [--image bzImage|vmlinux|auto] [kiln-boot.py options]" >&2; exit 1; }
kiln=$1
shift
image=auto
if [ "${1:-}" = --image ]; then
	image=${2:?--image needs bzImage, vmlinux or auto}
	shift 2
fi
if [ "$image" = auto ]; then
	image=bzImage
	[ -d /sys/module/kvm_pvm ] && image=vmlinux
fi

need_pkgs linux-image-amd64 python3
kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-6.1.*' | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "debian-kernel.sh: linux-image-amd64 is installed but /boot has no vmlinuz-6.1.*" >&2; exit 1; }
echo "kernel: $kernel (linux-image-amd64 $(pkg_version linux-image-amd64)), booted as $image"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-debian-kernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# No modprobe in its initramfs: Debian's kernel asks for modules (crypto, for its X.509 keys)
# from a user-space helper, which dies at its first system call on a PVM host; without one each
# request fails at once.
# Its virtio-mmio and virtio-net drivers are modules: /init loads them (and what they need).
version=${kernel#/boot/vmlinuz-}
KILN_INITRAMFS_NO_MODULE_TOOLS=1 KILN_INITRAMFS_MODULES="virtio_mmio virtio_net" \
	KILN_INITRAMFS_KVER=$version "$here/build-initramfs.sh" "$tmp/initramfs.cpio"

if [ "$image" = vmlinux ]; then
	# The bzImage's payload is one compressed stream holding the ELF vmlinux (Debian: xz); the
	# first stream that unpacks to an ELF is it (what the kernel's scripts/extract-vmlinux does).
	python3 - "$kernel" "$tmp/vmlinux" <<'PY'
import lzma, sys, zlib
data = open(sys.argv[1], "rb").read()
for magic, unpack in ((b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor().decompress(b)),
                      (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(31).decompress(b))):
    at = data.find(magic)
    while at >= 0:
        try:
            elf = unpack(data[at:])
        except (lzma.LZMAError, zlib.error):
            elf = b""
        if elf[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(elf)
            print("unpacked the ELF kernel (%d bytes) from offset %d" % (len(elf), at))
            sys.exit(0)
        at = data.find(magic, at + 1)
sys.exit("debian-kernel.sh: no xz or gzip payload holding an ELF kernel in " + sys.argv[1])
PY
	kernel=$tmp/vmlinux
fi

# On a PVM host (docs/linux.md, "Debian's kernel"), besides the test kernel's workarounds:
# - the SIMD features its built-in crypto uses at ring 0 cleared too (BLAKE2s for the random
#   driver uses SSSE3, which KVM's emulator cannot run);
# - cryptomgr.notests: the crypto self-tests (RSA, DH, ECDH big-number arithmetic, run by the
#   late initcall crypto_algapi_init) take hours of emulated ring-0 time; with them the boot
#   never reached "Run /init" within an hour (and the X.509 key load timed out waiting for them);
# - nowatchdog: emulated kernel code trips the soft-lockup detector, whose reports only slow
#   the boot further.
# These go only where kiln-boot.py applies the PVM workarounds: elsewhere the kernel boots as
# Debian ships it.
python3 "$here/kiln-boot.py" --kiln "$kiln" --kernel "$kernel" --initrd "$tmp/initramfs.cpio" \
	-c 1 -m 256 --timeout 3540 --clearcpuid-more ssse3,sse4_1,sse4_2,pclmulqdq,aes,sha_ni \
	--pvm-append "cryptomgr.notests nowatchdog" "$@"
