#!/usr/bin/env python3
"""kiln on a terminal: stdin is put in raw mode while the guest runs and restored on exit, both
when kiln is stopped by SIGTERM and when the user types the Ctrl-a x escape. While the 2-vCPU
guest runs, its vCPU threads must be named vcpu0 and vcpu1.

usage: terminal.py KILN MB_ECHO_ELF
Exit 0 pass, 1 fail, 77 skip (no usable /dev/kvm).
"""
import os
import pty
import select
import signal
import subprocess
import sys

from kvmcheck import require_kvm
import termios
import time


def read_until(fd, marker, timeout=20.0):
    buf = b""
    end = time.monotonic() + timeout
    while marker not in buf:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError("no %r in output: %r" % (marker, buf))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise EOFError("output ended before %r: %r" % (marker, buf))
            buf += chunk
    return buf


def run_case(kiln, guest, stop):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    if not before[3] & termios.ICANON:
        return "the new pty is not in canonical mode to begin with"
    proc = subprocess.Popen([kiln, "run", "--debug-exit", "-c", "2", "-k", guest], stdin=slave, stdout=slave,
                            stderr=subprocess.PIPE, close_fds=True)
    try:
        read_until(master, b"echo: ready")
        names = sorted(open("/proc/%d/task/%s/comm" % (proc.pid, t)).read().strip()
                       for t in os.listdir("/proc/%d/task" % proc.pid))
        if [n for n in names if n.startswith("vcpu")] != ["vcpu0", "vcpu1"]:
            return "vCPU threads are not named vcpu0, vcpu1: %s" % names
        during = termios.tcgetattr(slave)
        if during[3] & (termios.ICANON | termios.ECHO | termios.ISIG):
            return "stdin is not in raw mode while the guest runs (lflag 0x%x)" % during[3]
        if stop == "sigterm":
            proc.send_signal(signal.SIGTERM)
            want = 128 + signal.SIGTERM
        else:
            os.write(master, b"\x01x")  # Ctrl-a x
            want = 130
        status = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    if status != want:
        return "exit status %d, expected %d (stderr: %r)" % (status, want, proc.stderr.read())
    if after != before:
        return "terminal settings not restored: lflag 0x%x, was 0x%x" % (after[3], before[3])
    return None


def main():
    kiln, guest = sys.argv[1], sys.argv[2]
    require_kvm()
    failed = False
    for stop in ("sigterm", "ctrl-a x"):
        problem = run_case(kiln, guest, stop)
        if problem:
            print("FAIL: %s: %s" % (stop, problem))
            failed = True
        else:
            print("PASS: raw terminal restored after %s" % stop)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
