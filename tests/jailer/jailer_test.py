#!/usr/bin/env python3
"""kiln-jailer end to end, as root on this host (no guest: a probe program stands in for kiln and
reports what a jailed process sees; tests/jailer/kiln_jailed.sh boots a real guest jailed).

usage: jailer_test.py --jailer PATH --probe PATH --case NAME

Each case is one Meson test (suite 'jailer'). Exit 0 pass, 1 fail, 77 skip (not root, or the
host does not allow a step the case needs: the reason is printed).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

NOBODY = 65534


class Skip(Exception):
    pass


def fail(msg):
    raise AssertionError(msg)


def parse(lines):
    out = {}
    for line in lines:
        key, _, value = line.partition("=")
        out[key] = value
    return out


class Jail:
    """One kiln-jailer run with the probe as its exec file."""

    def __init__(self, ctx, jail_args, probe_args=(), wait=True, pass_fds=(), env=None):
        self.ctx = ctx
        self.id = "jt-%d-%d" % (os.getpid(), ctx.serial())
        self.root = os.path.join(ctx.base, os.path.basename(ctx.probe), self.id, "root")
        argv = [ctx.jailer, "--id", self.id, "--exec-file", ctx.probe, "--uid", str(NOBODY),
                "--gid", str(NOBODY), "--chroot-base-dir", ctx.base] + list(jail_args) + ["--"]
        argv += (["--wait"] if wait else []) + list(probe_args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, pass_fds=pass_fds,
                                     env=env if env is not None else dict(os.environ, KILN_X="1"))

    def report(self):
        lines = []
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == "ready":
                return parse(lines)
            lines.append(line)
        self.proc.wait()
        fail("the probe printed no report; jailer exit %s, stderr: %s"
             % (self.proc.returncode, self.proc.stderr.read().strip()))

    def finish(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        err = self.proc.stderr.read().strip()
        if rc != 0:
            fail("exit status %d, stderr: %s" % (rc, err))
        return err


class Ctx:
    def __init__(self, jailer, probe):
        self.jailer, self.probe = jailer, probe
        self.base = tempfile.mkdtemp(prefix="kiln-jailer-test.")
        os.chmod(self.base, 0o755)
        self.n = 0
        self.cleanups = []

    def serial(self):
        self.n += 1
        return self.n

    def close(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except OSError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)


def expect(report, key, want):
    got = report.get(key)
    if got != want:
        fail("%s: %r, expected %r" % (key, got, want))


def host_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].split()
    return None


def case_confined(ctx):
    """The default jail: an unprivileged uid/gid, no capabilities, the devices, nothing of the
    host's file system, no inherited fd or environment, Firecracker's arguments."""
    secret = open("/etc/hostname", "rb")
    j = Jail(ctx, [], ["extra-arg"], pass_fds=(secret.fileno(),))
    r = j.report()
    secret.close()
    m = re.fullmatch(r"/" + re.escape(os.path.basename(ctx.probe)) + r" --id (\S+) --start-time-us (\d+) --start-time-cpu-us (\d+) "
                     r"--parent-cpu-time-us (\d+) --wait extra-arg", r.get("argv", ""))
    if not m or m.group(1) != j.id:
        fail("argv: %r" % r.get("argv"))
    expect(r, "uid", "%d euid=%d gid=%d egid=%d groups=0" % ((NOBODY,) * 4))
    expect(r, "cap_eff", "000000000 cap_prm=000000000 cap_inh=000000000")
    expect(r, "cap_bounding", "0")
    expect(r, "no_new_privs", "1")
    expect(r, "etc_passwd", "absent")
    expect(r, "old_root", "absent")
    expect(r, "dev /dev/kvm", "chr 10:232 owner=%d:%d mode=600" % (NOBODY, NOBODY))
    expect(r, "dev /dev/net/tun", "chr 10:200 owner=%d:%d mode=600" % (NOBODY, NOBODY))
    expect(r, "dev /dev/urandom", "chr 1:9 owner=%d:%d mode=600" % (NOBODY, NOBODY))
    expect(r, "nofile", "2048")
    expect(r, "extra_fds", "0")
    expect(r, "env", "0")
    expect(r, "cwd", "/")
    # From outside: the same process (no fork without --new-pid-ns/--daemonize), as nobody.
    if host_status(j.proc.pid, "Uid") != [str(NOBODY)] * 4:
        fail("host sees Uid %s" % host_status(j.proc.pid, "Uid"))
    if os.readlink("/proc/%d/ns/mnt" % j.proc.pid) == os.readlink("/proc/self/ns/mnt"):
        fail("the probe shares the test's mount namespace")
    copied = os.path.join(j.root, os.path.basename(ctx.probe))
    if os.stat(copied).st_ino == os.stat(ctx.probe).st_ino:
        fail("the exec file was not copied into the jail")
    libc = [p for p in subprocess.run(["find", j.root, "-name", "libc.so.6"], text=True,
                                      capture_output=True).stdout.split()]
    if not libc:
        fail("libc.so.6 was not copied into the jail")
    j.finish()


def cgroup_setup():
    """(version, controller file) the host can give a new cgroup: cgroup v2 with the pids
    controller available, else a v1 pids hierarchy; None when neither."""
    with open("/proc/mounts") as f:
        mounts = [line.split() for line in f]
    for dev, path, fstype, *_ in mounts:
        if fstype == "cgroup2":
            try:
                with open(os.path.join(path, "cgroup.controllers")) as f:
                    if "pids" in f.read().split():
                        return 2, path
            except OSError:
                pass
    for dev, path, fstype, opts, *_ in mounts:
        if fstype == "cgroup" and "pids" in opts.split(","):
            return 1, path
    return None


def case_cgroup(ctx):
    """--cgroup pids.max=17 under --parent-cgroup: the probe runs in PARENT/ID, where the limit
    reads back."""
    found = cgroup_setup()
    if not found:
        raise Skip("no cgroup v2 with the pids controller and no v1 pids hierarchy here")
    version, mount = found
    parent = "kiln-jailer-test-%d" % os.getpid()
    j = Jail(ctx, ["--cgroup-version", str(version), "--parent-cgroup", parent,
                   "--cgroup", "pids.max=17"])
    cg = os.path.join(mount, parent, j.id)
    ctx.cleanups.append(lambda: os.rmdir(os.path.join(mount, parent)))
    ctx.cleanups.append(lambda: os.rmdir(cg))
    j.report()
    with open("/proc/%d/cgroup" % j.proc.pid) as f:
        cgroups = f.read()
    if "/%s/%s\n" % (parent, j.id) not in cgroups:
        fail("the probe is not in %s/%s: %s" % (parent, j.id, cgroups.strip()))
    with open(os.path.join(cg, "pids.max")) as f:
        if f.read().strip() != "17":
            fail("pids.max is not 17")
    j.finish()
    print("cgroup v%d at %s: pids.max=17, the probe was in it" % (version, cg))


def case_rlimits(ctx):
    j = Jail(ctx, ["--resource-limit", "fsize=1048576", "--resource-limit", "no-file=64"])
    r = j.report()
    expect(r, "nofile", "64")
    expect(r, "fsize", "1048576")
    j.finish()


def case_new_pid_ns(ctx):
    """--new-pid-ns: the probe is pid 1 of its namespace; the jailer writes its host pid to
    EXEC-NAME.pid in the jail and exits 0."""
    j = Jail(ctx, ["--new-pid-ns"])
    r = j.report()
    expect(r, "pid", "1")
    rc = j.proc.wait(timeout=30)
    if rc != 0:
        fail("jailer exit %d: %s" % (rc, j.proc.stderr.read().strip()))
    with open(os.path.join(j.root, os.path.basename(ctx.probe) + ".pid")) as f:
        pid = int(f.read())
    nspid = host_status(pid, "NSpid")
    if not nspid or nspid[0] != str(pid) or nspid[-1] != "1":
        fail("pid %d has NSpid %s" % (pid, nspid))
    j.proc.stdin.close()
    for _ in range(300):
        if not os.path.exists("/proc/%d" % pid):
            return
        time.sleep(0.1)
    fail("the probe (pid %d) did not exit when its stdin closed" % pid)


def case_daemonize(ctx):
    j = Jail(ctx, ["--daemonize"], ["--out", "/out.txt"], wait=False)
    rc = j.proc.wait(timeout=30)
    err = j.proc.stderr.read().strip()
    if rc != 0 or err:
        fail("jailer exit %d, stderr %r" % (rc, err))
    out = os.path.join(j.root, "out.txt")
    for _ in range(300):
        if os.path.exists(out) and open(out).read().endswith("ready\n"):
            break
        time.sleep(0.1)
    else:
        fail("the daemonized probe wrote no report")
    with open(out) as f:
        r = parse(f.read().splitlines())
    expect(r, "sid_leader", "0")  # the double fork: in a new session, but not its leader
    expect(r, "uid", "%d euid=%d gid=%d egid=%d groups=0" % ((NOBODY,) * 4))


def case_netns(ctx):
    if not shutil.which("ip"):
        raise Skip("no ip(8) (iproute2) to make a network namespace")
    name = "kiln-jt-%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode:
        raise Skip("ip netns add failed: no network namespaces here")
    ctx.cleanups.append(lambda: subprocess.run(["ip", "netns", "del", name], capture_output=True))
    j = Jail(ctx, ["--netns", "/var/run/netns/" + name])
    r = j.report()
    expect(r, "ifs", "lo")
    j.finish()


# (jailer arguments in place of the defaults' tail, exit status, text the one line must hold)
BAD = [
    (["--id", "a_b"], 2, "--id: 'a_b'"),
    (["--uid", "x"], 2, "--uid: 'x'"),
    (["--exec-file", "/nonexistent/kiln"], 2, "--exec-file /nonexistent/kiln: not an executable"),
    (["--exec-file", "/tmp"], 2, "--exec-file /tmp: not an executable"),
    (["--netns", "/nonexistent/ns"], 2, "--netns /nonexistent/ns: no such namespace file"),
    (["--cgroup-version", "7"], 2, "--cgroup-version: '7'"),
    (["--resource-limit", "cores=1"], 2, "--resource-limit: 'cores'"),
    (["--chroot-base-dir", "/proc/kiln-jailer-test"], 6, "mkdir /proc/kiln-jailer-test"),
    (["--cgroup-version", "1", "--cgroup", "nosuchcontroller.max=1"], 6,
     "--cgroup nosuchcontroller.max: no cgroup v1 hierarchy has the nosuchcontroller controller"),
]


def case_bad_input(ctx):
    for extra, status, text in BAD:
        argv = [ctx.jailer, "--id", "bad", "--exec-file", ctx.probe, "--uid", "1", "--gid", "1",
                "--chroot-base-dir", ctx.base] + extra
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        lines = p.stderr.splitlines()
        if p.returncode != status or len(lines) != 1 or text not in lines[0] \
                or not lines[0].startswith("kiln-jailer: "):
            fail("%s: exit %d, stderr %r; expected %d and one line with %r"
                 % (" ".join(extra), p.returncode, p.stderr, status, text))
        if p.stdout:
            fail("%s: wrote to stdout: %r" % (" ".join(extra), p.stdout))
    print("%d bad command lines refused with one line each" % len(BAD))


CASES = {"confined": case_confined, "cgroup": case_cgroup, "rlimits": case_rlimits,
         "new-pid-ns": case_new_pid_ns, "daemonize": case_daemonize, "netns": case_netns,
         "bad-input": case_bad_input}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jailer", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: kiln-jailer needs root (namespaces, mknod, chroot)")
        return 77
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode:
        print("SKIP: this host does not allow a new mount namespace")
        return 77
    ctx = Ctx(os.path.abspath(a.jailer), os.path.abspath(a.probe))
    try:
        CASES[a.case](ctx)
    except Skip as e:
        print("SKIP: %s" % e)
        return 77
    except AssertionError as e:
        print("FAIL: %s: %s" % (a.case, e))
        return 1
    finally:
        ctx.close()
    print("PASS: %s" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
