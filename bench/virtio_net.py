#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""virtio-net frame rate: kiln vs QEMU microvm, the same guest driver on the same kind of TAP.

The guest is tests/guests/vio_net.c: it sends N frames of 256 bytes to the host, one at a time
(post, notify, wait for the used buffer), then receives N frames the host sends in batches of 500
that it acknowledges. The host end is tests/e2e/virtio_test.py's NetPeer on an AF_PACKET socket,
in a network namespace of this script's own with a TAP (vnet_hdr) at 10.0.0.1; it checks every
frame and timestamps the phases:

    frames out/s = (N - 1) / (last - first frame out)    frames in/s = N / in phase

The guest waits for each transmitted frame, so "out" is a small-packet round-trip rate (notify ->
monitor -> TAP -> used buffer -> guest), not a bulk throughput. Host CPU per frame is the
monitor's user+system time for a run of N frames each way less that of a run of 1, over 2(N-1).
QEMU runs with vhost off (this host has no vhost-net) and with KVM when /dev/kvm works. Needs
root (the namespace and the TAP); says why on one line and exits 0 when it cannot run.

    virtio_net.py --kiln build/kiln --guest build/tests/guests/vio_net.elf [--frames N]
                  [--runs R] [--json FILE]
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import virtio_test as vt  # noqa: E402
from kvmcheck import kvm_usable  # noqa: E402

KILN_BUS = vt.KILN_BUS
QEMU_BUS = vt.QEMU_BUS


def argv_for(monitor, binary, guest, frames):
    if monitor == "kiln":
        return [binary, "run", "--debug-exit", "-m", "128M", "-k", guest, "--net", "tap=" + vt.NET_TAP,
                "-p", f"{KILN_BUS} frames={frames} batch={vt.NET_BATCH}"]
    return [binary] + vt.QEMU_BASE + ["-accel", "kvm", "-serial", "stdio",
                                      "-netdev", f"tap,id=n0,ifname={vt.NET_TAP},script=no,downscript=no,vhost=off",
                                      "-device", "virtio-net-device,netdev=n0",
                                      "-kernel", guest, "-append",
                                      f"{QEMU_BUS} frames={frames} batch={vt.NET_BATCH} lenient_num_buffers"]


def one_run(monitor, binary, guest, frames, timeout):
    """Returns (ok, out/s, in/s, cpu seconds, why)."""
    peer = vt.NetPeer(time.monotonic() + timeout, frames)
    peer.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(argv_for(monitor, binary, guest, frames), capture_output=True, timeout=timeout)
        status, out = p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        status, out = "timeout", ""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peer.join(5)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    t = peer.t
    if status != 33 or peer.problems or peer.got != frames or "in_end" not in t:
        return False, 0, 0, cpu, f"status {status}, {'; '.join(peer.problems) or 'incomplete'}: {out[-200:]!r}"
    rate_out = (frames - 1) / (t["out_last"] - t["out_first"]) if frames > 1 else 0
    rate_in = frames / (t["in_end"] - t["in_start"]) if "in_start" in t else 0
    return True, rate_out, rate_in, cpu, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not kvm_usable():
        print("virtio_net: no usable /dev/kvm here: nothing measured (make bench-kvm runs it on kvm_amd)")
        return 0
    why = vt.net_setup()
    if why:
        print("virtio_net: " + why + ": nothing measured")
        return 0
    rows = [("kiln", a.kiln)]
    qemu = shutil.which(a.qemu)
    if qemu:
        rows.append(("QEMU microvm (virtio-net-device, tap, vhost=off)", qemu))
    # Alternate the monitors run by run, so a drift in the machine's speed (TCG under a nested
    # KVM is noisy) lands on both rows alike.
    runs = {name: {"base": [], "full": []} for name, _ in rows}
    for _ in range(a.runs):
        for kind, frames in (("base", 1), ("full", a.frames)):
            for name, binary in rows:
                monitor = "kiln" if name == "kiln" else "qemu"
                runs[name][kind].append(one_run(monitor, binary, a.guest, frames, a.timeout))
    results = {}
    for name, _ in rows:
        base, full = runs[name]["base"], runs[name]["full"]
        bad = [r[4] for r in base + full if not r[0]]
        if bad:
            print(f"{name}: {len(bad)} failed run(s): {bad[0]}")
            results[name] = {"failed": bad}
            continue
        cpu = (statistics.median(r[3] for r in full) - statistics.median(r[3] for r in base)) / (2 * (a.frames - 1))
        results[name] = {
            "frames_out_per_s": statistics.median(r[1] for r in full),
            "frames_in_per_s": statistics.median(r[2] for r in full),
            "host_cpu_us_per_frame": cpu * 1e6,
            "out_per_s_each_run": [round(r[1]) for r in full],
            "runs": a.runs,
        }
    print(f"\nvirtio-net, {a.frames} frames of 256 bytes each way, median of {a.runs} runs")
    print(f"{'monitor':<50} {'out/s':>10} {'in/s':>10} {'CPU us/frame':>13}")
    for name, r in results.items():
        if "failed" in r:
            print(f"{name:<50} {'failed':>10}")
            continue
        print(f"{name:<50} {r['frames_out_per_s']:>10.0f} {r['frames_in_per_s']:>10.0f} "
              f"{r['host_cpu_us_per_frame']:>13.1f}   out/s each run: {r['out_per_s_each_run']}")
    k = results.get("kiln", {})
    for name, r in results.items():
        if name != "kiln" and "failed" not in r and "failed" not in k:
            print(f"kiln / {name.split(' (')[0]}: out {k['frames_out_per_s'] / r['frames_out_per_s']:.2f}x, "
                  f"in {k['frames_in_per_s'] / r['frames_in_per_s']:.2f}x, CPU per frame "
                  f"{k['host_cpu_us_per_frame'] / r['host_cpu_us_per_frame']:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
