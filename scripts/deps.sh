#!/usr/bin/env bash
# Installs the Debian packages a kiln task needs, when missing.
#
# usage: scripts/deps.sh build|test|bench|kvm|arm64   (kvm: what the real-KVM tier's machine needs;
#        arm64: the arm64 cross build and its tier, docs/arm64.md)
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
arm64) # kiln's libraries for arm64 next to the host's (libfdt-dev is not Multi-Arch: the host's
	# headers and the target's libfdt1, meson.build); the tier downloads its kernel and busybox.
	pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu qemu-user
		qemu-system-arm file libfdt-dev libjansson-dev:arm64 liburing-dev:arm64
		libslirp-dev:arm64 libelf-dev:arm64 libseccomp-dev:arm64 zlib1g-dev:arm64 libfdt1:arm64) ;;
*) echo "usage: scripts/deps.sh build|test|bench|kvm|arm64" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "kiln needs these Debian packages; install them with:" >&2
	[ "${1:-build}" = arm64 ] && echo "  sudo dpkg --add-architecture arm64 && sudo apt-get update" >&2
	echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "${1:-build}" = arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
