# Thin wrapper over Meson: the README's commands.
.PHONY: all build run test test-linux test-slow bench bench-linux clean bench-snapshot

all: build

build:
	@scripts/deps.sh build
	@[ -f build/build.ninja ] || meson setup build >/dev/null
	@ninja -C build

# Boots the bundled 64-bit hello guest; it reports success through debug-exit (status 33). On a
# host without a usable /dev/kvm it boots it on kvm_amd inside QEMU's emulated SVM CPU instead
# (the real-KVM tier's machine, tests/kvm/README.md: about 30 s).
DEMO = build/kiln run -k build/tests/guests/hello64.elf --debug-exit
run: build
	@if [ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null; then $(DEMO); s=$$?; else \
		echo "kiln: no usable /dev/kvm here: booting the demo on kvm_amd inside QEMU's emulated SVM CPU"; \
		scripts/deps.sh kvm && tests/kvm/run-tier.py --build build --out build/tests/kvm/run-out \
			--timeout 600 --run '$(DEMO)' | sed -n '/KILN-L1: ready/,/KILN-L1: exit/p' | sed '/KILN-L1/d; s/^ *[0-9.]*s | //'; \
		s=$$(sed -n 's/.*KILN-L1: exit \([0-9]*\).*/\1/p' build/tests/kvm/run-out/l1-console.log); fi; \
	if [ "$$s" = 33 ]; then echo "kiln: hello guest finished: status 33 (debug-exit 0x10, success)"; \
	else echo "kiln: hello guest failed: status $$s"; exit 1; fi

test:
	@scripts/test.sh

# Linux guests (slow where guest ring-0 code is emulated: see docs/linux.md): builds kiln's test
# kernel once (cached), boots it with kiln, and runs the QEMU reference boots.
test-linux: build
	@scripts/deps.sh test
	@meson test -C build --print-errorlogs --num-processes 1 --suite linux --suite linux-kiln \
		--suite linux-qemu; s=$$?; python3 scripts/summary.py build/meson-logs/testlog.json; exit $$s

# Every combination of the test kernel's image, ACPI and -c, and Debian's packaged kernel, at
# kernel level (hours where guest ring-0 code is emulated: tests/linux/README.md).
test-slow: build
	@scripts/deps.sh test
	@meson test -C build --print-errorlogs --num-processes 1 --suite linux-slow \
		--logbase testlog-linux-slow; s=$$?; \
		python3 scripts/summary.py build/meson-logs/testlog-linux-slow.json; exit $$s

bench: build
	@scripts/deps.sh bench
	@python3 bench/startup.py --kiln build/kiln --floor build/bench/floor --measure build/bench/measure \
		--elf build/tests/guests/hello64.elf --multiboot build/tests/guests/mb_hello.elf \
		--runs 20 --pc-runs 3 --json build/bench/startup.json
	@python3 bench/api_start.py --kiln build/kiln --elf build/tests/guests/hello64.elf --runs 50 \
		--json build/bench/api-start.json

# kiln vs QEMU (microvm, pc) booting the test kernel to "Run /init" (bench/README.md); each
# kiln boot takes minutes where guest ring-0 code is emulated, so few runs by default.
bench-linux: build
	@scripts/deps.sh bench
	@python3 bench/linux-boot.py --kiln build/kiln --runs $${RUNS:-2} --json build/bench/linux-boot.json

clean:
	rm -rf build build-asan build-tsan build-arm64 build*.setup.log build*.build.log

# virtio-blk from a ring-3 guest: throughput, requests/s and host CPU per request, kiln vs QEMU
# microvm on the same 256 MiB image (bench/README.md).
.PHONY: bench-virtio
bench-virtio: build
	@scripts/deps.sh bench
	@python3 bench/virtio_blk.py --kiln build/kiln --guest build/tests/guests/vio_bench.elf \
		--json build/bench/virtio-blk.json

# PIO exit round trips per second through a user-space device (port 0x80), kiln vs the floor vs
# QEMU microvm (bench/README.md).
.PHONY: bench-pio
bench-pio: build
	@scripts/deps.sh bench
	@python3 bench/pio.py --kiln build/kiln --floor build/bench/floor --measure build/bench/measure \
		--runs $${RUNS:-5} --json build/bench/pio.json

# The benchmarks on a real KVM: inside the real-KVM tier's machine (kvm_amd on QEMU TCG's emulated
# SVM CPU, tests/kvm/README.md), kiln, the floor and QEMU side by side in the same first-level
# guest: start-up (exec to exit of the hello guest, peak RSS), Linux boot (exec to first line,
# to Run /init, to /init's first line) and PIO exit round trips. Absolute times under TCG mean
# little; the ratios are the point (bench/README.md). About 20 minutes; JSON in build/bench/kvm/.
.PHONY: bench-kvm
bench-kvm: build
	@scripts/deps.sh bench
	@tests/kvm/run-tier.py --build build --out build/bench/kvm --timeout 3000 --run '\
		python3 bench/startup.py --kiln build/kiln --floor build/bench/floor --measure build/bench/measure \
			--elf build/tests/guests/hello64.elf --multiboot build/tests/guests/mb_hello.elf \
			--runs $${RUNS:-10} --pc-runs 3 --json /kiln-out/startup.json; \
		python3 bench/linux-boot.py --kiln build/kiln --runs $${RUNS_LINUX:-3} --json /kiln-out/linux-boot.json; \
		python3 bench/pio.py --kiln build/kiln --floor build/bench/floor --measure build/bench/measure \
			--runs $${RUNS_PIO:-2} --json /kiln-out/pio.json'

# Snapshot restore latency (API load and --restore, File and Uffd backends) and snapshot cost
# (Full, Diff), kiln vs QEMU's migrate to a file and -incoming from it, 128 MiB and 1 GiB guests
# (bench/snapshot.py), inside the real-KVM tier's machine. RUNS sets the restores of each row (5);
# JSON in build/bench/kvm-snapshot/.
.PHONY: bench-snapshot
bench-snapshot: build
	@scripts/deps.sh bench
	@tests/kvm/run-tier.py --build build --out build/bench/kvm-snapshot --timeout 1200 --run '\
		python3 bench/snapshot.py --kiln build/kiln --guest build/tests/guests/snap_count.elf \
			--uffd-handler build/tools/kiln-uffd-handler --runs $${RUNS:-5} \
			--json /kiln-out/snapshot.json'; \
	s=$$?; if [ $$s = 77 ]; then echo "bench-snapshot: skipped: nothing measured (the reason is above)"; \
	exit 0; fi; exit $$s

# The live exit view's cost on the exit path: PIO round trips per second with `kiln top` watching
# and without (bench/exit_view.py), inside the real-KVM tier's machine. RUNS sets the boots of
# each row (3); JSON in build/bench/kvm-exit-view/.
.PHONY: bench-exit-view
bench-exit-view: build
	@tests/kvm/run-tier.py --build build --out build/bench/kvm-exit-view --timeout 900 --run '\
		python3 bench/exit_view.py --kiln build/kiln --guests build/tests/guests \
			--rows --runs $${RUNS:-3} --json /kiln-out/exit-view.json'

# virtio-net frame rates and host CPU per frame, kiln vs QEMU microvm on a TAP, with the vio_net
# guest (bench/virtio_net.py), inside the real-KVM tier's machine (root and KVM needed there).
.PHONY: bench-net
bench-net: build
	@scripts/deps.sh bench
	@tests/kvm/run-tier.py --build build --out build/bench/kvm-net --timeout 1500 --run '\
		python3 bench/virtio_net.py --kiln build/kiln --guest build/tests/guests/vio_net.elf \
			--frames $${FRAMES:-10000} --runs $${RUNS:-3} --json /kiln-out/virtio-net.json'

# virtio-vsock throughput both ways and connection set-up latency, kiln's Unix-socket bridge
# (--vsock) vs QEMU microvm's vhost-vsock-device, the same Linux guest with socat
# (bench/vsock.py), inside the real-KVM tier's machine (its L1 loads vhost_vsock). The test
# kernel is built here first (once, cached): L1 only reads the cache. About 1.5 minutes in L1;
# MIB, RUNS and CONNS set the transfer size, rounds and connections a round (64, 7, 40); JSON in
# build/bench/kvm-vsock/.
.PHONY: bench-vsock
bench-vsock: build
	@scripts/deps.sh bench
	@tests/linux/build-kernel.sh >/dev/null
	@tests/kvm/run-tier.py --build build --out build/bench/kvm-vsock --timeout 900 --run '\
		python3 bench/vsock.py --kiln build/kiln --mib $${MIB:-64} --runs $${RUNS:-7} \
			--conns $${CONNS:-40} --json /kiln-out/vsock.json'

# virtio-net bulk TCP in Gbit/s and monitor CPU per GB with a Linux guest (Debian's kernel),
# guest to host and host to guest, kiln vs QEMU microvm on a TAP (bench/virtio_net_linux.py),
# inside the real-KVM tier's machine: about 2.5 minutes on a quiet host. Relative costs only:
# the guest runs on an emulated CPU. A skip (77: no tier, or no KVM, root or TUN in it) says why
# and is not an error.
.PHONY: bench-net-linux
bench-net-linux: build
	@scripts/deps.sh bench
	@tests/kvm/run-tier.py --build build --out build/bench/kvm-net-linux --timeout 600 --run '\
		python3 bench/virtio_net_linux.py --kiln build/kiln --rounds $${ROUNDS:-3} \
			--boots $${BOOTS:-2} --json /kiln-out/virtio-net-linux.json'; \
	s=$$?; if [ $$s = 77 ]; then echo "bench-net-linux: skipped: nothing measured (the reason is above)"; \
	exit 0; fi; exit $$s

# kiln vs qemu-system-aarch64 -M virt -accel kvm side by side inside the arm64 tier's guest (KVM
# nested in qemu-system-aarch64 TCG with EL2; bench/arm64.py): exec to the first UART byte, boot
# to user space, VMM RSS, against issue 18's goals. Cross-builds build-arm64 first; downloads
# Debian's arm64 QEMU and its libraries once (~/.cache/kiln/arm64-bench). ROUNDS sets the runs
# of each VMM and guest (5): about 4 minutes of TCG. JSON in build-arm64/bench/arm64.json.
.PHONY: bench-arm64
bench-arm64:
	@scripts/deps.sh arm64
	@[ -f build-arm64/build.ninja ] || meson setup --cross-file scripts/cross/aarch64.ini build-arm64 >/dev/null
	@ninja -C build-arm64
	@python3 bench/arm64.py --build build-arm64 --rounds $${ROUNDS:-5} --json build-arm64/bench/arm64.json; \
	s=$$?; if [ $$s = 77 ]; then echo "bench-arm64: skipped: nothing measured (the reason is above)"; \
	exit 0; fi; exit $$s
