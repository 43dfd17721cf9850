#!/usr/bin/env bash
# Builds kiln's test guest kernel (vmlinux and bzImage) from Debian's linux-source-6.1 package
# with tests/linux/microvm.config, into a cache directory outside the repository:
#
#   ${KILN_CACHE:-$HOME/.cache/kiln}/linux-6.1-<key>/{vmlinux,bzImage,config,System.map,build.log,info}
#
# <key> is a hash of the configuration fragment, the source package's version and this script's
# recipe revision, so a changed fragment or an upgraded package builds a new entry and an
# unchanged one is a cache hit that returns at once. The build runs in a temporary directory under
# the cache and the finished entry appears with one rename(), so an interrupted build never
# leaves a partial entry; a lock serialises concurrent builds of the same key.
#
# usage: build-kernel.sh [--dir] [CONFIG_FRAGMENT [OVERLAY...]]
#   --dir    print the cache directory for this configuration and exit (0 if it is built, 1 if not)
#   OVERLAY  a variant's fragment applied on top of the first (e.g. nopci.config): a symbol it
#            sets replaces the earlier line of that symbol in place, so the merged fragment, not
#            the files, is what is built, checked and hashed (one fragment alone is hashed as is,
#            so its key does not change)
# The last line on stdout is the cache directory; progress goes to stderr.
# Exit status: 0 built or cached, 1 the build failed, 77 packages are missing and we are not root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"

# Bump when the way the kernel is built changes (not the configuration: that is hashed).
recipe=1
src_pkg=linux-source-6.1
src_tar=/usr/src/linux-source-6.1.tar.xz

only_dir=0
if [ "${1:-}" = "--dir" ]; then only_dir=1; shift; fi
[ $# -gt 0 ] || set -- "$here/microvm.config"
for f in "$@"; do
	[ -r "$f" ] || { echo "build-kernel.sh: cannot read $f" >&2; exit 1; }
done
config=$1
name=$(basename "$config")
merged=
if [ $# -gt 1 ]; then
	# Merge: the last line setting a symbol ("CONFIG_X=..." or "# CONFIG_X is not set") wins,
	# at the place of the first; comments and blank lines of every file are kept in order.
	merged=$(mktemp "${TMPDIR:-/tmp}/kiln-fragment.XXXXXX")
	trap 'rm -f "$merged"' EXIT
	awk '
		function sym(line) {
			if (line ~ /^CONFIG_[A-Za-z0-9_]+=/) { sub(/=.*/, "", line); return line }
			if (line ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) { split(line, w, " "); return w[2] }
			return ""
		}
		{ s = sym($0); n++; text[n] = $0; key[n] = s; if (s != "") last[s] = $0 }
		END {
			for (i = 1; i <= n; i++) {
				if (key[i] == "") { print text[i]; continue }
				if (done[key[i]]++) continue
				print last[key[i]]
			}
		}' "$@" >"$merged"
	config=$merged
	for f in "${@:2}"; do name+="+$(basename "$f")"; done
fi

# The kernel build's own needs: compiler and make, bc/bison/flex for Kbuild, libelf for objtool,
# libssl for the certificate tools, xz to unpack the source, cpio/perl for the build scripts.
need_pkgs "$src_pkg" bc bison flex libelf-dev libssl-dev make gcc libc6-dev xz-utils cpio perl \
	util-linux
[ -r "$src_tar" ] || { echo "build-kernel.sh: $src_pkg is installed but $src_tar is missing" >&2; exit 1; }

version=$(pkg_version "$src_pkg")
key=$( { cat "$config"; echo "--- $src_pkg $version recipe $recipe"; } | sha256sum | cut -c1-16)
root=$(kiln_cache_root)
dir=$root/linux-6.1-$key

is_built() {
	[ -s "$1/vmlinux" ] && [ -s "$1/bzImage" ] && [ -s "$1/config" ]
}

if [ $only_dir -eq 1 ]; then
	echo "$dir"
	is_built "$dir"
	exit
fi
if is_built "$dir"; then
	echo "$dir"
	exit 0
fi

mkdir -p "$root"
# One builder per key; a second caller waits here and then finds the entry built.
exec 9>"$dir.lock"
if ! flock -n 9; then
	echo "build-kernel.sh: waiting for another build of $dir" >&2
	flock 9
fi
if is_built "$dir"; then
	echo "$dir"
	exit 0
fi

# Under the lock, a temporary tree of this key is a leftover of a build that was killed hard.
rm -rf "$root/.tmp-linux-6.1-$key".*
tmp=$(mktemp -d "$root/.tmp-linux-6.1-$key.XXXXXX")
child=
ticker=
cleanup() {
	[ -n "$child" ] && kill -TERM -- "-$child" 2>/dev/null
	[ -n "$ticker" ] && kill "$ticker" 2>/dev/null
	rm -rf "$tmp"
}
trap 'cleanup; [ -z "$merged" ] || rm -f "$merged"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# run CMD...: runs a long step in its own process group and waits for it, so that a signal to
# this script is handled at once (bash defers traps while a foreground child runs) and the
# cleanup can stop the whole step, make's compilers included.
run() {
	setsid "$@" &
	child=$!
	local rc=0
	wait "$child" || rc=$?
	child=
	return $rc
}

start=$(now_s)
jobs=$(nproc)
log=$tmp/build.log
echo "build-kernel.sh: building Linux ($src_pkg $version) with $name in $tmp" \
	"($jobs jobs; log: $log)" >&2

run tar -xJf "$src_tar" -C "$tmp"
src=$tmp/linux-source-6.1
[ -f "$src/Makefile" ] || { echo "build-kernel.sh: unexpected layout of $src_tar" >&2; exit 1; }

# Reproducible-ish identification strings; ARCH=x86_64 so that 64BIT has no prompt.
kmake=(make -C "$src" ARCH=x86_64 KBUILD_BUILD_USER=kiln KBUILD_BUILD_HOST=kiln
	"KBUILD_BUILD_TIMESTAMP=$src_pkg $version" KBUILD_BUILD_VERSION=1)

if ! run "${kmake[@]}" KCONFIG_ALLCONFIG="$config" allnoconfig >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "build-kernel.sh: allnoconfig failed" >&2
	exit 1
fi

# Every option the fragment sets must have that value in the result, and every option it
# disables must be off: Kconfig silently drops values whose dependencies are unmet.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		if ! grep -qxF -- "$line" "$src/.config"; then
			got=$(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || echo "absent")
			echo "build-kernel.sh: fragment wants $line, the kernel has: $got" >&2
			bad=1
		fi
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		if grep -qE "^$sym=" "$src/.config"; then
			echo "build-kernel.sh: fragment disables $sym, the kernel has: $(grep -E "^$sym=" "$src/.config")" >&2
			bad=1
		fi
		;;
	esac
done <"$config"
[ $bad -eq 0 ] || { echo "build-kernel.sh: $name does not apply to $src_pkg $version" >&2; exit 1; }

# Progress on stderr once a minute (a cold build takes 7-25 minutes): objects compiled so far.
(
	while sleep 60; do
		echo "build-kernel.sh: $(grep -c '^  CC ' "$log" 2>/dev/null || echo 0) objects compiled," \
			"$(elapsed "$start") s" >&2
	done
) &
ticker=$!
status=0
run "${kmake[@]}" -j"$jobs" vmlinux bzImage >>"$log" 2>&1 || status=$?
kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null
ticker=
if [ $status -ne 0 ]; then
	tail -n 40 "$log" >&2
	echo "build-kernel.sh: kernel build failed" >&2
	exit 1
fi

out=$tmp/entry
mkdir "$out"
cp "$src/vmlinux" "$out/vmlinux"
cp "$src/arch/x86/boot/bzImage" "$out/bzImage"
cp "$src/.config" "$out/config"
cp "$config" "$out/fragment"
cp "$src/System.map" "$out/System.map"
cp "$log" "$out/build.log"
secs=$(elapsed "$start")
{
	echo "source=$src_pkg $version"
	echo "fragment=$name sha256=$(sha256sum "$config" | cut -d' ' -f1)"
	echo "release=$(cat "$src/include/config/kernel.release")"
	echo "compiler=$(gcc --version | head -n1)"
	echo "build_seconds=$secs jobs=$jobs"
	echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out/info"
# The entry appears whole or not at all (a broken leftover entry, say one with a file deleted by
# hand, is replaced: we hold the lock).
[ -e "$dir" ] && rm -rf "$dir"
mv -T "$out" "$dir"
echo "build-kernel.sh: built in ${secs}s: $dir" >&2
echo "$dir"
