#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""arm64 benchmark: kiln vs qemu-system-aarch64 -M virt -accel kvm, side by side in the arm64
tier's guest.

Boots the arm64 tier's first-level guest (L1: Debian's arm64 kernel under qemu-system-aarch64 TCG
with EL2, whose built-in KVM gives it a /dev/kvm; tests/arm64/run-tier.py, docs/arm64.md) with
kiln, Debian's arm64 QEMU (qemu-system-arm:arm64 and the shared libraries it needs) and
vmm-probe (bench/vmm_probe.c) in its initramfs. There bench/arm64-inner.sh runs, --rounds
times and rotating which goes first, the three rows below with the same vCPUs and memory:

  hello  the tier's hello guest (tests/arm64/guests/hello.S; for QEMU the same code built with
         its PL011's address, 0x09000000, both with the same arm64 Image header), whose first
         instructions write to the UART: exec to the first byte on the VMM's stdout;
  linux  the tier's Linux guest: Debian's arm64 kernel Image, the busybox initramfs with
         l2-init.sh and the 1 MiB disk on virtio-blk, command line "console=ttyAMA0 panic=-1
         quiet": exec to l2-init.sh's first line, "KILN-L2: user space up", and the VMM's
         VmRSS and VmHWM (/proc/PID/status) when that line arrives.

  kiln      kiln run -m MEM -c CPUS -k IMAGE [-i l2.cpio --disk disk.img -p CMDLINE]
  kiln-thp  the same with --enable-thp: guest RAM anonymous memory with transparent huge pages,
            as QEMU's is (L1's kernel has THP "always"), where kiln's default memfd gets none
  QEMU  qemu-system-aarch64 -M virt,gic-version=3 -cpu host -accel kvm -nographic -nic none
        -m MEM -smp CPUS -kernel IMAGE [-initrd l2.cpio -drive file=disk.img,format=raw,if=none,
        id=vda -device virtio-blk-device,drive=vda -append CMDLINE]

It prints one line per run and, for each kiln row, a table of medians with the ratio kiln/QEMU against the goal of
issue 18 (times at most 0.5x QEMU's, RSS at most 0.1x): PASS or MISS, reported, never enforced.
Absolute times are those of KVM nested in TCG and mean little; the ratios are the point.

QEMU's packages are downloaded once with `apt-get download` (qemu-system-arm:arm64, then the
:arm64 library packages its ELF NEEDED entries lead to, by their Depends) and unpacked in
~/.cache/kiln/arm64-bench/KEY/ (KEY: qemu-system-arm's version and a hash of its direct
dependencies' versions). Libraries the host's multiarch directories hold (kiln's, for the cross
build: glibc first of all, whose loader L1 uses) are taken from there, the rest from the cache.

Exit status: 0 when every run finished (whatever the ratios); 1 when a run failed or L1 did
not finish; 77 when the host lacks what the tier needs (the reason is printed).
"""
import argparse
import glob
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIER_DIR = os.path.join(REPO, "tests", "arm64")
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "kiln", "arm64-bench")
BENCH_LINE = re.compile(r"KILN-ARM64: BENCH (.*)")
TIME_GOAL, RSS_GOAL = 0.5, 0.1
# Packages QEMU depends on that hold no library kiln's runs need (firmware, modules for
# displays and audio).
NOT_NEEDED = {"qemu-system-common", "qemu-system-data"}


def load_tier():
    spec = importlib.util.spec_from_file_location("run_tier", os.path.join(TIER_DIR, "run-tier.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tier = load_tier()


def apt_fields(pkgs):
    """{package: (version, depends)} for the candidates of pkgs (name:arch), one apt-cache call."""
    out = subprocess.run(["apt-cache", "show", "--no-all-versions"] + pkgs,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    res = {}
    for stanza in out.split("\n\n"):
        name = re.search(r"^Package: (\S+)", stanza, re.M)
        ver = re.search(r"^Version: (\S+)", stanza, re.M)
        dep = re.search(r"^(?:Pre-)?Depends: (.*)", stanza, re.M)
        if name and ver:
            res[name.group(1)] = (ver.group(1), dep.group(1) if dep else "")
    return res


def dep_names(depends):
    """The package names of a Depends field (the first of each alternative)."""
    names = []
    for part in depends.split(","):
        first = part.split("|")[0].strip()
        if first:
            names.append(re.split(r"[\s(:]", first)[0])
    return names


def lib_dirs(root):
    return [os.path.join(root, d.lstrip("/")) for d in tier.LIBDIRS]


def in_tree(path, root):
    """path (inside root) with its symbolic links followed inside root."""
    for _ in range(40):
        if not os.path.islink(path):
            return path
        target = os.readlink(path)
        path = os.path.join(root, target.lstrip("/")) if os.path.isabs(target) else \
            os.path.join(os.path.dirname(path), target)
    return path


def resolve(binary, tree=None):
    """The shared libraries an arm64 ELF needs, transitively, from the host's multiarch
    directories and then tree's: ({soname: path}, [missing sonames])."""
    dirs = [(d, None) for d in tier.LIBDIRS] + ([(d, tree) for d in lib_dirs(tree)] if tree else [])
    libs, missing, todo = {}, set(), [binary]
    while todo:
        f = todo.pop()
        dyn = tier.sh("aarch64-linux-gnu-readelf", "-d", f)
        for so in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn):
            if so in libs or so in missing:
                continue
            found = None
            for d, root in dirs:
                p = os.path.join(d, so)
                if os.path.lexists(p):
                    found = os.path.realpath(p) if root is None else in_tree(p, root)
                    break
            if not found or not os.path.isfile(found):
                missing.add(so)
                continue
            libs[so] = found
            todo.append(found)
    return libs, sorted(missing)


def qemu_packages():
    """Downloads and unpacks qemu-system-arm:arm64 and the library packages it needs once;
    returns (the unpacked tree, QEMU's version), or (None, reason)."""
    top = apt_fields(["qemu-system-arm:arm64"]).get("qemu-system-arm")
    if not top:
        return None, ("apt knows no qemu-system-arm:arm64 (dpkg --add-architecture arm64 && "
                      "apt-get update: scripts/deps.sh arm64)")
    version, depends = top
    direct = [n + ":arm64" for n in dep_names(depends) if n not in NOT_NEEDED]
    pinned = apt_fields(direct)
    digest = hashlib.sha1("\n".join("%s=%s" % (n, v[0]) for n, v in sorted(pinned.items()))
                          .encode()).hexdigest()[:12]
    d = os.path.join(CACHE, re.sub(r"[^\w.+-]", "_", "qemu-system-arm_%s-%s" % (version, digest)))
    if os.path.isfile(os.path.join(d, "done")):
        return d, version
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    debs = os.path.join(tmp, "debs")
    os.makedirs(debs)
    tree = os.path.join(tmp, "tree")
    fetched, want = {}, ["qemu-system-arm"]
    while True:
        fields = apt_fields([n + ":arm64" for n in want])
        absent = [n for n in want if n not in fields]
        if absent:
            return None, "apt has no arm64 version of " + ", ".join(absent)
        r = subprocess.run(["apt-get", "download"] + ["%s:arm64=%s" % (n, fields[n][0])
                                                      for n in want],
                           cwd=debs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            return None, "apt-get download failed: " + r.stdout.strip()[-300:]
        for n in want:
            deb = [f for f in os.listdir(debs) if f.startswith(n + "_")]
            if not deb:
                return None, "apt-get download left no %s package" % n
            tier.sh("dpkg-deb", "-x", os.path.join(debs, deb[0]), tree)
            os.unlink(os.path.join(debs, deb[0]))
            fetched[n] = fields[n]
        qemu = os.path.join(tree, "usr", "bin", "qemu-system-aarch64")
        _, missing = resolve(qemu, tree)
        if not missing:
            break
        want = sorted({n for v in fetched.values() for n in dep_names(v[1])
                       if n.startswith("lib") and n not in fetched and n not in NOT_NEEDED})
        if not want:
            return None, "no package among QEMU's dependencies has " + ", ".join(missing)
    with open(os.path.join(tmp, "packages"), "w") as f:
        f.write("".join("%s:arm64=%s\n" % (n, v[0]) for n, v in sorted(fetched.items())))
    shutil.rmtree(debs)
    open(os.path.join(tmp, "done"), "w").close()
    shutil.rmtree(d, ignore_errors=True)
    os.rename(tmp, d)
    return d, version


def build_l1(args, out):
    """L1's initramfs: (path, kernel Image) or (None, reason)."""
    build = os.path.abspath(args.build)
    kiln = os.path.join(build, "kiln")
    if not os.path.isfile(kiln) or "aarch64" not in tier.sh("file", "-L", kiln):
        return None, ("%s is not an arm64 kiln (meson setup --cross-file scripts/cross/aarch64.ini "
                      "build-arm64 && ninja -C build-arm64)" % kiln)
    pkgdir, why = tier.debian_packages()
    if not pkgdir:
        return None, why
    images = sorted(glob.glob(os.path.join(pkgdir, "boot", "vmlinuz-*-arm64")))
    busybox = os.path.join(pkgdir, "bin", "busybox")
    if not images or not os.path.isfile(busybox):
        return None, "the unpacked packages in %s lack a kernel or busybox" % pkgdir
    qdir, qversion = qemu_packages()
    if not qdir:
        return None, qversion
    print("arm64 bench: QEMU %s from %s" % (qversion, qdir), flush=True)
    tree = os.path.join(qdir, "tree")
    qemu = os.path.join(tree, "usr", "bin", "qemu-system-aarch64")
    tmp = os.path.join(out, "build")
    os.makedirs(tmp)
    l2, disk, why = tier.linux_guest(pkgdir, busybox, tmp)
    if not l2:
        return None, why
    libs, missing = resolve(kiln)
    qlibs, qmissing = resolve(qemu, tree)
    if missing or qmissing:
        return None, "libraries not found: " + ", ".join(missing + qmissing)
    libs.update(qlibs)
    libs["ld-linux-aarch64.so.1"] = os.path.realpath("/lib/ld-linux-aarch64.so.1")
    lines = tier.busybox_tree(busybox, os.path.join(TIER_DIR, "l1-init.sh"))
    lines += ["dir /kiln 0755", "dir /kiln/lib 0755", "dir /kiln/guests 0755",
              "dir /kiln/linux 0755", "dir /qemu 0755",
              "file /kiln/kiln %s 0755" % os.path.realpath(kiln),
              "file /kiln/inner.sh %s 0644" % os.path.join(REPO, "bench", "arm64-inner.sh"),
              "slink /lib/ld-linux-aarch64.so.1 /kiln/lib/ld-linux-aarch64.so.1 0777",
              "file /qemu/qemu-system-aarch64 %s 0755" % qemu,
              "file /kiln/linux/Image %s 0644" % images[-1],
              "file /kiln/linux/l2.cpio %s 0644" % l2,
              "file /kiln/linux/disk.img %s 0644" % disk]
    for so, path in sorted(libs.items()):
        lines.append("file /kiln/lib/%s %s 0755" % (so, path))
    for name, rel in (("guests/hello.img", "tests/arm64/hello.img"),
                      ("guests/hello-virt.img", "tests/arm64/hello-virt.img"),
                      ("vmm-probe", "tests/arm64/vmm-probe")):
        path = os.path.join(build, rel)
        if not os.path.isfile(path):
            return None, "%s is missing (ninja -C %s)" % (path, build)
        lines.append("file /kiln/%s %s 0755" % (name, path))
    l1 = os.path.join(tmp, "l1.cpio")
    tier.cpio(lines, l1, tmp)
    return l1, images[-1]


def run_l1(args, out, l1, image):
    """Boots L1; returns (the runs, L1's exit code or None, extra lines it said)."""
    append = "console=ttyAMA0 panic=-1 quiet kiln.rounds=%d kiln.cpus=%d kiln.mem=%s" % (
        args.rounds, args.cpus, args.mem)
    log_path = os.path.join(out, "l1-console.log")
    runs, said = [], []

    def on_line(line):
        m = BENCH_LINE.search(line)
        if m:
            runs.append(dict(kv.split("=", 1) for kv in m.group(1).split()))
        elif "KILN-ARM64: " in line:
            said.append(line.split("KILN-ARM64: ", 1)[1])

    exit_code, ran = tier.boot_l1("arm64 bench", image, l1, append, args.l1_mem, log_path,
                                  args.timeout, on_line)
    print("arm64 bench: L1 ran %.0f s; its console is in %s" % (ran, log_path))
    return runs, exit_code, said


def median(xs):
    return statistics.median(xs) if xs else None


def table(runs, args, said, row="kiln", label="kiln"):
    def by_round(row, test, key, scale):
        vals = {}
        for r in runs:
            if r["row"] != row or r["test"] != test or r["ok"] != "1":
                continue
            if key == "own_kib":  # VmRSS less the guest RAM's resident pages
                if int(r["rss_kib"]) >= 0 and int(r["guest_kib"]) >= 0:
                    vals[r["round"]] = (int(r["rss_kib"]) - int(r["guest_kib"])) / scale
            elif float(r.get(key, -1)) >= 0:
                vals[r["round"]] = float(r[key]) / scale
        return vals

    metrics = [
        ("exec to first UART byte (hello guest)", "hello", "first_ns", 1e6, "ms", TIME_GOAL),
        ("boot to user space (exec to init's first line)", "linux", "marker_ns", 1e6, "ms",
         TIME_GOAL),
        ("  the guest's own clock then (no goal)", "linux", "guest_up_s", 1e-3, "ms", None),
        ("VMM VmRSS at user space", "linux", "rss_kib", 1024, "MiB", RSS_GOAL),
        ("VMM VmHWM at user space", "linux", "hwm_kib", 1024, "MiB", RSS_GOAL),
        ("  of VmRSS: guest RAM resident (no goal)", "linux", "guest_kib", 1024, "MiB", None),
        ("  of VmRSS: the VMM's own (less guest RAM)", "linux", "own_kib", 1024, "MiB", RSS_GOAL),
        ("VMM VmRSS, hello guest at its line", "hello", "rss_kib", 1024, "MiB", RSS_GOAL),
        ("Linux run, exec to VMM exit (no goal)", "linux", "exit_ns", 1e6, "ms", None),
    ]
    qemu_version = next((s.split(": ", 1)[1] for s in said if s.startswith("qemu: ")), "?")
    print()
    print("arm64 bench: %s vs %s -M virt,gic-version=3 -cpu host -accel kvm, in the arm64 "
          "tier's L1 (KVM nested in qemu-system-aarch64 TCG, host %s); %d vCPU(s), %s, "
          "medians of ok runs" % (label, qemu_version, platform.node(), args.cpus, args.mem))
    head = "%-48s | %11s | %11s | %9s | %9s | %6s | %6s | %s" % (
        "metric", "kiln median", "QEMU median", "kiln/QEMU", "per round", "best", "goal",
        "result")
    print(head)
    print("-" * len(head))
    summary = []
    for name, test, key, scale, unit, goal in metrics:
        k, q = by_round(row, test, key, scale), by_round("qemu", test, key, scale)
        km, qm = median(list(k.values())), median(list(q.values()))
        ratio = km / qm if km is not None and qm else None
        # the same round's runs follow one another: their ratio is the least touched by drift
        per_round = median([k[r] / q[r] for r in k if r in q and q[r]])
        best = min(k.values()) / min(q.values()) if k and q and min(q.values()) else None
        verdict = "-" if goal is None or ratio is None else ("PASS" if ratio <= goal else "MISS")
        fmt = (lambda v: "-" if v is None else ("%.1f %s" % (v, unit)))
        print("%-48s | %11s | %11s | %9s | %9s | %6s | %6s | %s" % (
            name, fmt(km), fmt(qm), "-" if ratio is None else "%.3f" % ratio,
            "-" if per_round is None else "%.3f" % per_round,
            "-" if best is None else "%.3f" % best,
            "-" if goal is None else "<= %.1f" % goal, verdict))
        summary.append({"metric": name, "unit": unit, "kiln": k, "qemu": q, "kiln_median": km,
                        "qemu_median": qm, "ratio": ratio, "per_round_ratio": per_round,
                        "best_ratio": best,
                        "goal": goal, "result": verdict})
    print("kiln/QEMU: the ratio of the medians, judged against the goal; per round: the median "
          "of each round's ratio; best: kiln's least over QEMU's least")
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build-arm64"),
                    help="the arm64 build (default build-arm64)")
    ap.add_argument("--out", help="where L1's console and files go (default BUILD/bench/arm64)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each VMM and guest (3)")
    ap.add_argument("--cpus", type=int, default=1, help="the guests' vCPUs (1)")
    ap.add_argument("--mem", default="256M", help="the guests' memory (256M)")
    ap.add_argument("--l1-mem", default="2G", help="L1's memory (2G, as the tier)")
    ap.add_argument("--timeout", type=int, default=1500, help="seconds for all of L1 (1500)")
    ap.add_argument("--json", help="write every run and the table here")
    args = ap.parse_args()
    if args.rounds < 1 or args.cpus < 1 or not re.fullmatch(r"\d+[MG]", args.mem):
        ap.error("--rounds and --cpus must be at least 1, --mem a size like 256M")
    out = os.path.abspath(args.out or os.path.join(args.build, "bench", "arm64"))
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    for tool in ("qemu-system-aarch64", "aarch64-linux-gnu-readelf", "apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            print("SKIP: arm64 bench: no %s (scripts/deps.sh arm64)" % tool)
            return 77
    l1, image = build_l1(args, out)
    if not l1:
        print("SKIP: arm64 bench: " + image)
        return 77
    runs, exit_code, said = run_l1(args, out, l1, image)
    for r in runs:
        print("  %-8s %-5s round %s: %s first byte %s ms, marker %s ms, exit %s ms, VmRSS %s "
              "KiB (guest RAM %s), VmHWM %s KiB, status %s" % (
                  r["row"], r["test"], r["round"], "ok  " if r["ok"] == "1" else "FAIL",
                  fmt_ns(r["first_ns"]), fmt_ns(r["marker_ns"]), fmt_ns(r["exit_ns"]),
                  r["rss_kib"], r.get("guest_kib", "-"), r["hwm_kib"], r["status"]))
    if exit_code == 125:
        print("SKIP: arm64 bench: L1 has no /dev/kvm (see %s)"
              % os.path.join(out, "l1-console.log"))
        return 77
    summary = {row: table(runs, args, said, row, label) for row, label in (
        ("kiln", "kiln (guest RAM a memfd, the default)"),
        ("kiln-thp", "kiln --enable-thp (guest RAM anonymous with THP, as QEMU's)"))}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "said": said, "runs": runs, "table": summary}, f,
                      indent=1)
    if exit_code is None:
        print("FAIL: L1 did not finish (see %s)" % os.path.join(out, "l1-console.log"))
        return 1
    bad = [r for r in runs if r["ok"] != "1"]
    if bad:
        print("FAIL: %d of %d runs failed (their output is above and in %s)"
              % (len(bad), len(runs), os.path.join(out, "l1-console.log")))
        return 1
    return 0


def fmt_ns(v):
    return "-" if int(v) < 0 else "%.1f" % (int(v) / 1e6)


if __name__ == "__main__":
    sys.exit(main())
