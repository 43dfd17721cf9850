#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Linux boot benchmark: kiln's test kernel booted by kiln and by QEMU (microvm and pc).

Every configuration boots the same bzImage with the same initramfs (tests/linux: the busybox
one whose /init prints "KILN-INIT: start"), the same kernel command line, 1 vCPU and 256 MiB,
--runs times. For each run we record, from the monitor's exec on CLOCK_MONOTONIC, when its
serial console (stdout) printed the kernel's first line, the kernel's "Run /init as init
process", /init's "KILN-INIT: start" (only where guest user space runs), and when the monitor
exited. The table shows medians of the runs that reached "Run /init", and the ratio of kiln's
time to "Run /init" to QEMU's. Goal (printed, never enforced): kiln at most half of QEMU
microvm's time.

Rows:
  kiln          KILN run -k bzImage -i initramfs.cpio -c 1 -m 256M -p CMDLINE
  qemu microvm  qemu-system-x86_64 -M microvm -enable-kvm -smp 1 -m 256 -nodefaults
                -no-user-config -nographic -no-reboot -serial stdio -kernel bzImage
                -initrd initramfs.cpio -append CMDLINE          (its default firmware, qboot)
  qemu pc       the same with -M pc (i440FX, SeaBIOS)

On a host whose KVM emulates guest ring-0 code (PVM) the command line carries the PVM
workarounds (docs/linux.md), and QEMU stops at the first instruction KVM cannot emulate (it does
not complete int3 as kiln does): the row then says "QEMU cannot boot this kernel on this host"
with the reason from QEMU's report, and a row stops after its first such run. Exit status: 0
unless kiln itself failed to boot or the arguments are bad.
"""

import argparse
import json
import os
import platform
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX = os.path.join(REPO, "tests", "linux")
RUN_INIT = b"Run /init as init process"
INIT_MARK = b"KILN-INIT: start"
# QEMU's words when KVM cannot go on: an emulation failure, or a KVM call it cannot make.
QEMU_FATAL = re.compile(rb"KVM internal error[^\n]*|failed to set MSR[^\n]*|kvm run failed[^\n]*|"
                        rb"Assertion[^\n]*failed")
# Instructions KVM's emulator lacks at ring 0 on PVM, by their first bytes (docs/linux.md).
INSNS = (("f0 48 0f c7", "lock cmpxchg16b"), ("65 48 0f c7", "cmpxchg16b %gs:"), ("cc", "int3"),
         ("9b", "fwait"), ("0f 01 ca", "clac"), ("0f 01 cb", "stac"), ("f3 0f b8", "popcnt"),
         ("0f ae", "xsave/xrstor family"), ("48 0f ae", "xsave/xrstor family"))
# Same as tests/linux/kiln-boot.py: what a kernel needs on a PVM host.
PVM_CLEARCPUID = ("xsave,smap,smep,avx,avx2,avx512f,popcnt,movbe,bmi1,bmi2,fsgsbase,invpcid,pcid,"
                  "clwb,clflushopt,rdseed,rdrand")
PVM_REST = "noxsave lpj=5000000 tsc=reliable no_timer_check rcupdate.rcu_cpu_stall_suppress=1"


def is_pvm_host():
    return os.path.isdir("/sys/module/kvm_pvm")


def one_run(argv, timeout, quiet):
    """Runs argv once; returns a dict of marks (seconds from exec), status and problem."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    out, marks, problem, fatal_at = b"", {}, None, None
    while True:
        now = time.monotonic() - t0
        if now > timeout:
            problem = "no exit within %d s" % timeout
            break
        # QEMU prints its register dump after the error line; give it a moment, then stop it
        # (it does not exit on an internal error: it pauses the VM).
        if fatal_at is not None and now - fatal_at > 2:
            break
        if not sel.select(timeout=0.5):
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        out += chunk
        now = time.monotonic() - t0
        if not quiet:
            sys.stderr.write(chunk.decode(errors="replace"))
        if "first line" not in marks and b"\n" in out:
            marks["first line"] = now
        if "run init" not in marks and RUN_INIT in out:
            marks["run init"] = now
        if "init mark" not in marks and INIT_MARK in out:
            marks["init mark"] = now
        if fatal_at is None and QEMU_FATAL.search(out):
            fatal_at = now
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    status = p.wait()
    marks["exit"] = time.monotonic() - t0
    text = out.decode(errors="replace")
    m = QEMU_FATAL.search(out)
    if m:
        problem = m.group(0).decode(errors="replace").strip()
        if "emulation failure" in text:
            problem += " (emulation failure)"
        code = re.search(r"Code=[0-9a-f ]*<([0-9a-f]{2})>((?: [0-9a-f]{2}){0,3})", text)
        if code:
            insn = code.group(1) + code.group(2)
            name = next((n for b, n in INSNS if insn.startswith(b)), "see QEMU's Code= line")
            problem += ", at RIP: %s (%s)" % (insn, name)
        problem += ", %.0f s after exec" % fatal_at
    guest_m = re.search(r"\[\s*(\d+\.\d+)\] Run /init as init process", text)
    return {"marks": marks, "status": status, "problem": problem,
            "guest_run_init_s": float(guest_m.group(1)) if guest_m else None,
            "tail": text[-2000:]}


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x):
    return "-" if x is None else "%.1f s" % x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--kernel", help="bzImage (default: kiln's test kernel, built once and cached)")
    ap.add_argument("--initrd", help="initramfs (default: built by tests/linux/build-initramfs.sh)")
    ap.add_argument("--runs", type=int, default=2, help="boots per configuration (default 2)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per boot (default 1200)")
    ap.add_argument("--only", default="kiln,microvm,pc", help="rows, comma-separated")
    ap.add_argument("--json", help="write every run here")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo the consoles to stderr")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")

    tmp = tempfile.mkdtemp(prefix="kiln-bench-linux-")
    try:
        if not a.kernel:
            k = subprocess.run([os.path.join(LINUX, "build-kernel.sh")], stdout=subprocess.PIPE,
                               text=True)
            if k.returncode:
                print("linux-boot: cannot build the test kernel (status %d)" % k.returncode)
                return 1
            a.kernel = os.path.join(k.stdout.strip().splitlines()[-1], "bzImage")
        if not a.initrd:
            a.initrd = os.path.join(tmp, "initramfs.cpio")
            if subprocess.run([os.path.join(LINUX, "build-initramfs.sh"), a.initrd]).returncode:
                print("linux-boot: cannot build the initramfs")
                return 1
        pvm = is_pvm_host()
        # Nobody types the line /init waits for: it gives up after 1 s, not 60, and powers off.
        cmdline = "console=ttyS0 panic=-1 kiln.read_timeout=1"
        if pvm:
            cmdline += " clearcpuid=%s %s" % (PVM_CLEARCPUID, PVM_REST)
        qemu = shutil.which(a.qemu)
        qemu_common = ["-enable-kvm", "-smp", "1", "-m", "256", "-nodefaults", "-no-user-config",
                       "-nographic", "-no-reboot", "-serial", "stdio", "-kernel", a.kernel,
                       "-initrd", a.initrd, "-append", cmdline]
        rows = {
            "kiln": [a.kiln, "run", "-k", a.kernel, "-i", a.initrd, "-c", "1", "-m", "256M",
                     "-p", cmdline],
            "qemu microvm": [qemu, "-M", "microvm"] + qemu_common if qemu else None,
            "qemu pc": [qemu, "-M", "pc"] + qemu_common if qemu else None,
        }
        wanted = {"kiln": "kiln", "microvm": "qemu microvm", "pc": "qemu pc"}
        rows = {wanted[w]: rows[wanted[w]] for w in a.only.split(",") if w in wanted}
        qemu_version = ""
        if qemu:
            v = subprocess.run([qemu, "--version"], stdout=subprocess.PIPE, text=True)
            qemu_version = v.stdout.splitlines()[0] if v.stdout else ""

        results = {}
        for name, argv in rows.items():
            runs = []
            results[name] = {"argv": argv, "runs": runs}
            if argv is None or not os.access(argv[0], os.X_OK):
                results[name]["missing"] = "%s not found" % (a.qemu if name != "kiln" else a.kiln)
                continue
            for i in range(a.runs):
                print("linux-boot: %s, run %d of %d ..." % (name, i + 1, a.runs), file=sys.stderr,
                      flush=True)
                r = one_run(argv, a.timeout, not a.verbose)
                runs.append(r)
                print("linux-boot: %s: Run /init %s, exit %.1f s, status %d%s" % (
                    name, fmt(r["marks"].get("run init")), r["marks"]["exit"], r["status"],
                    (": " + r["problem"]) if r["problem"] else ""), file=sys.stderr, flush=True)
                if "run init" not in r["marks"] and name != "kiln":
                    break  # QEMU stopped: the next run would stop at the same instruction
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("linux-boot: %s, 1 vCPU, 256 MiB, same initramfs and command line; host: %s%s" % (
        a.kernel, platform.node(), ", KVM under PVM (guest ring 0 emulated)" if pvm else ""))
    print("QEMU: %s" % (qemu_version or "not found"))
    print("times from exec, medians of the runs that reached Run /init\n")
    hdr = "%-14s %5s %12s %12s %13s %12s" % ("config", "ok", "first line", "Run /init",
                                            "/init marker", "exit")
    print(hdr)
    print("-" * len(hdr))
    med = {}
    notes = []
    for name, res in results.items():
        if "missing" in res:
            print("%-14s %s" % (name, "missing: " + res["missing"]))
            continue
        ok = [r for r in res["runs"] if "run init" in r["marks"]]
        med[name] = median([r["marks"]["run init"] for r in ok])
        res["median_run_init_s"] = med[name]
        if not ok:
            why = next((r["problem"] for r in res["runs"] if r["problem"]), None) or \
                "never reached Run /init (status %d)" % res["runs"][-1]["status"]
            who = "QEMU" if name != "kiln" else "kiln"
            print("%-14s %5s  %s cannot boot this kernel on this host: %s" % (
                name, "0/%d" % len(res["runs"]), who, why))
            continue
        marker = median([r["marks"]["init mark"] for r in ok if "init mark" in r["marks"]])
        print("%-14s %5s %12s %12s %13s %12s" % (
            name, "%d/%d" % (len(ok), len(res["runs"])),
            fmt(median([r["marks"]["first line"] for r in ok if "first line" in r["marks"]])),
            fmt(med[name]), fmt(marker) if marker is not None else "n/a",
            fmt(median([r["marks"]["exit"] for r in ok]))))
        guest = median([r["guest_run_init_s"] for r in ok if r["guest_run_init_s"] is not None])
        if guest is not None:
            notes.append("%s: the guest's own clock at Run /init: %.1f s" % (name, guest))
        if marker is None and pvm:
            notes.append("%s: /init marker n/a: guest user space cannot make system calls on PVM" % name)
    base = med.get("qemu microvm")
    print()
    for name in med:
        if name != "qemu microvm" and med[name] and base:
            print("%s / qemu microvm (Run /init): %.2fx" % (name, med[name] / base))
    if med.get("kiln") and base:
        ratio = med["kiln"] / base
        print("goal kiln <= 0.5x qemu microvm: %s (%.2fx)" % ("met" if ratio <= 0.5 else "missed", ratio))
    elif "qemu microvm" in results:
        print("goal kiln <= 0.5x qemu microvm: no ratio: QEMU microvm did not boot the kernel here")
    for n in notes:
        print(n)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"kernel": a.kernel, "initrd": a.initrd, "cmdline": cmdline, "pvm": pvm,
                       "qemu": qemu_version, "rows": results}, f, indent=1)
    kiln_res = results.get("kiln")
    if kiln_res and "missing" not in kiln_res and not med.get("kiln"):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
