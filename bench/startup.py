#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Startup benchmark: a whole run of the 64-bit hello guest, kiln vs QEMU vs a floor.

Each configuration runs the hello guest to completion N times (exec -> the
guest prints SUCCESS -> the guest writes 0x10 to the debug-exit port -> the
monitor process has exited with status 33). For every run we record the wall
time, the time to the first byte the guest writes on its serial port (the
monitor's stdout: exec to the first guest instruction, near enough) and the
peak RSS (ru_maxrss) of the monitor process; the table shows medians and the
ratios of kiln to the floor and to QEMU.

Runs are launched through bench/measure (see measure.c) so that ru_maxrss is
the monitor's own; forked straight from Python it would include the
interpreter's ~10 MiB. measure also gives the monitor a pipe as its stdout and
timestamps the first byte. Without measure the script still runs, marks the RSS
column as inflated, does not judge the RSS targets and shows no first output
time.

The targets (kiln <= 1.5x the floor, kiln < 0.1x QEMU) are printed, never
enforced: the exit status is 0 unless a run failed or the arguments are bad.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time

EXPECTED_STATUS = 33  # (0x10 << 1) | 1, the debug-exit convention
SUCCESS_MARK = b"SUCCESS"
FLOOR_TARGET = 1.5  # kiln / floor, at most
QEMU_TARGET = 0.1  # kiln / QEMU, below
SECCOMP_TARGET = 1.05  # kiln / kiln --no-seccomp, at most (issue 15)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Config:
    """One row of the table: a command line run `runs` times."""

    def __init__(self, name, argv, runs, missing=None):
        self.name = name
        self.argv = argv
        self.runs = runs
        self.missing = missing  # why it is skipped, or None
        self.samples = []  # one dict per measured run
        self.warmup_samples = []
        self.gave_up = None

    @property
    def ok_samples(self):
        return [s for s in self.samples if s["ok"]]

    @property
    def failures(self):
        return [s for s in self.samples if not s["ok"]]


def find_program(path):
    """Absolute path of an executable (a path or a name on PATH), or None."""
    if os.sep in path:
        return os.path.abspath(path) if os.access(path, os.X_OK) and os.path.isfile(path) else None
    return shutil.which(path)


def rewind(fd):
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)


def read_all(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


class Runner:
    """Runs one command with stdin=/dev/null and stdout/stderr in temp files."""

    def __init__(self, measure, timeout):
        self.measure = measure
        self.timeout = timeout
        self.out = tempfile.TemporaryFile(prefix="kiln-bench-out-")
        self.err = tempfile.TemporaryFile(prefix="kiln-bench-err-")

    def close(self):
        self.out.close()
        self.err.close()

    def run(self, argv):
        out_fd, err_fd = self.out.fileno(), self.err.fileno()
        rewind(out_fd)
        rewind(err_fd)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_fd, 1),
            (os.POSIX_SPAWN_DUP2, err_fd, 2),
        ]
        if self.measure:
            sample = self._run_measured(argv, actions)
        else:
            sample = self._run_direct(argv, actions)
        sample["stdout"] = read_all(out_fd)
        sample["stderr"] = read_all(err_fd)
        return sample

    def _run_measured(self, argv, actions):
        rfd, wfd = os.pipe()
        if wfd == 3:  # dup2(3, 3) in the child would leave it close-on-exec
            wfd = os.dup(3)
            os.close(3)
        try:
            full = [self.measure, "3", str(int(self.timeout)), *argv]
            actions = actions + [(os.POSIX_SPAWN_DUP2, wfd, 3)]
            t0 = time.perf_counter()
            pid = os.posix_spawn(self.measure, full, os.environ, file_actions=actions)
            _, status, _ = os.wait4(pid, 0)
            t1 = time.perf_counter()
            os.close(wfd)
            wfd = -1
            line = b""
            while True:
                b = os.read(rfd, 4096)
                if not b:
                    break
                line += b
        finally:
            os.close(rfd)
            if wfd >= 0:
                os.close(wfd)
        fields = dict(kv.split("=", 1) for kv in line.decode(errors="replace").split())
        if os.waitstatus_to_exitcode(status) != 0 or "wall_ns" not in fields:
            return {
                "wall_ms": None, "outer_wall_ms": (t1 - t0) * 1e3, "maxrss_kib": None,
                "first_output_ms": None, "status": None, "signal": None, "timed_out": False,
                "error": "measure failed (status %d)" % os.waitstatus_to_exitcode(status),
            }
        first_ns = int(fields.get("first_output_ns", -1))  # -1: no output (or an old measure)
        return {
            "wall_ms": int(fields["wall_ns"]) / 1e6,
            "outer_wall_ms": (t1 - t0) * 1e3,
            "maxrss_kib": int(fields["maxrss_kib"]),
            "first_output_ms": first_ns / 1e6 if first_ns >= 0 else None,
            "status": int(fields["status"]) if fields["signal"] == "0" else None,
            "signal": int(fields["signal"]) or None,
            "timed_out": fields["timed_out"] == "1",
            "utime_us": int(fields["utime_us"]),
            "stime_us": int(fields["stime_us"]),
        }

    def _run_direct(self, argv, actions):
        timed_out = []
        pid = None

        def on_alarm(_sig, _frame):
            timed_out.append(True)
            if pid:
                os.kill(pid, signal.SIGKILL)

        old = signal.signal(signal.SIGALRM, on_alarm)
        try:
            t0 = time.perf_counter()
            try:
                pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
            except OSError as e:
                return {"wall_ms": None, "outer_wall_ms": None, "maxrss_kib": None,
                        "first_output_ms": None, "status": None, "signal": None,
                        "timed_out": False, "error": "spawn failed: %s" % e}
            if self.timeout > 0:
                signal.setitimer(signal.ITIMER_REAL, self.timeout)
            _, status, ru = os.wait4(pid, 0)
            t1 = time.perf_counter()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        return {
            "wall_ms": (t1 - t0) * 1e3,
            "outer_wall_ms": (t1 - t0) * 1e3,
            "maxrss_kib": ru.ru_maxrss,
            "first_output_ms": None,  # only measure times it
            "status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": bool(timed_out),
            "utime_us": int(ru.ru_utime * 1e6),
            "stime_us": int(ru.ru_stime * 1e6),
        }


def judge(sample):
    """Fill in sample['ok'] and, when not ok, sample['error']."""
    if sample.get("error"):
        sample["ok"] = False
    elif sample["timed_out"]:
        sample["ok"] = False
        sample["error"] = "timed out"
    elif sample["signal"]:
        sample["ok"] = False
        sample["error"] = "killed by signal %d" % sample["signal"]
    elif sample["status"] != EXPECTED_STATUS:
        sample["ok"] = False
        sample["error"] = "exit status %s, expected %d" % (sample["status"], EXPECTED_STATUS)
    elif SUCCESS_MARK not in sample["stdout"]:
        sample["ok"] = False
        sample["error"] = "guest output has no %s" % SUCCESS_MARK.decode()
    else:
        sample["ok"] = True
    return sample


def median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    if not s:
        return None
    rank = max(1, -(-len(s) * p // 100))  # ceil(n * p / 100)
    return s[int(rank) - 1]


def summary(cfg):
    ok = cfg.ok_samples
    walls = [s["wall_ms"] for s in ok]
    rss = [s["maxrss_kib"] / 1024 for s in ok]
    firsts = [s["first_output_ms"] for s in ok if s.get("first_output_ms") is not None]
    return {
        "wall_median_ms": median(walls),
        "wall_min_ms": min(walls) if walls else None,
        "wall_p90_ms": percentile(walls, 90),
        "rss_median_mib": median(rss),
        "first_output_median_ms": median(firsts),
    }


def build_configs(args):
    cfgs = []
    kiln = find_program(args.kiln)
    floor = find_program(args.floor)
    qemu = find_program(args.qemu)
    elf, mb = os.path.abspath(args.elf), os.path.abspath(args.multiboot)
    qemu_common = [
        "-enable-kvm", "-m", "128M", "-nodefaults", "-nographic", "-no-reboot",
        "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-kernel", mb,
    ]

    def add(name, prog, why_missing, argv_tail, runs):
        if prog is None:
            cfgs.append(Config(name, None, runs, missing=why_missing))
        else:
            cfgs.append(Config(name, [prog, *argv_tail], runs))

    add("kiln", kiln, "no kiln at %s" % args.kiln,
        ["run", "-k", elf, "--debug-exit"], args.runs)
    add("kiln --irqchip=kernel", kiln, "no kiln at %s" % args.kiln,
        ["run", "-k", elf, "--debug-exit", "--irqchip=kernel"], args.runs)
    # The same run without seccomp: what the filters cost (docs/security.md).
    add("kiln --no-seccomp", kiln, "no kiln at %s" % args.kiln,
        ["run", "-k", elf, "--debug-exit", "--no-seccomp"], args.runs)
    add("floor", floor, "no floor at %s" % args.floor, [elf], args.runs)
    add("qemu microvm", qemu, "no %s" % args.qemu, ["-M", "microvm", *qemu_common], args.runs)
    if args.pc_runs > 0:
        add("qemu pc", qemu, "no %s" % args.qemu, qemu_common, args.pc_runs)
    return cfgs


def run_all(cfgs, runner, args):
    """Round-robin over the configurations so slow drift hits all of them alike."""
    active = [c for c in cfgs if c.missing is None]
    for c in active:
        for _ in range(args.warmup):
            s = judge(runner.run(c.argv))
            c.warmup_samples.append(s)
            if not s["ok"]:
                break
    round_no = 0
    while True:
        todo = [c for c in active if len(c.samples) < c.runs and c.gave_up is None]
        if not todo:
            break
        round_no += 1
        for c in todo:
            s = judge(runner.run(c.argv))
            c.samples.append(s)
            if not s["ok"]:
                if args.verbose or len(c.failures) == 1:
                    tail = (s["stderr"] or s["stdout"])[-300:].decode(errors="replace").strip()
                    print("  %s: run %d failed: %s%s" % (c.name, len(c.samples), s["error"],
                          ("\n    | " + tail.replace("\n", "\n    | ")) if tail else ""),
                          file=sys.stderr)
                if len(c.failures) >= args.max_failures:
                    c.gave_up = "stopped after %d failures" % len(c.failures)
        if args.verbose:
            print("  round %d done" % round_no, file=sys.stderr)


def fmt(x, spec="%.1f"):
    return "-" if x is None else spec % x


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def print_report(cfgs, args, clean_rss):
    by_name = {c.name: c for c in cfgs}
    sums = {c.name: summary(c) for c in cfgs if c.missing is None}

    print()
    print("startup: hello64 guest, exec -> SUCCESS -> exit status %d" % EXPECTED_STATUS)
    print("host: %s, %s, %d CPUs; wall = fork..wait4 of the monitor; RSS = its ru_maxrss;"
          % (platform.release(), cpu_model(), os.cpu_count() or 0))
    print("first out = fork..first byte of guest serial output on its stdout (median)")
    print()
    rss_head = "RSS MiB" if clean_rss else "RSS MiB*"
    head = "%-22s %5s %4s %11s %9s %9s %9s %12s" % (
        "config", "runs", "ok", "wall ms med", "min", "p90", rss_head, "first out ms")
    print(head)
    print("-" * len(head))
    for c in cfgs:
        if c.missing:
            print("%-22s %5s %4s %11s   (missing: %s)" % (c.name, "-", "-", "missing", c.missing))
            continue
        s = sums[c.name]
        print("%-22s %5d %4d %11s %9s %9s %9s %12s" % (
            c.name, len(c.samples), len(c.ok_samples), fmt(s["wall_median_ms"], "%.2f"),
            fmt(s["wall_min_ms"], "%.2f"), fmt(s["wall_p90_ms"], "%.2f"),
            fmt(s["rss_median_mib"], "%.2f"), fmt(s["first_output_median_ms"], "%.2f")))
    notes = []
    for c in cfgs:
        if c.failures:
            first = c.failures[0]["error"]
            notes.append("%s: %d of %d runs failed (first: %s)%s"
                         % (c.name, len(c.failures), len(c.samples), first,
                            "; " + c.gave_up if c.gave_up else ""))
        if c.warmup_samples and not c.warmup_samples[-1]["ok"]:
            notes.append("%s: warm-up run failed: %s" % (c.name, c.warmup_samples[-1]["error"]))
    if not clean_rss:
        notes.append("* RSS measured without bench/measure: it includes the Python parent's "
                     "pages and is not comparable; first output is not measured")
    for n in notes:
        print("  note: " + n)

    # Ratios of each kiln variant against each reference, with the target for each.
    refs = ["floor", "qemu microvm", "qemu pc"]
    print()
    head = "%-36s %8s %8s %9s  %-8s %-8s %-8s" % (
        "ratio of medians", "wall", "RSS", "first out", "target", "wall", "RSS")
    print(head.rstrip())
    print("-" * len(head.rstrip()))
    missed, judged, unjudged = [], 0, 0
    for k in ("kiln", "kiln --irqchip=kernel"):
        for r in refs:
            if r not in by_name:
                continue
            ks, rs = sums.get(k), sums.get(r)
            w = ratio(ks and ks["wall_median_ms"], rs and rs["wall_median_ms"])
            m = ratio(ks and ks["rss_median_mib"], rs and rs["rss_median_mib"])
            f = ratio(ks and ks["first_output_median_ms"], rs and rs["first_output_median_ms"])
            if not clean_rss:
                m = None
            if r == "floor":
                target, meets = "<= %.1fx" % FLOOR_TARGET, (lambda v: v <= FLOOR_TARGET)
            else:
                target, meets = "< %.1fx" % QEMU_TARGET, (lambda v: v < QEMU_TARGET)
            states = []
            for what, v in (("wall", w), ("RSS", m)):
                if v is None:
                    states.append("n/a")
                    unjudged += 1
                    continue
                judged += 1
                if meets(v):
                    states.append("met")
                else:
                    states.append("NOT met")
                    missed.append("%s / %s %s %.3fx" % (k, r, what, v))
            print(("%-36s %8s %8s %9s  %-8s %-8s %-8s" % (
                "%s / %s" % (k, r), fmt(w, "%.3fx"), fmt(m, "%.3fx"), fmt(f, "%.3fx"), target,
                *states)).rstrip())

    ks, ns = sums.get("kiln"), sums.get("kiln --no-seccomp")
    w = ratio(ks and ks["wall_median_ms"], ns and ns["wall_median_ms"])
    print()
    print("seccomp cost: kiln / kiln --no-seccomp, start-to-exit wall: %s (target <= %.2fx, "
          "reported, not enforced)%s" % (fmt(w, "%.3fx"), SECCOMP_TARGET,
                                         "" if w is None else (": met" if w <= SECCOMP_TARGET
                                                               else ": NOT met")))

    print()
    line = "targets: kiln <= %.1fx floor and < %.1fx QEMU, wall and RSS (reported, not enforced): " % (
        FLOOR_TARGET, QEMU_TARGET)
    if judged == 0:
        line += "not judged (kiln or the references did not run)"
    elif not missed:
        line += "all %d met" % judged
    else:
        line += "%d of %d NOT met: %s" % (len(missed), judged, "; ".join(missed))
    if unjudged and judged:
        line += " (%d n/a: a row is missing or had no successful run)" % unjudged
    print(line)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def write_json(path, cfgs, args, clean_rss):
    def strip(s):
        d = {k: v for k, v in s.items() if k not in ("stdout", "stderr")}
        if not s["ok"]:
            d["stdout_tail"] = s["stdout"][-500:].decode(errors="replace")
            d["stderr_tail"] = s["stderr"][-500:].decode(errors="replace")
        return d

    doc = {
        "benchmark": "startup",
        "expected_status": EXPECTED_STATUS,
        "clean_rss": clean_rss,
        "host": {"kernel": platform.release(), "cpu": cpu_model(), "cpus": os.cpu_count()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "targets": {"kiln_over_floor_max": FLOOR_TARGET, "kiln_over_qemu_below": QEMU_TARGET},
        "configs": [
            {
                "name": c.name,
                "argv": c.argv,
                "missing": c.missing,
                "runs_requested": c.runs,
                "gave_up": c.gave_up,
                "summary": summary(c) if c.missing is None else None,
                "warmup": [strip(s) for s in c.warmup_samples],
                "samples": [strip(s) for s in c.samples],
            }
            for c in cfgs
        ],
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(
        description="Startup benchmark: wall time, time to the first guest output and peak "
                    "RSS of a whole hello-guest run under kiln, QEMU and a minimal KVM floor.")
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"),
                    help="kiln binary (default: build/src/kiln); missing -> row skipped")
    ap.add_argument("--floor", default=os.path.join(REPO, "build", "bench", "floor"),
                    help="floor binary built from bench/floor.c")
    ap.add_argument("--measure", default=None,
                    help="measure binary built from bench/measure.c "
                         "(default: 'measure' next to --floor)")
    ap.add_argument("--elf", required=True, help="64-bit hello guest (ELF64)")
    ap.add_argument("--multiboot", required=True, help="multiboot hello guest for QEMU")
    ap.add_argument("--qemu", default="qemu-system-x86_64", help="QEMU binary")
    ap.add_argument("--runs", type=int, default=20, help="runs per configuration (default 20)")
    ap.add_argument("--pc-runs", type=int, default=3,
                    help="runs for QEMU's default pc machine, slow (default 3; 0 skips it)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="unmeasured runs per configuration first (default 1)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per run (default 120)")
    ap.add_argument("--max-failures", type=int, default=3,
                    help="stop a configuration after this many failed runs (default 3)")
    ap.add_argument("--json", metavar="FILE", help="write the raw samples here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if args.runs < 1 or args.pc_runs < 0 or args.warmup < 0 or args.max_failures < 1:
        ap.error("--runs and --max-failures must be >= 1, --pc-runs and --warmup >= 0")
    for what, p in (("--elf", args.elf), ("--multiboot", args.multiboot)):
        if not os.path.isfile(p):
            ap.error("%s %s: no such file" % (what, p))
    if args.runs < 20:
        print("note: --runs %d is below the 20 runs the benchmark is specified with"
              % args.runs, file=sys.stderr)

    measure = args.measure or os.path.join(os.path.dirname(os.path.abspath(args.floor)), "measure")
    measure = find_program(measure)
    clean_rss = measure is not None
    if not clean_rss:
        print("warning: no measure binary (%s); peak RSS will include the Python parent "
              "and first output is not measured" % (args.measure or "next to --floor"),
              file=sys.stderr)

    cfgs = build_configs(args)
    total = sum((c.runs + args.warmup) for c in cfgs if c.missing is None)
    print("running %d configurations, %d runs in all ..." % (
        sum(1 for c in cfgs if c.missing is None), total), file=sys.stderr)

    runner = Runner(measure, args.timeout)
    try:
        run_all(cfgs, runner, args)
    finally:
        runner.close()

    print_report(cfgs, args, clean_rss)
    if args.json:
        write_json(args.json, cfgs, args, clean_rss)
        print("\nraw samples: %s" % args.json)
    return 1 if any(c.failures for c in cfgs) else 0


if __name__ == "__main__":
    sys.exit(main())
