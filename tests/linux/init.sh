#!/bin/sh
# /init of kiln's test initramfs (tests/linux/build-initramfs.sh puts it there). It runs as PID 1
# with the console on stdin/stdout and reports on lines starting with "KILN-INIT: ", which the
# test harness matches:
#
#   KILN-INIT: start
#   KILN-INIT: uptime_s=<seconds since the kernel started, from /proc/uptime>
#   KILN-INIT: nproc=<online CPUs>
#   KILN-INIT: memtotal_kb=<MemTotal>
#   KILN-INIT: cpus ok | KILN-INIT: FAIL cpus ...         (when kiln.expect_cpus=N is given)
#   KILN-INIT: mem ok | KILN-INIT: FAIL mem ...           (when kiln.expect_mem_mb=M is given)
#   KILN-INIT: disk read ok | KILN-INIT: FAIL disk read ...  (when kiln.disk_sha=H is given)
#   KILN-INIT: disk write ok                              (when kiln.disk_token=T is given)
#   KILN-INIT: hwrng ok | KILN-INIT: FAIL hwrng ...       (when kiln.hwrng=1 is given)
#   KILN-INIT: virtio devices ok: ... | KILN-INIT: FAIL virtio devices ... (kiln.virtio_ids=L)
#   KILN-INIT: net ping ok | KILN-INIT: FAIL net ping ... (when kiln.net_ip=... is given)
#   KILN-INIT: net fetch ok | KILN-INIT: FAIL net fetch ... (and kiln.net_sha=H)
#   KILN-INIT: net serving                                (and kiln.net_serve=PORT)
#   KILN-INIT: vsock connect ok | KILN-INIT: FAIL vsock connect ... (when kiln.vsock_connect=P)
#   KILN-INIT: vsock listening                            (when kiln.vsock_listen=PORT)
#   KILN-INIT: vsock bench ready                          (when kiln.vsock_bench=1)
#   KILN-INIT: net bench features=<eth0's negotiated virtio feature bits, bit 0 first>
#   KILN-INIT: net bench tx R ok | KILN-INIT: FAIL net bench tx R ... (and kiln.net_bench=PORT)
#   KILN-INIT: net bench rx R ok | KILN-INIT: FAIL net bench rx R ...
#   KILN-INIT: type a line
#   KILN-INIT: got <the line> | KILN-INIT: FAIL no line read within <s>s
#   KILN-INIT: done
#
# and then powers the machine off. Kernel command-line parameters it reads (from /proc/cmdline):
#   kiln.expect_cpus=N     nproc must equal N
#   kiln.expect_mem_mb=M   MemTotal must be at most M MiB and at least M MiB less the kernel's
#                          share: the larger of 20% of M and 16 MiB (the test kernel keeps about
#                          11 MiB: MemTotal is 89% of 128 MiB, 94% of 256 MiB, 96% of 512 MiB)
#   kiln.read_timeout=S    seconds to wait for the typed line (default 60)
#   kiln.halt=reboot       end with "reboot -f" instead of "poweroff -f"
#   kiln.disk_sha=H        (root on a virtio disk) /kiln-check.bin must have SHA-256 H
#   kiln.disk_token=T      (root on a virtio disk, rw) write T to /kiln-written.txt and sync
#   kiln.hwrng=1           read 32 bytes from /dev/hwrng (virtio-rng): not all zero
#   kiln.virtio_ids=L      the virtio device ids in /sys/bus/virtio/devices, sorted, must be
#                          exactly L (comma-separated decimal, e.g. 2,4: a disk and an rng),
#                          and as many platform devices bound to the virtio-mmio driver, each
#                          at another address: every device found once, none twice
#   kiln.net_ip=A/P        give eth0 (virtio-net) address A/P and bring it up, then ping
#   kiln.net_peer=B        B three times (the host's end of the TAP)
#   kiln.net_sha=H         fetch http://B:PORT/blob over TCP: its SHA-256 must be H
#   kiln.net_port=PORT     that port (default 8000)
#   kiln.net_serve=PORT    serve /www/token (the word kiln-guest-token) over HTTP on PORT, for
#                          the host to fetch before it types the line
#   kiln.vsock_connect=P   (virtio-vsock; needs socat in the initramfs) connect to the host, CID
#   kiln.vsock_token=T     2, port P, send the line T and expect the line "host-ack T" back
#   kiln.vsock_listen=PORT echo every connection to vsock port PORT back to its sender (socat
#                          with cat), for the host to connect to before it types the line
#   kiln.vsock_bench=1     bench/vsock.py's guest end (needs socat): vsock port 5001 reads each
#                          connection to its end and discards it, then closes (the host's sign
#                          that all arrived); port 5002 reads a line "BYTES PORT" and sends BYTES
#                          zero bytes to the host (CID 2) port PORT on a connection of its own;
#                          port 5003 echoes each connection through a pipe (fork, no exec)
#   kiln.net_bench=PORT    bulk TCP for bench/virtio_net_linux.py, kiln.net_bench_rounds=R times
#                          (default 1): send kiln.net_bench_mb=M MiB (default 64) of zeros to
#                          B:PORT, then read B:PORT+1 to its end and drop it. dd does the I/O on
#                          the socket itself (nc -e), in 64 KiB reads and writes: nc's own copy
#                          loop moves 1 KiB a system call
#   kiln.snap_count=1      (a raw virtio disk /dev/vda of 64 sectors at least; the snapshot test,
#                          tests/linux/snapshot-linux.py) count forever: write "kiln-snap N" to
#                          sector N % 64 (fsync), drop the page cache, read the sector of N - 1
#                          back from the disk (it must hold its line), then say "count N". Never
#                          reaches "type a line": the test kills kiln.
# Modules in /lib/modules (build-initramfs.sh, KILN_INITRAMFS_MODULES) are loaded first, in name
# order.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

say() {
	echo "KILN-INIT: $*"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say start
for m in /lib/modules/*.ko; do
	[ -e "$m" ] || continue
	/bin/busybox insmod "$m" || say "FAIL insmod $m"
done
read -r up _ </proc/uptime
say "uptime_s=$up"

expect_cpus=
expect_mem_mb=
read_timeout=60
halt=poweroff
disk_sha=
disk_token=
hwrng=
virtio_ids=
net_ip=
net_peer=
net_sha=
net_serve=
net_port=8000
vsock_connect=
vsock_token=
vsock_listen=
vsock_bench=
net_bench=
net_bench_mb=64
net_bench_rounds=1
snap_count=
# shellcheck disable=SC2013 # the command line is one line of words
for word in $(cat /proc/cmdline); do
	case "$word" in
	kiln.expect_cpus=*) expect_cpus=${word#*=} ;;
	kiln.expect_mem_mb=*) expect_mem_mb=${word#*=} ;;
	kiln.read_timeout=*) read_timeout=${word#*=} ;;
	kiln.halt=*) halt=${word#*=} ;;
	kiln.disk_sha=*) disk_sha=${word#*=} ;;
	kiln.disk_token=*) disk_token=${word#*=} ;;
	kiln.hwrng=*) hwrng=${word#*=} ;;
	kiln.virtio_ids=*) virtio_ids=${word#*=} ;;
	kiln.net_ip=*) net_ip=${word#*=} ;;
	kiln.net_peer=*) net_peer=${word#*=} ;;
	kiln.net_sha=*) net_sha=${word#*=} ;;
	kiln.net_serve=*) net_serve=${word#*=} ;;
	kiln.net_port=*) net_port=${word#*=} ;;
	kiln.vsock_connect=*) vsock_connect=${word#*=} ;;
	kiln.vsock_token=*) vsock_token=${word#*=} ;;
	kiln.vsock_listen=*) vsock_listen=${word#*=} ;;
	kiln.vsock_bench=*) vsock_bench=${word#*=} ;;
	kiln.net_bench=*) net_bench=${word#*=} ;;
	kiln.net_bench_mb=*) net_bench_mb=${word#*=} ;;
	kiln.net_bench_rounds=*) net_bench_rounds=${word#*=} ;;
	kiln.snap_count=*) snap_count=${word#*=} ;;
	esac
done

fail() {
	say "FAIL $*"
}

cpus=$(nproc)
say "nproc=$cpus"
memtotal_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
say "memtotal_kb=$memtotal_kb"

if [ -n "$expect_cpus" ]; then
	if [ "$cpus" = "$expect_cpus" ]; then
		say "cpus ok"
	else
		fail "cpus: nproc is $cpus, expected $expect_cpus"
	fi
fi

if [ -n "$expect_mem_mb" ]; then
	hi_kb=$((expect_mem_mb * 1024))
	slack_kb=$((hi_kb / 5))
	[ $slack_kb -lt $((16 * 1024)) ] && slack_kb=$((16 * 1024))
	lo_kb=$((hi_kb - slack_kb))
	if [ "$memtotal_kb" -le "$hi_kb" ] && [ "$memtotal_kb" -ge "$lo_kb" ]; then
		say "mem ok"
	else
		fail "mem: MemTotal is $memtotal_kb kB, expected $lo_kb..$hi_kb kB for ${expect_mem_mb} MiB"
	fi
fi

if [ -n "$disk_sha" ]; then
	got=$(sha256sum /kiln-check.bin 2>&1 | awk '{ print $1 }')
	if [ "$got" = "$disk_sha" ]; then
		say "disk read ok"
	else
		fail "disk read: /kiln-check.bin has SHA-256 $got, expected $disk_sha"
	fi
fi

if [ -n "$disk_token" ]; then
	if echo "$disk_token" >/kiln-written.txt && sync; then
		say "disk write ok"
	else
		fail "disk write: cannot write /kiln-written.txt"
	fi
fi

if [ -n "$virtio_ids" ]; then
	# Each virtio device's id (sysfs: 0x0002), sorted, and the virtio-mmio transports bound:
	# a transport probed twice would show as a second virtio device and a second binding.
	# /proc/iomem's lines for them follow, for the log.
	ids=$(for d in /sys/bus/virtio/devices/*/device; do
		[ -e "$d" ] && echo $(($(cat "$d")))
	done | sort -n)
	bound=$(for d in /sys/bus/platform/drivers/virtio-mmio/*; do
		[ -e "$d/driver" ] && basename "$d"
	done | sort)
	nbound=$(echo "$bound" | wc -w)
	nids=$(echo "$ids" | wc -w)
	ids=$(echo "$ids" | tr '\n' ',')
	ids=${ids%,}
	bound=$(echo "$bound" | tr '\n' ' ')
	if [ "$ids" = "$virtio_ids" ] && [ "$nbound" = "$nids" ]; then
		say "virtio devices ok: ids $ids on $bound"
	else
		fail "virtio devices: ids '$ids' (expected '$virtio_ids') on $nbound bound transports: $bound"
	fi
	grep 'LNRO0005\|virtio' /proc/iomem | sed 's/^/KILN-INIT: iomem /'
fi

if [ -n "$hwrng" ]; then
	bytes=$(head -c 32 /dev/hwrng 2>/dev/null | od -An -tx1 | tr -d ' \n')
	if [ ${#bytes} -eq 64 ] && [ "$bytes" != "$(printf '0%.0s' $(seq 64))" ]; then
		say "hwrng ok"
	else
		fail "hwrng: read '$bytes' from /dev/hwrng"
	fi
fi

if [ -n "$net_ip" ]; then
	ip link set lo up
	if ! ip addr add "$net_ip" dev eth0 || ! ip link set eth0 up ||
		! ip route add default via "$net_peer"; then
		fail "net: cannot configure eth0 with $net_ip"
	elif ping -c 3 -W 5 "$net_peer" >/dev/null 2>&1; then
		say "net ping ok"
	else
		fail "net ping: no reply from $net_peer"
	fi
	if [ -n "$net_sha" ]; then
		got=$(wget -q -O - "http://$net_peer:$net_port/blob" 2>/dev/null | sha256sum | awk '{ print $1 }')
		if [ "$got" = "$net_sha" ]; then
			say "net fetch ok"
		else
			fail "net fetch: http://$net_peer:$net_port/blob has SHA-256 $got, expected $net_sha"
		fi
	fi
	if [ -n "$net_serve" ]; then
		mkdir -p /www && echo kiln-guest-token >/www/token
		httpd -p "$net_serve" -h /www && say "net serving"
	fi
	if [ -n "$net_bench" ]; then
		say "net bench features=$(cat /sys/class/net/eth0/device/features 2>/dev/null)"
		round=1
		while [ "$round" -le "$net_bench_rounds" ]; do
			# The host times both directions; here only whether each ran to its end. dd's record
			# counts go to /tmp, and to the console only with a failure.
			if nc "$net_peer" "$net_bench" -e dd if=/dev/zero bs=64k count=$((net_bench_mb * 16)) \
				2>/tmp/bench.err; then
				say "net bench tx $round ok"
			else
				fail "net bench tx $round: $(tr '\n' ' ' </tmp/bench.err)"
			fi
			if nc "$net_peer" $((net_bench + 1)) -e dd of=/dev/null bs=64k 2>/tmp/bench.err; then
				say "net bench rx $round ok"
			else
				fail "net bench rx $round: $(tr '\n' ' ' </tmp/bench.err)"
			fi
			round=$((round + 1))
		done
	fi
fi

# -t 30: after one direction ends, socat waits that long (not its default 0.5 s) for the other,
# since an emulated machine can take longer than that to deliver the last bytes.
if [ -n "$vsock_connect" ]; then
	got=$(echo "$vsock_token" | socat -t 30 - "VSOCK-CONNECT:2:$vsock_connect" 2>&1)
	if [ "$got" = "host-ack $vsock_token" ]; then
		say "vsock connect ok"
	else
		fail "vsock connect: host port $vsock_connect answered '$got', expected 'host-ack $vsock_token'"
	fi
fi
if [ -n "$vsock_listen" ]; then
	socat -t 30 "VSOCK-LISTEN:$vsock_listen,fork" EXEC:cat &
	say "vsock listening"
fi
# -b 65536: socat moves 64 KiB a read, not its default 8 KiB, so the guest's own cost per byte is
# small beside the device's. Port 5002's helper is a file: socat would split its line at commas.
if [ "$vsock_bench" = 1 ]; then
	cat >/tmp/vsock-send <<'SEND'
#!/bin/sh
read -r bytes port
exec socat -u -b 65536 "OPEN:/dev/zero,readbytes=$bytes" "VSOCK-CONNECT:2:$port"
SEND
	chmod 0755 /tmp/vsock-send
	socat -u -b 65536 VSOCK-LISTEN:5001,fork OPEN:/dev/null &
	socat VSOCK-LISTEN:5002,fork EXEC:/tmp/vsock-send &
	socat VSOCK-LISTEN:5003,fork PIPE &
	say "vsock bench ready"
fi

if [ "$snap_count" = 1 ]; then
	n=0
	while :; do
		echo "kiln-snap $n" | dd of=/dev/vda bs=512 seek=$((n % 64)) count=1 \
			conv=sync,notrunc,fsync 2>/dev/null || fail "disk write of $n"
		if [ "$n" -gt 0 ]; then
			echo 3 >/proc/sys/vm/drop_caches
			got=$(dd if=/dev/vda bs=512 skip=$(((n - 1) % 64)) count=1 2>/dev/null | head -n 1)
			[ "$got" = "kiln-snap $((n - 1))" ] || fail "disk: the sector of $((n - 1)) holds '$got'"
		fi
		say "count $n"
		n=$((n + 1))
		usleep 50000
	done
fi

say "type a line"
# shellcheck disable=SC3045 # busybox ash has read -t
if read -t "$read_timeout" -r line; then
	say "got $line"
else
	fail "no line read within ${read_timeout}s"
fi

# Every check ran; the harness passes a run with "done" and no "FAIL" line.
say "done"
if [ "$halt" = reboot ]; then
	reboot -f
else
	poweroff -f
fi
# Not reached: without a power-off method the kernel halts (and, as PID 1 exits, panics).
sleep 1000000
