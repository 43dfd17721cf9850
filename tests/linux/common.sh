# shellcheck shell=bash
# Shared by tests/linux/*.sh (sourced, not run).

# Exit status meaning "cannot run here" (Meson's skip status).
KILN_SKIP=77

# Where built guest artefacts are cached: outside the repository, shared by all checkouts.
kiln_cache_root() {
	echo "${KILN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}"
}

# need_pkgs PKG...: make sure these Debian packages are installed. As root, installs the missing
# ones with apt-get; otherwise prints the apt-get line and exits with the skip status.
need_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "$(basename "$0"): needs these Debian packages; install them with:" >&2
		echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
		exit $KILN_SKIP
	fi
	echo "$(basename "$0"): installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Install from the current lists first; refresh them only when that fails.
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# pkg_version PKG: the installed version of a Debian package.
pkg_version() {
	dpkg-query -W -f='${Version}' "$1"
}

# now_s: seconds since the epoch, with a fraction.
now_s() {
	date +%s.%N
}

# elapsed START: seconds since START (from now_s), one decimal.
elapsed() {
	awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'
}
