#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Live exit view benchmark: PIO round trips per second with `kiln top` watching and without.

The guest is bench/pio.py's (tests/guests/pio.c): N one-byte writes to port 0x80, each a
KVM_EXIT_IO that kiln serves in user space, then debug-exit. Both rows run the same
`kiln run --api-sock SOCK --debug-exit -k GUEST`; in the "watched" row a `kiln top --json
--interval 1` polls GET /vm/exits from the moment the socket answers, which turns on per-exit
timing, port accounting and RIP sampling (KVM_SYNC_X86_REGS) in the vCPU loop. Each row runs
the N=0 and the N guest R times, rows and variants alternating; the difference of the median
wall times is N round trips without start-up and exit:

    exits/s = N / (t_N - t_0)

The watcher's own CPU time (one GET and a JSON parse a second) counts against the watched row,
as it would for a person running kiln top. Without a usable /dev/kvm the script says so on one
line and exits 0.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNT_LINE = re.compile(rb"writes to port 0x80: (0x[0-9a-fA-F]+)")
ROWS = ("not watched", "watched")


def median(xs):
    s = sorted(xs)
    n = len(s)
    return None if n == 0 else (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2)


def wait_socket(path, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return True
        except OSError:
            time.sleep(0.002)
        finally:
            s.close()
    return False


def run_once(kiln, guest, watched, timeout):
    """One kiln run: (wall seconds, guest's write count) or raises RuntimeError."""
    d = tempfile.mkdtemp(prefix="kiln-xv.", dir="/tmp")
    sock = os.path.join(d, "api.sock")
    top = None
    try:
        t0 = time.monotonic()
        p = subprocess.Popen([kiln, "run", "--api-sock", sock, "--debug-exit", "-k", guest],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        if watched and wait_socket(sock, p):
            top = subprocess.Popen([kiln, "top", "--api-sock", sock, "--json", "--interval", "1"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        out, err = p.communicate(timeout=timeout)
        t = time.monotonic() - t0
        if p.returncode != 33 or b"SUCCESS" not in out:
            raise RuntimeError("kiln exited %d: %r %r" % (p.returncode, out[-300:], err[-300:]))
        m = COUNT_LINE.search(out)
        if not m:
            raise RuntimeError("no 'writes to port 0x80' line: %r" % out[-300:])
        return t, int(m.group(1), 16)
    finally:
        if top is not None:
            top.terminate()
            top.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"))
    ap.add_argument("--guests", default=os.path.join(REPO, "build", "tests", "guests"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json", help="write every sample here")
    a = ap.parse_args()
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        print("bench/exit_view: no usable /dev/kvm (%s): nothing measured (make bench-exit-view "
              "runs it in the real-KVM tier)" % e.strerror)
        return 0
    guests = {"base": os.path.join(a.guests, "pio0.elf"), "loaded": os.path.join(a.guests, "pio.elf")}
    samples = {r: {"base": [], "loaded": []} for r in ROWS}
    n = None
    for i in range(a.runs):
        for row in (ROWS if i % 2 == 0 else ROWS[::-1]):
            for v in ("base", "loaded"):
                t, count = run_once(a.kiln, guests[v], row == "watched", a.timeout)
                samples[row][v].append(t)
                if v == "loaded":
                    n = count
    rate = {}
    print("PIO round trips through kiln (port 0x80), %d runs of each guest per row, N=%d" % (a.runs, n))
    print("%-12s %12s %12s %14s %12s" % ("row", "t_0 (s)", "t_N (s)", "round trips/s", "ns each"))
    for row in ROWS:
        t0, tn = median(samples[row]["base"]), median(samples[row]["loaded"])
        rate[row] = n / (tn - t0)
        print("%-12s %12.3f %12.3f %14.0f %12.0f" % (row, t0, tn, rate[row], 1e9 / rate[row]))
    diff = (rate["not watched"] - rate["watched"]) / rate["not watched"] * 100
    print("watched costs %.2f%% of the round-trip rate (goal: under 2%%: %s)" %
          (diff, "met" if diff < 2 else "NOT met"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"n": n, "runs": a.runs, "samples": samples, "rate": rate, "cost_pct": diff}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
