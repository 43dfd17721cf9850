#!/usr/bin/env python3
"""Run one virtio guest (tests/guests/vio_*.c) under kiln or QEMU microvm and check it.

usage: virtio_test.py --monitor kiln|qemu --bin PATH --guest ELF --case CASE [--timeout S]

CASE is blk, blk-cache-none (kiln only), rng, console, hostile, net (kiln only: a TAP in a
network namespace of the test's own, with this script as the host end; needs root) or vsock (kiln
only: this script is the host end of vio_vsock through kiln's Unix sockets). The script makes the disk
images the guests expect in a temporary directory, starts the monitor with the matching device
options and the guest command line (`virtio=BASE,STRIDE,COUNT` and `virtio_irqs=...` for that
monitor's transports), and checks the exit status (33: the guest's SUCCESS), the output, and
afterwards the images on the host: what vio_blk wrote is in the writable image, every other
sector is untouched, and a read-only image is byte-for-byte unchanged.

Prints PASS/FAIL/SKIP lines like run-guest.sh; exits 0, 1, or 77 (skip: no /dev/kvm for kiln,
or no QEMU for the reference runs). QEMU uses KVM when /dev/kvm opens read-write, else TCG.
"""

import argparse
import ctypes
import hashlib
import json
import os
import re
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

KILN_BUS = "virtio=0xd0000000,0x1000,16 virtio_irqs=5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21"
# microvm with ioapic2=off: 8 transports at 0xfeb00000 + n * 0x200, on IOAPIC pins 16-23.
QEMU_BUS = "virtio=0xfeb00000,0x200,8 virtio_irqs=16,17,18,19,20,21,22,23"
QEMU_BASE = ["-M", "microvm,ioapic2=off", "-m", "128M", "-nodefaults",
             "-nographic", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
             "-global", "virtio-mmio.force-legacy=false"]

RW_SECTORS = 2048
RO_SECTORS = 128
TAG_HOST, TAG_GUEST, TAG_RO = 0x48, 0xA5, 0x52
BLK_ID = "kiln-disk0"

# vio_hostile's broken requests that QEMU 7.2 completes with OK instead of refusing: it
# bounce-buffers guest addresses outside RAM (reads there return all ones, writes vanish).
QEMU_LENIENT = "lenient=outside-ram,wrapping"
# What kiln says on stderr about a broken queue (its messages start with the device name).
KILN_HOSTILE_ERR = r"virtio.*(loop|cycle|outside|length|index|range)"


def sector(tag, s):
    return struct.pack("<128I", *[(tag << 24) | ((s & 0xFFFF) << 8) | i for i in range(128)])


def make_image(path, tag, sectors):
    with open(path, "wb") as f:
        for s in range(sectors):
            f.write(sector(tag, s))


def guest_wrote(s):
    """The sectors vio_blk writes (see its header comment)."""
    return s == 1 or 8 <= s <= 15 or 64 <= s <= 67 or (32 <= s < 64 and s % 8 < 2)


def check_rw_image(path):
    problems = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != RW_SECTORS * 512:
        return [f"{path}: size {len(data)}, expected {RW_SECTORS * 512}"]
    for s in range(RW_SECTORS):
        want = sector(TAG_GUEST if guest_wrote(s) else TAG_HOST, s)
        if data[s * 512:(s + 1) * 512] != want:
            problems.append(f"disk image sector {s} does not hold the "
                            f"{'guest' if guest_wrote(s) else 'original host'} pattern")
            if len(problems) > 5:
                break
    return problems


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---- virtio-net: the host end of vio_net's TAP ------------------------------------------------

NET_TAP, NET_HOST = "kvnet0", "10.0.0.1"
NET_FRAMES, NET_BATCH, NET_PAYLOAD = 10000, 500, 256
ETH_OUT, ETH_IN, ETH_ACK = 0x88b5, 0x88b6, 0x88b7
CLONE_NEWNET = 0x40000000


def net_setup():
    """This process into a new network namespace with TAP NET_TAP at NET_HOST/24, IPv6 off (no
    chatter for the guest). Returns a reason to skip, or None."""
    if os.geteuid() != 0:
        return "the net case needs root (a network namespace and a TAP device)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return "cannot make a network namespace: %s" % os.strerror(ctypes.get_errno())
    for cmd in (["ip", "tuntap", "add", "dev", NET_TAP, "mode", "tap", "vnet_hdr"],
                ["sysctl", "-q", "-w", f"net.ipv6.conf.{NET_TAP}.disable_ipv6=1"],
                ["ip", "addr", "add", NET_HOST + "/24", "dev", NET_TAP],
                ["ip", "link", "set", NET_TAP, "up"]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            return "%s: %s" % (" ".join(cmd), r.stdout.strip())
    return None


def pattern(seq):
    return struct.pack(">I", seq) + bytes((seq * 31 + i * 7) & 0xFF for i in range(4, NET_PAYLOAD))


class NetPeer(threading.Thread):
    """Checks vio_net's NET_FRAMES frames out, then sends it NET_FRAMES frames in batches of
    NET_BATCH, each batch after the guest's acknowledgement of the one before."""

    def __init__(self, deadline, frames=NET_FRAMES):
        super().__init__(daemon=True)
        self.deadline, self.problems, self.got, self.sent = deadline, [], 0, 0
        self.n = frames
        # When the first and last frame out arrived, and when the in phase began and ended (its
        # last acknowledgement): bench/virtio_net.py's rates.
        self.t = {}
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        # Room for every frame the guest sends before this thread reads them (as root: past
        # rmem_max), so a slow reader here never looks like a loss in kiln.
        self.s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
        self.s.bind((NET_TAP, 0))
        self.s.settimeout(1)

    def frames(self):
        while time.monotonic() < self.deadline:
            try:
                f = self.s.recv(65536)
            except socket.timeout:
                continue
            if len(f) >= 14:
                yield f

    def run(self):
        guest, acked = None, -1
        for f in self.frames():
            kind = struct.unpack(">H", f[12:14])[0]
            if kind == ETH_OUT:
                seq = struct.unpack(">I", f[14:18])[0]
                if seq != self.got:
                    self.problems.append(f"frame out {self.got}: got sequence {seq} (lost or reordered)")
                    return
                if f[14:14 + NET_PAYLOAD] != pattern(seq):
                    self.problems.append(f"frame out {seq}: payload corrupted")
                    return
                self.t.setdefault("out_first", time.monotonic())
                self.t["out_last"] = time.monotonic()
                self.got += 1
            elif kind == ETH_ACK:
                guest, acked = f[6:12], struct.unpack(">I", f[14:18])[0]
                if acked != self.sent:
                    self.problems.append(f"guest acknowledged {acked} frames, {self.sent} were sent")
                    return
                if acked == self.n:
                    self.t["in_end"] = time.monotonic()
                    return
                self.t.setdefault("in_start", time.monotonic())
                for seq in range(self.sent, min(self.sent + NET_BATCH, self.n)):
                    self.s.send(guest + f[:6] + struct.pack(">H", ETH_IN) + pattern(seq))
                self.sent = min(self.sent + NET_BATCH, self.n)
        self.problems.append(f"timed out: {self.got} frames out, {acked} in acknowledged")


# ---- virtio-vsock: the host end of vio_vsock, through kiln's hybrid-vsock Unix sockets ---------

VSOCK_CID = 42
VSOCK_ECHO, VSOCK_CTL, VSOCK_DIGEST = 5000, 5001, 5002
VSOCK_SIZES = (1, 4095, 65536 + 1, 4 << 20)
VSOCK_CLIENT_PORT, VSOCK_CLIENT_BYTES = 6000, 1 << 20
VSOCK_NOBODY_PORT = 6001   # no host listener: the guest's REQUEST is refused
VSOCK_HOLD_PORT = 6002     # vio_vsock's hostile cases connect here; read only at the end
VSOCK_CONNS = 100
VSOCK_HOSTILE_CASES = 9
VSOCK_SOCK_TIMEOUT = 120   # any one read or write on the way (L1 is an emulated CPU)


class VsockFail(Exception):
    pass


def recv_line(s, limit=256):
    """One line from a blocking socket, a byte at a time (a stream may follow it); None at end of
    file before a newline."""
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            return None
        line += c
        if len(line) > limit:
            raise VsockFail("a line longer than %d bytes: %r" % (limit, line[:64]))
    return line[:-1].decode()


def recv_all(s):
    parts = []
    while True:
        b = s.recv(1 << 16)
        if not b:
            return b"".join(parts)
        parts.append(b)


class VsockPeer(threading.Thread):
    """The host end of vio_vsock: connects through kiln's socket `uds` with the CONNECT handshake
    and listens on `uds`_PORT for the guest, and checks, in order: echoes of VSOCK_SIZES bytes
    (bytes compared, and the guest's own byte count and CRC-32); a guest connection to a host
    listener and one to a port where nothing listens; VSOCK_CONNS connections open at once, each
    echoing its own bytes; half-close (the guest replies after SHUTDOWN(SEND)); host ends that
    close early, after which the guest holds no connection and a new one works; the guest's
    hostile packets, after which the device still works; a driver reset, which must end every
    connection, after which new ones work. On a failure it kills the monitor
    (`kill`) so the run ends at once."""

    def __init__(self, uds, deadline, kill):
        super().__init__(daemon=True)
        self.uds, self.deadline, self.kill = uds, deadline, kill
        self.problems, self.log, self.finished = [], [], False
        self.ctl = None
        self.dials = 0  # sockets connected to kiln's: its conns_added counts each

    def note(self, text):
        self.log.append(text)

    def sock(self, timeout=VSOCK_SOCK_TIMEOUT):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        return s

    def connect(self):
        s = self.sock()
        s.connect(self.uds)
        self.dials += 1
        return s

    def dial(self, port):
        """A connection to guest port `port`: (socket, kiln's host port), or (None, None) when
        kiln closed it without "OK" (the guest refused)."""
        s = self.connect()
        s.sendall(b"CONNECT %d\n" % port)
        line = recv_line(s)
        if line is None:
            s.close()
            return None, None
        m = re.fullmatch(r"OK (\d+)", line)
        if not m:
            raise VsockFail("CONNECT %d: kiln answered %r" % (port, line))
        return s, int(m.group(1))

    def command(self, text, want):
        """One control command; its reply must match the regex `want`. Returns the match."""
        self.ctl.sendall(text.encode() + b"\n")
        line = recv_line(self.ctl)
        if line is None:
            raise VsockFail("'%s': the control connection closed" % text)
        m = re.fullmatch(want, line)
        if not m:
            raise VsockFail("'%s': the guest replied %r, expected /%s/" % (text, line, want))
        return m

    def stats(self):
        m = self.command("stats", r"stats open=(\d+) peak=(\d+) accepted=(\d+) refused=(\d+) "
                         r"resets=(\d+) rx=(\d+) tx=(\d+)")
        return dict(zip(("open", "peak", "accepted", "refused", "resets", "rx", "tx"),
                        (int(x) for x in m.groups())))

    def echo(self, size):
        """`size` random bytes through the echo port: the host sends and shuts its side while it
        reads; the echo must be the same bytes, and the guest's count and CRC-32 must agree."""
        data = os.urandom(size)
        t0 = time.monotonic()
        s, hport = self.dial(VSOCK_ECHO)
        if s is None:
            raise VsockFail("echo: the guest refused port %d" % VSOCK_ECHO)
        problems = []

        def writer():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                problems.append("echo %d: sending: %s" % (size, e))
        w = threading.Thread(target=writer, daemon=True)
        w.start()
        got = recv_all(s)
        w.join(VSOCK_SOCK_TIMEOUT)
        s.close()
        if problems:
            raise VsockFail(problems[0])
        if got != data:
            at = next((i for i in range(min(len(got), size)) if got[i] != data[i]), min(len(got), size))
            raise VsockFail("echo %d: got %d bytes back, first difference at %d" % (size, len(got), at))
        self.command("sum %d" % hport, r"sum %d %d 0x%08x" % (hport, size, zlib.crc32(data)))
        dt = time.monotonic() - t0
        self.note("echo of %d byte%s: same bytes back, the guest's CRC-32 agrees (%.2f s)" % (
            size, "" if size == 1 else "s", dt))

    def listen(self, port):
        path = "%s_%d" % (self.uds, port)
        s = self.sock()
        s.bind(path)
        s.listen(128)
        return s

    def step_client(self):
        """The guest connects to the host: it sends VSOCK_CLIENT_BYTES and shuts its side, this
        end echoes every byte and closes after the end of file."""
        lsock = self.listen(VSOCK_CLIENT_PORT)
        got = []

        def server():
            try:
                c, _ = lsock.accept()
                c.settimeout(VSOCK_SOCK_TIMEOUT)
                while True:
                    b = c.recv(1 << 16)
                    if not b:
                        break
                    got.append(b)
                    c.sendall(b)
                c.close()
            except OSError as e:
                got.append(e)
        t = threading.Thread(target=server, daemon=True)
        t.start()
        t0 = time.monotonic()
        m = self.command("client %d %d" % (VSOCK_CLIENT_PORT, VSOCK_CLIENT_BYTES),
                         r"client %d ok %d 0x([0-9a-f]{8})" % (VSOCK_CLIENT_PORT, VSOCK_CLIENT_BYTES))
        t.join(VSOCK_SOCK_TIMEOUT)
        lsock.close()
        if any(isinstance(b, OSError) for b in got):
            raise VsockFail("client: the host end failed: %s" % [b for b in got if isinstance(b, OSError)][0])
        data = b"".join(got)
        if len(data) != VSOCK_CLIENT_BYTES or zlib.crc32(data) != int(m.group(1), 16):
            raise VsockFail("client: the host got %d bytes, CRC-32 0x%08x; the guest sent %d, %s" % (
                len(data), zlib.crc32(data), VSOCK_CLIENT_BYTES, m.group(1)))
        self.note("guest to host port %d: %d bytes, the CRC-32 agrees, all echoed (%.2f s)" % (
            VSOCK_CLIENT_PORT, VSOCK_CLIENT_BYTES, time.monotonic() - t0))
        self.command("client %d 16" % VSOCK_NOBODY_PORT, r"client %d refused" % VSOCK_NOBODY_PORT)
        self.note("guest to host port %d, where nothing listens: refused" % VSOCK_NOBODY_PORT)

    def step_many(self):
        """VSOCK_CONNS connections open at once (the guest counts them), each streaming its own
        bytes (16 KiB to 112 KiB, more than the guest's 64 KiB credit) both ways at the same
        time, so that every connection stalls on credit while the others go on."""
        t0 = time.monotonic()
        conns = []
        try:
            for i in range(VSOCK_CONNS):
                s, _ = self.dial(VSOCK_ECHO)
                if s is None:
                    raise VsockFail("%d connections at once: number %d refused" % (VSOCK_CONNS, i))
                conns.append(s)
            st = self.stats()
            if st["open"] < VSOCK_CONNS + 1:
                raise VsockFail("%d connections open, but the guest holds %d" % (VSOCK_CONNS, st["open"]))
            sent, todo, got = {}, {}, {}
            sel = selectors.DefaultSelector()
            for i, s in enumerate(conns):
                sent[s] = (b"conn %03d:" % i) + os.urandom(16384 + 997 * i)
                todo[s], got[s] = memoryview(sent[s]), []
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            left = len(conns)
            while left:
                if time.monotonic() > self.deadline:
                    raise VsockFail("%d connections at once: %d still open at the deadline" % (VSOCK_CONNS, left))
                for key, ev in sel.select(timeout=1):
                    s = key.fileobj
                    if ev & selectors.EVENT_WRITE:
                        try:
                            todo[s] = todo[s][s.send(todo[s][:1 << 16]):]
                        except BlockingIOError:
                            pass
                        if not len(todo[s]):
                            s.shutdown(socket.SHUT_WR)
                            sel.modify(s, selectors.EVENT_READ)
                    if ev & selectors.EVENT_READ:
                        try:
                            b = s.recv(1 << 16)
                        except BlockingIOError:
                            continue
                        if b:
                            got[s].append(b)
                            continue
                        if len(todo[s]):
                            raise VsockFail("%d connections at once: one ended before the host sent "
                                            "all its bytes" % VSOCK_CONNS)
                        sel.unregister(s)
                        left -= 1
            for i, s in enumerate(conns):
                if b"".join(got[s]) != sent[s]:
                    raise VsockFail("%d connections at once: connection %d got other bytes back" % (VSOCK_CONNS, i))
        finally:
            for s in conns:
                s.close()
        self.note("%d connections at once (the guest held %d): each echoed its own %d bytes or more, "
                  "%d in all (%.2f s)" % (VSOCK_CONNS, st["open"], 16384 + 9, sum(map(len, sent.values())),
                                          time.monotonic() - t0))

    def step_half_close(self):
        """The host sends and shuts its side; the guest gets SHUTDOWN(SEND) and only then replies
        with what it got; the host reads the reply, then end of file."""
        data = os.urandom(100000)
        s, _ = self.dial(VSOCK_DIGEST)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = recv_all(s).decode(errors="replace")
        s.close()
        want = "%d 0x%08x\n" % (len(data), zlib.crc32(data))
        if reply != want:
            raise VsockFail("half-close: the guest replied %r after the host's SHUT_WR, expected %r" % (reply, want))
        self.note("half-close: the guest replied after SHUTDOWN(SEND): %s" % want.strip())

    def settle(self, what):
        """Waits until the guest holds nothing but the control connection."""
        t0 = time.monotonic()
        while True:
            st = self.stats()
            if st["open"] == 1:
                return st
            if time.monotonic() - t0 > 60:
                raise VsockFail("%s: the guest still holds %d connections after 60 s" % (what, st["open"] - 1))
            time.sleep(0.2)

    def step_early_close(self):
        """Host ends that go away early: before the guest answered, mid-stream without reading,
        before the guest's reply, a refused port and a bad line. Then the guest must hold no
        connection, and a new one must work."""
        for _ in range(10):
            s = self.connect()
            s.sendall(b"CONNECT %d\n" % VSOCK_ECHO)
            s.close()
        s, _ = self.dial(VSOCK_ECHO)
        s.setblocking(False)
        sent = 0
        try:
            for _ in range(64):
                sent += s.send(os.urandom(16384))
        except BlockingIOError:
            pass
        s.close()
        s, _ = self.dial(VSOCK_ECHO)
        s.sendall(os.urandom(65536))
        s.shutdown(socket.SHUT_WR)
        s.recv(1000)
        s.close()
        s, _ = self.dial(VSOCK_DIGEST)
        s.sendall(os.urandom(10000))
        s.close()
        s, hport = self.dial(5999)
        if s is not None:
            raise VsockFail("CONNECT 5999 (nothing listens in the guest): kiln answered OK %d" % hport)
        s = self.connect()
        s.sendall(b"HELLO 5000\n")
        try:
            if s.recv(100) != b"":
                raise VsockFail("a bad first line: kiln answered it")
        except ConnectionResetError:
            pass  # kiln closed with the line unread: a reset rather than end of file
        s.close()
        st = self.settle("early closes")
        self.note("host ends closed early (10 before the answer, 1 mid-stream with %d bytes unread, "
                  "1 mid-echo, 1 before the digest): the guest holds no connection; refused=%d" % (
                      sent, st["refused"]))
        self.echo(65536)

    def step_hostile(self):
        lsock = self.listen(VSOCK_HOLD_PORT)
        held, stop = [], threading.Event()

        def holder():
            lsock.settimeout(0.5)
            while not stop.is_set():
                try:
                    c, _ = lsock.accept()
                    held.append(c)
                except socket.timeout:
                    pass
                except OSError:
                    return
        t = threading.Thread(target=holder, daemon=True)
        t.start()
        t0 = time.monotonic()
        self.command("hostile", r"hostile ok %d" % VSOCK_HOSTILE_CASES)
        dt = time.monotonic() - t0
        stop.set()
        t.join(5)
        lsock.close()
        if len(held) != 5:
            raise VsockFail("hostile: %d connections reached host port %d, expected 5" % (len(held), VSOCK_HOLD_PORT))
        sizes = []
        for c in held:
            c.settimeout(VSOCK_SOCK_TIMEOUT)
            try:
                sizes.append(len(recv_all(c)))
            except ConnectionResetError:
                sizes.append(-1)
            c.close()
        # Each ends in end of file: kiln closed it. What kiln still held for the credit-lie
        # connection went with the RST; the host gets what its socket had taken.
        if min(sizes) < 0 or sizes[0] == 0:
            raise VsockFail("hostile: the host ends read %s bytes (-1: reset), expected end of file "
                            "on each and data on the first" % sizes)
        self.settle("hostile")
        self.note("hostile: %d cases (%.2f s); the %d host ends were closed by kiln (bytes: %s)" % (
            VSOCK_HOSTILE_CASES, dt, len(held), sizes))
        self.echo(65536)

    def connect_ctl(self):
        """The control connection, retried until the guest listens."""
        t0 = time.monotonic()
        while True:
            try:
                self.ctl, _ = self.dial(VSOCK_CTL)
            except (FileNotFoundError, ConnectionRefusedError):
                self.ctl = None
            if self.ctl:
                return time.monotonic() - t0
            if time.monotonic() > self.deadline:
                raise VsockFail("the guest never accepted a control connection")
            time.sleep(0.2)

    def step_reset(self):
        """The guest resets the device: kiln must end every connection (the control connection
        and an idle echo here read end of file) and serve new ones afterwards."""
        s, _ = self.dial(VSOCK_ECHO)
        s.sendall(b"?")
        if s.recv(1) != b"?":
            raise VsockFail("reset: the echo before it failed")
        self.ctl.sendall(b"reset\n")
        for what, sock in (("the control connection", self.ctl), ("an open echo connection", s)):
            try:
                rest = recv_all(sock)
            except ConnectionResetError:
                rest = b""
            if rest:
                raise VsockFail("reset: %s read %r, expected end of file" % (what, rest[:40]))
            sock.close()
        dt = self.connect_ctl()
        st = self.settle("reset")
        self.note("driver reset: the control and an echo connection ended, a new control "
                  "connection after %.2f s, the guest holds %d" % (dt, st["open"]))
        self.echo(65536)

    def run(self):
        step = "connecting"
        try:
            self.note("control connection after %.2f s" % self.connect_ctl())
            for size in VSOCK_SIZES:
                step = "echo %d" % size
                self.echo(size)
            for step, fn in (("client", self.step_client), ("many", self.step_many),
                             ("half-close", self.step_half_close), ("early close", self.step_early_close),
                             ("hostile", self.step_hostile), ("reset", self.step_reset)):
                fn()
            step = "done"
            st = self.stats()
            self.note("guest totals: %s" % st)
            if st["peak"] < VSOCK_CONNS + 1:
                raise VsockFail("the guest never held %d connections at once" % (VSOCK_CONNS + 1))
            self.ctl.sendall(b"done\n")
            self.finished = True
        except (VsockFail, OSError) as e:
            self.problems.append("%s: %s" % (step, e))
            self.kill()


# What kiln counts as malformed in vio_vsock's hostile cases: 6 packets with wrong CIDs, 2 of other
# types, 2 chains shorter than a header, 4 lying lengths (the header split across two buffers
# claims 3 bytes it lacks), the credit lie, an unknown operation and an oversize packet on a live
# connection.
VSOCK_MALFORMED = 17
# Connections the guest makes that reach a host listener: the client's, and 5 hostile ones.
VSOCK_GUEST_CONNS = 6


def vsock_metrics_problems(path, peer, out):
    """Checks the last metrics line (written as kiln stops; the control connection is still open)
    against what the host end and the guest counted."""
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        return ["metrics file %s: %s" % (path, e)]
    if not lines or not isinstance(lines[-1].get("vsock"), dict):
        return ["the last metrics line has no vsock object: %r" % (lines[-1:] or None)]
    m = lines[-1]["vsock"]
    g = re.search(r"^vsock: done: .*; payload ([0-9]+) bytes received, ([0-9]+) sent$", out, re.M)
    if not g:
        return ["the guest's totals are missing from its output"]
    g_rx, g_tx = int(g.group(1)), int(g.group(2))
    added = peer.dials + VSOCK_GUEST_CONNS
    want = [("conns_added", m.get("conns_added") == added, added),
            ("conns_open", m.get("conns_open") == 1, 1),
            ("conns_removed", m.get("conns_removed") == added - 1, added - 1),
            ("rx_bytes_count", m.get("rx_bytes_count") == g_rx, "%d, what the guest took" % g_rx),
            ("tx_bytes_count", 0 < (m.get("tx_bytes_count") or 0) <= g_tx,
             "at most %d, what the guest sent (less, by what came after a host end closed)" % g_tx),
            ("conns_killed", (m.get("conns_killed") or 0) > 0, "some (the early closes)"),
            ("tx_malformed_packets", m.get("tx_malformed_packets") == VSOCK_MALFORMED, VSOCK_MALFORMED),
            ("rst_dropped", m.get("rst_dropped") == 0, 0),
            ("guest_errors", (m.get("guest_errors") or 0) >= VSOCK_MALFORMED, "%d or more" % VSOCK_MALFORMED)]
    bad = ["metrics vsock.%s is %r, expected %s" % (k, m.get(k), w) for k, ok, w in want if not ok]
    peer.note("metrics: " + json.dumps(m, sort_keys=True))
    return bad


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--monitor", choices=["kiln", "qemu"], required=True)
    ap.add_argument("--bin", required=True, help="kiln binary or qemu-system-x86_64")
    ap.add_argument("--guest", required=True)
    ap.add_argument("--case", choices=["blk", "blk-cache-none", "rng", "console", "hostile", "net",
                                       "vsock"],
                    required=True)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--launch", choices=["cli", "config-file"], default="cli",
                    help="kiln only: 'kiln run' options, or a Firecracker config file with a "
                         "metrics file, whose last line is then checked (vsock only)")
    a = ap.parse_args()
    name = f"{a.monitor}: virtio {a.case}" + (" (config file)" if a.launch == "config-file" else "")
    if a.launch == "config-file" and (a.monitor != "kiln" or a.case != "vsock"):
        ap.error("--launch config-file is for kiln's vsock case")

    if a.monitor == "kiln" and not kvm_usable():
        print("SKIP: /dev/kvm is missing or not readable and writable")
        return 77
    binary = shutil.which(a.bin) if os.sep not in a.bin else a.bin
    if binary is None or not os.access(binary, os.X_OK):
        print(f"SKIP: {a.bin} is not installed")
        return 77

    if a.case == "net":
        why = net_setup()
        if why:
            print("SKIP: " + why)
            return 77
    tmp = tempfile.mkdtemp(prefix="virtio-test.")
    try:
        return run(a, binary, name, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(a, binary, name, tmp):
    kiln = a.monitor == "kiln"
    cmdline = KILN_BUS if kiln else QEMU_BUS
    dev = []
    stdin = b""
    serial_file = None
    expect_out = [r"^SUCCESS$"]
    expect_err = []
    rw = os.path.join(tmp, "rw.img")
    ro = os.path.join(tmp, "ro.img")
    ro_sha = None

    if a.case in ("blk", "blk-cache-none"):
        make_image(rw, TAG_HOST, RW_SECTORS)
        make_image(ro, TAG_RO, RO_SECTORS)
        ro_sha = sha(ro)
        cmdline += f" blk_id={BLK_ID} ro_disk"
        if kiln:
            cache = ",cache=none" if a.case == "blk-cache-none" else ""
            dev = ["--disk", f"{rw},id={BLK_ID}{cache}", "--disk", f"{ro},ro"]
        else:
            dev = ["-drive", f"file={rw},format=raw,if=none,id=d0",
                   "-device", f"virtio-blk-device,drive=d0,serial={BLK_ID}",
                   "-drive", f"file={ro},format=raw,if=none,id=d1,readonly=on",
                   "-device", "virtio-blk-device,drive=d1"]
        expect_out += [rf"^blk: id={BLK_ID}$", rf"^blk: disk0 .* capacity={RW_SECTORS}\b",
                       r"^blk: wrote 4 requests in flight$",
                       r"^blk: wrote sectors 64-67 through an indirect table$",
                       r"^blk: read back sectors 0-71$",
                       r"^blk: out-of-range requests fail with IOERR$",
                       r"^blk: completion by interrupt on GSI [0-9]+",
                       rf"^blk: disk1 .* capacity={RO_SECTORS}\b",
                       r"^blk: read-only disk refuses writes with IOERR$"]
    elif a.case == "rng":
        dev = ["--rng"] if kiln else ["-device", "virtio-rng-device"]
        expect_out += [r"^rng: got [0-9]+ bytes", r"^rng: two reads differ$"]
    elif a.case == "console":
        cmdline += " console_rx"
        stdin = b"ping kiln\n"
        if kiln:
            dev = ["--console", "virtio"]
        else:
            # stdio can serve one chardev: the console gets it, the UART writes to a file.
            serial_file = os.path.join(tmp, "serial.txt")
            dev = ["-device", "virtio-serial-device", "-chardev", "stdio,id=vc",
                   "-device", "virtconsole,chardev=vc"]
        expect_out += [r"^console: transmitted a line$", r"^console: received 10 bytes, echoed$",
                       r"virtio-console: hello from the guest", r"virtio-console: got ping kiln"]
    elif a.case == "net":
        cmdline += f" frames={NET_FRAMES} batch={NET_BATCH}"
        dev = ["--net", f"tap={NET_TAP}"]
        expect_out += [r"^net: ARP reply: 10\.0\.0\.1 is at ", r"^net: ICMP echo reply from 10\.0\.0\.1$",
                       rf"^net: sent {NET_FRAMES} frames$", rf"^net: received {NET_FRAMES} frames$"]
    elif a.case == "vsock":
        uds = os.path.join(tmp, "v.sock")
        cmdline += f" cid={VSOCK_CID}"
        dev = ["--vsock", f"cid={VSOCK_CID},uds={uds}"]
        expect_out += [rf"^vsock: cid {VSOCK_CID}, transport [0-9]+ features=0x",
                       r"^vsock: ring 3, serving ports 5000 \(echo\), 5001 \(control\), 5002 \(digest\)$",
                       rf"^vsock: client to host port {VSOCK_CLIENT_PORT}: sent {VSOCK_CLIENT_BYTES} bytes, all echoed$",
                       r"^vsock: hostile: credit lie: reset after [0-9]+ bytes? beyond the credit$",
                       r"^vsock: driver reset: every connection dropped, the device set up again$",
                       rf"^vsock: done: [0-9]+ connections accepted, [0-9]+ refused, peak [0-9]+ open",
                       r"^vsock: payload packets by receive buffer: 64K\+ [1-9][0-9]*, 4K [1-9][0-9]*, "
                       r"split [1-9][0-9]*, one-byte [1-9][0-9]*$"]
        # kiln's word on the first hostile packet (later ones may be rate-limited).
        expect_err.append(rf"vsock.*packet from CID {VSOCK_CID + 1} to CID 2 dropped")
    elif a.case == "hostile":
        make_image(rw, TAG_HOST, RW_SECTORS)
        rw_sha = sha(rw)
        if kiln:
            dev = ["--disk", rw]
            expect_err.append(KILN_HOSTILE_ERR)
        else:
            cmdline += " " + QEMU_LENIENT
            dev = ["-drive", f"file={rw},format=raw,if=none,id=d0",
                   "-device", "virtio-blk-device,drive=d0"]
        expect_out += [r"^hostile: loop: ", r"^hostile: avail-jump: ",
                       r"^hostile: 8 cases, the device recovered from each$"]

    metrics = None
    if kiln and a.launch == "config-file":
        # The same VM as a Firecracker config file describes it, with a metrics file.
        metrics = os.path.join(tmp, "metrics.json")
        open(metrics, "w").close()
        config = os.path.join(tmp, "config.json")
        with open(config, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": a.guest, "boot_args": cmdline},
                       "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
                       "vsock": {"guest_cid": VSOCK_CID, "uds_path": uds},
                       "metrics": {"metrics_path": metrics}}, f)
        argv = [binary, "--config-file", config, "--debug-exit"]
    elif kiln:
        argv = [binary, "run", "--debug-exit", "-m", "128M", "-k", a.guest, "-p", cmdline] + dev
    else:
        serial = ["-serial", f"file:{serial_file}"] if serial_file else ["-serial", "stdio"]
        accel = "kvm" if kvm_usable() else "tcg"
        print(f"qemu: accel={accel}" + ("" if accel == "kvm" else " (no usable /dev/kvm)"))
        argv = [binary] + QEMU_BASE + ["-accel", accel] + serial + dev + \
            ["-kernel", a.guest, "-append", cmdline]

    peer = vpeer = None
    if a.case == "net":
        peer = NetPeer(time.monotonic() + a.timeout)
        peer.start()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if a.case == "vsock":
        vpeer = VsockPeer(uds, time.monotonic() + a.timeout, p.kill)
        vpeer.start()
    try:
        out, err = p.communicate(input=stdin, timeout=a.timeout)
        status = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        status = "timeout"
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    elapsed = time.monotonic() - t0
    if serial_file and os.path.exists(serial_file):
        with open(serial_file, errors="replace") as f:
            out = f.read() + "\n" + out

    problems = []
    if status != 33:
        problems.append(f"exit status {status}, expected 33")
    for rx in expect_out:
        if not re.search(rx, out, re.M):
            problems.append(f"stdout does not match /{rx}/")
    for rx in expect_err:
        if not re.search(rx, err, re.M | re.I):
            problems.append(f"stderr does not match /{rx}/")
    if a.case in ("blk", "blk-cache-none"):
        problems += check_rw_image(rw)
        if sha(ro) != ro_sha:
            problems.append("the read-only image changed")
    if peer:
        peer.join(5)
        problems += peer.problems
        if peer.got != NET_FRAMES:
            problems.append(f"the host saw {peer.got} of {NET_FRAMES} frames out")
    if a.case == "hostile" and sha(rw) != rw_sha:
        problems.append("the disk image changed, though the hostile guest only reads")
    if vpeer:
        vpeer.join(5)
        problems += vpeer.problems
        if not vpeer.problems and not vpeer.finished:
            problems.append("the host end of vsock did not finish")
        if re.search(r"needs reset", err):
            problems.append("a vsock queue broke (stderr says 'needs reset')")
        if metrics and not problems:
            problems += vsock_metrics_problems(metrics, vpeer, out)

    if not problems:
        print(f"PASS: {name} ({elapsed:.1f} s)")
        if vpeer:
            for line in vpeer.log:
                print("  " + line)
            print("  the guest's lines:")
            for line in out.splitlines():
                if line.startswith("vsock:"):
                    print("    " + line)
            print("  kiln's messages:")
            for line in err.splitlines():
                print("    " + line)
        if kiln and a.case == "hostile":
            print("  kiln's messages:")
            for line in err.splitlines():
                if "virtio" in line:
                    print("    " + line)
        return 0
    print(f"FAIL: {name}: " + "; ".join(problems))
    if vpeer:
        print("  host end: " + "; ".join(vpeer.log))
    print(f"  command: {' '.join(argv)}")
    print("  stdout:")
    for line in out.splitlines():
        print("    " + line)
    print("  stderr:")
    for line in err.splitlines():
        print("    " + line)
    return 1


if __name__ == "__main__":
    sys.exit(main())
