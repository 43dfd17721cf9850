#!/usr/bin/env bash
# gdb-linux.sh KILN MODE: Debian's gdb debugging kiln's test kernel (its cached vmlinux, with
# symbols) through --gdb --gdb-wait, with 2 vCPUs. MODE:
#   interrupt  let it boot for 8 s (without a root file system it panics and waits), Ctrl-C (SIGINT to gdb), then: the PC is in the kernel,
#              linux_banner read at its guest-virtual address through the kernel's page tables,
#              both vCPUs as threads, kill (kiln exits 137);
#   break      a hardware breakpoint at start_kernel (before the kernel's page tables map it, so
#              no int3 can be written there), linux_banner, then a software breakpoint at
#              setup_arch, a function of the init path, and kill. SKIP where KVM runs on QEMU's
#              TCG SVM, which cannot stop a guest at breakpoints (tests/e2e/gdb-session.sh).
# Exits 77 (SKIP) without gdb, /dev/kvm or the cached kernel (tests/linux/build-kernel.sh).
set -u
kiln=$1 mode=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v gdb >/dev/null || { echo "SKIP: no gdb (apt-get install gdb)"; exit 77; }
[ -c /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
{ : <>/dev/kvm; } 2>/dev/null || { echo "SKIP: /dev/kvm is not readable and writable"; exit 77; }
dir=$("$here/build-kernel.sh" --dir 2>/dev/null | tail -1) && [ -f "$dir/vmlinux" ] ||
	{ echo "SKIP: the test kernel is not in the cache (tests/linux/build-kernel.sh)"; exit 77; }
if [ "$mode" = break ] && [ "$(cat /sys/module/kvm_amd/parameters/nrips 2>/dev/null)" = 0 ] &&
	grep -q QEMU /sys/class/dmi/id/sys_vendor 2>/dev/null; then
	echo "SKIP: breakpoints cannot stop a guest where KVM runs on QEMU's TCG-emulated SVM" \
		"(nrips=0): TCG's VMRUN loads DR7 without arming its hardware breakpoints, and its" \
		"int3 checks the software-interrupt intercept instead of KVM's #BP intercept"
	exit 77
fi
tmp=$(mktemp -d)
kpid=
trap '[ -n "$kpid" ] && kill $kpid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- gdb:"; cat "$tmp/gdb.out"; echo "--- kiln stderr:";
	tail -20 "$tmp/kiln.err"; echo "--- kiln stdout:"; tail -20 "$tmp/kiln.out"; exit 1; }

"$kiln" run -k "$dir/vmlinux" -m 256M -c 2 -p "console=ttyS0 panic=0" \
	--gdb "unix:$tmp/g.sock" --gdb-wait >"$tmp/kiln.out" 2>"$tmp/kiln.err" </dev/null &
kpid=$!
for _ in $(seq 100); do [ -S "$tmp/g.sock" ] && break; sleep 0.1; done
[ -S "$tmp/g.sock" ] || fail "no socket"
if [ "$mode" = break ]; then
	cat >"$tmp/cmds" <<EOF
set pagination off
set confirm off
target remote $tmp/g.sock
hbreak *start_kernel
continue
info symbol \$pc
printf "AT=0x%lx\n", \$pc
printf "BANNER=%s\n", (char *)&linux_banner
delete
break *setup_arch
continue
info symbol \$pc
info threads
kill
EOF
else
	cat >"$tmp/cmds" <<EOF
set pagination off
set confirm off
target remote $tmp/g.sock
shell (sleep 8; kill -INT \$PPID) &
continue
info symbol \$pc
printf "AT=0x%lx\n", \$pc
printf "BANNER=%s\n", (char *)&linux_banner
info threads
kill
EOF
fi
timeout 500 gdb -nx -batch -x "$tmp/cmds" "$dir/vmlinux" >"$tmp/gdb.out" 2>&1
if [ "$mode" = break ]; then
	grep -q "^start_kernel in section" "$tmp/gdb.out" || fail "no stop at start_kernel"
	grep -q "^setup_arch in section" "$tmp/gdb.out" || fail "no stop at setup_arch"
else
	grep -q "received signal SIGINT" "$tmp/gdb.out" || fail "Ctrl-C did not stop the kernel"
	grep -q "^AT=0xffffffff8" "$tmp/gdb.out" || fail "the PC is not in the kernel's text"
fi
grep -q "^BANNER=Linux version 6\\." "$tmp/gdb.out" || fail "linux_banner not read"
grep -q "Thread 2 " "$tmp/gdb.out" || fail "no second vCPU thread"
wait $kpid
st=$?
kpid=
[ $st = 137 ] || fail "kiln exited $st after kill, not 137"
echo PASS
cat "$tmp/gdb.out"
