#!/usr/bin/env python3
"""A booted Linux survives a snapshot: kiln restores it in a new process and its user space goes on.

usage: snapshot-linux.py --kiln KILN [--timeout S]

The test kernel (from the cache: tests/linux/build-kernel.sh --dir) boots through the API with
the initramfs of tests/linux/build-initramfs.sh, a raw 1 MiB virtio disk, virtio-rng and
virtio-vsock; its /init counts (kiln.snap_count=1, tests/linux/init.sh): each number is written to
the disk (fsync), read back from the disk after dropping the page cache, and printed as
"KILN-INIT: count N". Once it has counted a few, the VM is paused and saved
(PUT /snapshot/create), that kiln is killed, and a new kiln --api-sock restores it
(PUT /snapshot/load, with a vsock_override). The restored user space must go on counting from the
exact next number (the two outputs together: 0, 1, 2, ... with no gap and no repeat), with no
"FAIL" (its first read is the sector written before the snapshot), and the disk image must hold
what the guest wrote before the snapshot. Exit 0 (pass), 1 (fail) or 77 (skip: no usable
/dev/kvm, no curl, the kernel not in the cache).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from kilnproc import read_text, wait_socket  # noqa: E402
from kvmcheck import kvm_usable  # noqa: E402
# Complete lines only (the console writes "\r\n"; a line cut short by the pause is finished by the
# restored process).
# The kernel's console messages share the serial line with /init's and may land in the middle of
# one of its lines (a restored guest warns about its clocksource), so a count needs only a
# non-digit after it, not its newline; loglevel=3 keeps most such messages off the console.
COUNT = re.compile(r"KILN-INIT: count (\d+)(?=\D)")
failures = 0


def check(what, ok, detail=""):
    global failures
    print("%s: %s%s" % ("PASS" if ok else "FAIL", what, "" if ok or not detail else " (%s)" % detail))
    sys.stdout.flush()
    if not ok:
        failures += 1
    return ok


class Kiln:
    """One `kiln --api-sock` process, its output in a file."""

    def __init__(self, kiln, work, name):
        self.sock = os.path.join(work, name + ".sock")
        self.out_path = os.path.join(work, name + ".out")
        self.err_path = os.path.join(work, name + ".err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([kiln, "--api-sock", self.sock], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        wait_socket(self.sock, self.proc, 10, 0.05)

    def api(self, method, path, body):
        r = subprocess.run(["curl", "-s", "--unix-socket", self.sock, "-X", method, "-H",
                            "Content-Type: application/json", "-d", json.dumps(body), "-o", "-",
                            "-w", "\n%{http_code}", "http://localhost" + path],
                           stdout=subprocess.PIPE, text=True, timeout=120)
        text, _, code = r.stdout.rpartition("\n")
        return int(code) if code.isdigit() else 0, text

    def expect_204(self, what, method, path, body):
        st, text = self.api(method, path, body)
        return check(what, st == 204, "%d %s; stderr: %s" % (st, text, self.stderr()[-300:]))

    def output(self):
        return read_text(self.out_path)

    def stderr(self):
        return read_text(self.err_path)

    def wait_counts(self, n, timeout, prefix=""):
        """The output once (prefix + output) shows counts up to n, else None. Says every 15 s
        how far the console got (for a log read while the test runs)."""
        deadline = time.time() + timeout
        said = time.time()
        while time.time() < deadline and self.proc.poll() is None:
            counts = [int(c) for c in COUNT.findall(prefix + self.output())]
            if counts and counts[-1] >= n:
                return self.output()
            if time.time() - said > 15:
                said = time.time()
                print("... waiting for count %d: console ends %r" % (n, self.output()[-120:]), flush=True)
            time.sleep(0.5)
        return None

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def tail(self):
        return "console: %r; stderr: %r" % (self.output()[-400:], self.stderr()[-400:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--timeout", type=int, default=400)
    args = ap.parse_args()
    if not kvm_usable():
        print("SKIP: /dev/kvm cannot be opened read-write")
        return 77
    if shutil.which("curl") is None:
        print("SKIP: curl is not installed")
        return 77
    k = subprocess.run([os.path.join(HERE, "build-kernel.sh"), "--dir"], stdout=subprocess.PIPE, text=True)
    if k.returncode:
        print("SKIP: the test kernel is not in the cache (tests/linux/build-kernel.sh)")
        return 77
    kernel = os.path.join(k.stdout.strip().splitlines()[-1], "vmlinux")
    work = tempfile.mkdtemp(prefix="kiln-snaplinux.", dir="/tmp")
    start = time.time()
    left = lambda: max(10, args.timeout - (time.time() - start))
    try:
        initrd = os.path.join(work, "initramfs.cpio")
        r = subprocess.run([os.path.join(HERE, "build-initramfs.sh"), initrd])
        if r.returncode:
            print("%s: building the initramfs (status %d)" % ("SKIP" if r.returncode == 77 else "FAIL",
                                                             r.returncode))
            return 77 if r.returncode == 77 else 1
        disk = os.path.join(work, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")

        a = Kiln(args.kiln, work, "first")
        try:
            a.expect_204("PUT /machine-config (1 vCPU, 256 MiB)", "PUT", "/machine-config",
                         {"vcpu_count": 1, "mem_size_mib": 256})
            a.expect_204("PUT /boot-source (the test kernel, kiln.snap_count=1)", "PUT", "/boot-source",
                         {"kernel_image_path": kernel, "initrd_path": initrd,
                          "boot_args": "console=ttyS0 loglevel=3 panic=-1 kiln.snap_count=1"})
            a.expect_204("PUT /drives/data (a raw 1 MiB disk)", "PUT", "/drives/data",
                         {"drive_id": "data", "path_on_host": disk, "is_root_device": False,
                          "is_read_only": False})
            a.expect_204("PUT /entropy", "PUT", "/entropy", {})
            a.expect_204("PUT /vsock", "PUT", "/vsock", {"guest_cid": 3, "uds_path": os.path.join(work, "v1.sock")})
            a.expect_204("PUT /actions InstanceStart", "PUT", "/actions", {"action_type": "InstanceStart"})
            if not check("Linux boots and its /init counts to 5 through the disk",
                         a.wait_counts(5, left()) is not None, a.tail()):
                return 1
            a.expect_204("PATCH /vm Paused", "PATCH", "/vm", {"state": "Paused"})
            a.expect_204("PUT /snapshot/create (Full)", "PUT", "/snapshot/create",
                         {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
            before = a.output()
        finally:
            a.kill()
        counts = [int(c) for c in COUNT.findall(before)]
        if not check("the first process printed its count", bool(counts), before[-400:]):
            return 1
        last = counts[-1]
        check("the first process counted 0..%d" % last, counts == list(range(last + 1)), repr(counts))
        with open(disk, "rb") as f:
            f.seek((last % 64) * 512)
            sector = f.read(512)
        check("the disk image holds the last write before the snapshot ('kiln-snap %d')" % last,
              sector.startswith(b"kiln-snap %d\n" % last), repr(sector[:20]))

        b = Kiln(args.kiln, work, "second")
        try:
            b.expect_204("PUT /snapshot/load in a new kiln (resume_vm, vsock_override)", "PUT", "/snapshot/load",
                         {"snapshot_path": snap, "mem_backend": {"backend_type": "File", "backend_path": mem},
                          "resume_vm": True, "vsock_override": {"uds_path": os.path.join(work, "v2.sock")}})
            ok = check("the restored user space counts 10 more", b.wait_counts(last + 10, left(), before)
                       is not None, b.tail())
            after = b.output()
        finally:
            b.kill()
        counts = [int(c) for c in COUNT.findall(before + after)]
        check("the count goes on from the exact next number: 0..%d, no gap, no repeat" % (counts[-1] if counts else -1),
              ok and counts == list(range(len(counts))) and len(counts) >= last + 11,
              "before: %r; after: %r" % (before[-120:], after[:200]))
        check("no FAIL from the restored /init (its first read is the sector written before the snapshot)",
              "KILN-INIT: FAIL" not in before + after,
              [line for line in (before + after).splitlines() if "FAIL" in line][:3])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
