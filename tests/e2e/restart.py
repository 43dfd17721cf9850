#!/usr/bin/env python3
"""--on-reboot=restart: a guest that resets is booted again from the same configuration (three
boots are watched), and kiln still stops cleanly on SIGTERM (status 143); without the option
the same reset ends kiln with status 0 (tested in meson.build's acpi-reset case).

usage: restart.py KILN PLATFORM_ELF
"""
import os
import select
import signal
import subprocess
import sys

from kvmcheck import require_kvm
import time


def main():
    kiln, guest = sys.argv[1], sys.argv[2]
    require_kvm()
    p = subprocess.Popen([kiln, "run", "--on-reboot=restart", "-k", guest, "-p", "reset"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, boots, end = b"", 0, time.monotonic() + 60
    while boots < 3 and time.monotonic() < end and p.poll() is None:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            out += os.read(p.stdout.fileno(), 4096)
            boots = out.count(b"acpi: reset")
    p.send_signal(signal.SIGTERM)
    try:
        status = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        print("FAIL: kiln did not stop on SIGTERM while restarting")
        return 1
    if boots < 3:
        print("FAIL: saw %d boots, expected 3: %r %r" % (boots, out, p.stderr.read()))
        return 1
    if status != 128 + signal.SIGTERM:
        print("FAIL: status %d after SIGTERM, expected 143" % status)
        return 1
    print("PASS: the guest rebooted into a fresh VM %d times; SIGTERM -> 143" % boots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
