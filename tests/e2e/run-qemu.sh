#!/usr/bin/env bash
# Run a multiboot test guest under QEMU's microvm machine, checked by run-guest.sh.
#
# usage: run-qemu.sh [run-guest.sh options] -- GUEST [QEMU ARGS...]
#   e.g. run-qemu.sh --expect-out '^magic ok' -- mb_hello.elf -append 'hello world' -initrd module.txt
#
# Everything before -- goes to run-guest.sh (every option there takes one value);
# QEMU ARGS (-append, -initrd, -smp, -m ...) are added to the QEMU command line.
# Exits 77 (skip) when qemu-system-x86_64 (or $QEMU) is not installed or /dev/kvm
# is unusable. The guest's debug-exit write ends QEMU with status (v << 1) | 1.
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

exec "$here/run-guest.sh" --name "qemu: $(basename "$guest")${*:+ $*}" "${opts[@]}" -- \
	"$qemu" -M microvm -enable-kvm -nodefaults -nographic -no-reboot \
	-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$guest" "$@"
