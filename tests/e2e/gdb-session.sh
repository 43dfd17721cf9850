#!/usr/bin/env bash
# gdb-session.sh KILN GUEST_ELF MODE: Debian's gdb, in batch mode with a command file, debugging
# a guest through kiln's gdb stub (--gdb, docs/gdb.md), on tests/guests/gdb_target.c. MODE:
#   unix     --gdb unix:SOCKET --gdb-wait, 2 vCPUs: both as threads with their RIPs, single
#            steps, a control register, Ctrl-C (SIGINT to gdb: the interrupt byte) while the
#            guest spins, a variable read and one written to release it, the exit status;
#   break    a hardware breakpoint at a function, its argument, `next` over a line, a
#            watchpoint that hits; swbreak: a software breakpoint (int3 in guest RAM). Both
#            SKIP where KVM runs on QEMU's TCG SVM, which cannot stop the guest there (below);
#   tcp      --gdb tcp:PORT: kiln says it listens on loopback only; a register and memory
#            read, a write that lets the guest end, detach, and it runs to its end.
# Exits 77 (SKIP) without gdb or /dev/kvm.
set -u
kiln=$1 guest=$2 mode=$3
command -v gdb >/dev/null || { echo "SKIP: no gdb (apt-get install gdb)"; exit 77; }
[ -c /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
{ : <>/dev/kvm; } 2>/dev/null || { echo "SKIP: /dev/kvm is not readable and writable"; exit 77; }
tmp=$(mktemp -d)
kpid=
trap '[ -n "$kpid" ] && kill $kpid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- gdb:"; cat "$tmp/gdb.out"; echo "--- kiln stderr:";
	cat "$tmp/kiln.err"; echo "--- kiln stdout:"; cat "$tmp/kiln.out"; exit 1; }

launch_kiln() { # GDB_SPEC ARGS...: kiln with the stub at GDB_SPEC, up to 10 s for it to wait
	local spec=$1
	shift
	"$kiln" run --debug-exit -k "$guest" --gdb "$spec" --gdb-wait "$@" \
		>"$tmp/kiln.out" 2>"$tmp/kiln.err" &
	kpid=$!
	for _ in $(seq 100); do grep -q "gdb: waiting" "$tmp/kiln.err" && break; sleep 0.1; done
}
start_kiln() { # ARGS...: kiln with the stub on $tmp/g.sock, waiting for gdb
	launch_kiln "unix:$tmp/g.sock" "$@"
	[ -S "$tmp/g.sock" ] || fail "no socket $tmp/g.sock"
}
run_gdb() { # TARGET: gdb in batch mode on TARGET, with the commands on stdin after the set-up
	{ printf 'set pagination off\nset confirm off\ntarget remote %s\n' "$1"; cat; } >"$tmp/cmds"
	timeout 120 gdb -nx -batch -x "$tmp/cmds" "$guest" >"$tmp/gdb.out" 2>&1
}
expect() { # PATTERN WHY: gdb's output has a line matching PATTERN, or FAIL: WHY
	grep -q "$1" "$tmp/gdb.out" || fail "$2"
}
reap_kiln() { # kiln's exit status in $st
	wait $kpid
	st=$?
	kpid=
}
finish() { # kiln must end 33 (the guest's SUCCESS) and gdb must have seen it
	expect "exited with code 041" "gdb did not see the exit status 33"
	reap_kiln
	[ $st = 33 ] || fail "kiln exited $st, not 33"
	grep -q "^SUCCESS" "$tmp/kiln.out" || fail "the guest did not print SUCCESS"
}
# KVM on QEMU's TCG-emulated SVM (the real-KVM tier: nrips=0 on a QEMU machine) cannot stop an
# L2 guest at breakpoints: its VMRUN loads DR7 from the VMCB without arming TCG's hardware
# breakpoints, and its int3 checks the software-interrupt intercept, not KVM's #BP intercept.
tcg_svm() {
	[ "$(cat /sys/module/kvm_amd/parameters/nrips 2>/dev/null)" = 0 ] &&
		grep -q QEMU /sys/class/dmi/id/sys_vendor 2>/dev/null
}
tcg_skip() {
	echo "SKIP: $1 cannot stop a guest where KVM runs on QEMU's TCG-emulated SVM (nrips=0):" \
		"TCG's VMRUN loads DR7 without arming its hardware breakpoints, and its int3 checks" \
		"the software-interrupt intercept instead of KVM's #BP intercept"
	exit 77
}

if [ "$mode" = unix ]; then
	start_kiln -c 2
	grep -q "gdb: waiting for a debugger on unix:$tmp/g.sock" "$tmp/kiln.err" ||
		fail "kiln did not say where the stub listens"
	run_gdb "$tmp/g.sock" <<-EOF
	info threads
	set \$p0 = \$pc
	stepi
	stepi
	stepi
	printf "STEPPED=%d\n", \$pc != \$p0
	thread 2
	printf "T2RIP=0x%x\n", \$rip
	thread 1
	printf "T1CR0PG=%d\n", (\$cr0 >> 31) & 1
	shell (sleep 3; kill -INT \$PPID) &
	continue
	printf "WATCHED=%d\n", watched
	set var release = 1
	continue
	EOF
	expect "Thread 2 " "gdb does not list 2 threads"
	expect "^STEPPED=1$" "stepi did not move the PC"
	# vCPU 1 has not been started by the guest (no SIPI): it is at the reset vector.
	expect "^T2RIP=0xfff0$" "thread 2's RIP is not the reset vector"
	expect "^T1CR0PG=1$" "cr0 of thread 1 does not show paging"
	expect "received signal SIGINT" "Ctrl-C did not stop the guest"
	grep -A1 "received signal SIGINT" "$tmp/gdb.out" | grep -q "^kmain (" ||
		fail "the interrupt did not stop it in kmain's spin"
	expect "^WATCHED=142$" "watched is not 142"
	finish
elif [ "$mode" = break ]; then
	tcg_svm && tcg_skip "a hardware breakpoint or watchpoint"
	start_kiln
	run_gdb "$tmp/g.sock" <<-EOF
	hbreak add_one
	continue
	printf "ARG=%d\n", arg
	next
	printf "R=%d\n", r
	watch watched
	continue
	printf "WATCHED=%d\n", watched
	delete
	set var release = 1
	continue
	EOF
	grep -qi "breakpoint 1, add_one (arg=41)" "$tmp/gdb.out" || fail "no stop at add_one(41)"
	expect "^ARG=41$" "arg is not 41"
	expect "^R=42$" "next did not step over r = arg + 1"
	expect "watchpoint 2: watched" "the watchpoint did not hit"
	expect "New value = 142" "the watchpoint did not show 142"
	expect "^WATCHED=142$" "watched is not 142"
	finish
elif [ "$mode" = swbreak ]; then
	tcg_svm && tcg_skip "a software breakpoint"
	start_kiln
	run_gdb "$tmp/g.sock" <<-EOF
	break add_one
	continue
	printf "ARG=%d\n", arg
	delete
	set var release = 1
	continue
	EOF
	expect "Breakpoint 1, add_one (arg=41)" "no stop at add_one(41)"
	expect "^ARG=41$" "arg is not 41"
	finish
else
	port=$((20000 + RANDOM % 20000))
	launch_kiln "tcp:$port"
	grep -q "gdb: waiting for a debugger on tcp 127.0.0.1 port $port (loopback only)" \
		"$tmp/kiln.err" || fail "kiln did not say it listens on loopback"
	run_gdb "127.0.0.1:$port" <<-EOF
	printf "RIPOK=%d\n", \$rip > 0
	x/2xb &watched
	set var release = 1
	detach
	EOF
	expect "^RIPOK=1$" "no RIP read"
	expect "<watched>:" "no memory read at watched"
	expect "detached\]" "gdb did not detach"
	reap_kiln
	[ $st = 33 ] || fail "kiln exited $st after the detach, not 33"
fi
echo "PASS"
cat "$tmp/gdb.out"
