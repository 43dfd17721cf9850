#!/usr/bin/env bash
# The whole test suite: unit, end-to-end, CLI, API and QEMU cross-check tests on a normal build;
# unit, end-to-end, CLI and API tests again on an ASan+UBSan build; the API tests (the threads
# that talk to a running VM) on a ThreadSanitizer build; then kiln boots its Linux test kernel at
# kernel level (suite linux-ci: building the kernel first when it is not cached, every step under
# its own time cap, tests/linux/meson.build). The tests that need /dev/kvm skip on a host without
# one, so each build's also run on the real-KVM tier: kvm_amd inside QEMU's emulated SVM CPU
# (tests/kvm), where the normal build also boots Linux to user space. Last, kiln is cross-built
# for arm64 and tested on arm64 KVM inside qemu-system-aarch64 (tests/arm64).
# Last line: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1

build() { # dir, extra meson options...
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
	else
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
	fi || { cat "$dir.setup.log"; return 1; }
	ninja -C "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; return 1; }
}

rc=0
logs=()
built=0

# kvm_tier DIR: the real-KVM tier (tests/kvm) on that build: its console streams (--verbose: L1's
# boot and the inner Meson's one line a test), then one Meson test per inner test reports its
# result. Which suites run inside depends on the build (tests/kvm/meson.build).
kvm_tier() {
	local dir=$1
	meson test -C "$dir" --verbose --num-processes 1 --suite kvm-tier --logbase testlog-kvm-tier || rc=1
	meson test -C "$dir" --print-errorlogs --num-processes 2 --suite kvm-results --logbase testlog-kvm || rc=1
	logs+=("$dir/meson-logs/testlog-kvm-tier.json" "$dir/meson-logs/testlog-kvm.json")
}
echo "== build (debugoptimized) and test"
if build build; then
	built=1
	meson test -C build --print-errorlogs --num-processes 2 --suite unit --suite e2e --suite cli \
		--suite api --suite qemu --suite jailer || rc=1
	logs+=(build/meson-logs/testlog.json)
else
	rc=1
fi

echo "== ASan+UBSan build and test"
# No recovery from UBSan findings: any report aborts the test that hit it.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all; then
	meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit --suite e2e --suite cli \
		--suite api || rc=1
	logs+=(build-asan/meson-logs/testlog.json)
	echo "== ASan+UBSan build on the real-KVM tier: e2e, CLI and API on kvm_amd (tests/kvm)"
	kvm_tier build-asan
else
	rc=1
fi
unset UBSAN_OPTIONS ASAN_OPTIONS

echo "== libFuzzer build (clang) and a fixed 20,000-input run per fuzz target (tests/fuzz)"
if (export CC=clang && build build-fuzz -Dfuzz=true); then
	meson test -C build-fuzz --print-errorlogs --suite fuzz || rc=1
	logs+=(build-fuzz/meson-logs/testlog.json)
else
	rc=1
fi

echo "== ThreadSanitizer build and API tests"
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
if build build-tsan -Db_sanitize=thread -Db_lundef=false; then
	meson test -C build-tsan --print-errorlogs --num-processes 2 --suite api || rc=1
	logs+=(build-tsan/meson-logs/testlog.json)
	echo "== ThreadSanitizer build on the real-KVM tier: API on kvm_amd (tests/kvm)"
	kvm_tier build-tsan
else
	rc=1
fi

echo "== Linux guests: kiln boots its test kernel (suite linux-ci; minutes where ring 0 is emulated)"
# One test at a time: a boot's vCPUs want every core. Its own log file, so as not to replace
# build/meson-logs/testlog.json, which the summary reads too. Each test has its own cap
# (tests/linux/meson.build); the boots together also stop by KILN_LINUX_DEADLINE, 50 minutes
# from here (a cold kernel build included), so CI stays well under 90 minutes.
if [ $built -eq 1 ]; then
	KILN_LINUX_DEADLINE=$(($(date +%s) + 50 * 60)) meson test -C build --print-errorlogs --num-processes 1 --suite linux-ci \
		--logbase testlog-linux-ci || rc=1
	logs+=(build/meson-logs/testlog-linux-ci.json)
else
	rc=1
fi

echo "== Real-KVM tier: kiln's e2e, CLI, API and Linux tests on kvm_amd inside QEMU's TCG (tests/kvm)"
# After the Linux step: its boots use the test kernel that step built.
if [ $built -eq 1 ]; then
	kvm_tier build
else
	rc=1
fi

echo "== arm64: cross build and the arm64 tier (tests/arm64: kiln on KVM inside qemu-system-aarch64 TCG)"
# About a minute of TCG (plus a one-time download of Debian's arm64 kernel and busybox); the
# tier itself skips (exit 77) where the host lacks QEMU, the packages or a KVM in L1.
if scripts/deps.sh arm64; then
	if build build-arm64 --cross-file scripts/cross/aarch64.ini; then
		meson test -C build-arm64 --verbose --suite arm64-tier --logbase testlog-arm64-tier || rc=1
		meson test -C build-arm64 --print-errorlogs --suite arm64-results || rc=1
		logs+=(build-arm64/meson-logs/testlog-arm64-tier.json)
		logs+=(build-arm64/meson-logs/testlog.json)
	else
		rc=1
	fi
else
	echo "SKIP arm64: the cross toolchain and arm64 libraries are not installed (scripts/deps.sh arm64)"
fi

python3 scripts/summary.py "${logs[@]}" || rc=1
exit "$rc"
