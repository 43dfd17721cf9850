#!/usr/bin/env bash
# Builds kiln's test kernel (or finds it in the cache) and checks its images: vmlinux has the PVH
# entry note, bzImage a 64-bit-capable, relocatable boot protocol >= 2.12 setup header.
# usage: check-kernel.sh [FRAGMENT [OVERLAY...]]   (build-kernel.sh's; default microvm.config)
# Exit status: 0 pass, 1 fail, 77 packages missing and not root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0
kdir=$("$here/build-kernel.sh" "$@" | tail -n 1) || status=$?
[ $status -eq 0 ] || exit $status
echo "kernel: $kdir"
cat "$kdir/info"
exec python3 "$here/check-images.py" --vmlinux "$kdir/vmlinux" --bzimage "$kdir/bzImage"
