#!/usr/bin/env bash
# Run a multiboot test guest under QEMU's microvm machine, checked by run-guest.sh.
#
# usage: run-qemu.sh [run-guest.sh options] -- GUEST [QEMU ARGS...]
#   e.g. run-qemu.sh --expect-out '^magic ok' -- mb_hello.elf -append 'hello world' -initrd module.txt
#
# Everything before -- goes to run-guest.sh (every option there but --no-kvm takes one value;
# this script passes --no-kvm itself);
# QEMU ARGS (-append, -initrd, -smp, -m ...) are added to the QEMU command line.
# QEMU uses KVM when /dev/kvm opens read-write, else its emulator, TCG (slower, but these
# guests are tiny), and says which. Exits 77 (skip) when qemu-system-x86_64 (or $QEMU) is
# not installed. The guest's debug-exit write ends QEMU with status (v << 1) | 1.
set -u

usage() {
	sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 1
}

qemu=${QEMU:-qemu-system-x86_64}
here=$(cd "$(dirname "$0")" && pwd) || exit 1

opts=()
while [ $# -ge 2 ] && [ "$1" != -- ]; do
	opts+=("$1" "$2")
	shift 2
done
if [ $# -lt 2 ] || [ "$1" != -- ]; then
	usage
fi
shift
guest=$1
shift

if ! command -v "$qemu" >/dev/null 2>&1; then
	echo "SKIP: $qemu is not installed"
	exit 77
fi

if [ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null; then
	accel=kvm
	echo "qemu: accel=kvm"
else
	accel=tcg
	echo "qemu: accel=tcg (no usable /dev/kvm)"
fi

exec "$here/run-guest.sh" --name "qemu: $(basename "$guest")${*:+ $*}" --no-kvm "${opts[@]}" -- \
	"$qemu" -M microvm -accel "$accel" -nodefaults -nographic -no-reboot \
	-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$guest" "$@"
