#!/usr/bin/env bash
# Boots kiln's test kernel and initramfs under QEMU with TCG (software emulation, no KVM), which
# runs guest user space on any host: the reference that proves the kernel configuration, the
# initramfs and /init work end to end, independently of kiln.
#
# usage: qemu-boot.sh [--acpi on|off] [--image bzImage|vmlinux] [--smp N] [--mem MIB]
#                     [--timeout S] [--log FILE]
#   defaults: --acpi on --image bzImage --smp 2 --mem 256 --timeout 900
# QEMU boots a vmlinux through its PVH entry note, a bzImage through the boot protocol.
# With --acpi off the guest has no power-off method, so /init ends with "reboot -f" instead
# (kiln.halt=reboot) and QEMU's -no-reboot turns that into an exit.
# Exit status: 0 pass, 1 fail, 77 QEMU or a package is missing (and we are not root).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

acpi=on image=bzImage smp=2 mem=256 timeout=900 log=
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || { sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1; }
	case "$1" in
	--acpi) acpi=$2 ;;
	--image) image=$2 ;;
	--smp) smp=$2 ;;
	--mem) mem=$2 ;;
	--timeout) timeout=$2 ;;
	--log) log=$2 ;;
	*) sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1 ;;
	esac
	shift 2
done
case "$acpi/$image" in
on/bzImage | off/bzImage | on/vmlinux | off/vmlinux) ;;
*) echo "qemu-boot.sh: --acpi on|off, --image bzImage|vmlinux" >&2; exit 1 ;;
esac

qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null 2>&1 || { echo "SKIP: $qemu is not installed"; exit $KILN_SKIP; }

status=0
kdir=$("$here/build-kernel.sh" | tail -n 1) || status=$?
[ $status -eq 0 ] || exit $status

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-qemu-boot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$here/build-initramfs.sh" "$tmp/initramfs.cpio" || exit $?

# TCG's guest TSC runs at the host's TSC rate. Telling the guest that rate skips its calibration
# against the PIT, which fails when the host is busy (say, building a kernel on every core):
# "tsc: Unable to calibrate against PIT", and then the boot hangs.
khz=$(awk -F': *' '$1 ~ /^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
append="console=ttyS0 kiln.expect_cpus=$smp kiln.expect_mem_mb=$mem panic=-1${khz:+ tsc_early_khz=$khz}"
cmd=("$qemu" -M "microvm,acpi=$acpi" -accel tcg -smp "$smp" -m "$mem" -nographic -no-reboot)
if [ "$acpi" = off ]; then
	# No ACPI: no power-off either, so /init reboots. Linux resets through the i8042 (as kiln
	# offers it); without one it falls back to jumping to the BIOS, which QEMU's -no-reboot
	# cannot see, and the guest boots again.
	append="$append kiln.halt=reboot"
	cmd+=(-device i8042)
fi
cmd+=(-kernel "$kdir/$image" -initrd "$tmp/initramfs.cpio" -append "$append")
echo "qemu-boot.sh: ${cmd[*]}"
exec python3 "$here/console-check.py" --timeout "$timeout" ${log:+--log "$log"} -- "${cmd[@]}"
