#!/usr/bin/env bash
# gdb-pipe.sh TARGET: Debian's gdb against the protocol core with kiln's x86-64 description
# (gdb_pipe_target.c) through a pipe: no /dev/kvm needed. Exits 77 (SKIP) without gdb.
set -u
target=$1
command -v gdb >/dev/null || { echo "SKIP: no gdb (apt-get install gdb)"; exit 77; }
out=$(timeout 60 gdb -nx -batch \
	-ex 'set pagination off' -ex 'set confirm off' \
	-ex "target remote | $target" \
	-ex 'show architecture' -ex 'info threads' \
	-ex 'printf "RIP=0x%x CR3=0x%x FSBASE=0x%x\n", $rip, $cr3, $fs_base' \
	-ex 'x/4xb 0x401004' \
	-ex 'set $rax = 0x1235' -ex 'printf "RAX=0x%x\n", $rax' \
	-ex 'p $xmm3.uint128' -ex 'p $mxcsr' -ex 'p $st0' \
	-ex 'thread 2' -ex 'printf "T2RIP=0x%x\n", $rip' -ex 'thread 1' \
	-ex 'break *0x401010' -ex 'continue' -ex 'printf "PC=0x%x\n", $pc' \
	-ex 'stepi' -ex 'printf "PC=0x%x\n", $pc' \
	-ex 'delete' -ex 'continue' 2>&1)
echo "$out"
check() { grep -qE "$1" <<<"$out" || { echo "FAIL: no line matching '$1'"; exit 1; }; }
check 'architecture is .*i386:x86-64'
check 'Thread 2 '
check '^RIP=0x401000 CR3=0x1000 FSBASE=0xf5000$'
check '0x401004:[[:space:]]+0x04[[:space:]]+0x05[[:space:]]+0x06[[:space:]]+0x07'
check '^RAX=0x1235$'
check '^T2RIP=0xfff0$'
check 'hit Breakpoint 1, 0x0*401010'
check '^PC=0x401010$'
check '^PC=0x401011$'
check 'exited with code 041'
! grep -qiE 'error|Remote .* bad|Truncated|not compatible' <<<"$out" || { echo "FAIL: gdb complained"; exit 1; }
# Ctrl-C: gdb gets SIGINT while the target runs and sends the interrupt byte.
out=$(timeout 60 gdb -nx -batch \
	-ex 'set pagination off' -ex 'set confirm off' \
	-ex "target remote | $target" -ex 'set $rax = 0x1234' \
	-ex 'shell (sleep 2; kill -INT $PPID) &' -ex 'continue' \
	-ex 'printf "CUR=%d\n", $_thread' -ex 'thread 1' -ex 'set $rax = 0' -ex 'continue' 2>&1)
echo "$out"
check 'Thread 2 received signal SIGINT'
check '^CUR=2$'
check 'exited with code 041'
echo PASS
