#!/usr/bin/env python3
"""seccomp and inherited descriptors (docs/security.md).

usage: seccomp_check.py KILN ECHO_GUEST CASE [TEST_HOOKS [sanitized|plain]]

CASE is one of:
  threads     a VM with every thread role (API, I/O with virtio-blk and -rng, slirp's for --net
              user, two vCPUs, the gdb stub's) is running: every thread shows Seccomp: 2 and
              NoNewPrivs: 1, and a descriptor open before exec (on a file of this test) is not
              open in kiln
  off         --no-seccomp: Seccomp: 0 on every thread and a warning on stderr
  file-log    --seccomp-filter with every role's default action "log" and no rules: the VM runs
              to the end (the file's filters replace the built-in ones) with Seccomp: 2
  file-vcpu-empty  --seccomp-filter whose vcpu role allows nothing: kiln dies of SIGSYS
  ROLE:CALL   (TEST_HOOKS=1: a build with -Dseccomp_test) the first thread of ROLE (owner, api,
              io, vcpu, gdb) attempts CALL (execve, openat, socket, ptrace) after its filter is
              installed; kiln must die of SIGSYS
The guest is mb_echo, which runs until it reads 'q' on the serial port, then leaves through
debug-exit with status 33.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from kvmcheck import require_kvm


def wait_for(path_or_fn, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path_or_fn():
            return True
        time.sleep(0.05)
    return False


def api_get(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(sock_path)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(4096)
    except OSError:
        return b""
    finally:
        s.close()


def thread_status(pid):
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        fields = {}
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    fields[k] = v.strip()
        except OSError:
            continue
        out[tid] = fields
    return out


def start(kiln, guest, work, extra_args, env=None, pass_fds=()):
    disk = os.path.join(work, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    sock = os.path.join(work, "api.sock")
    args = [kiln, "run", "-k", guest, "--debug-exit", "-c", "2", "--rng", "--disk", disk, "--api-sock", sock] + extra_args
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, pass_fds=pass_fds)
    return p, sock


def finish(p):
    try:
        p.stdin.write(b"q")
        p.stdin.flush()
    except OSError:
        pass
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return p.returncode, out, err


def case_threads(kiln, guest, work, off):
    secret = os.path.join(work, "inherited-secret")
    with open(secret, "w") as f:
        f.write("not for kiln\n")
    fd = os.open(secret, os.O_RDONLY)
    gdb = ["--gdb", "unix:" + os.path.join(work, "gdb.sock"), "--net", "user"]
    p, sock = start(kiln, guest, work, (["--no-seccomp"] if off else []) + gdb, pass_fds=(fd,))
    os.close(fd)
    if not wait_for(lambda: os.path.exists(sock)):
        print("FAIL: no API socket: %r" % (finish(p),))
        return 1
    api_get(sock)  # the API answers under its filter
    # Two vCPUs, the I/O, slirp and gdb stub threads: wait until they exist.
    wait_for(lambda: len(thread_status(p.pid)) >= 7, 20)
    time.sleep(0.5)
    status = thread_status(p.pid)
    names = {}
    for tid in status:
        try:
            with open("/proc/%d/task/%s/comm" % (p.pid, tid)) as f:
                names[tid] = f.read().strip()
        except OSError:
            names[tid] = "?"
    fds = {}
    for fdname in os.listdir("/proc/%d/fd" % p.pid):
        try:
            fds[fdname] = os.readlink("/proc/%d/fd/%s" % (p.pid, fdname))
        except OSError:
            pass
    rc, out, err = finish(p)
    problems = []
    if len(status) < 7:
        problems.append("expected at least 7 threads (owner, API, I/O, slirp, 2 vCPUs, gdb), "
                        "saw %s" % names)
    want_seccomp, want_nnp = ("0", None) if off else ("2", "1")
    for tid, fields in sorted(status.items()):
        line = "thread %s (%s): Seccomp: %s NoNewPrivs: %s" % (
            tid, names[tid], fields.get("Seccomp"), fields.get("NoNewPrivs"))
        print(line)
        if fields.get("Seccomp") != want_seccomp or (want_nnp and fields.get("NoNewPrivs") != want_nnp):
            problems.append(line)
    if any(target == secret for target in fds.values()):
        problems.append("the descriptor open on %s before exec is open in kiln: %s" % (secret, fds))
    if off and b"seccomp: filters are off" not in err:
        problems.append("--no-seccomp without a warning on stderr: %r" % err)
    if rc != 33 or b"SUCCESS" not in out:
        problems.append("kiln ended with %d, stdout %r, stderr %r" % (rc, out[-300:], err[-500:]))
    for pr in problems:
        print("FAIL: " + pr)
    if not problems:
        print("PASS: %d threads, descriptors %s" % (len(status), sorted(fds.values())))
    return 1 if problems else 0


def write_filter(work, roles):
    import json
    path = os.path.join(work, "filter.json")
    with open(path, "w") as f:
        json.dump(roles, f)
    return path


def case_file_log(kiln, guest, work):
    path = write_filter(work, {r: {"default_action": "log", "filter_action": "allow", "filter": []}
                               for r in ("vmm", "api", "io", "vcpu")})
    p, sock = start(kiln, guest, work, ["--seccomp-filter", path])
    wait_for(lambda: os.path.exists(sock) or p.poll() is not None)
    time.sleep(0.5)
    status = thread_status(p.pid) if p.poll() is None else {}
    rc, out, err = finish(p)
    if rc != 33 or b"SUCCESS" not in out or not status or \
            any(f.get("Seccomp") != "2" for f in status.values()):
        print("FAIL: log-only filter file: status %s, threads %s, stderr %r" % (rc, status and
              {t: f.get("Seccomp") for t, f in status.items()}, err[-500:]))
        return 1
    print("PASS: the VM ran under the file's log-only filters on %d threads" % len(status))
    return 0


def case_violate(kiln, guest, work, what, extra=()):
    env = dict(os.environ, KILN_SECCOMP_TEST_VIOLATE=what) if what else None
    if what and what.startswith("gdb:"):
        extra = list(extra) + ["--gdb", "unix:" + os.path.join(work, "gdb.sock")]
    p, sock = start(kiln, guest, work, list(extra), env=env)
    if what and what.startswith("api:"):
        wait_for(lambda: os.path.exists(sock) or p.poll() is not None)
        api_get(sock)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    rc, out, err = finish(p)
    if rc != -signal.SIGSYS:
        print("FAIL: %s: kiln ended with %s, expected death by SIGSYS; stderr %r" % (what, rc, err[-500:]))
        return 1
    print("PASS: %s: kiln died of SIGSYS" % what)
    return 0


def main():
    kiln, guest, case = sys.argv[1:4]
    hooks = len(sys.argv) > 4 and sys.argv[4] == "1"
    sanitized = len(sys.argv) > 5 and sys.argv[5] == "sanitized"
    require_kvm()
    with tempfile.TemporaryDirectory() as work:
        if case in ("threads", "off"):
            return case_threads(kiln, guest, work, case == "off")
        if case == "file-log":
            return case_file_log(kiln, guest, work)
        if case == "file-vcpu-empty":
            allow = {"default_action": "log", "filter": []}
            path = write_filter(work, {"owner": allow, "api": allow, "io": allow,
                                       "vcpu": {"default_action": "kill_process", "filter": []}})
            return case_violate(kiln, guest, work, None, ["--seccomp-filter", path])
        if not hooks:
            print("SKIP: kiln was built without -Dseccomp_test (a release build)")
            return 77
        if sanitized and case.endswith(":ptrace"):
            print("SKIP: a sanitizer build allows ptrace (LeakSanitizer's tracer at exit)")
            return 77
        if sanitized and case.endswith(":openat"):
            print("SKIP: a sanitizer build allows openat in every role (its runtime reads /proc "
                  "files when it reports)")
            return 77
        return case_violate(kiln, guest, work, case)


if __name__ == "__main__":
    sys.exit(main())
