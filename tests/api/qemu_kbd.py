#!/usr/bin/env python3
"""mb_kbd under QEMU (microvm with an i8042): the monitor's `sendkey ctrl-alt-delete` must make
the guest print the same bytes and lines it prints under kiln after SendCtrlAltDel, which shows
the guest, not kiln, defines what the API test expects.

usage: qemu_kbd.py MB_KBD_ELF
Exit 0 pass, 1 fail, 77 skip (no qemu-system-x86_64, or $QEMU). QEMU uses KVM when /dev/kvm
opens read-write, else TCG.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

EXPECTED = ["kbd: ready", "kbd: 0x14", "kbd: 0x11", "kbd: 0xe0", "kbd: 0x71", "kbd: ctrl-alt-del", "SUCCESS"]


def wait_for(path, text, proc, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        with open(path, errors="replace") as f:
            if text in f.read():
                return True
        time.sleep(0.05)
    return False


def main():
    guest = sys.argv[1]
    qemu = os.environ.get("QEMU", "qemu-system-x86_64")
    if shutil.which(qemu) is None:
        print("SKIP: %s is not installed" % qemu)
        return 77
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        accel = "kvm"
        print("qemu: accel=kvm")
    except OSError:
        accel = "tcg"
        print("qemu: accel=tcg (no usable /dev/kvm)")
    tmp = tempfile.mkdtemp(prefix="qemu-kbd.", dir="/tmp")
    mon, out = os.path.join(tmp, "monitor.sock"), os.path.join(tmp, "out")
    with open(out, "wb") as f:
        proc = subprocess.Popen([qemu, "-M", "microvm", "-accel", accel, "-nodefaults", "-nographic", "-no-reboot",
                                 "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                 "-device", "i8042", "-monitor", "unix:%s,server=on,wait=off" % mon,
                                 "-kernel", guest], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.DEVNULL)
    try:
        if not wait_for(out, "kbd: ready\n", proc, 30):
            print("FAIL: qemu: mb_kbd never printed 'kbd: ready': %r" % open(out, errors="replace").read())
            return 1
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(mon)
        s.sendall(b"sendkey ctrl-alt-delete\n")
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            status = None
        s.close()
        lines = open(out, errors="replace").read().splitlines()
        got = [line for line in lines if line.startswith("kbd: ") or line == "SUCCESS" or line.startswith("FAIL")]
        if status != 33 or got != EXPECTED:
            print("FAIL: qemu: mb_kbd after sendkey ctrl-alt-delete: status %s, lines %r" % (status, got))
            return 1
        print("PASS: qemu: mb_kbd reads 0x14 0x11 0xe0 0x71 after sendkey ctrl-alt-delete, exits 33")
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
