#!/usr/bin/env python3
"""Rate limiters from a guest's side (e2e suite; the real-KVM tier runs it).

usage: rate_limit.py --kiln PATH --case blk-ops|blk-bandwidth|blk-patch|rng|serial
                     [--bench-guest vio_bench.elf] [--rng-guest vio_rng.elf] [--hello-guest hello64.elf]

Each case boots a guest from a Firecracker config file whose device has a rate limiter, and
measures the rate the guest achieved. The bound is exact, so the assertion is one-sided: a token
bucket of SIZE tokens refilled at RATE per second lets at most SIZE + RATE * t through in t
seconds, so N requests take at least (N - SIZE) / RATE seconds. The host's clock runs from
before the guest starts issuing requests to after it reports the last one, so anything slow
around them (the emulated CPU, a busy host) only lengthens it: the achieved rate,
(N - SIZE) / elapsed, must not exceed RATE. Without a working limiter, the same requests take
milliseconds and the test fails.
"""
import argparse
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kvmcheck import require_kvm  # noqa: E402

BUS = "virtio=0xd0000000,0x1000,16"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def read_until(p, text, deadline, buf):
    while text not in buf[0]:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
            fail("timed out waiting for %r; output so far: %r" % (text, buf[0][-2000:]))
        chunk = os.read(p.stdout.fileno(), 65536).decode(errors="replace")
        if not chunk:
            fail("kiln exited before %r; output: %r; stderr: %r"
                 % (text, buf[0][-2000:], p.stderr.read().decode(errors="replace")))
        buf[0] += chunk


def config(tmp, guest, cmdline, **sections):
    doc = {"boot-source": {"kernel_image_path": guest, "boot_args": cmdline},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
    doc.update(sections)
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def finish(p, deadline):
    try:
        out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        fail("kiln did not exit; stderr: %r" % err.decode(errors="replace"))
    if p.returncode != 33:
        fail("exit status %d, not 33; stderr: %r" % (p.returncode, err.decode(errors="replace")))
    return out.decode(errors="replace")


def check_rate(what, n, size, rate, elapsed):
    achieved = (n - size) / elapsed
    print("%s: %d tokens, bucket %d, limit %.1f/s: %.2f s, achieved %.1f/s after the bucket"
          % (what, n, size, rate, elapsed, achieved))
    if achieved > rate * 1.001:
        fail("%s: achieved %.1f/s, above the limit of %.1f/s" % (what, achieved, rate))


def blk(a, tmp, limiter, count, bs, patch=None):
    """vio_bench reads `count` blocks of `bs` bytes from a drive with `limiter`; the clock runs
    from the host's go-ahead byte (after "bench: ring 3, ready") to "bench: done"."""
    image = os.path.join(tmp, "disk.img")
    with open(image, "wb") as f:
        f.truncate(4 << 20)
    sock = os.path.join(tmp, "api.sock")
    cfg = config(tmp, a.bench_guest, "%s bs=%d qd=1 count=%d" % (BUS, bs, count),
                 drives=[{"drive_id": "d0", "path_on_host": image, "is_root_device": False,
                          "rate_limiter": limiter}])
    argv = [a.kiln, "--config-file", cfg, "--debug-exit"] + (["--api-sock", sock] if patch else [])
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    buf = [""]
    read_until(p, "ready\n", deadline, buf)
    if patch:
        # PATCH the running VM's limiter before the guest starts: the new buckets apply.
        r = subprocess.run(["curl", "-sS", "--unix-socket", sock, "-X", "PATCH",
                            "http://localhost/drives/d0", "-d", json.dumps(patch),
                            "-w", "%{http_code}", "-o", "/dev/null"],
                           capture_output=True, text=True, timeout=30)
        if r.stdout != "204":
            fail("PATCH /drives/d0: HTTP %s %s" % (r.stdout, r.stderr))
    t0 = time.monotonic()
    p.stdin.write(b"g")
    p.stdin.flush()
    read_until(p, "bench: done", deadline, buf)
    elapsed = time.monotonic() - t0
    p.stdin.write(b"x")
    p.stdin.flush()
    finish(p, deadline)
    return elapsed


def case_blk_ops(a, tmp):
    # 50 requests per second, a bucket of 50: 150 reads take at least 2 s.
    e = blk(a, tmp, {"ops": {"size": 50, "refill_time": 1000}}, 150, 4096)
    check_rate("virtio-blk ops", 150, 50, 50.0, e)


def case_blk_bandwidth(a, tmp):
    # 256 KiB/s, a bucket of 64 KiB: 150 reads of 4 KiB (600 KiB) take at least 2.09 s.
    e = blk(a, tmp, {"bandwidth": {"size": 65536, "refill_time": 250}}, 150, 4096)
    check_rate("virtio-blk bandwidth (4 KiB blocks)", 150 * 4096, 65536, 262144.0, e)


def case_blk_patch(a, tmp):
    # Booted with a loose limit, PATCHed at run time to 40 ops/s: 120 reads take at least 2 s.
    e = blk(a, tmp, {"ops": {"size": 100000, "refill_time": 1}}, 120, 4096,
            patch={"drive_id": "d0", "rate_limiter": {"ops": {"size": 40, "refill_time": 1000}}})
    check_rate("virtio-blk ops after PATCH", 120, 40, 40.0, e)


def case_rng(a, tmp):
    # entropy: 4 requests per second, a bucket of 2: 10 reads take at least 2 s from kiln's start.
    cfg = config(tmp, a.rng_guest, BUS + " reads=10",
                 entropy={"rate_limiter": {"ops": {"size": 2, "refill_time": 500}}})
    t0 = time.monotonic()
    p = subprocess.Popen([a.kiln, "--config-file", cfg, "--debug-exit"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = finish(p, t0 + 120)
    elapsed = time.monotonic() - t0
    reads = len(re.findall(r"^rng: got \d+ bytes", out, re.M))
    if reads != 10 or "rng: two reads differ" not in out:
        fail("the guest made %d reads, not 10: %r" % (reads, out))
    check_rate("virtio-rng ops", 10, 2, 4.0, elapsed)


def case_serial(a, tmp):
    # 16 bytes, refilled over an hour: the hello guest's output is cut after 16 bytes, and the
    # metrics count what was dropped.
    metrics = os.path.join(tmp, "metrics.json")
    open(metrics, "w").close()
    cfg = config(tmp, a.hello_guest, "",
                 serial={"rate_limiter": {"size": 16, "refill_time": 3600000}},
                 metrics={"metrics_path": metrics})
    p = subprocess.Popen([a.kiln, "--config-file", cfg, "--debug-exit"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = finish(p, time.monotonic() + 60)
    if len(out.encode()) != 16 or not "kiln elf64: hello from long mode".startswith(out):
        fail("serial output %r is not the first 16 bytes of the guest's" % out)
    with open(metrics) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    dropped = lines[-1]["serial"]["rate_limiter_dropped_bytes"] if lines else -1
    if dropped <= 0:
        fail("the metrics report %s dropped bytes" % dropped)
    print("serial: 16 bytes out, %d dropped and counted" % dropped)


CASES = {"blk-ops": case_blk_ops, "blk-bandwidth": case_blk_bandwidth, "blk-patch": case_blk_patch,
         "rng": case_rng, "serial": case_serial}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--bench-guest")
    ap.add_argument("--rng-guest")
    ap.add_argument("--hello-guest")
    a = ap.parse_args()
    require_kvm()
    with tempfile.TemporaryDirectory(prefix="kiln-rate.") as tmp:
        CASES[a.case](a, tmp)
    print("PASS: rate limit " + a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
