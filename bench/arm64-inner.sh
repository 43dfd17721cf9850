# arm64-inner.sh: bench/arm64.py's measurements, sourced by tests/arm64/l1-init.sh in the arm64
# tier's guest (L1, cwd /kiln) in place of the tier's inner.sh. Runs kiln and QEMU
# (qemu-system-aarch64 -M virt -accel kvm) one after the other, with the same guest, memory and
# vCPUs, kiln.rounds= times (the order alternates each round), through vmm-probe, and reports
# each run as one line "KILN-ARM64: BENCH row=kiln|kiln-thp|qemu test=hello|linux round=N ok=0|1
# first_ns=... marker_ns=... exit_ns=... rss_kib=... hwm_kib=... guest_kib=... status=...
# signal=... timed_out=... guest_up_s=..." (bench/vmm_probe.c says what each is; guest_up_s is
# the Linux guest's /proc/uptime at its init's first line, -1 for the hello guest). Sets
# $failed (0, or 1 when a run failed).
# shellcheck disable=SC2034 # l1-init.sh, which sources this, reads $failed
failed=0
arg() { # NAME DEFAULT: kiln.NAME= from L1's command line
	v=$(sed -n "s/.*kiln\\.$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline)
	echo "${v:-$2}"
}
rounds=$(arg rounds 3)
cpus=$(arg cpus 1)
mem=$(arg mem 256M)
case $mem in
*M) mem_kib=$((${mem%M} * 1024)) ;;
*G) mem_kib=$((${mem%G} * 1048576)) ;;
esac
append="console=ttyAMA0 panic=-1 quiet"
QEMU=/qemu/qemu-system-aarch64
qemu_args="-M virt,gic-version=3 -cpu host -accel kvm -nographic -nic none -m $mem -smp $cpus"
say "qemu: $($QEMU --version | head -n1)"
say "bench: $rounds rounds, $cpus vCPUs, $mem"

# probe ROW TEST ROUND MARKER WANT COMMAND...: one run through vmm-probe; ok=1 when the VMM
# exited with status 0, its console holds MARKER and every line in WANT (one ERE a line).
probe() {
	row=$1 test=$2 round=$3 marker=$4 want=$5
	shift 5
	log=/tmp/$row-$test-$round
	res=$(./vmm-probe -t 300 -m "$marker" -g "$mem_kib" -o "$log.raw" "$@" </dev/null 2>"$log.err")
	tr -d '\r' <"$log.raw" >"$log.out"
	up=$(sed -n 's/^KILN-L2: user space up, \([0-9.]*\) s .*/\1/p' "$log.out")
	ok=1
	case " $res " in *" status=0 "*) ;; *) ok=0 ;; esac
	echo "$want" | while read -r pat; do
		[ -z "$pat" ] || grep -qE -- "$pat" "$log.out" || echo miss
	done | grep -q miss && ok=0
	if [ $ok = 0 ]; then
		failed=1
		tail -n 30 "$log.out" "$log.err" | sed "s/^/  $row-$test | /"
	fi
	say "BENCH row=$row test=$test round=$round ok=$ok $res guest_up_s=${up:--1}"
}

# kiln's options for a row: kiln (the defaults: RAM a memfd) or kiln-thp (--enable-thp: RAM
# anonymous memory with transparent huge pages, as QEMU's is under L1's THP "always").
kiln_opts() {
	[ "$1" = kiln-thp ] && echo --enable-thp
}
hello() { # ROW ROUND
	if [ "$1" != qemu ]; then
		# shellcheck disable=SC2046 # kiln_opts gives whole words
		probe "$1" hello "$2" 'Hello from an arm64 guest' '' \
			./kiln run $(kiln_opts "$1") -m "$mem" -c "$cpus" -k guests/hello.img
	else
		# shellcheck disable=SC2086 # qemu_args is a list of words
		probe qemu hello "$2" 'Hello from an arm64 guest' '' \
			$QEMU $qemu_args -kernel guests/hello-virt.img
	fi
}
linux() { # ROW ROUND
	want="^KILN-L2: cpus $cpus\$
^KILN-L2: disk: kiln-arm64-disk\$
^KILN-L2: poweroff\$"
	if [ "$1" != qemu ]; then
		# shellcheck disable=SC2046
		probe "$1" linux "$2" 'KILN-L2: user space up' "$want" \
			./kiln run $(kiln_opts "$1") -m "$mem" -c "$cpus" -k linux/Image -i linux/l2.cpio \
			--disk linux/disk.img -p "$append"
	else
		# shellcheck disable=SC2086
		probe qemu linux "$2" 'KILN-L2: user space up' "$want" \
			$QEMU $qemu_args -kernel linux/Image -initrd linux/l2.cpio \
			-drive file=linux/disk.img,format=raw,if=none,id=vda \
			-device virtio-blk-device,drive=vda -append "$append"
	fi
}

# Each round runs the three rows in turn, starting one further along each time.
r=1
while [ $r -le "$rounds" ]; do
	case $((r % 3)) in
	1) order="kiln kiln-thp qemu" ;;
	2) order="kiln-thp qemu kiln" ;;
	0) order="qemu kiln kiln-thp" ;;
	esac
	for row in $order; do hello "$row" $r; done
	for row in $order; do linux "$row" $r; done
	r=$((r + 1))
done
