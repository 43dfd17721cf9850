#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""virtio-vsock benchmark: kiln's Unix-socket bridge (--vsock) vs QEMU's vhost-vsock.

Both monitors boot the same Linux guest: kiln's test kernel (tests/linux, CONFIG_VIRTIO_VSOCKETS
built in) and its busybox initramfs with socat, 1 vCPU, 256 MiB, the same command line. Its /init
(tests/linux/init.sh, kiln.vsock_bench=1) serves three vsock ports with socat: 5001 discards
what it reads and closes at end of file, 5002 sends the host BYTES zero bytes on a connection of
its own when asked with a line "BYTES PORT", 5003 echoes. The host side talks to kiln through its
Unix socket (docs/vsock.md: "CONNECT <port>\\n", "OK <host port>\\n"; the guest's connections
arrive on "<uds>_<port>") and to QEMU through AF_VSOCK sockets (CID 3), QEMU running

    qemu-system-x86_64 -M microvm -accel kvm -smp 1 -m 256 ...
                       -device vhost-vsock-device,guest-cid=3

so QEMU's data path is the host kernel's vhost_vsock (/dev/vhost-vsock), kiln's its I/O thread and
vCPU thread in user space. Both VMs run at once and the measurements alternate between them
round by round (which goes first alternates too), so a drift in the machine's speed falls on
both; an unmeasured round (16 MiB each way, 5 connections) comes first. Each round, for each
monitor:

  host->guest  connect to port 5001, send --mib MiB, shut down writing, read until the guest
               closes (it closes once it has read everything): MiB / (close - connect)
  guest->host  listen, ask port 5002 for --mib MiB, accept the guest's connection and read to
               its end, counting: MiB / (end - accept); the count must be exact
  connect      --conns times, one after another: connect to port 5003 (for kiln through the
               Unix socket, its CONNECT line and its OK line), send 1 byte, read it back, close;
               the time from before connect() to the byte's return

The table gives the median and the best of the rounds (MiB/s; Gbit/s = 2^20 * 8 bits / 10^9 of
the median), the median and 90th percentile of all connections, and kiln/QEMU ratios; under it
each round's rates and the longest the host waited on one send() or recv(), where a stall would
show. The issue's goal (printed, never enforced): kiln's median at least 0.8x vhost-vsock's,
each way. Under the real-KVM tier's nested TCG (make bench-vsock) every number is the emulated
machine's: the ratios say what each monitor's path costs relative to the other, not how fast
either is on silicon.

Without a usable /dev/kvm, or without what the test kernel or the initramfs needs (their scripts
exit 77), it prints one SKIP line with the reason and exits 0; without QEMU or /dev/vhost-vsock it
measures kiln alone and says why there is no ratio. Exit status 1 when kiln fails (a build
script's error, a transfer short, a boot that never got ready).

    vsock.py --kiln build/kiln [--mib N] [--runs R] [--conns M] [--json FILE] [-v]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX = os.path.join(REPO, "tests", "linux")
GUEST_CID = 3
SINK_PORT, SOURCE_PORT, ECHO_PORT = 5001, 5002, 5003  # tests/linux/init.sh, kiln.vsock_bench
HOST_PORT = 6002                                        # where the guest sends to
READY = "KILN-INIT: vsock bench ready"
CHUNK = 1 << 20
MIB = 1 << 20


def log(msg):
    print("vsock: " + msg, file=sys.stderr, flush=True)


def gbit(mib_s):
    return mib_s * MIB * 8 / 1e9


class Guest:
    """One monitor running the guest, its console collected by a thread of its own."""

    def __init__(self, name, argv, verbose):
        self.name, self.argv, self.verbose = name, argv, verbose
        self.lines, self.ready = [], threading.Event()
        self.saw_ready, self.failed = False, None
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.t0 = time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            text = raw.decode(errors="replace").rstrip("\r\n")
            self.lines.append(text)
            if self.verbose:
                log("%s %6.1fs | %s" % (self.name.split()[0], time.monotonic() - self.t0, text))
            if READY in text:
                self.saw_ready = True
                self.ready.set()
            if "KILN-INIT: FAIL" in text and not self.failed:
                self.failed = text
        self.ready.set()  # the monitor ended: nobody waits for nothing

    def tail(self, n=15):
        return "\n".join("    " + t for t in self.lines[-n:])

    def stop(self):
        """The line /init waits for, so it powers off; the monitor is killed if it lingers."""
        try:
            self.p.stdin.write(b"bye\n")
            self.p.stdin.flush()
        except OSError:
            pass
        try:
            return self.p.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            return self.p.wait()


class KilnEnd:
    """The host's side of kiln's vsock: its Unix socket (docs/vsock.md)."""

    def __init__(self, uds):
        self.uds = uds

    def connect(self, port, timeout):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.uds)
            s.sendall(b"CONNECT %d\n" % port)
            # Nothing follows the line before we send: the guest's servers speak only when
            # spoken to, so the line may be read in one go rather than byte by byte.
            line = b""
            while not line.endswith(b"\n"):
                chunk = s.recv(64)
                if not chunk:
                    raise ConnectionRefusedError("kiln closed the socket: nothing listens on "
                                                 "guest port %d" % port)
                line += chunk
            if not re.fullmatch(rb"OK \d+\n", line):
                raise ConnectionError("kiln answered %r" % line)
        except BaseException:
            s.close()
            raise
        return s

    def listen(self, port):
        path = "%s_%d" % (self.uds, port)
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(4)
        return s


class VhostEnd:
    """The host's side of vhost-vsock: AF_VSOCK sockets to the guest's CID."""

    def connect(self, port, timeout):
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((GUEST_CID, port))
        except BaseException:
            s.close()
            raise
        return s

    def listen(self, port):
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.bind((socket.VMADDR_CID_ANY, port))
        s.listen(4)
        return s


def host_to_guest(end, nbytes, timeout):
    """Seconds for nbytes to reach the guest's discarding server and for it to close, and the
    longest the host waited on one send() (or for the close): a stall shows there."""
    buf = memoryview(bytes(CHUNK))
    s = end.connect(SINK_PORT, timeout)
    try:
        t0 = last = time.monotonic()
        gap = 0
        left = nbytes
        while left:
            n = s.send(buf[:min(left, CHUNK)])
            left -= n
            now = time.monotonic()
            gap, last = max(gap, now - last), now
        s.shutdown(socket.SHUT_WR)
        extra = 0
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            extra += len(chunk)
        t1 = time.monotonic()
        gap = max(gap, t1 - last)
    finally:
        s.close()
    if extra:
        raise ConnectionError("the guest's discarding server sent %d bytes back" % extra)
    return t1 - t0, gap


def guest_to_host(end, nbytes, timeout):
    """Seconds for the guest to send nbytes to a host listener, from accept to end of file, and
    the longest wait for one recv()."""
    srv = end.listen(HOST_PORT)
    srv.settimeout(timeout)
    trigger = conn = None
    try:
        trigger = end.connect(SOURCE_PORT, timeout)
        trigger.sendall(b"%d %d\n" % (nbytes, HOST_PORT))
        conn, _ = srv.accept()
        t0 = last = time.monotonic()
        gap = 0
        conn.settimeout(timeout)
        buf = bytearray(CHUNK)
        got = 0
        while True:
            n = conn.recv_into(buf)
            now = time.monotonic()
            gap, last = max(gap, now - last), now
            if not n:
                break
            got += n
        t1 = last
    finally:
        for s in (conn, trigger, srv):
            if s:
                s.close()
    if got != nbytes:
        raise ConnectionError("guest->host: %d bytes arrived of %d" % (got, nbytes))
    return t1 - t0, gap


def connect_rtts(end, count, timeout):
    """Milliseconds, per connection, from connect() to a 1-byte echo's return."""
    out = []
    for _ in range(count):
        t0 = time.monotonic()
        s = end.connect(ECHO_PORT, timeout)
        try:
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise ConnectionError("the echo server did not echo")
            out.append((time.monotonic() - t0) * 1e3)
        finally:
            s.close()
    return out


def wait_ready(guest, end, deadline):
    """Waits for /init's ready line, then until each server answers (socat starts listening a
    moment after /init says so). Returns None or why not."""
    guest.ready.wait(max(0, deadline - time.monotonic()))
    if not guest.saw_ready or guest.p.poll() is not None:
        return "%s: no '%s' (status %s)\n%s" % (guest.name, READY, guest.p.poll(), guest.tail())
    if guest.failed:
        return "%s: /init: %s" % (guest.name, guest.failed)
    problem = None
    while time.monotonic() < deadline:
        try:
            connect_rtts(end, 1, 30)          # the echo server
            host_to_guest(end, 4096, 30)      # the sink
            guest_to_host(end, 4096, 30)      # the source
            return None
        except OSError as e:
            problem = str(e)
            time.sleep(0.5)
    return "%s: the guest's servers did not answer in time: %s" % (guest.name, problem)


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def skip(why):
    print("vsock: SKIP: %s: nothing measured" % why)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--kernel", help="bzImage (default: kiln's test kernel, built once and cached)")
    ap.add_argument("--mib", type=int, default=64, help="MiB per transfer (default 64)")
    ap.add_argument("--runs", type=int, default=7, help="rounds: transfers each way (default 7)")
    ap.add_argument("--conns", type=int, default=40, help="connections per round (default 40)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds for the boots (default 300)")
    ap.add_argument("--json", help="write every sample here")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo the consoles to stderr")
    a = ap.parse_args()
    if a.runs < 1 or a.mib < 1 or a.conns < 1:
        ap.error("--runs, --mib and --conns must be at least 1")

    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        return skip("/dev/kvm is not usable (%s; make bench-vsock runs it on the real-KVM tier's "
                    "kvm_amd)" % e.strerror)
    if not os.access(a.kiln, os.X_OK):
        return skip("no kiln at %s" % a.kiln)
    tmp = tempfile.mkdtemp(prefix="kiln-bench-vsock-")
    guests = []
    try:
        if not a.kernel:
            k = subprocess.run([os.path.join(LINUX, "build-kernel.sh")], stdout=subprocess.PIPE,
                               text=True)
            if k.returncode == 77:
                return skip("the packages to build the test kernel are missing")
            if k.returncode:
                print("vsock: FAIL: building the test kernel (tests/linux/build-kernel.sh: "
                      "status %d)" % k.returncode)
                return 1
            a.kernel = os.path.join(k.stdout.strip().splitlines()[-1], "bzImage")
        initrd = os.path.join(tmp, "initramfs.cpio")
        r = subprocess.run([os.path.join(LINUX, "build-initramfs.sh"), initrd],
                           env=dict(os.environ, KILN_INITRAMFS_PROGRAMS="socat"))
        if r.returncode == 77:
            return skip("busybox-static or socat is missing for the guest's initramfs")
        if r.returncode:
            print("vsock: FAIL: building the initramfs with socat (tests/linux/build-initramfs.sh: "
                  "status %d)" % r.returncode)
            return 1

        # Nobody types before the end: /init waits (up to 15 min) for the line stop() sends.
        cmdline = "console=ttyS0 panic=-1 kiln.vsock_bench=1 kiln.read_timeout=900"
        uds = os.path.join(tmp, "v.sock")
        rows = [("kiln", [a.kiln, "run", "-k", a.kernel, "-i", initrd, "-c", "1", "-m", "256M",
                          "-p", cmdline, "--vsock", "cid=%d,uds=%s" % (GUEST_CID, uds)],
                 KilnEnd(uds))]
        qemu = shutil.which(a.qemu)
        no_qemu = None
        qemu_version = ""
        if not qemu:
            no_qemu = "%s not found" % a.qemu
        else:
            v = subprocess.run([qemu, "--version"], stdout=subprocess.PIPE, text=True)
            qemu_version = v.stdout.splitlines()[0] if v.stdout else ""
            try:
                os.close(os.open("/dev/vhost-vsock", os.O_RDWR))
            except OSError as e:
                no_qemu = ("/dev/vhost-vsock is not usable (%s): the host needs the vhost_vsock "
                           "module" % e.strerror)
        if not no_qemu:
            rows.append(("QEMU", [qemu, "-M", "microvm", "-accel", "kvm", "-smp", "1", "-m", "256",
                                  "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                                  "-serial", "stdio", "-global", "virtio-mmio.force-legacy=false",
                                  "-device", "vhost-vsock-device,guest-cid=%d" % GUEST_CID,
                                  "-kernel", a.kernel, "-initrd", initrd, "-append", cmdline],
                         VhostEnd()))

        deadline = time.monotonic() + a.timeout
        for name, argv, _ in rows:
            log("+ " + " ".join(argv))
            guests.append(Guest(name, argv, a.verbose))
        t_boot = time.monotonic()
        ready = []
        for g, (name, _, end) in zip(guests, rows):
            why = wait_ready(g, end, deadline)
            if why:
                print("vsock: %s: %s" % ("FAIL" if name == "kiln" else "no QEMU row", why))
                if name == "kiln":
                    return 1
                no_qemu = "QEMU's guest never got ready (%s)" % why.splitlines()[0]
                continue
            log("%s: ready %.1f s after the boots began" % (name, time.monotonic() - t_boot))
            ready.append((name, end))

        nbytes = a.mib * MIB
        # One unmeasured round first: the first transfers ran slower than the rest in trials
        # (the guest's socat pages, its allocator and the host's caches warming up).
        for name, end in ready:
            try:
                host_to_guest(end, min(nbytes, 16 * MIB), 120)
                guest_to_host(end, min(nbytes, 16 * MIB), 120)
                connect_rtts(end, 5, 30)
            except OSError as e:
                print("vsock: %s: the warm-up failed: %s" % (
                    "FAIL" if name == "kiln" else "no QEMU row", e))
                if name == "kiln":
                    return 1
                no_qemu = "QEMU's warm-up failed (%s)" % e
                ready = [r for r in ready if r[0] != name]
        # Per monitor: (seconds, longest single wait) per transfer, milliseconds per connection.
        samples = {name: {"h2g": [], "g2h": [], "connect_ms": []} for name, _ in ready}
        failures = {}
        for rnd in range(a.runs):
            order = ready if rnd % 2 == 0 else ready[::-1]
            for name, end in order:
                if name in failures:
                    continue
                s = samples[name]
                try:
                    s["h2g"].append(host_to_guest(end, nbytes, 120))
                    s["g2h"].append(guest_to_host(end, nbytes, 120))
                    s["connect_ms"] += connect_rtts(end, a.conns, 30)
                except OSError as e:
                    failures[name] = "round %d: %s" % (rnd + 1, e)
                    log("%s: FAIL %s" % (name, failures[name]))
                    continue
                log("%s round %d: host->guest %.1f MiB/s (longest wait %.0f ms), guest->host "
                    "%.1f MiB/s (%.0f ms), connect median %.2f ms" % (
                        name, rnd + 1, a.mib / s["h2g"][-1][0], s["h2g"][-1][1] * 1e3,
                        a.mib / s["g2h"][-1][0], s["g2h"][-1][1] * 1e3,
                        statistics.median(s["connect_ms"][-a.conns:])))
    finally:
        for g in guests:
            g.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    labels = {"kiln": "kiln (--vsock, Unix socket)",
              "QEMU": "QEMU microvm (vhost-vsock-device)"}
    res = {}
    for name, s in samples.items():
        if name in failures:
            res[name] = {"failed": failures[name]}
            continue
        r = res[name] = {}
        for d in ("h2g", "g2h"):
            rates = [a.mib / t for t, _ in s[d]]
            r[d + "_mib_s"] = statistics.median(rates)
            r[d + "_best_mib_s"] = max(rates)
            r[d + "_each"] = [round(x, 1) for x in rates]
            r[d + "_longest_wait_ms"] = round(max(g for _, g in s[d]) * 1e3, 1)
        r["connect_median_ms"] = statistics.median(s["connect_ms"])
        r["connect_p90_ms"] = percentile(s["connect_ms"], 90)
        r["connect_ms"] = [round(x, 3) for x in s["connect_ms"]]

    print()
    print("vsock: %s, 1 vCPU, 256 MiB; %s" % (
        a.kernel, "both VMs up at once; " + qemu_version if "QEMU" in res else "kiln alone"))
    print("%d MiB per transfer, %d rounds alternating the monitors; %d connections a monitor "
          "(%d a round)" % (a.mib, a.runs, a.runs * a.conns, a.conns))
    print()
    print("%-34s %-23s  %-23s  %s" % ("", "host->guest MiB/s", "guest->host MiB/s",
                                      "connect + 1 B echo"))
    print("%-34s %7s %7s %7s  %7s %7s %7s  %9s %7s" % (
        "monitor", "median", "best", "Gbit/s", "median", "best", "Gbit/s", "median ms", "p90 ms"))
    print("-" * 103)
    for name, r in res.items():
        if "failed" in r:
            print("%-34s failed: %s" % (labels[name], r["failed"]))
            continue
        print("%-34s %7.1f %7.1f %7.3f  %7.1f %7.1f %7.3f  %9.2f %7.2f" % (
            labels[name], r["h2g_mib_s"], r["h2g_best_mib_s"], gbit(r["h2g_mib_s"]),
            r["g2h_mib_s"], r["g2h_best_mib_s"], gbit(r["g2h_mib_s"]),
            r["connect_median_ms"], r["connect_p90_ms"]))
    k, q = res.get("kiln", {}), res.get("QEMU", {})
    ratios = None
    if k and q and "failed" not in k and "failed" not in q:
        ratios = {key: k[key] / q[key] for key in (
            "h2g_mib_s", "h2g_best_mib_s", "g2h_mib_s", "g2h_best_mib_s", "connect_median_ms",
            "connect_p90_ms")}
        print("%-34s %6.2fx %6.2fx %7s  %6.2fx %6.2fx %7s  %8.2fx %6.2fx" % (
            "kiln / QEMU", ratios["h2g_mib_s"], ratios["h2g_best_mib_s"], "",
            ratios["g2h_mib_s"], ratios["g2h_best_mib_s"], "", ratios["connect_median_ms"],
            ratios["connect_p90_ms"]))
    print()
    for name, r in res.items():
        if "failed" not in r:
            print("%s each round, MiB/s: host->guest %s, guest->host %s; longest single wait "
                  "%.0f and %.0f ms" % (name, r["h2g_each"], r["g2h_each"],
                                        r["h2g_longest_wait_ms"], r["g2h_longest_wait_ms"]))
    if ratios:
        verdict = ", ".join("%s %s (median %.2fx, best %.2fx)" % (
            d, "met" if ratios[key + "_mib_s"] >= 0.8 else "missed", ratios[key + "_mib_s"],
            ratios[key + "_best_mib_s"]) for d, key in (("host->guest", "h2g"),
                                                         ("guest->host", "g2h")))
        print("goal kiln >= 0.8x vhost-vsock's throughput (medians): %s" % verdict)
        print("connect: kiln's time / QEMU's (below 1: kiln is faster)")
    else:
        print("goal kiln >= 0.8x vhost-vsock's throughput: no ratio: %s" % (
            no_qemu or failures.get("QEMU") or failures.get("kiln")))
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"kernel": a.kernel, "qemu": qemu_version, "mib": a.mib, "runs": a.runs,
                       "conns": a.conns, "rows": res, "ratios": ratios, "no_qemu": no_qemu},
                      f, indent=1)
    return 1 if "kiln" in failures else 0


if __name__ == "__main__":
    sys.exit(main())
