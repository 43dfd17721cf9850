#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Snapshot benchmark: restore latency and snapshot cost, kiln (File, Uffd) vs QEMU.

The guest is tests/guests/snap_count (multiboot: kiln and QEMU boot the same file), which prints
"count N" lines on the serial port without pause, so the first byte after a restore comes a few
instructions after the first guest instruction: "first output" is the time to a running vCPU,
near enough. For each guest size (128 MiB and 1 GiB by default):

- snapshot: the guest boots and counts, is paused, and saved: kiln `PUT /snapshot/create` Full,
  then (resumed, counting, paused again) Diff, with machine-config's track_dirty_pages; QEMU
  `stop` then `migrate "exec:cat > FILE"` over QMP, until query-migrate says completed. Time of
  the request (to its answer, or to "completed"), and the files' sizes: apparent, and on disk
  (st_blocks: kiln writes the memory file sparse).
- restore, every run on a fresh process whose start is not counted, except for --restore:
  * kiln API, File: from the `PUT /snapshot/load` request (resume_vm) to its 204 (the vCPU
    threads have started: Firecracker's measure of a load) and to the guest's first output;
  * kiln API, Uffd: the same with mem_backend Uffd and tools/kiln-uffd-handler serving the
    memory file (started beforehand, as a page-fault handler service would be);
  * kiln --restore (File, Uffd): from exec of `kiln run --restore` to the first output;
  * QEMU: from exec of `qemu-system-x86_64 -accel kvm ... -incoming "exec:cat FILE"` to the
    incoming migration completed (query-migrate, polled every 0.5 ms over QMP), and to the
    first output after `cont` (the saved VM was stopped, as kiln's is paused).

Medians of --runs runs, a table, and kiln/QEMU ratios. Nothing is enforced: the exit status is
0 unless a run failed, 77 (skip) without a usable /dev/kvm.
"""

import argparse
import json
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from kilnproc import wait_socket  # noqa: E402


def now_ms():
    return time.monotonic() * 1000.0


class Output:
    """Reads a process's stdout in a thread; notes when the guest's first output after `arm()`
    arrives (the read that completes the first "count")."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.data = bytearray()
        self.armed_at = None
        self.first = None
        self.lock = threading.RLock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        fd = self.pipe.fileno()
        while True:
            try:
                b = os.read(fd, 65536)
            except OSError:
                return
            if not b:
                return
            t = now_ms()
            with self.lock:
                self.data += b
                # the guest's own text: QEMU's terminal set-up bytes on stdio do not count
                if self.armed_at is not None and self.first is None and \
                        b"count" in self.data[self.armed_at:]:
                    self.first = t

    def arm(self):
        with self.lock:
            self.armed_at = len(self.data)
            self.first = None

    def lines(self):
        with self.lock:
            return self.data.count(b"\n")

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if pred(self):
                    return True
            time.sleep(0.002)
        return False


def http(sock_path, method, path, body=None, timeout=60):
    """One request on a new connection to kiln's API socket: (status, body text)."""
    data = json.dumps(body).encode() if body is not None else b""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(("%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, len(data))).encode() + data)
    resp = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        resp += b
        head, sep, rest = resp.partition(b"\r\n\r\n")
        if sep:
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            if len(rest) >= n:
                break
    s.close()
    status = int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/") else 0
    return status, resp.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


class Proc:
    def __init__(self, argv):
        self.t_exec = now_ms()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, close_fds=True)
        self.out = Output(self.p.stdout)

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        err = self.p.stderr.read().decode("utf-8", "replace")
        self.p.stdout.close()
        self.p.stderr.close()
        return err


class Qmp:
    def __init__(self, path, timeout=30):
        end = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.0005)
        self.buf = b""
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                raise OSError("QMP closed")
            self.buf += b
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.read()
            if "return" in r or "error" in r:
                return r

    def close(self):
        self.s.close()


def median(xs):
    return statistics.median(xs) if xs else None


def disk_size(path):
    st = os.stat(path)
    return st.st_size, st.st_blocks * 512


# ---- kiln --------------------------------------------------------------------------------------

def kiln_boot(args, work, mib, track):
    """A kiln --api-sock with snap_count booted and counting; (proc, sock)."""
    sock = os.path.join(work, "api.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    k = Proc([args.kiln, "--api-sock", sock])
    if not wait_socket(sock, poll_s=0.001):
        raise RuntimeError("kiln --api-sock did not listen: %s" % k.stop())
    for method, path, body in [
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": mib, "track_dirty_pages": track}),
            ("PUT", "/boot-source", {"kernel_image_path": args.guest}),
            ("PUT", "/actions", {"action_type": "InstanceStart"})]:
        st, text = http(sock, method, path, body)
        if st != 204:
            raise RuntimeError("%s %s -> %d %s" % (method, path, st, text))
    k.out.wait(lambda o: o.lines() >= 50, 60)
    return k, sock


def kiln_snapshots(args, work, mib):
    """Full then Diff of one booted guest: dict of times and sizes; files in work."""
    k, sock = kiln_boot(args, work, mib, True)
    r = {}
    try:
        for kind in ("Full", "Diff"):
            st, text = http(sock, "PATCH", "/vm", {"state": "Paused"})
            if st != 204:
                raise RuntimeError("pause: %d %s" % (st, text))
            snap, mem = os.path.join(work, "%s.snap" % kind), os.path.join(work, "%s.mem" % kind)
            t0 = now_ms()
            st, text = http(sock, "PUT", "/snapshot/create",
                            {"snapshot_type": kind, "snapshot_path": snap, "mem_file_path": mem})
            r[kind] = {"create_ms": now_ms() - t0, "state_bytes": os.path.getsize(snap)}
            if st != 204:
                raise RuntimeError("snapshot/create %s: %d %s" % (kind, st, text))
            r[kind]["mem_bytes"], r[kind]["mem_disk_bytes"] = disk_size(mem)
            st, text = http(sock, "PATCH", "/vm", {"state": "Resumed"})
            n = k.out.lines()
            k.out.wait(lambda o: o.lines() >= n + 50, 60)
    finally:
        k.stop()
    return r


def kiln_restore_api(args, work, mib, uffd):
    snap, mem = os.path.join(work, "Full.snap"), os.path.join(work, "Full.mem")
    sock = os.path.join(work, "r.sock")
    hsock = os.path.join(work, "uffd.sock")
    for p in (sock, hsock):
        if os.path.exists(p):
            os.unlink(p)
    h = None
    if uffd:
        h = Proc([args.uffd_handler, hsock, mem])
        if not h.out.wait(lambda o: o.lines() >= 1, 10):
            raise RuntimeError("the uffd handler did not start: %s" % h.stop())
    k = Proc([args.kiln, "--api-sock", sock])
    try:
        if not wait_socket(sock, poll_s=0.001):
            raise RuntimeError("kiln --api-sock did not listen")
        time.sleep(0.02)
        backend = {"backend_type": "Uffd" if uffd else "File", "backend_path": hsock if uffd else mem}
        k.out.arm()
        t0 = now_ms()
        st, text = http(sock, "PUT", "/snapshot/load", {"snapshot_path": snap, "mem_backend": backend,
                                                        "resume_vm": True})
        t_load = now_ms() - t0
        if st != 204:
            raise RuntimeError("snapshot/load: %d %s" % (st, text))
        if not k.out.wait(lambda o: o.first is not None, 30):
            raise RuntimeError("no output after the load")
        return {"load_ms": t_load, "first_output_ms": k.out.first - t0}
    finally:
        k.stop()
        if h:
            h.stop()


def kiln_restore_cli(args, work, mib, uffd):
    snap, mem = os.path.join(work, "Full.snap"), os.path.join(work, "Full.mem")
    hsock = os.path.join(work, "uffd.sock")
    if os.path.exists(hsock):
        os.unlink(hsock)
    h = None
    if uffd:
        h = Proc([args.uffd_handler, hsock, mem])
        if not h.out.wait(lambda o: o.lines() >= 1, 10):
            raise RuntimeError("the uffd handler did not start: %s" % h.stop())
    k = Proc([args.kiln, "run", "--restore", snap] + (["--mem-uffd", hsock] if uffd else ["--mem-file", mem]))
    k.out.arm()
    try:
        if not k.out.wait(lambda o: o.first is not None, 30):
            raise RuntimeError("no output after --restore")
        return {"first_output_ms": k.out.first - k.t_exec}
    finally:
        k.stop()
        if h:
            h.stop()


# ---- QEMU --------------------------------------------------------------------------------------

def qemu_argv(args, mib, qmp, extra=()):
    return [args.qemu, "-accel", args.qemu_accel, "-M", "pc", "-m", "%dM" % mib, "-nodefaults", "-nographic",
            "-no-reboot", "-serial", "stdio", "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % qmp,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", args.guest] + list(extra)


def qemu_snapshot(args, work, mib):
    qmp_path = os.path.join(work, "qmp.sock")
    if os.path.exists(qmp_path):
        os.unlink(qmp_path)
    q = Proc(qemu_argv(args, mib, qmp_path))
    try:
        if not q.out.wait(lambda o: o.lines() >= 50, 60):
            raise RuntimeError("QEMU: the guest does not count: %s" % q.stop())
        m = Qmp(qmp_path)
        m.cmd("stop")
        path = os.path.join(work, "qemu.state")
        t0 = now_ms()
        r = m.cmd("migrate", uri="exec:cat > %s" % path)
        if "error" in r:
            raise RuntimeError("QEMU migrate: %s" % r)
        while True:
            st = m.cmd("query-migrate")["return"].get("status")
            if st in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.0005)
        t = now_ms() - t0
        m.close()
        if st != "completed":
            raise RuntimeError("QEMU migrate: %s" % st)
        size, disk = disk_size(path)
        return {"create_ms": t, "mem_bytes": size, "mem_disk_bytes": disk}
    finally:
        q.stop()


def qemu_restore(args, work, mib):
    qmp_path = os.path.join(work, "qmp-in.sock")
    if os.path.exists(qmp_path):
        os.unlink(qmp_path)
    path = os.path.join(work, "qemu.state")
    q = Proc(qemu_argv(args, mib, qmp_path, ["-incoming", "exec:cat %s" % path]))
    q.out.arm()
    try:
        m = Qmp(qmp_path)
        while True:
            st = m.cmd("query-migrate")["return"].get("status")
            if st in ("completed", "failed"):
                break
            time.sleep(0.0005)
        t_in = now_ms() - q.t_exec
        if st != "completed":
            raise RuntimeError("QEMU incoming migration %s: %s" % (st, q.stop()))
        status = m.cmd("query-status")["return"]
        if not status.get("running"):
            m.cmd("cont")
        if not q.out.wait(lambda o: o.first is not None, 30):
            raise RuntimeError("QEMU: no output after the incoming migration")
        m.close()
        return {"load_ms": t_in, "first_output_ms": q.out.first - q.t_exec}
    finally:
        q.stop()


# ---- the run -----------------------------------------------------------------------------------

def fmt_ms(x):
    return "-" if x is None else "%.2f" % x


def fmt_mib(x):
    return "-" if x is None else "%.1f" % (x / 1048576.0)


def ratio(a, b):
    return "-" if a is None or not b else "%.3f" % (a / b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--guest", required=True, help="tests/guests/snap_count.elf (built)")
    ap.add_argument("--uffd-handler", required=True, help="tools/kiln-uffd-handler (built)")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--qemu-accel", default="kvm", help=argparse.SUPPRESS)  # tcg: checks the QMP steps
    ap.add_argument("--sizes", default="128,1024", help="guest sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        print("SKIP: /dev/kvm: %s" % e.strerror)
        return 77
    qemu = shutil.which(args.qemu)
    results, failures = {}, []
    for mib in [int(x) for x in args.sizes.split(",")]:
        work = tempfile.mkdtemp(prefix="kiln-bench-snap.", dir="/tmp")
        res = results[mib] = {"rows": {}}
        try:
            res["kiln_snapshot"] = kiln_snapshots(args, work, mib)
            if qemu:
                try:
                    res["qemu_snapshot"] = qemu_snapshot(args, work, mib)
                except Exception as e:  # noqa: BLE001 - a failed row is reported, not fatal
                    failures.append("%d MiB qemu snapshot: %s" % (mib, e))
            rows = [("kiln API File", lambda: kiln_restore_api(args, work, mib, False)),
                    ("kiln API Uffd", lambda: kiln_restore_api(args, work, mib, True)),
                    ("kiln --restore File", lambda: kiln_restore_cli(args, work, mib, False)),
                    ("kiln --restore Uffd", lambda: kiln_restore_cli(args, work, mib, True))]
            if "qemu_snapshot" in res:
                rows.append(("qemu -incoming", lambda: qemu_restore(args, work, mib)))
            samples = {name: [] for name, _ in rows}
            for _ in range(args.runs):  # round-robin: drift hits every row alike
                for name, fn in rows:
                    try:
                        samples[name].append(fn())
                    except Exception as e:  # noqa: BLE001
                        failures.append("%d MiB %s: %s" % (mib, name, e))
            for name, ss in samples.items():
                res["rows"][name] = {
                    "runs": len(ss),
                    "load_median_ms": median([s["load_ms"] for s in ss if "load_ms" in s]),
                    "first_output_median_ms": median([s["first_output_ms"] for s in ss]),
                    "samples": ss,
                }
        except Exception as e:  # noqa: BLE001
            failures.append("%d MiB: %s" % (mib, e))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    print("\nRestore (medians of %d runs; ms). load: the request to its answer (kiln: 204, vCPUs "
          "started; QEMU: exec to incoming migration completed); first out: to the guest's first "
          "serial byte after the restore (kiln API: from the request; --restore and QEMU: from exec)" % args.runs)
    print("%-6s %-22s %5s %10s %10s %14s" % ("guest", "row", "runs", "load", "first out", "first/QEMU"))
    for mib, res in results.items():
        q = res["rows"].get("qemu -incoming", {}).get("first_output_median_ms")
        for name, row in res["rows"].items():
            print("%-6s %-22s %5d %10s %10s %14s" % ("%dM" % mib, name, row["runs"], fmt_ms(row["load_median_ms"]),
                                                     fmt_ms(row["first_output_median_ms"]),
                                                     ratio(row["first_output_median_ms"], q)))
    print("\nSnapshot creation (one each; ms, MiB: apparent / on disk)")
    print("%-6s %-12s %10s %10s %10s %10s %12s" % ("guest", "kind", "create", "mem", "on disk", "state KiB",
                                                    "create/QEMU"))
    for mib, res in results.items():
        q = res.get("qemu_snapshot")
        for kind, r in res.get("kiln_snapshot", {}).items():
            print("%-6s %-12s %10s %10s %10s %10.1f %12s" % ("%dM" % mib, "kiln " + kind, fmt_ms(r["create_ms"]),
                                                          fmt_mib(r["mem_bytes"]), fmt_mib(r["mem_disk_bytes"]),
                                                          r["state_bytes"] / 1024.0,
                                                          ratio(r["create_ms"], q and q["create_ms"])))
        if q:
            print("%-6s %-12s %10s %10s %10s %10s %12s" % ("%dM" % mib, "qemu migrate", fmt_ms(q["create_ms"]),
                                                        fmt_mib(q["mem_bytes"]), fmt_mib(q["mem_disk_bytes"]),
                                                        "-", "1.000"))
    if not qemu:
        print("\nqemu: %s not found, no QEMU rows" % args.qemu)
    for f in failures:
        print("FAILED: %s" % f)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "failures": failures, "runs": args.runs}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
