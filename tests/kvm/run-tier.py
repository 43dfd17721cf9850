#!/usr/bin/env python3
"""The real-KVM tier (tests/kvm/README.md): boots a first-level guest ("L1") under QEMU's software
emulator with an emulated AMD SVM CPU, where Debian's kernel gives it a /dev/kvm on kvm_amd, and
runs kiln's Meson test suites there, on hardware-virtualization KVM.

usage: run-tier.py --build DIR --out DIR --expect NAME,NAME... [--suite S]... [--timeout S]
                   [--mem MIB] [--smp N] [--timeout-multiplier N]
       run-tier.py --build DIR --out DIR --run 'COMMAND' [--timeout S] [--mem MIB] [--smp N]

The second form runs one shell command in L1 instead (in the repository, as root; `make run`
and `make bench-kvm` use it) and exits with its status.

L1 is Debian's packaged kernel (the newest /boot/vmlinuz-6.1.*-amd64) with the initramfs of
tests/kvm/build-l1.sh; it sees the host's root file system read-only through 9p under a
RAM-backed overlay (so the tests run the host's kiln, guests, Python and kernel cache, and write
nothing back), and a second 9p share, --out, where it finds run.sh and leaves the results:
kvm-inner.json (Meson's log of the inner run), kvm-inner.txt, logs/ and l1-console.log.

Every L1 console line is echoed with the host time since QEMU's exec. An L1 that stops (no
heartbeat from its user space for STALL_S seconds: the emulator's hang, README.md) is shown
through QEMU's monitor and booted again for the tests it had not finished, as long as --timeout
leaves time and no two boots in a row stop before finishing a test. Exit status: 0 when L1 ran
the suites to the end and every inner test has a mirror on the host (each test's own result is
reported by tests/kvm/result.py, one Meson test per inner test); 1 when L1 did not come up, did
not finish, or ran a test the host does not mirror (--expect lists the mirrored names, comma-separated); 77 when
the host lacks what the tier needs (the reason is also left in OUT/skip-reason for result.py).
"""
import argparse
import glob
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
L1_EXIT = re.compile(r"KILN-L1: exit (\d+)")


def skip(out, reason):
    with open(os.path.join(out, "skip-reason"), "w") as f:
        f.write(reason + "\n")
    print("SKIP: " + reason)
    return 77


def debian_kernel():
    """(vmlinuz path, version) of the newest Debian 6.1 kernel whose modules are installed."""
    found = []
    for path in glob.glob("/boot/vmlinuz-6.1.*-amd64"):
        version = os.path.basename(path)[len("vmlinuz-"):]
        if os.path.isfile("/lib/modules/%s/modules.dep" % version):
            found.append((tuple(int(x) for x in re.findall(r"\d+", version)), path, version))
    if not found:
        return None, None
    _, path, version = max(found)
    return path, version


def tsc_khz():
    """The host's TSC rate in kHz: TCG's guest TSC runs at it, and on a busy host the guest's own
    calibration against the PIT can fail (tests/linux/README.md)."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    return None


STALL_S = 120  # no heartbeat from L1 (l1-init.sh writes one every 10 s) for this long: stopped


def monitor(path, commands):
    """What QEMU's human monitor at PATH answers to each command, or why it could not be asked."""
    import socket
    out = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(path)
            for command in [None] + commands:
                if command:
                    s.sendall(command.encode() + b"\n")
                reply = b""
                while not reply.endswith(b"(qemu) "):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                if command:
                    text = reply.decode(errors="replace").replace("\r", "")
                    lines = text[:-len("(qemu) ")].strip("\n").split("\n")[1:]
                    # The general registers, not the FPU's and vector registers.
                    out.append("(qemu) %s\n%s" % (command, "\n".join(
                        x for x in lines if not re.match(r"(FPR|[XYZ]MM)\d", x))))
    except OSError as e:
        out.append("(the monitor at %s: %s)" % (path, e))
    return "\n".join(out)


# Meson's line for a finished test (not its RUNNING line for one still going)
TEST_DONE = re.compile(r"^\s*\d+/\d+ \S+ / \S+\s+(OK|FAIL|SKIP|TIMEOUT|ERROR|EXPECTEDFAIL|"
                       r"UNEXPECTEDPASS|INTERRUPT)\b")


def run_l1(args, kernel, initrd, console_log, deadline):
    """Boots L1; returns (L1's exit line value or None, problem or None, whether L1 stopped,
    how many tests Meson said it finished)."""
    # The repository and the build directory get a writable overlay in L1 (l1-init.sh).
    overlays = [REPO] + ([args.build] if not args.build.startswith(REPO + "/") else [])
    append = "console=ttyS0 panic=-1 quiet kiln.overlay=" + ",".join(overlays)
    khz = tsc_khz()
    if khz:
        append += " tsc_early_khz=%d" % khz
    monitor_sock = os.path.join(args.out, "monitor.sock")
    heartbeat = os.path.join(args.out, "heartbeat")
    for stale in (monitor_sock, heartbeat):
        if os.path.exists(stale):
            os.unlink(stale)
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "EPYC,+svm,+npt",
           "-smp", str(args.smp), "-m", "%dM" % args.mem, "-nographic", "-nodefaults",
           "-no-reboot", "-serial", "stdio", "-kernel", kernel, "-initrd", initrd,
           "-append", append,
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on",
           "-virtfs", "local,path=%s,mount_tag=out,security_model=none" % args.out,
           # For a look inside a stuck L1: socat - UNIX-CONNECT:OUT/monitor.sock, "info registers"
           "-monitor", "unix:%s,server=on,wait=off" % monitor_sock]
    print("+ " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    started = time.time()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    buf, code, problem, stopped, tests_done = b"", None, None, False, 0
    with open(console_log, "wb") as log:
        try:
            while True:
                if time.monotonic() > deadline:
                    problem = "L1 did not finish within %d s (--timeout)" % args.timeout
                    break
                try:
                    beat = os.stat(heartbeat).st_mtime
                except OSError:
                    beat = started  # L1's user space has not started yet
                if time.time() - beat > STALL_S:
                    stopped = True
                    problem = ("L1 stopped: no heartbeat from its user space for %d s (the "
                               "emulator's hang, tests/kvm/README.md); QEMU's monitor says:\n%s" % (
                                   time.time() - beat,
                                   monitor(monitor_sock, ["info registers", "x/4i $pc",
                                                          "info lapic"])))
                    break
                if not sel.select(timeout=5):
                    continue
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    text = raw.decode(errors="replace").rstrip("\r")
                    print("%8.1fs | %s" % (time.monotonic() - t0, text), flush=True)
                    m = L1_EXIT.search(text)
                    if m:
                        code = int(m.group(1))
                    tests_done += bool(TEST_DONE.match(text))
        finally:
            if problem or p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            status = p.wait()
    print("QEMU exit status %d after %.1f s" % (status, time.monotonic() - t0), flush=True)
    return code, problem, stopped, tests_done


def load_log(path):
    """The complete records of a Meson JSON test log (a copy taken mid-run may end mid-line)."""
    records = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return records


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="kiln's (host) build directory")
    ap.add_argument("--out", required=True, help="results directory (emptied first)")
    ap.add_argument("--expect", help="the inner test names the host mirrors, NAME,NAME...")
    ap.add_argument("--run", help="a shell command to run in L1 instead of the suites")
    ap.add_argument("--suite", action="append", default=[], help="a Meson suite to run in L1")
    ap.add_argument("--timeout", type=int, default=2400)
    ap.add_argument("--mem", type=int, default=3072, help="L1's memory in MiB")
    ap.add_argument("--smp", type=int, default=1, help="L1's vCPUs (1: TCG's L1 with 2 stalled)")
    ap.add_argument("--timeout-multiplier", type=int, default=3,
                    help="for the inner Meson tests' own time caps (L1 is emulated)")
    args = ap.parse_args()
    if bool(args.run) == bool(args.expect):
        ap.error("give either --expect (and --suite) or --run")
    args.build = os.path.abspath(args.build)
    args.out = os.path.abspath(args.out)
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)

    if not shutil.which("qemu-system-x86_64"):
        return skip(args.out, "qemu-system-x86_64 is missing (Debian package qemu-system-x86)")
    kernel, version = debian_kernel()
    if not kernel:
        return skip(args.out, "no Debian 6.1 kernel with its modules in /boot and /lib/modules "
                    "(Debian package linux-image-amd64)")
    print("L1: %s (kvm, kvm-amd and the 9p modules from /lib/modules/%s)" % (kernel, version))
    initrd = os.path.join(args.out, "l1.cpio")
    r = subprocess.run([os.path.join(HERE, "build-l1.sh"), version, initrd])
    if r.returncode:
        print("FAIL: building L1's initramfs (status %d)" % r.returncode)
        return 1

    cache = subprocess.run([os.path.join(REPO, "tests/linux/build-kernel.sh"), "--dir"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    env = "KILN_CACHE=%s " % os.path.dirname(cache) if cache else ""
    # api-stress's curl processes each start on L1's emulated CPU: 250 requests, not 1,000.
    env += "KILN_API_STRESS_REQUESTS=250 "
    # A sanitizer build's tests run with the options scripts/test.sh gives them on the host.
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        if os.environ.get(name):
            env += "%s=%s " % (name, shlex.quote(os.environ[name]))
    with open(os.path.join(args.out, "run.sh"), "w") as f:
        f.write("# written by tests/kvm/run-tier.py; run by L1's /init (tests/kvm/l1-init.sh)\n")
        if args.run:
            f.write("export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
                    "HOME=/root LANG=C.UTF-8 %s\ncd %s && exec /bin/bash -c %s\n" % (
                        env, REPO, shlex.quote(args.run)))
        else:
            f.write("%sexec /bin/bash %s %s %d %s\n" % (
                env, os.path.join(HERE, "inner.sh"), args.build, args.timeout_multiplier,
                " ".join(args.suite)))

    # An L1 that stops (the emulator's hang) is booted again for the tests it did not finish,
    # for as long as --timeout leaves time and the boots make progress: two boots in a row that
    # stop before finishing a test are not the emulator's chance.
    deadline = time.monotonic() + args.timeout
    finished, attempt, idle = [], 0, 0
    while True:
        attempt += 1
        console = os.path.join(args.out, "l1-console%s.log" % ("" if attempt == 1 else attempt))
        code, problem, stopped, tests_done = run_l1(args, kernel, initrd, console, deadline)
        if not stopped or args.run:
            break
        partial = os.path.join(args.out, "kvm-inner.partial")
        finished += load_log(partial)
        if os.path.exists(partial):
            os.rename(partial, "%s-%d" % (partial, attempt))
        done = {r["name"].split(" / ")[-1] for r in finished}
        left = [n for n in args.expect.split(",") if n not in done]
        print("STOPPED: " + problem)
        print("L1 run %d finished %d tests; %d to go" % (attempt, len(done), len(left)), flush=True)
        idle = 0 if tests_done else idle + 1
        if idle == 2:
            problem += "\nL1 runs %d and %d finished no test before they stopped" % (
                attempt - 1, attempt)
            break
        if deadline - time.monotonic() < 120:
            break
        with open(os.path.join(args.out, "only-tests"), "w") as f:
            f.write("".join(n + "\n" for n in left))
    os.unlink(initrd)
    if problem:
        print("FAIL: " + problem)
        return 1
    if code is None:
        print("FAIL: L1 stopped without reporting an exit status (see its console above)")
        return 1
    if code == 125:
        print("FAIL: L1 could not set up (its KILN-L1 lines above say why)")
        return 1
    if args.run:
        print("the command's exit status in L1: %d" % code)
        return code
    inner = os.path.join(args.out, "kvm-inner.json")
    if not os.path.exists(inner):
        print("FAIL: L1 left no test log (%s)" % inner)
        return 1
    records = finished + load_log(inner)
    if finished:
        # One log of every inner test for result.py: those of the L1 runs that stopped first.
        with open(inner, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in records))
    mirrored = set(args.expect.split(","))
    counts = {}
    for r in records:
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    print("inner tests: %d (%s), inner meson test status %d" % (
        len(records), ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items())), code))
    # Meson names them "project:suite / name".
    unmirrored = sorted(r["name"] for r in records if r["name"].split(" / ")[-1] not in mirrored)
    if unmirrored:
        print("FAIL: L1 ran tests the host does not report (add them to tests/kvm/meson.build): "
              + ", ".join(unmirrored))
        return 1
    print("PASS: L1 ran the suites %s on kvm_amd%s; each test's result is its kvm-* test" % (
        ", ".join(args.suite), " (booted %d times: it stopped)" % attempt if attempt > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
