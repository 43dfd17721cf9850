#!/usr/bin/env bash
# Installs the Debian packages a kiln task needs, when missing.
#
# usage: scripts/deps.sh build|test|bench|kvm   (kvm: what the real-KVM tier's machine needs)
# As root it runs apt-get; otherwise it prints the exact apt-get line and fails.
set -eu
build_pkgs=(gcc libc6-dev binutils meson ninja-build pkg-config python3 libjansson-dev liburing-dev
	libslirp-dev libelf-dev libseccomp-dev zlib1g-dev libfdt-dev)
case "${1:-build}" in
build) pkgs=("${build_pkgs[@]}") ;;
test) pkgs=("${build_pkgs[@]}" libcriterion-dev qemu-system-x86 curl acpica-tools
	clang libclang-rt-14-dev linux-image-amd64 busybox-static e2fsprogs device-tree-compiler
	qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
bench) pkgs=("${build_pkgs[@]}" qemu-system-x86 linux-image-amd64 busybox-static
	socat) ;;
kvm) pkgs=(python3 qemu-system-x86 linux-image-amd64 busybox-static) ;;
*) echo "usage: scripts/deps.sh build|test|bench|kvm" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "kiln needs these Debian packages; install them with:" >&2
	echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
