#!/usr/bin/env python3
"""The arm64 tier (docs/arm64.md): boots Debian's arm64 kernel ("L1") under
qemu-system-aarch64's software emulator with EL2 (-M virt,virtualization=on,gic-version=3), where
its built-in KVM gives it a /dev/kvm, and runs the cross-built kiln's arm64 tests there: small
test guests (tests/arm64/guests), then Debian's arm64 kernel booted by kiln to a busybox user
space (L2).

usage: run-tier.py --build DIR --out DIR [--expect NAME,NAME...] [--only NAME,NAME...]
                   [--timeout S] [--no-linux]

DIR is an arm64 build (meson setup --cross-file scripts/cross/aarch64.ini). The Debian packages
(linux-image-arm64 and busybox-static, arch arm64) are downloaded once with `apt-get download`
and unpacked in ~/.cache/kiln/arm64-tier/KEY/ (KEY: the packages and versions; the unit tests
look for the kernel as ~/.cache/kiln/*/*/boot/vmlinuz-*-arm64); L1's initramfs is built
on each run (a few seconds). Every test's result is a line "KILN-ARM64: PASS|FAIL|SKIP NAME" on
L1's console (OUT/l1-console.log), after the test's output ("  NAME | line"); this script ends
with one line per test and a count, and leaves them in OUT/results.json for result.py, which
reports each as a Meson test of its own. --expect lists those Meson tests: a result for another
name fails the tier, so no test goes unreported.

Exit status: 0 every test passed or was skipped; 1 a test failed, or L1 did not come up or did
not finish; 77 the host lacks what the tier needs (the reason is printed and left in
OUT/skip-reason).
"""
import argparse
import glob
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MKCPIO = os.path.join(REPO, "tests", "linux", "mkcpio.py")
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "kiln", "arm64-tier")
RESULT = re.compile(r"KILN-ARM64: (PASS|FAIL|SKIP) ([\w.-]+)(?::\s*(.*))?")
OUTPUT = re.compile(r"^  ([\w.-]+) \| (.*)$")
L1_EXIT = re.compile(r"KILN-ARM64: exit (\d+)")
TRIPLET = "aarch64-linux-gnu"
LIBDIRS = ["/lib/" + TRIPLET, "/usr/lib/" + TRIPLET]
GUESTS = ["hello", "reset", "smp", "mmio", "crash", "idle", "count"]


def skip(out, reason):
    with open(os.path.join(out, "skip-reason"), "w") as f:
        f.write(reason + "\n")
    print("SKIP: arm64 tier: " + reason)
    return 77


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


def apt_version(pkg):
    out = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    m = re.search(r"^Version: (\S+)", out, re.M)
    return m.group(1) if m else None


def debian_packages():
    """Downloads and unpacks the arm64 kernel and busybox once; returns their directory, or
    (None, reason)."""
    dep = subprocess.run(["apt-cache", "depends", "linux-image-arm64:arm64"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    m = re.search(r"Depends: (linux-image-[\w.+-]+-arm64)", dep)
    if not m:
        return None, ("apt knows no linux-image-arm64:arm64 (dpkg --add-architecture arm64 && "
                      "apt-get update: docs/arm64.md)")
    pkgs = [m.group(1) + ":arm64", "busybox-static:arm64"]
    versions = [apt_version(p) for p in pkgs]
    if None in versions:
        return None, "apt has no version of " + pkgs[versions.index(None)]
    key = "-".join("%s_%s" % (p.split(":")[0], v) for p, v in zip(pkgs, versions))
    key = re.sub(r"[^\w.+-]", "_", key)
    d = os.path.join(CACHE, key)
    if os.path.isfile(os.path.join(d, "done")):
        return d, None
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "debs"))
    r = subprocess.run(["apt-get", "download"] + ["%s=%s" % (p, v) for p, v in zip(pkgs, versions)],
                       cwd=os.path.join(tmp, "debs"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        return None, "apt-get download %s failed: %s" % (" ".join(pkgs), r.stdout.strip()[-300:])
    for deb in glob.glob(os.path.join(tmp, "debs", "*.deb")):
        sh("dpkg-deb", "-x", deb, tmp)
    shutil.rmtree(os.path.join(tmp, "debs"))
    open(os.path.join(tmp, "done"), "w").close()
    shutil.rmtree(d, ignore_errors=True)
    os.rename(tmp, d)
    return d, None


def state_file(arch, corrupt=False):
    """An empty kiln state file (no sections) whose header names `arch`; `corrupt`: its
    checksum is off by one."""
    size = 64 + 8
    head = (b"KILNSNAP" + (1).to_bytes(4, "little") + (64).to_bytes(4, "little") +
            arch.encode().ljust(16, b"\0") + size.to_bytes(8, "little") +
            (0).to_bytes(4, "little") + bytes(20))
    crc = (zlib.crc32(head) + (1 if corrupt else 0)) & 0xffffffff
    return head + crc.to_bytes(4, "little") + b"KEND"


def needed_libs(binary):
    """The shared libraries (and the dynamic loader) an arm64 ELF needs, transitively, from the
    host's multiarch directories: {soname: path}."""
    libs, todo = {}, [binary]
    while todo:
        f = todo.pop()
        dyn = sh("aarch64-linux-gnu-readelf", "-d", f)
        for so in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn):
            if so in libs:
                continue
            path = next((os.path.join(d, so) for d in LIBDIRS
                         if os.path.exists(os.path.join(d, so))), None)
            if not path:
                raise RuntimeError("%s needs %s, not in %s" % (f, so, " or ".join(LIBDIRS)))
            libs[so] = os.path.realpath(path)
            todo.append(libs[so])
    libs["ld-linux-aarch64.so.1"] = os.path.realpath("/lib/ld-linux-aarch64.so.1")
    return libs


def cpio(spec_lines, out, tmpdir):
    spec = os.path.join(tmpdir, os.path.basename(out) + ".spec")
    with open(spec, "w") as f:
        f.write("\n".join(spec_lines) + "\n")
    sh(sys.executable, MKCPIO, spec, out)


def busybox_tree(busybox, init):
    """The spec lines of a busybox initramfs with `init` as /init."""
    lines = ["dir %s 0755" % d for d in ["/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/dev",
                                         "/proc", "/sys", "/tmp", "/lib"]]
    lines += ["nod /dev/console 0600 c 5 1", "nod /dev/null 0666 c 1 3",
              "file /bin/busybox %s 0755" % busybox, "file /init %s 0755" % init]
    for applet in ["sh", "mount", "cat", "grep", "sed", "cut", "head", "tail", "timeout", "sync",
                   "poweroff", "dmesg", "echo", "sleep", "ls", "tr", "kill"]:
        lines.append("slink /bin/%s /bin/busybox 0777" % applet)
    return lines


def linux_guest(root, busybox, tmp):
    """L2's initramfs (busybox with l2-init.sh and the virtio modules from the kernel package in
    root) and a 1 MiB raw disk whose first line it prints, built in tmp: (l2, disk, None), or
    (None, None, reason). bench/arm64.py boots the same with kiln and QEMU."""
    l2 = os.path.join(tmp, "l2.cpio")
    l2_lines = busybox_tree(busybox, os.path.join(HERE, "l2-init.sh"))
    l2_lines += ["dir /lib/modules 0755", "slink /bin/insmod /bin/busybox 0777"]
    for i, mod in enumerate(["virtio/virtio_mmio.ko", "block/virtio_blk.ko"]):
        found = glob.glob(os.path.join(root, "lib", "modules", "*", "kernel", "drivers", mod))
        if not found:
            return None, None, "the arm64 kernel package has no %s" % mod
        l2_lines.append("file /lib/modules/%d-%s %s 0644" % (i, os.path.basename(mod), found[0]))
    cpio(l2_lines, l2, tmp)
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.write(b"kiln-arm64-disk\n".ljust(1 << 20, b"\0"))
    return l2, disk, None


def boot_l1(label, image, initrd, append, mem, log_path, timeout, on_line):
    """Boots L1 (qemu-system-aarch64 TCG with EL2, 2 vCPUs, `mem` of RAM) with `image`, `initrd`
    and the command line `append`, until it powers off or `timeout` seconds pass. Every console
    line goes, stamped with the seconds since the start, to log_path and to on_line(line); those
    saying KILN-ARM64 or holding " | " (a test's output) are also printed. Returns L1's exit
    status ("KILN-ARM64: exit N", None where it said none) and the seconds it ran."""
    cmd = [shutil.which("qemu-system-aarch64"), "-M", "virt,virtualization=on,gic-version=3",
           "-cpu", "max", "-accel", "tcg", "-smp", "2", "-m", mem, "-nographic", "-nodefaults",
           "-no-reboot", "-serial", "stdio", "-kernel", image, "-initrd", initrd, "-append", append]
    print("%s: %s" % (label, " ".join(cmd)), flush=True)
    t0 = time.monotonic()
    exit_code, buf = None, b""
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            # select, not a blocking read: an L1 that falls silent still ends at the deadline.
            while True:
                left = t0 + timeout - time.monotonic()
                if left <= 0:
                    print("%s: timed out after %d s" % (label, timeout), flush=True)
                    break
                ready, _, _ = select.select([p.stdout], [], [], min(left, 5))
                if not ready:
                    continue
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.decode(errors="replace").rstrip("\r")
                    stamped = "%7.1fs | %s" % (time.monotonic() - t0, line)
                    log.write(stamped + "\n")
                    log.flush()
                    if "KILN-ARM64" in line or " | " in line:
                        print(stamped, flush=True)
                    m = L1_EXIT.search(line)
                    if m:
                        exit_code = int(m.group(1))
                    on_line(line)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
    return exit_code, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--expect", default="")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--no-linux", action="store_true", help="leave out the Linux boots (L2)")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    qemu = shutil.which("qemu-system-aarch64")
    if not qemu:
        return skip(out, "no qemu-system-aarch64 (apt-get install qemu-system-arm)")
    if not shutil.which("aarch64-linux-gnu-readelf"):
        return skip(out, "no aarch64-linux-gnu-readelf (apt-get install binutils-aarch64-linux-gnu)")
    kiln = os.path.join(args.build, "kiln")
    if not os.path.isfile(kiln) or "aarch64" not in sh("file", "-L", kiln):
        return skip(out, "%s is not an arm64 kiln (build one with --cross-file "
                         "scripts/cross/aarch64.ini)" % kiln)
    pkgdir, why = debian_packages()
    if not pkgdir:
        return skip(out, why)
    root = pkgdir
    images = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*-arm64")))
    busybox = os.path.join(root, "bin", "busybox")
    if not images or not os.path.isfile(busybox):
        return skip(out, "the unpacked packages in %s lack a kernel or busybox" % pkgdir)
    image = images[-1]

    tmp = os.path.join(out, "build")
    os.makedirs(tmp)
    l2, disk, why = linux_guest(root, busybox, tmp)
    if not l2:
        return skip(out, why)
    # L1: busybox, kiln and its libraries, the guests, the L2 pieces.
    try:
        libs = needed_libs(kiln)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        return skip(out, "cannot collect kiln's arm64 libraries: %s" % e)
    lines = busybox_tree(busybox, os.path.join(HERE, "l1-init.sh"))
    lines += ["dir /kiln 0755", "dir /kiln/lib 0755", "dir /kiln/guests 0755",
              "file /kiln/kiln %s 0755" % os.path.realpath(kiln),
              "file /kiln/inner.sh %s 0644" % os.path.join(HERE, "inner.sh"),
              "slink /lib/ld-linux-aarch64.so.1 /kiln/lib/ld-linux-aarch64.so.1 0777"]
    for so, path in sorted(libs.items()):
        lines.append("file /kiln/lib/%s %s 0755" % (so, path))
    for g in GUESTS:
        path = os.path.join(args.build, "tests", "arm64", g + ".img")
        if not os.path.isfile(path):
            return skip(out, "%s is missing (ninja -C %s)" % (path, args.build))
        lines.append("file /kiln/guests/%s.img %s 0644" % (g, path))
    uhttp = os.path.join(args.build, "tests", "arm64", "uhttp")
    if not os.path.isfile(uhttp):
        return skip(out, "%s is missing (ninja -C %s)" % (uhttp, args.build))
    lines.append("file /kiln/uhttp %s 0755" % uhttp)
    # State files an arm64 kiln must refuse (docs/snapshot.md's layout, no sections): one made
    # for x86-64 (its architecture), one with a bad checksum.
    for fname, data in (("x86.snap", state_file("x86_64")),
                        ("corrupt.snap", state_file("aarch64", corrupt=True))):
        with open(os.path.join(tmp, fname), "wb") as f:
            f.write(data)
        lines.append("file /kiln/guests/%s %s 0644" % (fname, os.path.join(tmp, fname)))
    if not args.no_linux:
        lines += ["dir /kiln/linux 0755", "file /kiln/linux/Image %s 0644" % image,
                  "file /kiln/linux/l2.cpio %s 0644" % l2,
                  "file /kiln/linux/disk.img %s 0644" % disk]
    l1 = os.path.join(tmp, "l1.cpio")
    cpio(lines, l1, tmp)

    append = "console=ttyAMA0 panic=-1 quiet"
    if args.only:
        append += " kiln.only=" + args.only
    log_path = os.path.join(out, "l1-console.log")
    results, output = [], {}

    def on_line(line):
        m = OUTPUT.match(line)
        if m:
            output.setdefault(m.group(1), []).append(m.group(2))
        m = RESULT.search(line)
        if m:
            results.append((m.group(1), m.group(2), m.group(3) or ""))

    exit_code, ran = boot_l1("arm64 tier", image, l1, append, "2G", log_path, args.timeout, on_line)
    print("arm64 tier: %.0f s; L1 console in %s" % (ran, log_path))
    for r, name, why in results:
        print("%s %s%s" % (r, name, ": " + why if why else ""))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({name: {"result": r, "why": why, "output": output.get(name, [])}
                   for r, name, why in results}, f, indent=1)
    counts = {k: sum(1 for r in results if r[0] == k) for k in ("PASS", "FAIL", "SKIP")}
    expected = set(filter(None, args.expect.split(",")))
    unknown = [name for _, name, _ in results if expected and name not in expected]
    print("%d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"], counts["SKIP"]))
    if exit_code == 125:
        return skip(out, "L1 has no /dev/kvm (see %s)" % log_path)
    if exit_code is None:
        print("FAIL: L1 did not finish (see %s)" % log_path)
        return 1
    if unknown:
        print("FAIL: L1 ran tests that tests/arm64/meson.build does not list: " + ", ".join(unknown))
        return 1
    return 1 if counts["FAIL"] or not results else 0


if __name__ == "__main__":
    sys.exit(main())
