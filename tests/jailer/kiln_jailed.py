#!/usr/bin/env python3
"""A jailed kiln boots a guest (e2e suite: it needs /dev/kvm, so the real-KVM tier runs it).

usage: kiln_jailed.py --jailer PATH --kiln PATH --guest mb_echo.elf

kiln-jailer builds the jail, the test puts the guest and a Firecracker config file in it, and the
jailed kiln boots the serial echo guest from those files. While the guest waits for input, the
test looks at kiln from outside: it runs as the given uid with no capabilities, in its own mount
namespace where the host's /etc does not exist, and in the cgroup the jailer made, whose limits
read back. Then it types a line: the guest echoes it and ends through debug-exit (status 33).
"""
import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
from jailer_test import host_status as status_field  # noqa: E402
from kvmcheck import require_kvm  # noqa: E402

NOBODY = 65534


def cgroup2_mount(cleanups):
    """A cgroup2 mount with the memory and pids controllers, mounting one on /sys/fs/cgroup
    when none is mounted (the tier's L1 mounts none); None when the host has no such hierarchy."""
    with open("/proc/mounts") as f:
        mounts = [line.split() for line in f]
    for _, path, fstype, *_ in mounts:
        if fstype == "cgroup2":
            with open(os.path.join(path, "cgroup.controllers")) as f:
                ctl = f.read().split()
            return path if "memory" in ctl and "pids" in ctl else None
    if subprocess.run(["mount", "-t", "cgroup2", "none", "/sys/fs/cgroup"]).returncode:
        return None
    cleanups.append(lambda: subprocess.run(["umount", "/sys/fs/cgroup"]))
    return cgroup2_mount(cleanups)


def read_until(stream, text, deadline):
    got = ""
    while text not in got:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            return got, False
        chunk = os.read(stream.fileno(), 4096).decode(errors="replace")
        if not chunk:
            return got, False
        got += chunk
    return got, True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jailer", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--sanitized", action="store_true")
    a = ap.parse_args()
    if a.sanitized:
        print("SKIP: a sanitizer build's runtime reads /proc, which a jail does not have")
        return 77
    if os.geteuid() != 0:
        print("SKIP: kiln-jailer needs root")
        return 77
    require_kvm()
    cleanups = []
    base = tempfile.mkdtemp(prefix="kiln-jailed.")
    os.chmod(base, 0o755)
    cleanups.append(lambda: shutil.rmtree(base, ignore_errors=True))
    try:
        return run(a, base, cleanups)
    finally:
        for fn in reversed(cleanups):
            fn()


def run(a, base, cleanups):
    vm_id = "kj-%d" % os.getpid()
    name = os.path.basename(a.kiln)
    root = os.path.join(base, name, vm_id, "root")
    os.makedirs(root)
    shutil.copy(a.guest, os.path.join(root, "guest.elf"))
    with open(os.path.join(root, "vm.json"), "w") as f:
        f.write('{"boot-source": {"kernel_image_path": "/guest.elf"},\n'
                ' "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}\n')
    for p in ("guest.elf", "vm.json"):
        os.chmod(os.path.join(root, p), 0o644)
    cg_args, cg_dir = [], None
    mount = cgroup2_mount(cleanups)
    if mount:
        parent = "kiln-jailed-%d" % os.getpid()
        cg_dir = os.path.join(mount, parent, vm_id)
        cleanups.append(lambda: os.rmdir(os.path.join(mount, parent)))
        cleanups.append(lambda: os.rmdir(cg_dir))
        cg_args = ["--cgroup-version", "2", "--parent-cgroup", parent,
                   "--cgroup", "memory.max=536870912", "--cgroup", "pids.max=64"]
    else:
        print("note: no cgroup2 with memory and pids here: cgroup limits not checked")
    argv = [a.jailer, "--id", vm_id, "--exec-file", a.kiln, "--uid", str(NOBODY),
            "--gid", str(NOBODY), "--chroot-base-dir", base] + cg_args + \
        ["--", "--config-file", "/vm.json", "--debug-exit"]
    print("$ " + " ".join(argv))
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    problems = []
    out, ok = read_until(p.stdout, "echo: ready", time.monotonic() + 60)
    if not ok:
        p.kill()
        p.wait()
        print("FAIL: the jailed guest never said 'echo: ready'; stdout %r, stderr %r"
              % (out, p.stderr.read().decode(errors="replace")))
        return 1
    pid = p.pid
    if status_field(pid, "Uid") != [str(NOBODY)] * 4:
        problems.append("kiln runs as uid %s" % status_field(pid, "Uid"))
    if status_field(pid, "CapEff") != ["0000000000000000"] or \
            status_field(pid, "CapBnd") != ["0000000000000000"]:
        problems.append("kiln has capabilities: CapEff %s CapBnd %s"
                        % (status_field(pid, "CapEff"), status_field(pid, "CapBnd")))
    if os.path.exists("/proc/%d/root/etc" % pid):
        problems.append("kiln sees an /etc")
    if not os.path.exists("/proc/%d/root/guest.elf" % pid):
        problems.append("kiln's root is not the jail")
    if os.readlink("/proc/%d/ns/mnt" % pid) == os.readlink("/proc/self/ns/mnt"):
        problems.append("kiln shares the host's mount namespace")
    if cg_dir:
        with open("/proc/%d/cgroup" % pid) as f:
            cg = f.read()
        if not cg.strip().endswith("/%s" % vm_id):
            problems.append("kiln's cgroup is %r" % cg.strip())
        for fname, want in (("memory.max", "536870912"), ("pids.max", "64")):
            with open(os.path.join(cg_dir, fname)) as f:
                got = f.read().strip()
            if got != want:
                problems.append("%s reads %s, not %s" % (fname, got, want))
        print("cgroup %s: memory.max and pids.max read back; kiln is in it" % cg_dir)
    p.stdin.write(b"hello jail\nq")
    p.stdin.close()
    rest, _ = read_until(p.stdout, "SUCCESS", time.monotonic() + 60)
    out += rest
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    err = p.stderr.read().decode(errors="replace")
    if rc != 33:
        problems.append("exit status %d, not 33 (debug-exit 0x10)" % rc)
    if "hello jail" not in out or "SUCCESS" not in out:
        problems.append("guest output lacks the echo or SUCCESS: %r" % out)
    if problems:
        for pr in problems:
            print("FAIL: " + pr)
        print("kiln's stderr: " + err.strip())
        return 1
    print("PASS: the jailed kiln (uid %d, no capabilities, chroot, own mount namespace%s) booted "
          "the guest from files in its jail" % (NOBODY, ", cgroup limits" if cg_dir else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
