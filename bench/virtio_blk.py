#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""virtio-blk benchmark: kiln vs QEMU microvm, the same ring-3 guest driving the same image.

The guest (tests/guests/vio_bench.c) sets up the first virtio-blk device, drops to ring 3 and
waits for a byte on its serial port; the host then starts its clocks and sends the byte; the
guest issues COUNT reads (sequential 1 MiB, or random 4 KiB at queue depth 1 and 16) polling the
used ring, prints "bench: done", and waits for one more byte while the host stops its clocks.
So only the request loop is measured, not boot or exit.

Per run: wall time between the two bytes, the monitor's CPU time over it (utime + stime of the
whole process from /proc/PID/stat, exited threads included) and of its vCPU thread (from
/proc/PID/task/TID/schedstat). The vCPU thread spins in the guest's polling loop, so its time is
about the wall time; "device CPU" is the rest: what the monitor spends outside the vCPU thread
to serve the requests (kiln's I/O thread, QEMU's main loop and its worker threads).

Targets (printed, never enforced): kiln at least QEMU's requests/s, and less host CPU per
request. Exit status: 0 when every run succeeded, 1 otherwise, 2 for bad arguments.
"""

import argparse
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

KILN_BUS = "virtio=0xd0000000,0x1000,16"
QEMU_BUS = "virtio=0xfeb00000,0x200,8"
# (name, mode, block size, queue depth, requests)
WORKLOADS = [
    ("seq 1M qd1", "seq", 1 << 20, 1, 4096),
    ("rand 4K qd1", "rand", 4096, 1, 15000),
    ("rand 4K qd16", "rand", 4096, 16, 20000),
]
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """utime + stime of the whole process, seconds (threads that exited included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def threads(pid):
    """{tid: (name, cpu seconds)} from schedstat (ns resolution)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except OSError:
            continue
        out[tid] = (name, ns / 1e9)
    return out


def is_vcpu(name):
    return "vcpu" in name.lower() or name.startswith("CPU ")


def read_until(proc, mark, timeout, buf):
    """Read the monitor's stdout until a line contains mark; returns the text read so far."""
    deadline = time.monotonic() + timeout
    while mark not in buf[0]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no '{mark}' within {timeout} s")
        r, _, _ = select.select([proc.stdout], [], [], left)
        if r:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError(f"monitor exited before '{mark}'")
            buf[0] += chunk.decode(errors="replace")
    return buf[0]


def run_once(argv, count, bs, timeout):
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    buf = [""]
    result = {"ok": False}
    try:
        read_until(proc, "bench: ring 3, ready", timeout, buf)
        cpu0, th0 = proc_cpu(proc.pid), threads(proc.pid)
        t0 = time.monotonic()
        proc.stdin.write(b"g")
        proc.stdin.flush()
        read_until(proc, "bench: done", timeout, buf)
        t1 = time.monotonic()
        cpu1, th1 = proc_cpu(proc.pid), threads(proc.pid)
        proc.stdin.write(b"q")
        proc.stdin.flush()
        status = proc.wait(timeout)
        wall = t1 - t0
        per_thread = {}
        for tid, (name, c1) in th1.items():
            c0 = th0.get(tid, (name, 0.0))[1]
            per_thread[f"{name} ({tid})"] = c1 - c0
        vcpu = sum(v for k, v in per_thread.items() if is_vcpu(k))
        result = {
            "ok": status == 33 and
                  "SUCCESS" in buf[0] + proc.stdout.read().decode(errors="replace"),
            "status": status, "wall_s": wall, "cpu_s": cpu1 - cpu0, "vcpu_s": vcpu,
            "threads": per_thread, "requests": count, "bytes": count * bs,
        }
    except (TimeoutError, EOFError, subprocess.TimeoutExpired) as e:
        result["error"] = str(e)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
        if not result.get("ok"):
            result["stdout"] = buf[0][-2000:]
            result["stderr"] = tail
    return result


def summarize(samples):
    ok = [s for s in samples if s.get("ok")]
    if not ok:
        return None
    med = lambda key: statistics.median(s[key] for s in ok)  # noqa: E731
    wall, cpu, vcpu = med("wall_s"), med("cpu_s"), med("vcpu_s")
    n, nbytes = ok[0]["requests"], ok[0]["bytes"]
    return {
        "runs": len(ok), "wall_s": wall,
        "mib_s": nbytes / wall / (1 << 20), "req_s": n / wall,
        "best_req_s": n / min(s["wall_s"] for s in ok),
        "cpu_us_req": cpu / n * 1e6, "vcpu_us_req": vcpu / n * 1e6,
        "dev_us_req": max(cpu - vcpu, 0.0) / n * 1e6,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default="build/kiln")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--guest", default="build/tests/guests/vio_bench.elf")
    ap.add_argument("--image-mib", type=int, default=256)
    ap.add_argument("--dir", default=None,
                    help="where the disk image is made (default: a temp dir)")
    ap.add_argument("--runs", type=int, default=3, help="runs per row (median reported)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the request counts")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--kiln-disk-opts", default="",
                    help="appended to --disk PATH (e.g. ,cache=none)")
    ap.add_argument("--json", default=None)
    ap.add_argument("-v", action="store_true", help="per-thread CPU of every run")
    a = ap.parse_args()
    if a.runs < 1 or a.scale <= 0 or a.image_mib < 2:
        ap.error("--runs, --scale and --image-mib must be positive")
    kiln = shutil.which(a.kiln) if os.sep not in a.kiln else os.path.abspath(a.kiln)
    qemu = shutil.which(a.qemu) if os.sep not in a.qemu else os.path.abspath(a.qemu)
    if not os.path.isfile(a.guest):
        print(f"virtio_blk.py: {a.guest}: no such guest (build it first)", file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="kiln-bench-vio.", dir=a.dir)
    image = os.path.join(tmp, "disk.img")
    try:
        with open(image, "wb") as f:  # real data, not a sparse file, then warm the page cache
            block = bytes(range(256)) * 4096
            for _ in range(a.image_mib):
                f.write(block)
        with open(image, "rb") as f:
            while f.read(1 << 24):
                pass
        return bench(a, kiln, qemu, image)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(a, kiln, qemu, image):
    monitors = []
    if kiln and os.access(kiln, os.X_OK):
        monitors.append(("kiln", lambda cmd: [kiln, "run", "--debug-exit", "-m", "128M", "-k",
                                              a.guest, "-p", f"{KILN_BUS} {cmd}",
                                              "--disk", image + a.kiln_disk_opts]))
    else:
        print(f"kiln: missing ({a.kiln})")
    if qemu:
        monitors.append(("qemu", lambda cmd: [
            qemu, "-name", "bench,debug-threads=on", "-M", "microvm,ioapic2=off", "-accel", "kvm",
            "-m", "128M", "-nodefaults",
            "-nographic", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-global", "virtio-mmio.force-legacy=false",
            "-drive", f"file={image},format=raw,if=none,id=d0",
            "-device", "virtio-blk-device,drive=d0",
            "-kernel", a.guest, "-append", f"{QEMU_BUS} {cmd}"]))
    else:
        print(f"qemu: missing ({a.qemu})")

    results, failed = {}, 0
    for wname, mode, bs, qd, count in WORKLOADS:
        count = max(1, int(count * a.scale))
        cmd = f"mode={mode} bs={bs} qd={qd} count={count}"
        for mname, make in monitors:
            samples = []
            for _ in range(a.runs):  # rows alternate per run so drift hits both alike
                s = run_once(make(cmd), count, bs, a.timeout)
                samples.append(s)
                if not s.get("ok"):
                    failed += 1
                    print(f"{mname} {wname}: run failed: {s.get('error', s.get('status'))}\n"
                          f"  stdout: {s.get('stdout', '')[-500:]}\n"
                          f"  stderr: {s.get('stderr', '')[-500:]}", file=sys.stderr)
                elif a.v:
                    print(f"{mname} {wname}: wall {s['wall_s']:.3f} s, cpu {s['cpu_s']:.3f} s: " +
                          ", ".join(f"{k} {v:.3f}" for k, v in sorted(s["threads"].items())))
            results[(wname, mname)] = {"argv": make(cmd), "samples": samples,
                                       "summary": summarize(samples)}

    print()
    hdr = (f"{'workload':<14}{'monitor':<8}{'MiB/s':>9}{'req/s':>10}{'best':>8}{'CPU us/req':>12}"
           f"{'vCPU':>8}{'device':>8}")
    print(hdr)
    print("-" * len(hdr))
    for wname, *_ in WORKLOADS:
        for mname, _ in monitors:
            s = results[(wname, mname)]["summary"]
            if s is None:
                print(f"{wname:<14}{mname:<8}{'failed':>9}")
                continue
            print(f"{wname:<14}{mname:<8}{s['mib_s']:>9.1f}{s['req_s']:>10.0f}{s['best_req_s']:>8.0f}"
                  f"{s['cpu_us_req']:>12.2f}{s['vcpu_us_req']:>8.2f}{s['dev_us_req']:>8.2f}")
    print()
    print(f"{'kiln / qemu':<14}{'req/s':>8}{'CPU/req':>10}{'device CPU/req':>16}   targets")
    for wname, *_ in WORKLOADS:
        k = results.get((wname, "kiln"), {}).get("summary")
        q = results.get((wname, "qemu"), {}).get("summary")
        if not k or not q:
            print(f"{wname:<14}{'n/a':>8}")
            continue
        rr = k["req_s"] / q["req_s"]
        cr = k["cpu_us_req"] / q["cpu_us_req"]
        dr = k["dev_us_req"] / q["dev_us_req"] if q["dev_us_req"] > 0 else float("nan")
        verdict = ("req/s " + ("met" if rr >= 1 else "NOT met") + ", CPU/req " +
                   ("met" if cr < 1 else "NOT met"))
        print(f"{wname:<14}{rr:>8.3f}{cr:>10.3f}{dr:>16.3f}   {verdict}")
    print("\nCPU us/req: the monitor process's CPU time over the run / requests; vCPU: its "
          "vCPU thread\n(spinning in the guest's poll loop); device: the rest (I/O thread, main "
          "loop, workers).\nMedians of", a.runs, "runs. Targets are reported, not enforced.")

    if a.json:
        out = {"host": {"machine": platform.machine(), "kernel": platform.release(),
                        "cpus": os.cpu_count()},
               "runs": {f"{w} / {m}": v for (w, m), v in results.items()}}
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
