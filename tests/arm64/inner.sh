# inner.sh: the arm64 tier's tests, sourced by l1-init.sh in L1 (cwd /kiln). Each runs kiln
# under `timeout` and checks its exit status and output. $only (kiln.only= on L1's command line)
# limits the run to the named tests (comma-separated). Sets $failed (0 or 1).
failed=0
KILN=/kiln/kiln

# check NAME STATUS WANT_STATUS PATTERN...: PASS when the status and every pattern (grep -E on
# the output in /tmp/NAME.log) match, else FAIL; the output's last 60 lines go to the console
# first, as '  NAME | line'.
check() {
	name=$1 status=$2 want=$3
	shift 3
	why=
	[ "$status" = "$want" ] || why="exit status $status, expected $want"
	for pat in "$@"; do
		[ -n "$why" ] && break
		grep -qE -- "$pat" "/tmp/$name.log" || why="no line matching '$pat' in the output"
	done
	# its output first (run-tier.py gives it to the test's own result, result.py)
	tail -60 "/tmp/$name.log" | sed "s/^/  $name | /"
	if [ -z "$why" ]; then
		say "PASS $name"
	else
		say "FAIL $name: $why"
		failed=1
	fi
}

# run NAME TIMEOUT kiln-arguments...: runs kiln, output in /tmp/NAME.log, status in $status.
wanted() {
	[ -z "$only" ] && return 0
	case ",$only," in *",$1,"*) return 0 ;; esac
	return 1
}
run() {
	name=$1 secs=$2
	shift 2
	timeout "$secs" "$KILN" "$@" </dev/null >"/tmp/$name.raw" 2>&1
	status=$?
	tr -d '\r' <"/tmp/$name.raw" >"/tmp/$name.log"
}

if wanted arm64-hello; then
	run arm64-hello 60 run -v -k guests/hello.img
	check arm64-hello $status 0 '^Hello from an arm64 guest$' 'guest powered off'
fi
if wanted arm64-reset; then
	run arm64-reset 60 run -v -k guests/reset.img
	check arm64-reset $status 0 '^resetting$' 'guest requested a reset'
fi
if wanted arm64-smp; then
	run arm64-smp 60 run -c 2 -k guests/smp.img
	check arm64-smp $status 0 '^SMP: 2 CPUs up through PSCI CPU_ON$'
fi
if wanted arm64-smp-4; then
	run arm64-smp-4 60 run -c 4 -k guests/smp.img
	check arm64-smp-4 $status 0 '^SMP: 4 CPUs up through PSCI CPU_ON$'
fi
if wanted arm64-mmio-unclaimed; then
	run arm64-mmio-unclaimed 60 run --stats -k guests/mmio.img
	check arm64-mmio-unclaimed $status 0 '^MMIO: unclaimed read returned all ones$' \
		'unclaimed.*0xe0000000' 'MMIO'
fi
if wanted arm64-crash; then
	run arm64-crash 60 run -k guests/crash.img
	check arm64-crash $status 4 '^crashing$' 'guest crashed on vcpu0' \
		'data abort at 0xe0000000' 'vcpu0: pc=0x'
fi
if wanted arm64-bad-image; then
	run arm64-bad-image 30 run -k /bin/busybox
	check arm64-bad-image $status 2 'not an arm64 Image'
fi
if wanted arm64-refuses-x86-options; then
	run arm64-refuses-x86-options 30 run -k guests/hello.img --debug-exit
	check arm64-refuses-x86-options $status 2 '^kiln: --debug-exit: .*not on arm64'
fi
if wanted arm64-refuses-cpuid-mask; then
	run arm64-refuses-cpuid-mask 30 run -k guests/hello.img --cpuid-mask 0x1:ecx.21=0
	check arm64-refuses-cpuid-mask $status 2 '^kiln: --cpuid-mask: .*not on arm64'
fi
if wanted arm64-refuses-gdb; then
	run arm64-refuses-gdb 30 run -k guests/hello.img --gdb unix:/tmp/gdb.sock
	check arm64-refuses-gdb $status 2 '^kiln: --gdb: .*not on arm64'
fi
# nlines FILE: how many lines FILE has (0 when it does not exist).
nlines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# wait_lines FILE N SECS: waits (bounded) until FILE has at least N lines.
wait_lines() {
	n=0
	while [ "$(nlines "$1")" -lt "$2" ] && [ $n -lt $(($3 * 10)) ]; do sleep 0.1; n=$((n + 1)); done
}
# wait_sock SOCK: waits (bounded) for kiln's API socket.
wait_sock() {
	n=0
	while [ ! -S "$1" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
}

# Snapshots on arm64 (docs/snapshot.md): the counting guest with 1 or 2 vCPUs is paused over the
# API mid-count and saved (PUT /snapshot/create), then its kiln is killed (SIGKILL); a new kiln restores it (`run --restore`, or a fresh
# `--api-sock` process with PUT /snapshot/load and resume_vm), and the count goes on with the very
# next number: no gap, no repeat, across both processes' output.
# pause_save_kill SOCK STATE MEM PID LOG: pauses the VM behind the API socket SOCK, saves a Full
# snapshot to STATE and MEM (the API's answers go to LOG), then kills its kiln, PID, with SIGKILL.
pause_save_kill() {
	{
		./uhttp "$1" PATCH /vm '{"state": "Paused"}'
		./uhttp "$1" PUT /snapshot/create \
			"{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$2\", \"mem_file_path\": \"$3\"}"
	} >"$5" 2>&1
	kill -9 "$4"
	wait "$4"
}

snapshot() { # NAME CPUS HOW(cli|api)
	name=$1 sock=/tmp/$1.sock st=/tmp/$1.state mem=/tmp/$1.mem
	rm -f "$sock" "$sock"2 "$st" "$mem" /tmp/$1.out1 /tmp/$1.out2 /tmp/$1.api
	"$KILN" run -c "$2" -k guests/count.img --api-sock "$sock" </dev/null \
		>"/tmp/$name.out1" 2>"/tmp/$name.err1" &
	pid=$!
	wait_sock "$sock"
	wait_lines "/tmp/$name.out1" 8 60
	pause_save_kill "$sock" "$st" "$mem" "$pid" "/tmp/$name.api"
	before=$(nlines "/tmp/$name.out1")
	if [ "$3" = cli ]; then
		"$KILN" run --restore "$st" --mem-file "$mem" </dev/null \
			>"/tmp/$name.out2" 2>"/tmp/$name.err2" &
		pid=$!
	else
		"$KILN" --api-sock "$sock"2 </dev/null >"/tmp/$name.out2" 2>"/tmp/$name.err2" &
		pid=$!
		wait_sock "$sock"2
		./uhttp "$sock"2 PUT /snapshot/load \
			"{\"snapshot_path\": \"$st\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$mem\"}, \"resume_vm\": true}" \
			>>"/tmp/$name.api" 2>&1
	fi
	wait_lines "/tmp/$name.out2" 12 60
	kill "$pid"
	wait "$pid"
	status=$?
	# Every line after "count" is the number after the one before it, from 0, across both.
	# (the restored kiln was stopped mid-line, maybe: a last line without its newline is left out)
	cat "/tmp/$name.out1" "/tmp/$name.out2" | tr -d '\r' >"/tmp/$name.count"
	[ -z "$(tail -c 1 "/tmp/$name.count")" ] || sed -i '$d' "/tmp/$name.count"
	verdict=$(awk 'NR == 1 { if ($0 != "count") bad = "first line " $0; next }
		!bad && $0 != NR - 2 { bad = "line " NR ": " $0 " where " (NR - 2) " was due" }
		END { if (bad) print "BAD " bad; else print "COUNTED " NR - 2 }' "/tmp/$name.count")
	after=$(nlines "/tmp/$name.out2")
	{
		cat "/tmp/$name.err1" "/tmp/$name.api" "/tmp/$name.err2"
		echo "lines before the snapshot: $before, after the restore: $after"
		echo "$verdict"
	} | tr -d '\r' >"/tmp/$name.log"
	# 143: the restored kiln ended by SIGTERM, as the test intended.
	check "$name" "$status" 143 'HTTP/1.1 204' '^COUNTED' \
		'after the restore: ([1-9][0-9]|[2-9])'
}
wanted arm64-snapshot-1cpu && snapshot arm64-snapshot-1cpu 1 cli
wanted arm64-snapshot-2cpu && snapshot arm64-snapshot-2cpu 2 cli
wanted arm64-snapshot-api-load && snapshot arm64-snapshot-api-load 2 api

# A state file that is not this VM's is refused with a 400 and one line, and the process stays
# ready for another load: an x86-64 snapshot (by its architecture), a corrupted one (checksum).
if wanted arm64-snapshot-refusals; then
	name=arm64-snapshot-refusals sock=/tmp/refuse.sock
	rm -f "$sock" /tmp/refuse.mem
	: >/tmp/refuse.mem
	"$KILN" --api-sock "$sock" </dev/null >"/tmp/$name.raw" 2>&1 &
	pid=$!
	wait_sock "$sock"
	{
		./uhttp "$sock" PUT /snapshot/load \
			'{"snapshot_path": "guests/x86.snap", "mem_backend": {"backend_type": "File", "backend_path": "/tmp/refuse.mem"}}'
		./uhttp "$sock" PUT /snapshot/load \
			'{"snapshot_path": "guests/corrupt.snap", "mem_backend": {"backend_type": "File", "backend_path": "/tmp/refuse.mem"}}'
		./uhttp "$sock" GET /
	} >"/tmp/$name.api" 2>&1
	kill "$pid"
	wait "$pid"
	status=$?
	cat "/tmp/$name.raw" "/tmp/$name.api" | tr -d '\r' >"/tmp/$name.log"
	check $name $status 143 'HTTP/1.1 400' "made for architecture 'x86_64', this kiln runs aarch64" \
		'corrupted: checksum mismatch' 'Not started'
fi

# Debian's arm64 kernel to a busybox user space: l2-init.sh prints the CPUs it sees and the
# disk's first line, then powers off.
linux() { # NAME CPUS
	if [ ! -f linux/Image ]; then
		say "SKIP $1: no arm64 kernel in L1's initramfs"
		return
	fi
	run "$1" 300 run -k linux/Image -i linux/l2.cpio -m 256M -c "$2" --disk linux/disk.img \
		-p "console=ttyAMA0 panic=-1 quiet"
	check "$1" $status 0 "^KILN-L2: cpus $2\$" '^KILN-L2: disk: kiln-arm64-disk$' \
		'^KILN-L2: poweroff$'
}
wanted arm64-linux-1cpu && linux arm64-linux-1cpu 1
wanted arm64-linux-2cpu && linux arm64-linux-2cpu 2

# A Linux guest (2 vCPUs, its disk) counting in user space is paused, saved and killed once it
# has counted a few, and restored by `kiln run --restore`: it counts on from the next number
# (the timer, the GIC with the PL011's level-triggered line, both vCPUs and virtio-mmio restored).
if wanted arm64-linux-snapshot; then
	name=arm64-linux-snapshot sock=/tmp/lsnap.sock st=/tmp/lsnap.state mem=/tmp/lsnap.mem
	if [ ! -f linux/Image ]; then
		say "SKIP $name: no arm64 kernel in L1's initramfs"
	else
		rm -f "$sock" "$st" "$mem"
		"$KILN" run -k linux/Image -i linux/l2.cpio -m 256M -c 2 --disk linux/disk.img \
			-p "console=ttyAMA0 panic=-1 quiet kiln.count" --api-sock "$sock" </dev/null \
			>"/tmp/$name.out1" 2>"/tmp/$name.err1" &
		pid=$!
		n=0
		while ! grep -q 'KILN-L2: count 5' "/tmp/$name.out1" && [ $n -lt 1500 ]; do
			sleep 0.2
			n=$((n + 1))
		done
		pause_save_kill "$sock" "$st" "$mem" "$pid" "/tmp/$name.api"
		"$KILN" run --restore "$st" --mem-file "$mem" </dev/null >"/tmp/$name.out2" \
			2>"/tmp/$name.err2" &
		pid=$!
		n=0
		while [ "$(grep -c 'KILN-L2: count' "/tmp/$name.out2")" -lt 10 ] && [ $n -lt 600 ]; do
			sleep 0.2
			n=$((n + 1))
		done
		kill "$pid"
		wait "$pid"
		status=$?
		rm -f "$mem"
		cat "/tmp/$name.out1" "/tmp/$name.out2" | tr -d '\r' >"/tmp/$name.count"
		[ -z "$(tail -c 1 "/tmp/$name.count")" ] || sed -i '$d' "/tmp/$name.count"
		verdict=$(grep -o 'KILN-L2: count [0-9]*$' "/tmp/$name.count" | awk '
			$3 != NR - 1 { if (!bad) bad = "count " $3 " where " (NR - 1) " was due" }
			END { if (bad) print "BAD " bad; else print "COUNTED " NR }')
		{
			cat "/tmp/$name.out1" "/tmp/$name.err1" "/tmp/$name.api" "/tmp/$name.out2" \
				"/tmp/$name.err2"
			echo "counted after the restore: $(grep -c 'KILN-L2: count' "/tmp/$name.out2")"
			echo "$verdict"
		} | tr -d '\r' >"/tmp/$name.log"
		check "$name" "$status" 143 'HTTP/1.1 204' '^COUNTED' \
			'counted after the restore: ([1-9][0-9]|[2-9])'
	fi
fi
