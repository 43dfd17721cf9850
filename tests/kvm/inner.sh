#!/usr/bin/env bash
# Runs inside the real-KVM tier's first-level guest (L1), as root, in the host's file system seen
# through a RAM-backed overlay (tests/kvm/l1-init.sh): kiln's Meson tests of the given suites,
# from the host's build directory, on L1's /dev/kvm (kvm_amd). The results go to /kiln-out, the
# share the host reads them from: kvm-inner.json and kvm-inner.txt (Meson's test log) and the
# console logs of the Linux boots.
#
# usage: inner.sh BUILD_DIR TIMEOUT_MULTIPLIER SUITE...
#
# Where /kiln-out/only-tests exists (run-tier.py resuming after L1 stopped), only the tests it
# names, one a line, of those suites run. Meson's log is copied to /kiln-out/kvm-inner.partial
# every 10 s while the tests run, so that what finished survives an L1 that stops.
set -u
build=$1
mult=$2
shift 2
out=/kiln-out
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
[ -n "${KILN_CACHE:-}" ] && export KILN_CACHE

echo "inner: $(uname -r), $(nproc) CPU, $(awk '/MemTotal/ { print $2 / 1024 " MiB" }' /proc/meminfo), /dev/kvm on $(ls -d /sys/module/kvm_amd /sys/module/kvm_intel 2>/dev/null | xargs -n1 basename | tr '\n' ' ')"
suites=()
for s in "$@"; do
	suites+=(--suite "$s")
done
names=()
[ -f "$out/only-tests" ] && mapfile -t names <"$out/only-tests"
log=$build/meson-logs/kvm-inner.json
(while sleep 10; do
	[ "$log" -nt "$out/kvm-inner.partial" ] && cp "$log" "$out/kvm-inner.partial"
done) &
copier=$!
# --no-rebuild: the host built everything; one test at a time: L1 has one vCPU. Through a
# pipe, so that Meson prints one line a test rather than a terminal's progress display.
meson test -C "$build" --no-rebuild --num-processes 1 --timeout-multiplier "$mult" \
	--logbase kvm-inner "${suites[@]}" "${names[@]}" | cat
rc=${PIPESTATUS[0]}
kill "$copier" 2>/dev/null
cp "$build/meson-logs/kvm-inner.json" "$build/meson-logs/kvm-inner.txt" "$out/" 2>/dev/null
mkdir -p "$out/logs"
cp "$build"/tests/linux/*.log "$out/logs/" 2>/dev/null
echo "inner: meson test exit status $rc"
exit "$rc"
