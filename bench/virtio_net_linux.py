#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""virtio-net bulk TCP throughput with a Linux guest: kiln vs QEMU microvm on the same kind of TAP.

Both monitors boot the same guest: Debian's packaged kernel (the newest /boot/vmlinuz-6.1.*, the
one the test linux-kvm-debian-net boots) with kiln's busybox initramfs (tests/linux/init.sh, its
virtio_mmio and virtio_net modules loaded first), 1 vCPU, 256 MiB, eth0 at 10.0.0.2/24 on a TAP
(vnet_hdr) at 10.0.0.1/24 in a network namespace of this script's own. /init's bench mode
(kiln.net_bench=PORT) runs R rounds of:

    guest -> host  dd if=/dev/zero bs=64k count=16*--mb-out, written straight into a TCP
                   connection to 10.0.0.1:PORT (busybox nc -e); this script receives it to its
                   end: throughput = bytes after the first read / (end of stream - first read)
    host -> guest  this script sends --mb-in MiB to the guest's connection to PORT+1 and shuts
                   its side; the guest's dd reads it to its end into /dev/null, then closes:
                   throughput = bytes / (start of sending - the guest's close)

Over the same intervals, from the monitor's /proc/PID/stat (all its threads), per 10^9 bytes:
VMM CPU = utime + stime - guest_time, the monitor's own work including the host kernel's TAP
and TCP work in its system calls (not this script's receiving or sending); guest CPU =
guest_time, its vCPU's time in the guest. Also per round: the TAP's frame counts each way
(/proc/net/dev: the data's average frame size shows the TSO at work) and this namespace's TCP
counters of loss and retransmission that moved (/proc/net/snmp, /proc/net/netstat).

The rows: kiln (--net tap=) and QEMU 7.2 -M microvm -accel kvm -cpu host with virtio-net-device
on -netdev tap (vhost=off: no vhost-net here; virtio-mmio modern, as kiln's). Each monitor boots
--boots times (alternating kiln and QEMU) and the table shows medians over every round. Needs
root, /dev/net/tun and a usable /dev/kvm whose guests can run user space (not PVM): `make
bench-net-linux` runs it in the real-KVM tier's machine. Where it cannot run it prints
"SKIP: <why>" and exits 77; nothing is measured then.

    virtio_net_linux.py --kiln build/kiln [--qemu qemu-system-x86_64] [--mb-out M] [--mb-in M]
                        [--rounds R] [--boots B] [--timeout S] [--json FILE] [-v]
"""

import argparse
import importlib.util
import json
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX = os.path.join(REPO, "tests", "linux")
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import virtio_test as vt  # noqa: E402

GUEST = "10.0.0.2"
PORT = 5201
CLK_TCK = os.sysconf("SC_CLK_TCK")
LINE = "bench done"
QEMU_NAME = "QEMU microvm"
# The virtio-net and ring feature bits worth naming in the report (virtio 1.2, 5.1.3, 6).
FEATURES = {0: "CSUM", 1: "GUEST_CSUM", 7: "GUEST_TSO4", 8: "GUEST_TSO6", 11: "HOST_TSO4",
            12: "HOST_TSO6", 15: "MRG_RXBUF", 28: "INDIRECT_DESC", 29: "EVENT_IDX",
            32: "VERSION_1"}


def skip(why):
    print("SKIP: virtio_net_linux: %s: nothing measured" % why)
    return 77


def load_tier():
    """tests/kvm/run-tier.py as a module: its debian_kernel() picks the kernel the tier boots."""
    spec = importlib.util.spec_from_file_location(
        "run_tier", os.path.join(REPO, "tests", "kvm", "run-tier.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kvm_problem():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        return "no usable /dev/kvm (%s); `make bench-net-linux` runs it on kvm_amd in the " \
            "real-KVM tier" % e.strerror
    if os.path.isdir("/sys/module/kvm_pvm"):
        return "this host's KVM is PVM, whose guests cannot run user space (docs/linux.md)"
    return None


def cpu_s(pid):
    """(user+system seconds outside the guest, seconds running the guest) of the process, all its
    threads: utime + stime - guest_time, guest_time (fields 14, 15, 43 of /proc/PID/stat; the
    kernel counts a vCPU's time in the guest in its utime and in guest_time)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    utime, stime, guest = int(fields[11]), int(fields[12]), int(fields[40])
    return (utime + stime - guest) / CLK_TCK, guest / CLK_TCK


def tcp_counters():
    """This network namespace's TCP and TcpExt counters (/proc/net/snmp and /proc/net/netstat)."""
    counters = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path) as f:
            lines = f.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            kind = names.split(":")[0]
            if kind in ("Tcp", "TcpExt"):
                for n, v in zip(names.split()[1:], values.split()[1:]):
                    counters[n] = int(v)
    return counters


# Counters that say a transfer went wrong (losses, retransmissions, out-of-order data).
TCP_TROUBLE = ("RetransSegs", "TCPLostRetransmit", "TCPTimeouts", "TCPDSACKRecv", "TCPDSACKOldSent",
               "TCPOFOQueue", "TCPRcvQDrop", "TCPBacklogDrop", "InErrs")


def tap_frames():
    """Frames the TAP took from the monitor (the guest's) and gave it (for the guest), from
    /proc/net/dev: this namespace's (/sys/class/net shows the namespace that mounted /sys)."""
    with open("/proc/net/dev") as f:
        for line in f:
            name, sep, rest = line.partition(":")
            if sep and name.strip() == vt.NET_TAP:
                v = rest.split()
                return {"from_guest": int(v[1]), "to_guest": int(v[9])}
    return {"from_guest": 0, "to_guest": 0}


def snapshot(pid):
    return time.monotonic(), cpu_s(pid), tcp_counters(), tap_frames()


def interval(start, pid):
    t0, cpu0, c0, f0 = start
    t1, cpu1, c1, f1 = snapshot(pid)
    r = {"s": t1 - t0, "cpu_s": None, "guest_cpu_s": None,
         "tcp": {k: c1.get(k, 0) - c0.get(k, 0) for k in TCP_TROUBLE if c1.get(k, 0) != c0.get(k, 0)},
         "frames": {k: f1[k] - f0[k] for k in f1}}
    if cpu0 and cpu1:
        r["cpu_s"], r["guest_cpu_s"] = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    return r


class Peer(threading.Thread):
    """The host end of /init's bench rounds: per round, one connection to PORT (received to its
    end) and one to PORT+1 (sent M MiB). Each round's results land in self.rounds."""

    def __init__(self, lsocks, size_out, size_in, rounds, deadline):
        super().__init__(daemon=True)
        self.lsocks, self.n, self.deadline = lsocks, rounds, deadline
        self.size_out, self.size_in = size_out, size_in
        self.pid, self.rounds, self.problems = None, [], []
        self.chunk = b"\0" * (1 << 20)

    def accept(self, ls):
        ls.settimeout(max(1, self.deadline - time.monotonic()))
        c, _ = ls.accept()
        c.settimeout(max(1, self.deadline - time.monotonic()))
        return c

    def receive(self, c):
        buf = bytearray(1 << 20)
        first = c.recv_into(buf)
        start = snapshot(self.pid)
        total = first
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            total += k
        r = interval(start, self.pid)
        if total != self.size_out:
            self.problems.append("guest -> host: %d bytes, expected %d" % (total, self.size_out))
        return dict(r, total=total, bytes=total - first)

    def send(self, c):
        start = snapshot(self.pid)
        left = self.size_in
        while left:
            left -= c.send(memoryview(self.chunk)[:min(left, len(self.chunk))])
        c.shutdown(socket.SHUT_WR)
        # The guest closes once its dd has read everything: that is the end.
        extra = c.recv(1)
        r = interval(start, self.pid)
        if extra:
            self.problems.append("host -> guest: the guest sent data back")
        return dict(r, total=self.size_in, bytes=self.size_in)

    def run(self):
        try:
            for _ in range(self.n):
                r = {}
                with self.accept(self.lsocks[0]) as c:
                    r["guest->host"] = self.receive(c)
                with self.accept(self.lsocks[1]) as c:
                    r["host->guest"] = self.send(c)
                self.rounds.append(r)
        except Exception as e:  # noqa: BLE001: reported, and the boot is stopped
            self.problems.append("round %d: %s: %s" % (len(self.rounds) + 1, type(e).__name__, e))


def features(text):
    """The named feature bits /init's "net bench features=" line (bit 0 first) has set."""
    m = re.search(r"KILN-INIT: net bench features=([01]+)", text)
    if not m:
        return None
    bits = m.group(1)
    return [name for bit, name in sorted(FEATURES.items()) if bit < len(bits) and bits[bit] == "1"]


def listen():
    """The host end's two listening sockets (PORT, PORT+1) on the TAP's address."""
    lsocks = []
    for port in (PORT, PORT + 1):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((vt.NET_HOST, port))
        s.listen(1)
        lsocks.append(s)
    return lsocks


def one_boot(argv, a):
    """Boots one monitor; returns (rounds, problem or None, console text)."""
    deadline = time.monotonic() + a.timeout
    # Fresh for each boot: a connection a failed boot left queued must not reach the next.
    lsocks = listen()
    peer = Peer(lsocks, a.mb_out << 20, a.mb_in << 20, a.rounds, deadline)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    peer.pid = p.pid
    peer.start()
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    out, problem, done_at = b"", None, None
    while True:
        now = time.monotonic()
        if now > deadline:
            problem = "no power-off within %d s (--timeout)" % a.timeout
            break
        # The host end gave up: the guest would wait for it for ever.
        if peer.problems and not peer.is_alive():
            break
        # QEMU microvm may not power off; /init is done by then.
        if done_at is not None and now - done_at > 10:
            break
        if not sel.select(timeout=0.5):
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        if a.verbose:
            sys.stderr.write(chunk.decode(errors="replace"))
        out += chunk
        if b"KILN-INIT: type a line" in out and not p.stdin.closed:
            p.stdin.write((LINE + "\n").encode())
            p.stdin.close()
        if done_at is None and b"KILN-INIT: done" in out:
            done_at = now
    if p.poll() is None:
        p.kill()
    p.wait()
    for s in lsocks:
        try:
            s.shutdown(socket.SHUT_RDWR)  # wakes a peer still waiting in accept()
        except OSError:
            pass
        s.close()
    peer.join(5)
    text = out.decode(errors="replace")
    fails = re.findall(r"KILN-INIT: FAIL .*", text)
    if peer.problems or fails:
        problem = "; ".join(([problem] if problem else []) + peer.problems + [f.strip() for f in fails])
    if not problem and len(peer.rounds) != a.rounds:
        problem = "%d of %d rounds ran (status %s)" % (len(peer.rounds), a.rounds, p.returncode)
    return peer.rounds, problem, text


def summary(rounds):
    """Medians over the rounds, per direction; the CPU figures per 10^9 bytes moved."""
    res = {}
    for d in ("guest->host", "host->guest"):
        rs = [r[d] for r in rounds if r[d]["bytes"] > 0 and r[d]["s"] > 0]
        if not rs:
            continue
        gbps = [8 * r["bytes"] / r["s"] / 1e9 for r in rs]
        per_gb = {k: [r[k] / (r["bytes"] / 1e9) for r in rs if r[k] is not None]
                  for k in ("cpu_s", "guest_cpu_s")}
        res[d] = {"mib": statistics.median(r["total"] for r in rs) / (1 << 20),
                  "s": statistics.median(r["s"] for r in rs),
                  "gbit_s": statistics.median(gbps),
                  "vmm_cpu_s_per_gb": statistics.median(per_gb["cpu_s"]) if per_gb["cpu_s"] else None,
                  "guest_cpu_s_per_gb": (statistics.median(per_gb["guest_cpu_s"])
                                         if per_gb["guest_cpu_s"] else None),
                  "gbit_s_each_round": [round(g, 4) for g in gbps],
                  "tcp_trouble_each_round": [r["tcp"] for r in rs],
                  # The data's frames and the other way's (ACKs), as the TAP counted them.
                  "frames_each_round": [
                      (r["frames"]["from_guest"], r["frames"]["to_guest"]) if d == "guest->host"
                      else (r["frames"]["to_guest"], r["frames"]["from_guest"]) for r in rs]}
    return res


def fmt(x, form):
    return "-" if x is None else form % x


def report(results, a, kernel_name, qemu_version):
    """Prints the table, the kiln / QEMU ratios and each round's figures; fills in each row's
    "summary"."""
    print("\nvirtio-net bulk TCP, Linux guest (%s, 1 vCPU, 256 MiB) over a TAP, %d MiB guest to "
          "host and %d MiB host to guest a round, %d round(s) x %d boot(s), medians" % (
              kernel_name, a.mb_out, a.mb_in, a.rounds, a.boots))
    print("QEMU: %s, -M microvm -cpu host, virtio-net-device, tap vhost=off" % qemu_version)
    hdr = "%-14s %-12s %5s %8s %8s %13s %15s" % ("VMM", "direction", "MiB", "seconds", "Gbit/s",
                                                "VMM CPU s/GB", "guest CPU s/GB")
    print(hdr)
    print("-" * len(hdr))
    for name, res in results.items():
        if not res["rounds"]:
            print("%-14s failed: %s" % (name, "; ".join(res["problems"]) or "no round ran"))
            continue
        res["summary"] = summary(res["rounds"])
        for d, s in res["summary"].items():
            print("%-14s %-12s %5.0f %8.2f %8.4f %13s %15s" % (
                name, d, s["mib"], s["s"], s["gbit_s"], fmt(s["vmm_cpu_s_per_gb"], "%.1f"),
                fmt(s["guest_cpu_s_per_gb"], "%.1f")))
        if res["problems"]:
            print("%-14s (also: %s)" % ("", "; ".join(res["problems"])))
    k, q = results["kiln"].get("summary"), results.get(QEMU_NAME, {}).get("summary")
    if k and q:
        for d in (d for d in k if d in q):
            cpu = ""
            if k[d]["vmm_cpu_s_per_gb"] and q[d]["vmm_cpu_s_per_gb"]:
                cpu = ", VMM CPU per GB %.2fx" % (k[d]["vmm_cpu_s_per_gb"] / q[d]["vmm_cpu_s_per_gb"])
            print("kiln / QEMU, %s: throughput %.2fx%s" % (d, k[d]["gbit_s"] / q[d]["gbit_s"], cpu))
    print()
    for name, res in results.items():
        for d, s in res.get("summary", {}).items():
            trouble = ["%d: %s" % (i + 1, ", ".join("%s %d" % kv for kv in t.items()))
                       for i, t in enumerate(s["tcp_trouble_each_round"]) if t]
            frames = ["%d/%d" % f for f in s["frames_each_round"]]
            sizes = [s["mib"] * 1024 / f[0] for f in s["frames_each_round"] if f[0]]
            print("%s, %s, Gbit/s each round: %s; TAP frames data/other way: %s (%s KiB a data "
                  "frame)%s" % (
                name, d, s["gbit_s_each_round"], " ".join(frames),
                fmt(statistics.median(sizes) if sizes else None, "%.1f"),
                "; TCP trouble on this side in round " + "; ".join(trouble) if trouble else ""))
        if res.get("features") is not None:
            print("%s: the guest negotiated %s" % (name, " ".join(res["features"])))
    print("VMM CPU: the monitor's user+system time outside the guest (with the host kernel's TAP and "
          "TCP work in its system calls); guest CPU: its vCPU's time in the guest")
    print("(nested under TCG, these numbers show relative cost, not absolute speed)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    # Guest to host runs about 3 times slower than host to guest in the real-KVM tier: sizes for
    # about 3 s each there on a quiet host (2 cores; 30 times as long with both busy elsewhere).
    ap.add_argument("--mb-out", type=int, default=32, help="MiB guest to host a round (default 32)")
    ap.add_argument("--mb-in", type=int, default=96, help="MiB host to guest a round (default 96)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per boot (default 3)")
    ap.add_argument("--boots", type=int, default=2, help="boots per monitor (default 2)")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per boot (default 240)")
    ap.add_argument("--json")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo the consoles to stderr")
    a = ap.parse_args()
    if min(a.mb_out, a.mb_in, a.rounds, a.boots) < 1:
        ap.error("--mb-out, --mb-in, --rounds and --boots must be at least 1")

    why = kvm_problem()
    if why:
        return skip(why)
    kernel, version = load_tier().debian_kernel()
    if not kernel:
        return skip("no Debian 6.1 kernel with its modules (linux-image-amd64)")
    tmp = tempfile.mkdtemp(prefix="kiln-bench-net-linux-")
    try:
        initrd = os.path.join(tmp, "initramfs.cpio")
        env = dict(os.environ, KILN_INITRAMFS_NO_MODULE_TOOLS="1",
                   KILN_INITRAMFS_MODULES="virtio_mmio virtio_net", KILN_INITRAMFS_KVER=version)
        r = subprocess.run([os.path.join(LINUX, "build-initramfs.sh"), initrd], env=env)
        if r.returncode == 77:
            return skip("busybox-static is missing")
        if r.returncode:
            print("virtio_net_linux: building the initramfs failed (status %d)" % r.returncode)
            return 1
        why = vt.net_setup()
        if why:
            return skip(why)
        # quiet: the boot is not measured, and each console byte is an exit.
        cmdline = ("console=ttyS0 panic=-1 quiet kiln.net_ip=%s/24 kiln.net_peer=%s "
                   "kiln.net_bench=%d kiln.net_bench_mb=%d kiln.net_bench_rounds=%d"
                   % (GUEST, vt.NET_HOST, PORT, a.mb_out, a.rounds))
        rows = {"kiln": [a.kiln, "run", "-k", kernel, "-i", initrd, "-c", "1", "-m", "256M",
                         "--net", "tap=" + vt.NET_TAP, "-p", cmdline]}
        qemu = shutil.which(a.qemu)
        qemu_version = "not found"
        if qemu:
            rows[QEMU_NAME] = [
                qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-smp", "1", "-m", "256",
                "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
                "-global", "virtio-mmio.force-legacy=false",
                "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=off" % vt.NET_TAP,
                "-device", "virtio-net-device,netdev=n0",
                "-kernel", kernel, "-initrd", initrd, "-append", cmdline]
            qemu_version = subprocess.run([qemu, "--version"], stdout=subprocess.PIPE,
                                          text=True).stdout.split("\n")[0]
        results = {name: {"argv": argv, "rounds": [], "problems": []} for name, argv in rows.items()}
        for boot in range(a.boots):
            # Every other boot in the other order, so a drift in the machine's speed (TCG under
            # a nested KVM is noisy) falls on both rows alike.
            order = list(rows.items())
            for name, argv in (order if boot % 2 == 0 else order[::-1]):
                print("virtio_net_linux: %s, boot %d of %d ..." % (name, boot + 1, a.boots),
                      file=sys.stderr, flush=True)
                t0 = time.monotonic()
                rounds, problem, text = one_boot(argv, a)
                results[name]["rounds"] += rounds
                results[name]["features"] = features(text) or results[name].get("features")
                line = "virtio_net_linux: %s: %d round(s) in %.0f s" % (name, len(rounds),
                                                                       time.monotonic() - t0)
                if problem:
                    results[name]["problems"].append(problem)
                    line += ": " + problem + "\n  console tail: " + text[-600:].replace("\n", "\n  ")
                print(line, file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    report(results, a, os.path.basename(kernel), qemu_version)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"kernel": kernel, "cmdline": cmdline, "qemu": qemu_version,
                       "mib_out": a.mb_out, "mib_in": a.mb_in, "rounds": a.rounds,
                       "boots": a.boots, "rows": results}, f, indent=1)
    return 0 if results["kiln"]["rounds"] else 1


if __name__ == "__main__":
    sys.exit(main())
