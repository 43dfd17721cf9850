#!/usr/bin/env bash
# arm64-dt-boot.sh ARM64_DTB INIT_C: boots Debian's arm64 kernel under QEMU (TCG, -M virt, no KVM
# needed) on the device tree kiln writes (src/arch/arm64/fdt.c, through the arm64_dtb tool), with
# the initrd loaded where kiln's layout (src/arch/arm64/image.c) puts it and named only by the
# tree's /chosen. No console= is given: the kernel must find its console through stdout-path.
# Two boots: GICv3 with 2 CPUs (secondaries through PSCI) and a virtio-rng device on the tree's
# virtio_mmio nodes, and GICv2 with 1 CPU. The initrd's /init (INIT_C, cross-compiled static)
# reports what the kernel made of the tree, and powers off.
#
# Exit 77 (SKIP) without qemu-system-aarch64 (Debian qemu-system-arm), aarch64-linux-gnu-gcc
# (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) or a Debian arm64 kernel ($KILN_ARM64_IMAGE, or
# one unpacked under ~/.cache/kiln by the arm64 tier). The virtio checks need the kernel's
# virtio_mmio.ko and virtio-rng.ko beside it (lib/modules/VERSION/ next to boot/).
set -u
dtb_tool=$1 init_c=$2

skip() { echo "SKIP: $*"; exit 77; }
command -v qemu-system-aarch64 >/dev/null || skip "qemu-system-aarch64 not installed (Debian qemu-system-arm)"
command -v aarch64-linux-gnu-gcc >/dev/null ||
	skip "aarch64-linux-gnu-gcc not installed (Debian gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
kernel=${KILN_ARM64_IMAGE:-}
if [ -z "$kernel" ]; then
	for k in "$HOME"/.cache/kiln/*/*/boot/vmlinuz-*-arm64; do
		[ -f "$k" ] && kernel=$k
	done
fi
[ -n "$kernel" ] && [ -f "$kernel" ] ||
	skip "no Debian arm64 kernel (set KILN_ARM64_IMAGE to a vmlinuz-*-arm64)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/proc" "$work/root/sys" "$work/root/dev"
aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$work/root/init" "$init_c" ||
	{ echo "FAIL: cross-compiling $init_c"; exit 1; }
version=$(basename "$kernel"); version=${version#vmlinuz-}
mods=$(dirname "$kernel")/../lib/modules/$version/kernel/drivers
have_virtio=0
if [ -f "$mods/virtio/virtio_mmio.ko" ] && [ -f "$mods/char/hw_random/virtio-rng.ko" ]; then
	cp "$mods/virtio/virtio_mmio.ko" "$mods/char/hw_random/virtio-rng.ko" "$work/root/"
	have_virtio=1
else
	echo "note: no virtio_mmio.ko/virtio-rng.ko under $mods: the virtio checks are left out"
fi
# A newc cpio of the root (python3: no cpio binary needed).
python3 - "$work/root" "$work/initrd.cpio" <<'EOF' || exit 1
import os, sys
root, out = sys.argv[1], sys.argv[2]
data, ino = b"", 1
def entry(name, mode, body=b""):
    global data, ino
    n = name.encode() + b"\0"
    hdr = b"070701" + b"".join(b"%08X" % v for v in
        (ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(n), 0))
    data += hdr + n + b"\0" * (-(110 + len(n)) % 4) + body + b"\0" * (-len(body) % 4)
    ino += 1
for name in sorted(os.listdir(root)):
    p = os.path.join(root, name)
    if os.path.isdir(p):
        entry(name, 0o40755)
    else:
        entry(name, 0o100755, open(p, "rb").read())
entry("TRAILER!!!", 0)
open(out, "wb").write(data + b"\0" * (-len(data) % 512))
EOF

rc=0
fail() { echo "FAIL ($1): $2"; rc=1; }
expect() { grep -qF -- "$3" "$2" || fail "$1" "console lacks: $3"; }

# boot NAME CPUS GIC [QEMU ARGS...]
boot() {
	local name=$1 cpus=$2 gic=$3 log=$work/$1.log out addr st
	shift 3
	out=$("$dtb_tool" "$kernel" "$work/initrd.cpio" "$work/$name.dtb" "$cpus" "$gic") ||
		{ fail "$name" "arm64_dtb refused"; return; }
	addr=$(sed -n 's/^initrd_addr=//p' <<<"$out")
	timeout 240 qemu-system-aarch64 -M "virt,gic-version=$gic" -cpu cortex-a57 -smp "$cpus" \
		-m 256M -display none -serial "file:$log" -monitor none -no-reboot \
		-kernel "$kernel" -dtb "$work/$name.dtb" \
		-device "loader,file=$work/initrd.cpio,addr=$addr,force-raw=on" "$@" </dev/null
	st=$?
	[ $st -eq 0 ] || fail "$name" "qemu-system-aarch64 exit status $st"
	expect "$name" "$log" "Machine model: linux,dummy-virt"
	expect "$name" "$log" "Kernel command line: panic=-1 kiln-dt-check"
	expect "$name" "$log" "psci: Using standard PSCI v0.2 function IDs"
	expect "$name" "$log" "arch_timer: cp15 timer(s) running at"
	expect "$name" "$log" "smp: Brought up 1 node, $cpus CPU"
	expect "$name" "$log" "ttyAMA0 at MMIO 0x9000000"
	expect "$name" "$log" "KILN-DT init=running"
	expect "$name" "$log" "KILN-DT cmdline=panic=-1 kiln-dt-check"
	expect "$name" "$log" "KILN-DT consoles=ttyAMA0"
	expect "$name" "$log" "KILN-DT model=linux,dummy-virt"
	expect "$name" "$log" "reboot: Power down"
	if [ "$cpus" -eq 1 ]; then
		expect "$name" "$log" "KILN-DT cpus=0"
	else
		expect "$name" "$log" "KILN-DT cpus=0-$((cpus - 1))"
	fi
	if [ "$gic" -eq 3 ]; then
		expect "$name" "$log" "GICv3: CPU$((cpus - 1)): found redistributor $((cpus - 1))"
	elif grep -q "GICv3" "$log"; then
		fail "$name" "a GICv3 on a GICv2 tree"
	fi
	if [ $rc -ne 0 ]; then
		echo "---- $name console (last 60 lines)"
		tail -n 60 "$log"
	else
		echo "ok: $name ($cpus CPUs, GICv$gic) booted to /init on kiln's tree"
	fi
}

boot gicv3-2cpu 2 3 -device virtio-rng-device
log=$work/gicv3-2cpu.log
if [ $have_virtio -eq 1 ]; then
	# QEMU attaches the device to one of the 32 transports the tree describes: Linux must find
	# it there (device ID 4, entropy) and read from it, which takes the device's SPI.
	expect virtio "$log" "KILN-DT modules=loaded"
	expect virtio "$log" "KILN-DT virtio=1"
	expect virtio "$log" "KILN-DT virtio0-device=0x0004"
	expect virtio "$log" "KILN-DT hwrng=16"
fi
boot gicv2-1cpu 1 2
exit $rc
