#!/usr/bin/env bash
# Builds the initramfs of the real-KVM tier's first-level guest ("L1", tests/kvm/README.md):
# Debian's static busybox, the modules that give L1 a /dev/kvm on an emulated AMD SVM CPU
# (irqbypass, ccp, kvm, kvm-amd) and a view of the host's file system (virtio-pci, 9p,
# overlayfs), each with what it depends on, in load order, and tests/kvm/l1-init.sh as /init.
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

# Modules in load order: each one after everything modules.dep says it needs.
wanted=(kvm-amd virtio_pci 9pnet_virtio 9p overlay)
order=$(python3 - "$moddir/modules.dep" "${wanted[@]}" <<'PY'
import os, sys
deps = {}
for line in open(sys.argv[1]):
    mod, _, rest = line.partition(":")
    deps[mod] = rest.split()
by_name = {os.path.basename(m).split(".ko")[0].replace("-", "_"): m for m in deps}
done, order = set(), []
def visit(path):
    if path in done:
        return
    done.add(path)
    for d in deps[path]:
        visit(d)
    order.append(path)
for name in sys.argv[2:]:
    key = name.replace("-", "_")
    if key not in by_name:
        sys.exit("build-l1.sh: module %s is not in %s" % (name, sys.argv[1]))
    visit(by_name[key])
print("\n".join(order))
PY
)

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
	n=0
	while read -r path; do
		n=$((n + 1))
		src=$moddir/$path
		case "$src" in
		*.ko) ;;
		*) echo "build-l1.sh: $path is compressed; only plain .ko modules are supported" >&2; exit 1 ;;
		esac
		# The number keeps the load order in the file names.
		printf 'file /lib/modules/%02d-%s %s 0644\n' "$n" "$(basename "$path")" "$src"
	done <<<"$order"
} >"$spec"

python3 "$linux/mkcpio.py" "$spec" "$out"
