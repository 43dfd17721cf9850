#!/usr/bin/env python3
"""Runs a VMM booting a Linux guest with kiln's test initramfs and checks the /init dialogue.

usage: console-check.py [options] -- COMMAND [ARGS...]

COMMAND (kiln or QEMU) must have the guest's serial console on its stdout and take the console's
input from its stdin. Its output is copied to our stdout as it comes. When the guest prints
"KILN-INIT: type a line" the line (--line) is written to COMMAND's stdin: never earlier, because
the guest's 8250 driver discards what arrived before its port was opened. The run passes when
COMMAND exits with --expect-status and its output holds, in order, "KILN-INIT: start",
"cpus ok" and "mem ok" (unless --no-expect-checks), "got <line>" and "done", and no
"KILN-INIT: FAIL" line. Timings (from starting COMMAND to the kernel's first line, to "Run /init",
to "KILN-INIT: start", to the exit) are printed at the end, with the guest's own uptime at /init.

Exit status: 0 pass, 1 fail (the reason on the last line), 2 bad usage.
"""
import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import time

PREFIX = "KILN-INIT: "


def parse_args():
    p = argparse.ArgumentParser(usage=__doc__.split("\n\n")[1])
    p.add_argument("--line", default="hello from the host", help="line to type (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=600, help="seconds before the run is killed")
    p.add_argument("--expect-status", type=int, default=0, help="COMMAND's exit status (default 0)")
    p.add_argument("--no-expect-checks", action="store_true",
                   help="do not require 'cpus ok' and 'mem ok' (no kiln.expect_* given)")
    p.add_argument("--exit-grace", type=float, default=60,
                   help="seconds COMMAND may take to exit after /init's 'done' (default 60)")
    p.add_argument("--log", help="also write the whole output to this file")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if a.command and a.command[0] == "--":
        a.command = a.command[1:]
    if not a.command:
        p.print_usage(sys.stderr)
        sys.exit(2)
    return a


def main():
    a = parse_args()
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(a.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as e:
        print(f"FAIL: cannot run {a.command[0]}: {e}")
        return 1
    log = open(a.log, "wb") if a.log else None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    marks = {}
    buf = b""
    lines = []
    typed = False
    timed_out = False
    stuck = None  # why COMMAND was killed after /init finished

    def mark(name):
        marks.setdefault(name, time.monotonic() - t0)

    while True:
        now = time.monotonic() - t0
        left = a.timeout - now
        if left <= 0:
            timed_out = True
            break
        if "done" in marks and now - marks["done"] > a.exit_grace:
            stuck = f"COMMAND did not exit within {a.exit_grace:.0f}s of /init's done"
            break
        if not sel.select(timeout=min(left, 1.0)):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        if log:
            log.write(chunk)
        mark("first output")
        buf += chunk
        *done, buf = buf.split(b"\n")
        # A prompt is not always followed by a newline before we must answer it.
        pending = [(raw, True) for raw in done]
        if PREFIX.encode() + b"type a line" in buf:
            pending.append((buf, False))
        for raw, complete in pending:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if complete:
                lines.append(text)
            if re.search(r"\] Linux version ", text) or text.startswith("Linux version "):
                if "done" in marks and complete:
                    stuck = "the guest booted again after /init's done instead of exiting"
                mark("kernel")
            if "Run /init as init process" in text:
                mark("run /init")
            if text.startswith(PREFIX + "start"):
                mark("init start")
            if text.startswith(PREFIX + "done") and complete:
                mark("done")
            if text.startswith(PREFIX + "type a line") and not typed:
                typed = True
                mark("typed")
                try:
                    proc.stdin.write(a.line.encode() + b"\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
        if stuck:
            break
    if buf:
        lines.append(buf.decode("utf-8", "replace").rstrip("\r"))
    if timed_out or stuck:
        os.killpg(proc.pid, signal.SIGKILL)
    status = proc.wait()
    total = time.monotonic() - t0
    if log:
        log.close()

    init = [l[len(PREFIX):] for l in lines if l.startswith(PREFIX)]
    want = ["start"]
    if not a.no_expect_checks:
        want += ["cpus ok", "mem ok"]
    want += ["got " + a.line, "done"]
    reason = None
    if timed_out:
        reason = f"timed out after {a.timeout:.0f}s"
    elif stuck:
        reason = stuck
    elif any(l.startswith("FAIL") for l in init):
        reason = "guest reported: " + "; ".join(l for l in init if l.startswith("FAIL"))
    else:
        pos = 0
        for w in want:
            try:
                pos = init.index(w, pos) + 1
            except ValueError:
                reason = f"missing '{PREFIX}{w}'"
                break
    if reason is None and status != a.expect_status:
        reason = f"exit status {status}, expected {a.expect_status}"

    print()
    for name in ("first output", "kernel", "run /init", "init start", "typed", "done"):
        if name in marks:
            print(f"console-check: {name} at {marks[name]:.2f}s")
    up = [l for l in init if l.startswith("uptime_s=")]
    if up:
        print(f"console-check: guest uptime at /init: {up[0].split('=', 1)[1]}s")
    print(f"console-check: exit status {status} after {total:.2f}s")
    if reason:
        print(f"FAIL: {reason}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
