#!/usr/bin/env python3
"""Run one virtio guest (tests/guests/vio_*.c) under kiln or QEMU microvm and check it.

usage: virtio_test.py --monitor kiln|qemu --bin PATH --guest ELF --case CASE [--timeout S]

CASE is blk, blk-cache-none (kiln only), rng, console, hostile or net (kiln only: a TAP in a
network namespace of the test's own, with this script as the host end; needs root). The script makes the disk
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
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

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
    ap.add_argument("--case", choices=["blk", "blk-cache-none", "rng", "console", "hostile", "net"],
                    required=True)
    ap.add_argument("--timeout", type=int, default=60)
    a = ap.parse_args()
    name = f"{a.monitor}: virtio {a.case}"

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

    if kiln:
        argv = [binary, "run", "--debug-exit", "-m", "128M", "-k", a.guest, "-p", cmdline] + dev
    else:
        serial = ["-serial", f"file:{serial_file}"] if serial_file else ["-serial", "stdio"]
        accel = "kvm" if kvm_usable() else "tcg"
        print(f"qemu: accel={accel}" + ("" if accel == "kvm" else " (no usable /dev/kvm)"))
        argv = [binary] + QEMU_BASE + ["-accel", accel] + serial + dev + \
            ["-kernel", a.guest, "-append", cmdline]

    peer = None
    if a.case == "net":
        peer = NetPeer(time.monotonic() + a.timeout)
        peer.start()
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, timeout=a.timeout)
        status, out, err = p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        status = "timeout"
        out = (e.stdout or b"").decode(errors="replace")
        err = (e.stderr or b"").decode(errors="replace")
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

    if not problems:
        print(f"PASS: {name}")
        if kiln and a.case == "hostile":
            print("  kiln's messages:")
            for line in err.splitlines():
                if "virtio" in line:
                    print("    " + line)
        return 0
    print(f"FAIL: {name}: " + "; ".join(problems))
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
