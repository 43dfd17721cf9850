#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""PIO exit benchmark: round trips per second through a user-space device, kiln vs QEMU vs a floor.

The guest (tests/guests/pio.c) writes N bytes to the POST port 0x80, one `outb` each, then
prints SUCCESS and leaves through debug-exit (status 33). Every write is a VM exit that KVM
hands to the monitor's user space (KVM_EXIT_IO), where kiln, QEMU and bench/floor ignore it,
and KVM_RUN enters the guest again. Each row runs the N=0 build and the N build of the same
guest R times each, alternating; the difference of the median wall times is N round trips
without start-up and exit:

    exits/s = N / (t_N - t_0)        ns per round trip = (t_N - t_0) / N

N is what the guest says it wrote (its `writes to port 0x80:` line), so a rebuilt guest with
another count needs no option here. Runs go through bench/measure like bench/startup.py (the
process's own wall time, fork to wait4); a run counts only with exit status 33 and SUCCESS on
stdout. Without a usable /dev/kvm the script says so on one line and exits 0.
"""

import argparse
import json
import os
import platform
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from startup import Runner, cpu_model, find_program, judge, median  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUESTS = os.path.join(REPO, "build", "tests", "guests")
COUNT_LINE = re.compile(rb"writes to port 0x80: (0x[0-9a-fA-F]+)")
VARIANTS = ("base", "loaded")  # the N=0 guest, the N guest


class Row:
    """One monitor configuration: argv for the N=0 guest and for the N guest."""

    def __init__(self, name, argv_base, argv_loaded, missing=None):
        self.name = name
        self.argv = {"base": argv_base, "loaded": argv_loaded}
        self.missing = missing
        self.samples = {"base": [], "loaded": []}
        self.warmup = {"base": [], "loaded": []}
        self.gave_up = None

    def ok(self, variant):
        return [s for s in self.samples[variant] if s["ok"]]

    def failures(self):
        return [s for v in VARIANTS for s in self.samples[v] if not s["ok"]]


def kvm_problem():
    """Why /dev/kvm cannot be used here, or None."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return e.strerror
    os.close(fd)
    return None


def judge_pio(sample, want_zero):
    """startup.judge(), then the guest's own count: 0 for the base guest, > 0 for the other."""
    judge(sample)
    if not sample["ok"]:
        return sample
    m = COUNT_LINE.search(sample["stdout"])
    if not m:
        sample["ok"] = False
        sample["error"] = "guest output has no 'writes to port 0x80:' line (not the pio guest?)"
        return sample
    sample["count"] = int(m.group(1), 16)
    if (sample["count"] == 0) != want_zero:
        sample["ok"] = False
        sample["error"] = "guest wrote %d times, expected %s" % (
            sample["count"], "0 (the N=0 guest)" if want_zero else "more than 0")
    return sample


def build_rows(args):
    kiln = find_program(args.kiln)
    floor = find_program(args.floor)
    qemu = find_program(args.qemu)
    elf = {"base": os.path.abspath(args.elf0), "loaded": os.path.abspath(args.elf)}
    mb = {"base": os.path.abspath(args.multiboot0), "loaded": os.path.abspath(args.multiboot)}
    qemu_args = ["-M", "microvm", "-accel", "kvm", "-m", "128M", "-nodefaults", "-nographic",
                 "-no-reboot", "-serial", "stdio",
                 "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel"]
    rows = []

    def add(name, prog, why_missing, argv_of):
        if prog is None:
            rows.append(Row(name, None, None, missing=why_missing))
        else:
            rows.append(Row(name, argv_of(prog, "base"), argv_of(prog, "loaded")))

    add("kiln", kiln, "no kiln at %s" % args.kiln,
        lambda p, v: [p, "run", "-k", elf[v], "--debug-exit"])
    add("kiln --irqchip=kernel", kiln, "no kiln at %s" % args.kiln,
        lambda p, v: [p, "run", "-k", elf[v], "--debug-exit", "--irqchip=kernel"])
    add("floor", floor, "no floor at %s" % args.floor, lambda p, v: [p, elf[v]])
    add("qemu microvm", qemu, "no %s" % args.qemu, lambda p, v: [p, *qemu_args, mb[v]])
    return rows


def run_one(row, variant, runner):
    return judge_pio(runner.run(row.argv[variant]), want_zero=(variant == "base"))


def report_failure(row, variant, s, n, verbose):
    if verbose or len(row.failures()) == 1:
        tail = (s["stderr"] or s["stdout"])[-300:].decode(errors="replace").strip()
        print("  %s (%s): run %d failed: %s%s" % (
            row.name, "N=0" if variant == "base" else "N", n, s["error"],
            ("\n    | " + tail.replace("\n", "\n    | ")) if tail else ""), file=sys.stderr)


def run_all(rows, runner, args):
    """Round-robin: in each round every row runs its N=0 guest and its N guest once, the order of
    the two swapped every other round, so drift of the host hits both alike."""
    active = [r for r in rows if r.missing is None]
    for r in active:
        for _ in range(args.warmup):
            for v in VARIANTS:
                r.warmup[v].append(run_one(r, v, runner))
    for round_no in range(1, args.runs + 1):
        order = VARIANTS if round_no % 2 else tuple(reversed(VARIANTS))
        for r in active:
            if r.gave_up:
                continue
            for v in order:
                s = run_one(r, v, runner)
                r.samples[v].append(s)
                if not s["ok"]:
                    report_failure(r, v, s, round_no, args.verbose)
                    if len(r.failures()) >= args.max_failures:
                        r.gave_up = "stopped after %d failures" % len(r.failures())
                        break
        if args.verbose:
            print("  round %d of %d done" % (round_no, args.runs), file=sys.stderr)


def summary(row):
    """Medians, N and the derived rates of one row (None where it cannot be computed)."""
    base = [s["wall_ms"] for s in row.ok("base")]
    loaded = [s["wall_ms"] for s in row.ok("loaded")]
    counts = sorted({s["count"] for s in row.ok("loaded")})
    t0, tn = median(base), median(loaded)
    n = counts[0] if len(counts) == 1 else None
    out = {"t0_median_ms": t0, "tn_median_ms": tn, "t0_min_ms": min(base) if base else None,
           "tn_min_ms": min(loaded) if loaded else None, "n": n,
           "exits_per_s": None, "ns_per_exit": None, "ns_per_exit_min": None, "problem": None}
    if len(counts) > 1:
        out["problem"] = "the N guest reported different counts: %s" % counts
    elif t0 is None or tn is None:
        out["problem"] = "no successful run of the %s guest" % ("N=0" if t0 is None else "N")
    elif tn <= t0:
        out["problem"] = "t_N <= t_0: the loop cost less than the noise"
    else:
        delta_ms = tn - t0
        out["exits_per_s"] = n / (delta_ms / 1e3)
        out["ns_per_exit"] = delta_ms * 1e6 / n
        if out["tn_min_ms"] > out["t0_min_ms"]:
            out["ns_per_exit_min"] = (out["tn_min_ms"] - out["t0_min_ms"]) * 1e6 / n
    return out


def fmt(x, spec):
    return "-" if x is None else spec % x


def print_report(rows, args):
    sums = {r.name: summary(r) for r in rows if r.missing is None}
    ns = sorted({s["n"] for s in sums.values() if s["n"]})
    print()
    print("pio: outb to port 0x80, served in the monitor's user space; N = %s, %d runs per guest"
          % ("/".join(str(n) for n in ns) or "?", args.runs))
    print("host: %s, %s, %d CPUs; wall = fork..wait4 of the monitor, medians"
          % (platform.release(), cpu_model(), os.cpu_count() or 0))
    print()
    head = "%-22s %5s %5s %10s %10s %12s %9s %9s" % (
        "config", "ok 0", "ok N", "t_0 ms", "t_N ms", "exits/s", "ns/exit", "(min)")
    print(head)
    print("-" * len(head))
    for r in rows:
        if r.missing:
            print("%-22s %5s %5s %10s   (missing: %s)" % (r.name, "-", "-", "missing", r.missing))
            continue
        s = sums[r.name]
        print("%-22s %5s %5s %10s %10s %12s %9s %9s" % (
            r.name, "%d/%d" % (len(r.ok("base")), len(r.samples["base"])),
            "%d/%d" % (len(r.ok("loaded")), len(r.samples["loaded"])),
            fmt(s["t0_median_ms"], "%.2f"), fmt(s["tn_median_ms"], "%.2f"),
            fmt(s["exits_per_s"], "%.0f"), fmt(s["ns_per_exit"], "%.0f"),
            fmt(s["ns_per_exit_min"], "%.0f")))
    for r in rows:
        if r.missing:
            continue
        s = sums[r.name]
        if s["problem"]:
            print("  note: %s: %s" % (r.name, s["problem"]))
        fails = r.failures()
        if fails:
            print("  note: %s: %d of %d runs failed (first: %s)%s" % (
                r.name, len(fails), sum(len(r.samples[v]) for v in VARIANTS), fails[0]["error"],
                "; " + r.gave_up if r.gave_up else ""))
        for v in VARIANTS:
            if r.warmup[v] and not r.warmup[v][-1]["ok"]:
                print("  note: %s: warm-up run of the %s guest failed: %s" % (
                    r.name, "N=0" if v == "base" else "N", r.warmup[v][-1]["error"]))

    print()
    head = "%-36s %9s %9s" % ("ratio", "exits/s", "ns/exit")
    print(head)
    print("-" * len(head))
    for k in ("kiln", "kiln --irqchip=kernel"):
        for ref in ("floor", "qemu microvm"):
            ks, rs = sums.get(k), sums.get(ref)
            rate = ns_ratio = None
            if ks and rs and ks["exits_per_s"] and rs["exits_per_s"]:
                rate = ks["exits_per_s"] / rs["exits_per_s"]
                ns_ratio = ks["ns_per_exit"] / rs["ns_per_exit"]
            print("%-36s %9s %9s" % ("%s / %s" % (k, ref), fmt(rate, "%.3fx"),
                                     fmt(ns_ratio, "%.3fx")))
    print("exits/s above 1x: kiln serves more round trips per second than the reference; "
          "'-': a row is missing or has no rate")


def write_json(path, rows, args):
    def strip(s):
        d = {k: v for k, v in s.items() if k not in ("stdout", "stderr")}
        if not s["ok"]:
            d["stdout_tail"] = s["stdout"][-500:].decode(errors="replace")
            d["stderr_tail"] = s["stderr"][-500:].decode(errors="replace")
        return d

    doc = {
        "benchmark": "pio",
        "method": "exits/s = N / (median wall of the N guest - median wall of the N=0 guest)",
        "host": {"kernel": platform.release(), "cpu": cpu_model(), "cpus": os.cpu_count()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs_requested": args.runs,
        "rows": [
            {
                "name": r.name,
                "argv": r.argv,
                "missing": r.missing,
                "gave_up": r.gave_up,
                "summary": summary(r) if r.missing is None else None,
                "warmup": {v: [strip(s) for s in r.warmup[v]] for v in VARIANTS},
                "samples": {v: [strip(s) for s in r.samples[v]] for v in VARIANTS},
            }
            for r in rows
        ],
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(
        description="PIO exit round trips per second through a user-space device (port 0x80) "
                    "under kiln, QEMU microvm and a minimal KVM floor.")
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"),
                    help="kiln binary (default: build/kiln); missing -> rows shown as missing")
    ap.add_argument("--floor", default=os.path.join(REPO, "build", "bench", "floor"),
                    help="floor binary built from bench/floor.c")
    ap.add_argument("--measure", default=None,
                    help="measure binary built from bench/measure.c "
                         "(default: 'measure' next to --floor)")
    ap.add_argument("--qemu", default="qemu-system-x86_64", help="QEMU binary")
    ap.add_argument("--elf", default=os.path.join(GUESTS, "pio.elf"),
                    help="64-bit guest with N writes (kiln, floor)")
    ap.add_argument("--elf0", default=os.path.join(GUESTS, "pio0.elf"),
                    help="the same guest with none")
    ap.add_argument("--multiboot", default=os.path.join(GUESTS, "mb_pio.elf"),
                    help="multiboot guest with N writes (QEMU)")
    ap.add_argument("--multiboot0", default=os.path.join(GUESTS, "mb_pio0.elf"),
                    help="the same guest with none")
    ap.add_argument("--runs", type=int, default=5, help="runs of each guest per row (default 5)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="unmeasured runs of each guest per row first (default 1)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per run (default 600)")
    ap.add_argument("--max-failures", type=int, default=3,
                    help="stop a row after this many failed runs (default 3)")
    ap.add_argument("--json", metavar="FILE", help="write the raw samples here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.max_failures < 1:
        ap.error("--runs and --max-failures must be >= 1, --warmup >= 0")

    problem = kvm_problem()
    if problem:
        print("pio: not run: no usable /dev/kvm (%s); this benchmark needs KVM" % problem)
        return 0

    for what, p in (("--elf", args.elf), ("--elf0", args.elf0), ("--multiboot", args.multiboot),
                    ("--multiboot0", args.multiboot0)):
        if not os.path.isfile(p):
            ap.error("%s %s: no such file (build the guests: ninja -C build)" % (what, p))
    measure = find_program(args.measure or os.path.join(
        os.path.dirname(os.path.abspath(args.floor)), "measure"))
    if not measure:
        print("note: no measure binary; wall time includes Python's spawn (about 1 ms, "
              "the same for both guests, so it cancels out)", file=sys.stderr)

    rows = build_rows(args)
    active = [r for r in rows if r.missing is None]
    print("running %d configurations, %d runs in all ..." % (
        len(active), len(active) * 2 * (args.runs + args.warmup)), file=sys.stderr)
    runner = Runner(measure, args.timeout)
    try:
        run_all(rows, runner, args)
    finally:
        runner.close()

    print_report(rows, args)
    if args.json:
        write_json(args.json, rows, args)
        print("\nraw samples: %s" % args.json)
    return 1 if any(r.failures() for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
