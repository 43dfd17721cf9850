#!/usr/bin/env python3
"""Where does a running guest spend the instructions KVM emulates?

usage: scripts/guest-profile.py [-s SECONDS] [-n TOP] [--pid KILN_PID] [--symbols FILE]

Samples the host kernel's kvm:kvm_emulate_insn trace event for SECONDS and prints the guest
functions (or RIPs) that the emulated instructions belong to, most frequent first.

What it sees depends on the host. Under PVM (no VT-x; docs/linux.md) every guest ring-0
instruction is emulated, so this is a complete profile of the guest kernel: it is how a boot
that goes silent for minutes is diagnosed there. On a VT-x or AMD-V host only the instructions
KVM emulates (MMIO accesses, some real-mode code) appear, which shows which guest code causes
emulation; use `perf kvm` for a sampled profile there.

--symbols takes a System.map ("ADDR TYPE NAME" lines, as `nm -n vmlinux` writes) or an ELF file
with a symbol table (read with `nm -n`). Debian's packaged kernel has a stub System.map: the
real one is in linux-image-<version>-dbg (/usr/lib/debug/boot/). Addresses only match when the
kernel runs at its link address, as it does when kiln boots a vmlinux (no KASLR).

Needs root (tracefs). The trace buffer is shared host-wide: --pid keeps the events of one kiln
process's threads (its vCPUs). Exit status 0, 1 when nothing was sampled, 2 for bad arguments.
"""
import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import time

TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
EVENT = "events/kvm/kvm_emulate_insn/enable"
LINE = re.compile(r"-(\d+)\s+\[\d+\].*kvm_emulate_insn: [0-9a-f]+:([0-9a-f]+):")


def fail(msg):
    print("guest-profile: " + msg, file=sys.stderr)
    sys.exit(2)


def tracefs():
    for d in TRACEFS:
        if os.path.exists(os.path.join(d, EVENT)):
            return d
    if os.path.isdir(TRACEFS[0]) and not os.listdir(TRACEFS[0]):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS[0]], check=False)
        if os.path.exists(os.path.join(TRACEFS[0], EVENT)):
            return TRACEFS[0]
    fail("no kvm:kvm_emulate_insn trace event (is tracefs mounted, kvm loaded, and are we root?)")


def load_symbols(path):
    if not os.path.isfile(path):
        fail("%s: no such file" % path)
    with open(path, "rb") as f:
        elf = f.read(4) == b"\x7fELF"
    if elf:
        r = subprocess.run(["nm", "-n", path], capture_output=True, text=True)
        if r.returncode != 0:
            fail("%s: nm failed: %s" % (path, r.stderr.strip().splitlines()[-1:] or "?"))
        text = r.stdout
    else:
        with open(path, errors="replace") as f:
            text = f.read()
    syms = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TtWw":
            try:
                syms.append((int(parts[0], 16), parts[2]))
            except ValueError:
                pass
    if len(syms) < 2:
        fail("%s: no text symbols (a stub System.map? see --help)" % path)
    syms.sort()
    return syms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="see the top of this file for details")
    ap.add_argument("-s", "--seconds", type=float, default=2.0)
    ap.add_argument("-n", "--top", type=int, default=25)
    ap.add_argument("--pid", type=int, help="only this kiln process's threads")
    ap.add_argument("--symbols", help="System.map or ELF with symbols")
    ap.add_argument("--buffer-kb", type=int, default=16384, help="per-CPU trace buffer size")
    args = ap.parse_args()
    if args.seconds <= 0 or args.seconds > 600:
        fail("--seconds: %g is not in (0, 600]" % args.seconds)
    syms = load_symbols(args.symbols) if args.symbols else None
    tids = None
    if args.pid is not None:
        try:
            tids = {int(t) for t in os.listdir("/proc/%d/task" % args.pid)}
        except OSError:
            fail("--pid: no process %d" % args.pid)

    d = tracefs()

    def write(name, value):
        with open(os.path.join(d, name), "w") as f:
            f.write(value)

    with open(os.path.join(d, "buffer_size_kb")) as f:
        # "1408", or "7 (expanded: 1408)" while the buffer was never allocated
        m = re.search(r"(\d+)\)?\s*$", f.read())
        old_kb = m.group(1) if m else None
    write("buffer_size_kb", str(args.buffer_kb))
    write("trace", "")
    write(EVENT, "1")
    try:
        time.sleep(args.seconds)
    finally:
        write(EVENT, "0")

    counts, total, by_tid = collections.Counter(), 0, collections.Counter()
    addrs = [a for a, _ in syms] if syms else None
    with open(os.path.join(d, "trace"), errors="replace") as f:
        for line in f:
            m = LINE.search(line)
            if not m:
                continue
            tid, rip = int(m.group(1)), int(m.group(2), 16)
            if tids is not None and tid not in tids:
                continue
            if syms:
                i = bisect.bisect_right(addrs, rip) - 1
                key = syms[i][1] if i >= 0 else "0x%x" % rip
            else:
                key = "0x%x" % rip
            counts[key] += 1
            by_tid[tid] += 1
            total += 1
    write("trace", "")
    if old_kb:
        write("buffer_size_kb", old_kb)  # the tracing set-up is host-wide: leave it as it was
    if not total:
        print("no emulated guest instructions in %.1f s" % args.seconds)
        return 1
    print("%d emulated instructions in %.1f s (%.0f/s), threads: %s" % (
        total, args.seconds, total / args.seconds,
        ", ".join("%d: %d" % kv for kv in sorted(by_tid.items()))))
    for key, n in counts.most_common(args.top):
        print("%6.2f%%  %s" % (100.0 * n / total, key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
