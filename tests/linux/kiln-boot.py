#!/usr/bin/env python3
"""Boots a Linux kernel with kiln and checks it, at two levels.

usage: kiln-boot.py --kiln KILN (--kernel FILE --initrd CPIO | --build --image vmlinux|bzImage)
                    [-c N] [-m MIB] [--log FILE]
       kiln-boot.py --user-level --log FILE

--build takes kiln's test kernel from tests/linux/build-kernel.sh (which builds it once and
caches it) and a fresh initramfs from tests/linux/build-initramfs.sh.

Kernel level (what every host can run): from the guest kernel's own log, all N vCPUs were
brought up, the memory the kernel found matches -m, the RTC set the system clock to the host's
time (within a minute), the serial port and the i8042 were probed, the kernel reached
"Run /init", and kiln exited 0 (the guest's power-off, or its panic=-1 reboot when /init could
not run). Exit 0 when all hold, 1 otherwise, 77 without /dev/kvm.

User level (--user-level, reading the console log the kernel-level run saved): /init's own
checks (nproc equals -c, MemTotal matches -m, a line typed on kiln's stdin reached the shell,
poweroff). On a host whose KVM cannot run guest system calls (PVM: /init dies at its first
syscall) this is reported as SKIP (77) with that reason, never as a pass.
"""
import argparse
import datetime
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time

# KVM's emulator on PVM hosts lacks these at ring 0 (docs/linux.md); harmless elsewhere.
PVM_SAFE = ("clearcpuid=cx16,xsave,smap,smep,avx,avx2,avx512f,popcnt,movbe,bmi1,bmi2,fsgsbase,"
            "invpcid,pcid,clwb,clflushopt,rdseed,rdrand noxsave lpj=5000000 tsc=reliable "
            "no_timer_check rcupdate.rcu_cpu_stall_suppress=1")
LINE = "hello from kiln's stdin"


def boot(args):
    cmdline = "console=ttyS0 panic=-1 kiln.expect_cpus=%d kiln.expect_mem_mb=%d %s" % (
        args.cpus, args.mem, PVM_SAFE)
    cmd = [args.kiln, "run", "-k", args.kernel, "-i", args.initrd, "-c", str(args.cpus),
           "-m", "%dM" % args.mem, "-p", cmdline]
    print("+ " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    host_start = datetime.datetime.now(datetime.timezone.utc)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    out, typed, run_init_at = b"", False, None
    while True:
        if time.monotonic() - t0 > args.timeout:
            p.kill()
            p.wait()
            return None, out.decode(errors="replace"), host_start, "timed out after %d s" % args.timeout
        if not sel.select(timeout=1):
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        sys.stdout.write(chunk.decode(errors="replace"))
        sys.stdout.flush()
        out += chunk
        if run_init_at is None and b"Run /init as init process" in out:
            run_init_at = time.monotonic() - t0
        if not typed and b"KILN-INIT: type a line" in out:
            p.stdin.write((LINE + "\n").encode())
            p.stdin.flush()
            typed = True
    status = p.wait()
    text = out.decode(errors="replace")
    print("\nkiln exit status %d after %.0f s; Run /init reached after %s" % (
        status, time.monotonic() - t0, "%.0f s" % run_init_at if run_init_at else "-"))
    return status, text, host_start, None


def kernel_checks(args, status, text, host_start):
    failures = []

    def need(cond, what):
        print("%s: kernel level: %s" % ("PASS" if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    cpus = "%d CPU%s" % (args.cpus, "" if args.cpus == 1 else "s")
    need(re.search(r"smp: Brought up \d+ nodes?, %s\b" % cpus, text), "all %s brought up" % cpus)
    m = re.search(r"Memory: \d+K/(\d+)K available", text)
    total_mib = int(m.group(1)) / 1024 if m else 0
    need(m and args.mem * 0.9 <= total_mib <= args.mem, "kernel sees %d MiB of memory (%.0f MiB)"
         % (args.mem, total_mib))
    m = re.search(r"setting system clock to (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) UTC", text)
    ok = False
    if m:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        ok = abs((t - host_start).total_seconds()) < 60 + args.timeout
        # the guest reads the clock some time after start; within the run plus a minute
        ok = ok and t >= host_start - datetime.timedelta(seconds=60)
    need(ok, "RTC gave the host's date and time (%s)" % (m.group(1) if m else "no RTC line"))
    # With ACPI, Linux numbers ISA interrupts itself (the DSDT gives GSI 4 and 1), so any IRQ.
    need(re.search(r"ttyS0 at I/O 0x3f8 \(irq = \d+, base_baud = 115200\) is a 16550A", text),
         "serial port probed as a 16550A")
    need(re.search(r"serio: i8042 KBD port at 0x60,0x64 irq \d+", text), "i8042 probed")
    need("Run /init as init process" in text, "kernel reached Run /init")
    need(status == 0, "kiln exited 0 (power-off, or the panic=-1 reboot) (status %s)" % status)
    return failures


def user_level(text):
    if "KILN-INIT: start" not in text:
        if re.search(r"init\[1\]: segfault at|Attempted to kill init", text):
            print("SKIP: user level: /init died at its first system call: this host's KVM "
                  "(PVM) cannot run guest system calls")
            return 77
        print("FAIL: user level: /init never started")
        return 1
    want = ["KILN-INIT: cpus ok", "KILN-INIT: mem ok", "KILN-INIT: got " + LINE, "KILN-INIT: done"]
    missing = [w for w in want if w not in text]
    if missing or "KILN-INIT: FAIL" in text:
        print("FAIL: user level: missing %s%s" % (missing, " (a FAIL line)" if "KILN-INIT: FAIL" in text else ""))
        return 1
    print("PASS: user level: /init saw the right nproc and memory, read a line typed on kiln's "
          "stdin, and powered off")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln")
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    ap.add_argument("-c", "--cpus", type=int, default=1)
    ap.add_argument("-m", "--mem", type=int, default=256)
    ap.add_argument("--timeout", type=int, default=2400)
    ap.add_argument("--log", help="save (or, with --user-level, read) the console log here")
    ap.add_argument("--user-level", action="store_true")
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--image", choices=("vmlinux", "bzImage"), default="vmlinux")
    args = ap.parse_args()
    if args.user_level:
        try:
            with open(args.log) as f:
                return user_level(f.read())
        except OSError:
            print("SKIP: user level: no console log from the kernel-level boot (%s)" % args.log)
            return 77
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        print("SKIP: /dev/kvm is not usable: %s" % e.strerror)
        return 77
    if args.build:
        here = os.path.dirname(os.path.abspath(__file__))
        k = subprocess.run([os.path.join(here, "build-kernel.sh")], stdout=subprocess.PIPE, text=True)
        if k.returncode == 77:
            print("SKIP: the packages to build the test kernel are missing")
            return 77
        if k.returncode != 0:
            print("FAIL: building the test kernel failed (status %d)" % k.returncode)
            return 1
        args.kernel = os.path.join(k.stdout.strip().splitlines()[-1], args.image)
        args.initrd = os.path.join(tempfile.mkdtemp(prefix="kiln-initramfs-"), "initramfs.cpio")
        r = subprocess.run([os.path.join(here, "build-initramfs.sh"), args.initrd])
        if r.returncode:
            print("%s: building the initramfs (status %d)" % ("SKIP" if r.returncode == 77 else "FAIL",
                                                             r.returncode))
            return 77 if r.returncode == 77 else 1
    status, text, host_start, problem = boot(args)
    if args.log:
        with open(args.log, "w") as f:
            f.write(text)
    if problem:
        print("FAIL: " + problem)
        return 1
    failures = kernel_checks(args, status, text, host_start)
    print("kernel level: %s" % ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
