#!/usr/bin/env python3
"""Tests of kiln's Firecracker-compatible control plane: the HTTP API on a Unix socket
(`kiln --api-sock`), the config file (`kiln --config-file`) and the API next to a CLI VM
(`kiln run ... --api-sock`).

usage: api_test.py --kiln KILN --guests DIR --module FILE --fixtures DIR GROUP...

GROUP is one of the names in GROUPS below (or "all"). The HTTP client is curl, run as
`curl --unix-socket SOCK -s -w '%{http_code}'`. Prints one PASS or FAIL line per check.
Exit 0 when every check passed, 1 when one failed, 77 (skip) when /dev/kvm cannot be opened
read-write or curl is missing.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import hashlib
import struct
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from kilnproc import read_text, wait_socket  # noqa: E402
from kvmcheck import kvm_usable  # noqa: E402

ARGS = None
VERSION = None
FAILURES = []
PRINT_LOCK = threading.Lock()

# Every error is a 400 whose fault_message names the problem; these patterns are what "names"
# means for problems that have no single field name.
AFTER_START = r"(?i)(after|once|already|post).{0,60}(start|boot|running)"
NOT_STARTED = r"(?i)(not|before|never|yet).{0,40}(start|boot|running)|(start|boot).{0,40}(first|before)"
UNSUPPORTED = r"(?i)not (yet )?(supported|implemented|available)|unsupported|no such device|does not (have|support)|has no"


def check(name, ok, detail=""):
    """Records and prints one check; detail is printed only when it fails."""
    with PRINT_LOCK:
        if ok:
            print("PASS: %s" % name, flush=True)
        else:
            FAILURES.append(name)
            print("FAIL: %s%s" % (name, (": " + detail) if detail else ""), flush=True)
    return bool(ok)


def short(text, limit=600):
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + "...(%d more)" % (len(text) - limit)


# --- HTTP through curl ----------------------------------------------------------------------

def curl(sock, method, path, body=None, raw=None, timeout=10):
    """One request with curl; returns (status, parsed JSON or None, body text).

    body is serialised with json.dumps; raw (str or bytes) is sent as it is. status is 0 when
    curl got no HTTP response at all (refused, reset, timed out)."""
    cmd = ["curl", "--unix-socket", sock, "-s", "-S", "--max-time", str(timeout), "-X", method,
           "-H", "Accept: application/json", "-H", "Expect:",
           "-w", "\n%{http_code}", "http://localhost" + path]
    data = None
    if body is not None:
        data = json.dumps(body).encode()
    elif raw is not None:
        data = raw.encode() if isinstance(raw, str) else raw
    if data is not None:
        cmd[-1:-1] = ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    proc = subprocess.run(cmd, input=data if data is not None else b"", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout + 5)
    out = proc.stdout.decode("utf-8", "replace")
    text, _, code = out.rpartition("\n")
    status = int(code) if code.isdigit() else 0
    if status == 0:
        text = (text + " " + proc.stderr.decode("utf-8", "replace")).strip()
    try:
        js = json.loads(text) if text.strip() else None
    except ValueError:
        js = None
    return status, js, text


def has_key(x, pattern):
    """Whether any key anywhere in a JSON tree matches the regex."""
    if isinstance(x, dict):
        return any(re.search(pattern, k) or has_key(v, pattern) for k, v in x.items())
    if isinstance(x, list):
        return any(has_key(v, pattern) for v in x)
    return False


def metrics_line_ok(obj):
    """The contract's minimum for one metrics line."""
    return (isinstance(obj, dict) and isinstance(obj.get("utc_timestamp_ms"), int)
            and isinstance(obj.get("vcpu"), (dict, list)) and isinstance(obj.get("serial"), dict)
            and has_key(obj, r"(?i)err|fail"))


def counter_total(x):
    """Sum of every integer counter in a metrics subtree (its exact shape is kiln's choice)."""
    if isinstance(x, bool):
        return 0
    if isinstance(x, int):
        return x
    if isinstance(x, dict):
        return sum(counter_total(v) for v in x.values())
    if isinstance(x, list):
        return sum(counter_total(v) for v in x)
    return 0


class Kiln:
    """One kiln process with its own temporary directory (socket, stdout, stderr, files)."""

    def __init__(self):
        # Under /tmp, not $TMPDIR: a Unix socket path must fit in 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="kiln-api.", dir="/tmp")
        self.sock = os.path.join(self.dir, "api.sock")
        self.out_path = os.path.join(self.dir, "stdout")
        self.err_path = os.path.join(self.dir, "stderr")
        self.proc = None
        self.rc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        if self.proc is not None:
            # On a sanitizer build, kiln reports memory errors and leaks on stderr.
            # Checked for every kiln run, reported only when there is one.
            if re.search(r"(ERROR|WARNING): \w+Sanitizer|runtime error:", self.errors()):
                check("no sanitizer report from kiln %s" % " ".join(self.proc.args[1:]), False,
                      short(self.errors(), 3000))
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def touch(self, name):
        p = self.path(name)
        open(p, "a").close()
        return p

    def start(self, args, stdin=None):
        """Runs KILN ARGS; stdin is None (/dev/null) or "pipe" (kept open: self.proc.stdin)."""
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([ARGS.kiln] + args,
                                         stdin=subprocess.PIPE if stdin == "pipe" else subprocess.DEVNULL,
                                         stdout=out, stderr=err, close_fds=True)
        return self

    def start_api(self, extra=(), stdin=None):
        """`kiln --api-sock SOCK --debug-exit EXTRA`, then waits for the socket."""
        self.start(["--api-sock", self.sock, "--debug-exit"] + list(extra), stdin=stdin)
        return self.wait_socket()

    def wait_socket(self, timeout=10.0):
        """True once a connection to the socket succeeds; False if kiln exits or time runs out."""
        return wait_socket(self.sock, self.proc, timeout)

    def api(self, method, path, body=None, raw=None, timeout=10):
        return curl(self.sock, method, path, body, raw, timeout)

    def output(self):
        return read_text(self.out_path)

    def errors(self):
        return read_text(self.err_path)

    def wait_output(self, pred, timeout=20.0, path=None):
        """Polls stdout (or the file at path) until pred(text) holds; returns the text or None."""
        end = time.monotonic() + timeout
        while True:
            if path is None:
                text = self.output()
            else:
                try:
                    with open(path, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                except OSError:
                    text = ""
            if pred(text):
                return text
            if time.monotonic() >= end or (self.proc.poll() is not None and path is None):
                return text if pred(text) else None
            time.sleep(0.02)

    def wait(self, timeout=30.0):
        """Exit status, or None (and kiln killed) if it is still running after timeout."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        return self.rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def kill(self):
        """SIGTERM (kiln exits cleanly, so a sanitizer build checks for leaks), then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def describe(self):
        return "stdout %r, stderr %r" % (short(self.output(), 300), short(self.errors(), 300))


def expect_204(k, name, method, path, body=None, raw=None):
    st, _, text = k.api(method, path, body, raw)
    return check(name, st == 204 and text == "", "HTTP %d, body %r" % (st, short(text)))


def expect_400(k, name, method, path, body=None, raw=None, pattern=None, timeout=10):
    """HTTP 400, a JSON object with a string fault_message, matching pattern (regex)."""
    st, js, text = k.api(method, path, body, raw, timeout=timeout)
    msg = js.get("fault_message") if isinstance(js, dict) else None
    ok = st == 400 and isinstance(msg, str) and msg != "" and (pattern is None or re.search(pattern, msg))
    return check(name, ok, "HTTP %d, body %r%s" % (st, short(text),
                                                   "" if pattern is None else ", wanted /%s/" % pattern))


def get_json(k, path):
    st, js, text = k.api("GET", path)
    if st != 200 or not isinstance(js, dict):
        check("GET %s -> 200 with a JSON object" % path, False, "HTTP %d, body %r" % (st, short(text)))
        return {}
    return js


def state_is(k, want, name=None):
    st, js, text = k.api("GET", "/")
    state = js.get("state") if isinstance(js, dict) else None
    return check(name or 'GET / says "%s"' % want, st == 200 and state == want,
                 "HTTP %d, body %r" % (st, short(text)))


def guest(name):
    return os.path.join(ARGS.guests, name)


def configure(k, kernel, boot_args=None, vcpus=1, mem=128, name=""):
    """machine-config and boot-source, both expected to succeed."""
    ok = expect_204(k, "%sPUT /machine-config (%d vCPU, %d MiB)" % (name, vcpus, mem), "PUT",
                    "/machine-config", {"vcpu_count": vcpus, "mem_size_mib": mem})
    body = {"kernel_image_path": kernel}
    if boot_args is not None:
        body["boot_args"] = boot_args
    return expect_204(k, "%sPUT /boot-source %s" % (name, os.path.basename(kernel)), "PUT",
                      "/boot-source", body) and ok


def instance_start(k, name="PUT /actions InstanceStart -> 204"):
    return expect_204(k, name, "PUT", "/actions", {"action_type": "InstanceStart"})


def start_echo_guest(k):
    """kiln --api-sock with mb_echo booted through the API, stdin a pipe kept open: the guest
    idles in hlt until it reads 'q'. Returns True once it printed "echo: ready"."""
    if not check("kiln --api-sock starts and listens", k.start_api(stdin="pipe"), k.describe()):
        return False
    configure(k, guest("mb_echo.elf"))
    instance_start(k)
    return check("mb_echo booted through the API prints 'echo: ready'",
                 k.wait_output(lambda o: "echo: ready\n" in o) is not None, k.describe())


def finish_echo_guest(k, name, expect_bytes=1):
    """Sends 'q' to mb_echo: kiln must exit 33 and remove its socket."""
    try:
        k.proc.stdin.write(b"q")
        k.proc.stdin.flush()
    except OSError as e:
        check(name + ": send 'q' on stdin", False, str(e))
    rc = k.wait(30)
    out = k.output()
    check(name + ": guest exits 33 after 'q'", rc == 33, "status %s, %s" % (rc, k.describe()))
    check(name + ": guest counted %d byte(s) of input" % expect_bytes,
          ("echo: got %d bytes\n" % expect_bytes) in out and "SUCCESS\n" in out, short(out))
    check(name + ": socket removed after the guest stopped", not os.path.exists(k.sock))


# --- endpoints: the success path of each -----------------------------------------------------

def t_info_version():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        st, js, text = k.api("GET", "/")
        check('GET / -> 200 {"id": "anonymous-instance", "state": "Not started", "vmm_version": "%s", '
              '"app_name": "kiln"}' % VERSION,
              st == 200 and js == {"id": "anonymous-instance", "state": "Not started",
                                   "vmm_version": VERSION, "app_name": "kiln"},
              "HTTP %d, body %r" % (st, short(text)))
        st, js, text = k.api("GET", "/version")
        check('GET /version -> 200 {"firecracker_version": "%s"}' % VERSION,
              st == 200 and js == {"firecracker_version": VERSION}, "HTTP %d, body %r" % (st, short(text)))
        # Two requests on one connection (HTTP/1.1 keep-alive, or a clean close between them).
        proc = subprocess.run(["curl", "--unix-socket", k.sock, "-s", "-o", "/dev/null", "-w", "%{http_code}\n",
                               "http://localhost/", "-o", "/dev/null", "http://localhost/version"],
                              stdout=subprocess.PIPE, timeout=20)
        check("two requests from one curl invocation are both answered 200",
              proc.stdout.decode().split() == ["200", "200"], repr(proc.stdout))
        k.proc.send_signal(signal.SIGTERM)
        k.wait(10)


def machine_config_is(k, name, want):
    js = get_json(k, "/machine-config")
    got = {key: js.get(key) for key in want}
    return check(name, got == want, "got %r" % js)


def t_machine_config():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        js = get_json(k, "/machine-config")
        check("GET /machine-config defaults: 1 vCPU, 128 MiB, smt false, track_dirty_pages false",
              {key: js.get(key) for key in ("vcpu_count", "mem_size_mib", "smt", "track_dirty_pages")}
              == {"vcpu_count": 1, "mem_size_mib": 128, "smt": False, "track_dirty_pages": False}, repr(js))
        check("GET /machine-config: enable_thp false by default (guest RAM a memfd)",
              js.get("enable_thp") is False, repr(js))
        extra = set(js) - {"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages", "cpu_template", "huge_pages",
                           "enable_thp"}
        check("GET /machine-config has only machine-config fields", not extra, "extra keys %s" % sorted(extra))

        expect_204(k, "PUT /machine-config with every field", "PUT", "/machine-config",
                   {"vcpu_count": 2, "mem_size_mib": 256, "smt": False, "track_dirty_pages": True,
                    "cpu_template": "None", "huge_pages": "None"})
        machine_config_is(k, "GET /machine-config reflects the PUT",
                          {"vcpu_count": 2, "mem_size_mib": 256, "smt": False, "track_dirty_pages": True})
        expect_204(k, "PATCH /machine-config mem_size_mib only", "PATCH", "/machine-config", {"mem_size_mib": 64})
        machine_config_is(k, "PATCH merges: vcpu_count and track_dirty_pages kept, mem_size_mib changed",
                          {"vcpu_count": 2, "mem_size_mib": 64, "track_dirty_pages": True})
        expect_204(k, "PATCH /machine-config vcpu_count only", "PATCH", "/machine-config", {"vcpu_count": 3})
        machine_config_is(k, "second PATCH merges too", {"vcpu_count": 3, "mem_size_mib": 64})
        expect_204(k, "PATCH /machine-config with an empty object", "PATCH", "/machine-config", {})
        machine_config_is(k, "empty PATCH changes nothing", {"vcpu_count": 3, "mem_size_mib": 64,
                                                             "track_dirty_pages": True})
        expect_204(k, "PUT /machine-config with the required fields only", "PUT", "/machine-config",
                   {"vcpu_count": 1, "mem_size_mib": 128})
        machine_config_is(k, "PUT replaces: optional fields back to their defaults (as Firecracker)",
                          {"vcpu_count": 1, "mem_size_mib": 128, "smt": False, "track_dirty_pages": False})
        expect_204(k, "PUT /machine-config vcpu_count 254 (the maximum)", "PUT", "/machine-config",
                   {"vcpu_count": 254, "mem_size_mib": 128})
        machine_config_is(k, "GET /machine-config shows 254 vCPUs", {"vcpu_count": 254})
        expect_204(k, "PUT /machine-config mem_size_mib 1 (the minimum)", "PUT", "/machine-config",
                   {"vcpu_count": 1, "mem_size_mib": 1})
        # Values that must be refused leave the configuration as it was.
        expect_400(k, "PUT /machine-config vcpu_count 0 -> 400 naming vcpu_count", "PUT", "/machine-config",
                   {"vcpu_count": 0, "mem_size_mib": 128}, pattern="vcpu_count")
        expect_400(k, "PUT /machine-config vcpu_count 255 -> 400 naming vcpu_count", "PUT", "/machine-config",
                   {"vcpu_count": 255, "mem_size_mib": 128}, pattern="vcpu_count")
        expect_400(k, "PATCH /machine-config vcpu_count -1 -> 400 naming vcpu_count", "PATCH", "/machine-config",
                   {"vcpu_count": -1}, pattern="vcpu_count")
        expect_400(k, "PUT /machine-config mem_size_mib 0 -> 400 naming mem_size_mib", "PUT", "/machine-config",
                   {"vcpu_count": 1, "mem_size_mib": 0}, pattern="mem_size_mib")
        expect_400(k, 'PUT /machine-config cpu_template "T2S" (not in kiln) -> 400 naming cpu_template', "PUT",
                   "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "T2S"},
                   pattern="cpu_template 'T2S'")
        expect_400(k, 'PUT /machine-config huge_pages "2M" -> 400 naming huge_pages', "PUT",
                   "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "2M"},
                   pattern="huge_pages")
        expect_400(k, 'PUT /machine-config enable_thp "yes" (not a boolean) -> 400 naming enable_thp', "PUT",
                   "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "enable_thp": "yes"},
                   pattern="enable_thp")
        machine_config_is(k, "refused requests left the configuration unchanged",
                          {"vcpu_count": 1, "mem_size_mib": 1})
        expect_204(k, "PUT /machine-config enable_thp true", "PUT", "/machine-config",
                   {"vcpu_count": 1, "mem_size_mib": 128, "enable_thp": True})
        machine_config_is(k, "GET /machine-config shows enable_thp true", {"enable_thp": True})
        expect_204(k, "PATCH /machine-config without enable_thp", "PATCH", "/machine-config", {"vcpu_count": 2})
        machine_config_is(k, "PATCH keeps enable_thp", {"vcpu_count": 2, "enable_thp": True})
        expect_204(k, "PUT /machine-config without enable_thp", "PUT", "/machine-config",
                   {"vcpu_count": 1, "mem_size_mib": 128})
        machine_config_is(k, "PUT without enable_thp sets it back to false", {"enable_thp": False})


def t_boot_source_and_vm_config():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        js = get_json(k, "/vm/config")
        check("GET /vm/config before any PUT: machine-config defaults, no drives, no network interfaces",
              js.get("machine-config", {}).get("vcpu_count") == 1
              and js.get("machine-config", {}).get("mem_size_mib") == 128
              and js.get("drives") == [] and js.get("network-interfaces") == [], repr(js))

        kernel, module = guest("mb_hello.elf"), ARGS.module
        log, metrics, serial = k.touch("kiln.log"), k.touch("metrics.json"), k.touch("serial.out")
        expect_204(k, "PUT /boot-source with kernel_image_path, boot_args and initrd_path", "PUT", "/boot-source",
                   {"kernel_image_path": kernel, "boot_args": "console=ttyS0 hello", "initrd_path": module})
        expect_204(k, "PUT /machine-config 2 vCPUs, 64 MiB", "PUT", "/machine-config",
                   {"vcpu_count": 2, "mem_size_mib": 64})
        expect_204(k, "PUT /logger with every field", "PUT", "/logger",
                   {"log_path": log, "level": "Info", "show_level": True, "show_log_origin": False,
                    "module": "kiln"})
        expect_204(k, "PUT /metrics", "PUT", "/metrics", {"metrics_path": metrics})
        expect_204(k, "PUT /serial", "PUT", "/serial", {"serial_out_path": serial})

        js = get_json(k, "/vm/config")
        bs, mc = js.get("boot-source") or {}, js.get("machine-config") or {}
        check("GET /vm/config boot-source reflects the PUT",
              bs.get("kernel_image_path") == kernel and bs.get("boot_args") == "console=ttyS0 hello"
              and bs.get("initrd_path") == module, repr(bs))
        check("GET /vm/config machine-config reflects the PUT (and equals GET /machine-config)",
              mc.get("vcpu_count") == 2 and mc.get("mem_size_mib") == 64 and mc == get_json(k, "/machine-config"),
              repr(mc))
        check('GET /vm/config has "drives": [] and "network-interfaces": []',
              js.get("drives") == [] and js.get("network-interfaces") == [], repr(js))
        lg = js.get("logger") or {}
        check("GET /vm/config logger reflects the PUT",
              lg.get("log_path") == log and lg.get("level") == "Info" and lg.get("show_level") is True, repr(lg))
        check("GET /vm/config metrics reflects the PUT", (js.get("metrics") or {}).get("metrics_path") == metrics,
              repr(js.get("metrics")))
        if "serial" in js:
            check("GET /vm/config serial reflects the PUT",
                  (js.get("serial") or {}).get("serial_out_path") == serial, repr(js.get("serial")))

        # A second PUT /boot-source replaces the first: no initrd any more.
        expect_204(k, "PUT /boot-source again without initrd_path", "PUT", "/boot-source",
                   {"kernel_image_path": kernel})
        bs = get_json(k, "/vm/config").get("boot-source") or {}
        check("GET /vm/config shows the second boot-source only",
              bs.get("kernel_image_path") == kernel and not bs.get("initrd_path") and not bs.get("boot_args"),
              repr(bs))

        for level in ("Error", "Warning", "Info", "Debug", "Trace", "Off"):
            with Kiln() as k2:
                if k2.start_api():
                    expect_204(k2, 'PUT /logger level "%s"' % level, "PUT", "/logger",
                               {"log_path": k2.touch("log"), "level": level})
        expect_400(k, "PUT /boot-source naming a missing kernel -> 400 naming the path", "PUT", "/boot-source",
                   {"kernel_image_path": "/nonexistent/vmlinux.bin"}, pattern=re.escape("/nonexistent/vmlinux.bin"))
        expect_400(k, "PUT /boot-source naming a directory -> 400 naming the path", "PUT", "/boot-source",
                   {"kernel_image_path": k.dir}, pattern=re.escape(k.dir))


def t_api_boot_hello():
    """The hello guest through the API: machine-config, boot-source, InstanceStart."""
    with Kiln() as k:
        if not check("kiln --api-sock --debug-exit starts and listens", k.start_api(), k.describe()):
            return
        check("socket is a socket with mode 0600",
              stat.S_ISSOCK(os.stat(k.sock).st_mode) and stat.S_IMODE(os.stat(k.sock).st_mode) == 0o600,
              oct(os.stat(k.sock).st_mode))
        configure(k, guest("hello64.elf"))
        instance_start(k)
        rc = k.wait(30)
        out = k.output()
        check("hello64 booted through the API: kiln exits 33", rc == 33, "status %s, %s" % (rc, k.describe()))
        check("hello64 output on stdout ends with SUCCESS",
              "kiln elf64: hello from long mode\n" in out and out.endswith("SUCCESS\n"), short(out))
        check("socket removed after the guest stopped", not os.path.exists(k.sock))


def vmflags_of_size(pid, size):
    """The VmFlags of each mapping of exactly `size` bytes in process `pid` (its smaps)."""
    found, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                cur = int(m.group(2), 16) - int(m.group(1), 16)
            elif line.startswith("VmFlags:") and cur == size:
                found.append(line.split()[1:])
    return found


def t_api_boot_thp():
    """enable_thp: the guest's RAM is anonymous memory madvise(MADV_HUGEPAGE)d, and the guest
    runs on it; without it, RAM is the memfd (docs/design.md, "Guest memory")."""
    for thp in (True, False):
        name = "enable_thp %s" % ("true" if thp else "false")
        with Kiln() as k:
            if not check("kiln --api-sock starts and listens", k.start_api(stdin="pipe"), k.describe()):
                return
            expect_204(k, "%s: PUT /machine-config (64 MiB)" % name, "PUT", "/machine-config",
                       {"vcpu_count": 1, "mem_size_mib": 64, "enable_thp": thp})
            expect_204(k, "%s: PUT /boot-source mb_echo.elf" % name, "PUT", "/boot-source",
                       {"kernel_image_path": guest("mb_echo.elf")})
            instance_start(k)
            if not check("%s: mb_echo prints 'echo: ready'" % name,
                         k.wait_output(lambda o: "echo: ready\n" in o) is not None, k.describe()):
                return
            ram = vmflags_of_size(k.proc.pid, 64 << 20)
            with open("/proc/%d/maps" % k.proc.pid) as f:
                memfd = "kiln-guest-ram" in f.read()
            check("%s: one 64 MiB mapping (the guest's RAM)" % name, len(ram) == 1, repr(ram))
            check("%s: %s MADV_HUGEPAGE (VmFlags hg)" % (name, "with" if thp else "without"),
                  bool(ram) and ("hg" in ram[0]) == thp, repr(ram))
            check("%s: RAM %s the memfd kiln-guest-ram" % (name, "is not" if thp else "is"),
                  memfd != thp)
            finish_echo_guest(k, name)


def in_own_netns():
    """Moves this process into a new network namespace (root only). Returns None or why not."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        return "not root, or no /dev/net/tun"
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        return "unshare(CLONE_NEWNET): " + os.strerror(ctypes.get_errno())
    return None


def t_api_boot_network():
    """The firectl / firecracker-go-sdk boot flow: machine-config, boot-source, drives,
    network-interfaces, metrics, InstanceStart. kiln creates the missing TAP (as root, in a
    network namespace of this test's own) and says so; the metrics list the interface."""
    why = in_own_netns()
    if why:
        print("note: t_api_boot_network not run: " + why)
        return
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        disk, metrics = k.touch("disk.img"), k.touch("metrics.json")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        configure(k, guest("hello64.elf"), name="sdk flow: ")
        expect_204(k, "sdk flow: PUT /drives/rootfs", "PUT", "/drives/rootfs",
                   {"drive_id": "rootfs", "path_on_host": disk, "is_root_device": False,
                    "is_read_only": False})
        expect_204(k, "sdk flow: PUT /network-interfaces/eth0 (a TAP that does not exist yet)", "PUT",
                   "/network-interfaces/eth0",
                   {"iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "kapi0"})
        expect_204(k, "sdk flow: PUT /metrics", "PUT", "/metrics", {"metrics_path": metrics})
        instance_start(k, "sdk flow: InstanceStart -> 204")
        rc = k.wait(30)
        check("sdk flow: hello64 with a disk and a NIC exits 33", rc == 33, "status %s, %s" % (rc, k.describe()))
        check("sdk flow: kiln says it created the TAP", "created TAP device kapi0" in k.errors(),
              short(k.errors()))
        check("sdk flow: the TAP went away with kiln", not os.path.exists("/sys/class/net/kapi0"))
        with open(metrics) as f:
            lines = [json.loads(line) for line in f.read().splitlines() if line.strip()]
        net = lines[-1].get("net") if lines else None
        check("sdk flow: the last metrics line lists virtio-net0 with Firecracker's counter names",
              isinstance(net, list) and len(net) == 1 and net[0].get("device") == "virtio-net0"
              and "rx_bytes_count" in net[0] and "tx_packets_count" in net[0], repr(net))


def t_api_boot_args_initrd():
    """boot_args and initrd_path reach a multiboot guest as its command line and module 0."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        expect_204(k, "PUT /machine-config 1 vCPU, 64 MiB", "PUT", "/machine-config",
                   {"vcpu_count": 1, "mem_size_mib": 64})
        expect_204(k, "PUT /boot-source mb_hello with boot_args and initrd_path", "PUT", "/boot-source",
                   {"kernel_image_path": guest("mb_hello.elf"), "boot_args": "hello world",
                    "initrd_path": ARGS.module})
        instance_start(k)
        rc = k.wait(30)
        out = k.output()
        check("mb_hello through the API exits 33", rc == 33, "status %s, %s" % (rc, k.describe()))
        check("boot_args is the multiboot command line (after the kernel path)",
              re.search(r"(?m)^cmdline=.*mb_hello\.elf hello world$", out), short(out))
        check("initrd_path is multiboot module 0", re.search(r"(?m)^mods=1$", out)
              and re.search(r"(?m)^mod0 size=27 .*first=kiln module 42", out), short(out))
        check("mem_size_mib 64 is what the guest sees", "mem_upper=64512\n" in out, short(out))


def t_api_boot_serial_logger_metrics():
    """serial_out_path gets the guest's output instead of stdout; the logger and metrics files fill."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        serial, log, metrics = k.touch("serial.out"), k.touch("kiln.log"), k.touch("metrics.json")
        configure(k, guest("hello64.elf"))
        expect_204(k, "PUT /serial", "PUT", "/serial", {"serial_out_path": serial})
        expect_204(k, "PUT /logger level Info, show_level and show_log_origin", "PUT", "/logger",
                   {"log_path": log, "level": "Info", "show_level": True, "show_log_origin": True})
        expect_204(k, "PUT /metrics", "PUT", "/metrics", {"metrics_path": metrics})
        expect_204(k, "FlushMetrics before the start", "PUT", "/actions", {"action_type": "FlushMetrics"})
        with open(metrics) as f:
            lines = f.read().splitlines()
        check("FlushMetrics before the start wrote one line", len(lines) == 1, repr(lines))
        try:
            first = json.loads(lines[0]) if lines else None
        except ValueError:
            first = None
        check("that line is a JSON object with utc_timestamp_ms, vcpu, serial and error counters",
              metrics_line_ok(first), repr(lines[:1]))
        instance_start(k)
        rc = k.wait(30)
        check("hello64 with serial_out_path exits 33", rc == 33, "status %s, %s" % (rc, k.describe()))
        with open(serial, errors="replace") as f:
            text = f.read()
        check("serial_out_path file has the guest's output", text.endswith("SUCCESS\n"), repr(text))
        check("stdout has none of the guest's output", "SUCCESS" not in k.output(), repr(k.output()))
        with open(log, errors="replace") as f:
            logged = f.read()
        check("logger file has kiln's log lines (level Info)", logged.strip() != "", repr(logged))
        check("show_level: log lines name their level", re.search(r"(?i)info", logged), repr(logged))
        check("show_log_origin: log lines name their source file and line", re.search(r"\.c:\d+", logged),
              repr(logged))

    with Kiln() as k:
        if not k.start_api():
            return check("kiln --api-sock starts and listens", False, k.describe())
        log = k.touch("kiln.log")
        configure(k, guest("hello64.elf"))
        expect_204(k, "PUT /logger level Info, show_log_origin false", "PUT", "/logger",
                   {"log_path": log, "level": "Info", "show_level": False, "show_log_origin": False})
        instance_start(k)
        k.wait(30)
        with open(log, errors="replace") as f:
            logged = f.read()
        check("show_log_origin false: no source file:line in the log", not re.search(r"\.c:\d+", logged),
              repr(logged))


def t_api_boot_failures():
    """An image kiln cannot load is a 400 at InstanceStart and leaves the VM unstarted; a guest
    that crashes ends kiln with status 4 and the socket removed."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        expect_204(k, "PUT /boot-source naming a readable file that is no kernel", "PUT", "/boot-source",
                   {"kernel_image_path": ARGS.module})
        expect_400(k, "InstanceStart with that file -> 400 naming it", "PUT", "/actions",
                   {"action_type": "InstanceStart"}, pattern=re.escape(os.path.basename(ARGS.module)))
        state_is(k, "Not started", "still Not started after the failed InstanceStart")
        check("kiln still running after the failed InstanceStart", k.alive(), k.describe())
        configure(k, guest("hello64.elf"))
        instance_start(k, "InstanceStart with a good kernel after the failed one -> 204")
        rc = k.wait(30)
        check("the second InstanceStart boots hello64: exit 33", rc == 33, "status %s, %s" % (rc, k.describe()))

    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        configure(k, guest("triple_fault.elf"))
        instance_start(k)
        rc = k.wait(30)
        check("a guest that triple-faults: kiln exits 4 with the crash report",
              rc == 4 and "triple fault" in k.errors(), "status %s, %s" % (rc, k.describe()))
        check("socket removed after the crash", not os.path.exists(k.sock))


def t_states_and_post_boot():
    """GET / state through Not started -> Running -> Paused -> Running; what works after the start."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(stdin="pipe"), k.describe()):
            return
        state_is(k, "Not started")
        metrics = k.touch("metrics.json")
        configure(k, guest("mb_echo.elf"))
        expect_204(k, "PUT /metrics", "PUT", "/metrics", {"metrics_path": metrics})
        instance_start(k)
        if not check("mb_echo prints 'echo: ready'", k.wait_output(lambda o: "echo: ready\n" in o), k.describe()):
            return
        state_is(k, "Running")
        expect_204(k, 'PATCH /vm {"state": "Paused"}', "PATCH", "/vm", {"state": "Paused"})
        state_is(k, "Paused")
        # Input typed while paused is not lost: it reaches the guest after the resume.
        k.proc.stdin.write(b"ab")
        k.proc.stdin.flush()
        time.sleep(0.3)
        check("no echo while paused", "ab" not in k.output().split("echo: ready\n", 1)[-1], repr(k.output()))
        expect_204(k, "FlushMetrics while paused", "PUT", "/actions", {"action_type": "FlushMetrics"})
        st, js, text = k.api("GET", "/machine-config")
        check("GET /machine-config while paused -> 200", st == 200, "HTTP %d %r" % (st, text))
        expect_204(k, 'PATCH /vm {"state": "Resumed"}', "PATCH", "/vm", {"state": "Resumed"})
        state_is(k, "Running")
        check("input sent while paused is echoed after the resume",
              k.wait_output(lambda o: "ab" in o.split("echo: ready\n", 1)[-1], 10) is not None, k.describe())
        js = get_json(k, "/vm/config")
        check("GET /vm/config after the start still describes the VM",
              (js.get("boot-source") or {}).get("kernel_image_path") == guest("mb_echo.elf"), repr(js))
        expect_204(k, "SendCtrlAltDel after the start (mb_echo ignores the keyboard)", "PUT", "/actions",
                   {"action_type": "SendCtrlAltDel"})
        expect_204(k, "FlushMetrics while running", "PUT", "/actions", {"action_type": "FlushMetrics"})
        state_is(k, "Running", "still running after SendCtrlAltDel")
        finish_echo_guest(k, "states", expect_bytes=3)


def t_run_with_api():
    """`kiln run -k GUEST ... --api-sock PATH`: the CLI VM, already running, on the API."""
    with Kiln() as k:
        k.start(["run", "--debug-exit", "-c", "2", "-m", "64", "-p", "quiet", "-k", guest("mb_echo.elf"),
                 "--api-sock", k.sock], stdin="pipe")
        if not check("kiln run --api-sock listens", k.wait_socket(), k.describe()):
            return
        check("kiln run: socket mode 0600", stat.S_IMODE(os.stat(k.sock).st_mode) == 0o600,
              oct(os.stat(k.sock).st_mode))
        k.wait_output(lambda o: "echo: ready\n" in o)
        state_is(k, "Running", "kiln run: GET / says Running")
        machine_config_is(k, "kiln run: GET /machine-config shows -c 2 -m 64", {"vcpu_count": 2, "mem_size_mib": 64})
        bs = get_json(k, "/vm/config").get("boot-source") or {}
        check("kiln run: GET /vm/config boot-source shows -k and -p",
              bs.get("kernel_image_path") == guest("mb_echo.elf") and bs.get("boot_args") == "quiet", repr(bs))
        expect_400(k, "kiln run: PUT /machine-config -> 400, not supported after the start", "PUT",
                   "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}, pattern=AFTER_START)
        expect_400(k, "kiln run: InstanceStart -> 400", "PUT", "/actions", {"action_type": "InstanceStart"})
        expect_204(k, "kiln run: pause", "PATCH", "/vm", {"state": "Paused"})
        state_is(k, "Paused", "kiln run: GET / says Paused")
        expect_204(k, "kiln run: resume", "PATCH", "/vm", {"state": "Resumed"})
        finish_echo_guest(k, "kiln run")


# --- errors ------------------------------------------------------------------------------------

def t_errors_pre_boot():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        hello = guest("hello64.elf")
        # Wrong JSON types.
        expect_400(k, 'vcpu_count "2" (a string) -> 400 naming vcpu_count', "PUT", "/machine-config",
                   raw='{"vcpu_count": "2", "mem_size_mib": 128}', pattern="vcpu_count")
        expect_400(k, "vcpu_count 1.5 -> 400 naming vcpu_count", "PUT", "/machine-config",
                   raw='{"vcpu_count": 1.5, "mem_size_mib": 128}', pattern="vcpu_count")
        expect_400(k, "mem_size_mib true -> 400 naming mem_size_mib", "PUT", "/machine-config",
                   raw='{"vcpu_count": 1, "mem_size_mib": true}', pattern="mem_size_mib")
        expect_400(k, 'smt "no" -> 400 naming smt', "PATCH", "/machine-config", raw='{"smt": "no"}', pattern="smt")
        expect_400(k, "track_dirty_pages 0 -> 400 naming track_dirty_pages", "PATCH", "/machine-config",
                   raw='{"track_dirty_pages": 0}', pattern="track_dirty_pages")
        expect_400(k, "kernel_image_path 5 -> 400 naming kernel_image_path", "PUT", "/boot-source",
                   raw='{"kernel_image_path": 5}', pattern="kernel_image_path")
        expect_400(k, "boot_args [] -> 400 naming boot_args", "PUT", "/boot-source",
                   {"kernel_image_path": hello, "boot_args": []}, pattern="boot_args")
        expect_400(k, 'show_level "true" -> 400 naming show_level', "PUT", "/logger",
                   {"log_path": k.touch("log"), "show_level": "true"}, pattern="show_level")
        expect_400(k, "metrics_path null -> 400 naming metrics_path", "PUT", "/metrics",
                   raw='{"metrics_path": null}', pattern="metrics_path")
        expect_400(k, "serial_out_path 1 -> 400 naming serial_out_path", "PUT", "/serial",
                   raw='{"serial_out_path": 1}', pattern="serial_out_path")
        expect_400(k, "action_type 3 -> 400 naming action_type", "PUT", "/actions",
                   raw='{"action_type": 3}', pattern="action_type")
        # Values outside the enumerations.
        expect_400(k, 'action_type "Reboot" -> 400 naming action_type or the value', "PUT", "/actions",
                   {"action_type": "Reboot"}, pattern="action_type|Reboot")
        expect_400(k, 'logger level "Loud" -> 400 naming level or the value', "PUT", "/logger",
                   {"log_path": k.touch("log"), "level": "Loud"}, pattern="level|Loud")
        # Missing required fields.
        expect_400(k, "machine-config without mem_size_mib -> 400 naming it", "PUT", "/machine-config",
                   {"vcpu_count": 2}, pattern="mem_size_mib")
        expect_400(k, "machine-config without vcpu_count -> 400 naming it", "PUT", "/machine-config",
                   {"mem_size_mib": 128}, pattern="vcpu_count")
        expect_400(k, "boot-source without kernel_image_path -> 400 naming it", "PUT", "/boot-source",
                   {"boot_args": "console=ttyS0"}, pattern="kernel_image_path")
        expect_400(k, "metrics without metrics_path -> 400 naming it", "PUT", "/metrics", {}, pattern="metrics_path")
        expect_400(k, "actions without action_type -> 400 naming it", "PUT", "/actions", {}, pattern="action_type")
        # Unknown fields (Firecracker refuses them).
        expect_400(k, "machine-config with ht_enabled (an old Firecracker field) -> 400 naming it", "PUT",
                   "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "ht_enabled": False},
                   pattern="ht_enabled")
        expect_400(k, "PATCH machine-config with an unknown field -> 400 naming it", "PATCH", "/machine-config",
                   {"vcpus": 2}, pattern="vcpus")
        expect_400(k, "boot-source with an unknown field -> 400 naming it", "PUT", "/boot-source",
                   {"kernel_image_path": hello, "kernel_args": "x"}, pattern="kernel_args")
        expect_400(k, "logger with an unknown field -> 400 naming it", "PUT", "/logger",
                   {"log_path": k.touch("log"), "colour": True}, pattern="colour")
        expect_400(k, "metrics with an unknown field -> 400 naming it", "PUT", "/metrics",
                   {"metrics_path": k.touch("m"), "interval": 5}, pattern="interval")
        expect_400(k, "serial with an unknown field -> 400 naming it", "PUT", "/serial",
                   {"serial_out_path": k.touch("s"), "baud": 9600}, pattern="baud")
        expect_400(k, "actions with an unknown field -> 400 naming it", "PUT", "/actions",
                   {"action_type": "FlushMetrics", "when": "now"}, pattern="when")
        # Malformed bodies.
        expect_400(k, "malformed JSON -> 400", "PUT", "/machine-config", raw='{"vcpu_count": 2,',
                   pattern=r"(?i)json|pars|syntax|invalid|malformed|expect|unexpected|end")
        expect_400(k, "a JSON array instead of an object -> 400", "PUT", "/machine-config", raw="[1, 2]")
        expect_400(k, "an empty body on PUT /machine-config -> 400", "PUT", "/machine-config", raw="")
        expect_400(k, "trailing garbage after the JSON object -> 400", "PUT", "/machine-config",
                   raw='{"vcpu_count": 1, "mem_size_mib": 128} xyz')
        # Over the 51200-byte body limit: 400, then the server still answers.
        big = json.dumps({"kernel_image_path": hello, "boot_args": "x" * 60000})
        expect_400(k, "a %d-byte body (over 51200) -> 400 naming the size" % len(big), "PUT", "/boot-source", raw=big,
                   pattern=r"(?i)size|large|long|limit|51200|exceed|too")
        just_over = json.dumps({"kernel_image_path": hello, "boot_args": ""})
        just_over = just_over[:-2] + "x" * (51201 - len(just_over)) + '"}'
        expect_400(k, "a 51201-byte body -> 400", "PUT", "/boot-source", raw=just_over)
        state_is(k, "Not started", "server still answers after the oversized bodies")
        # Methods and paths.
        expect_400(k, "DELETE /machine-config -> 400 naming the method", "DELETE", "/machine-config",
                   pattern=r"(?i)method|DELETE|not allowed|supported")
        expect_400(k, "POST /actions -> 400 naming the method", "POST", "/actions",
                   raw='{"action_type": "FlushMetrics"}', pattern=r"(?i)method|POST|not allowed|supported")
        expect_400(k, "GET /actions -> 400", "GET", "/actions")
        expect_400(k, "PUT / -> 400", "PUT", "/", {"state": "Running"})
        expect_400(k, "GET /nope -> 400 naming the path", "GET", "/nope",
                   pattern=r"(?i)nope|path|resource|unknown|not found|invalid|no such")
        expect_400(k, "PUT /machine-config/extra -> 400", "PUT", "/machine-config/extra",
                   {"vcpu_count": 1, "mem_size_mib": 128})
        # Actions and states that need a boot, or a previous PUT.
        expect_400(k, "FlushMetrics without PUT /metrics -> 400 naming metrics", "PUT", "/actions",
                   {"action_type": "FlushMetrics"}, pattern=r"(?i)metric")
        expect_400(k, "SendCtrlAltDel before the start -> 400", "PUT", "/actions",
                   {"action_type": "SendCtrlAltDel"}, pattern=NOT_STARTED)
        expect_400(k, "PATCH /vm Paused before the start -> 400", "PATCH", "/vm", {"state": "Paused"},
                   pattern=NOT_STARTED)
        expect_400(k, "PATCH /vm Resumed before the start -> 400", "PATCH", "/vm", {"state": "Resumed"},
                   pattern=NOT_STARTED)
        expect_400(k, "InstanceStart without a boot-source -> 400 naming the boot source or kernel", "PUT",
                   "/actions", {"action_type": "InstanceStart"}, pattern=r"(?i)boot|kernel")
        state_is(k, "Not started", "still Not started after the refused InstanceStart")
        # After all those errors a good configuration still boots.
        configure(k, hello)
        instance_start(k, "InstanceStart after the errors -> 204")
        rc = k.wait(30)
        check("the VM configured after the errors runs: exit 33", rc == 33, "status %s, %s" % (rc, k.describe()))


def t_errors_post_boot():
    with Kiln() as k:
        if not start_echo_guest(k):
            return
        hello = guest("hello64.elf")
        expect_400(k, "PUT /machine-config after the start -> 400, not supported after starting", "PUT",
                   "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}, pattern=AFTER_START)
        expect_400(k, "PUT /cpu-config after the start -> 400, not supported after starting", "PUT",
                   "/cpu-config", {"cpuid_modifiers": []}, pattern=AFTER_START)
        expect_400(k, "PATCH /machine-config after the start -> 400", "PATCH", "/machine-config",
                   {"mem_size_mib": 64}, pattern=AFTER_START)
        expect_400(k, "PUT /boot-source after the start -> 400", "PUT", "/boot-source",
                   {"kernel_image_path": hello}, pattern=AFTER_START)
        expect_400(k, "PUT /serial after the start -> 400", "PUT", "/serial",
                   {"serial_out_path": k.touch("s")}, pattern=AFTER_START)
        expect_400(k, "PUT /logger after the start -> 400", "PUT", "/logger",
                   {"log_path": k.touch("log")}, pattern=AFTER_START)
        expect_400(k, "PUT /metrics after the start -> 400", "PUT", "/metrics",
                   {"metrics_path": k.touch("m")}, pattern=AFTER_START)
        expect_400(k, "PUT /network-interfaces/eth0 after the start -> 400", "PUT", "/network-interfaces/eth0",
                   {"iface_id": "eth0", "host_dev_name": "tap0"}, pattern=AFTER_START)
        expect_400(k, "PUT /vsock after the start -> 400", "PUT", "/vsock",
                   {"guest_cid": 3, "uds_path": k.path("v.sock")}, pattern=AFTER_START)
        expect_400(k, "PATCH /network-interfaces/eth0 of a VM without interfaces -> 400 naming eth0", "PATCH",
                   "/network-interfaces/eth0", {"iface_id": "eth0"}, pattern="eth0")
        expect_400(k, "InstanceStart twice -> 400", "PUT", "/actions", {"action_type": "InstanceStart"},
                   pattern=r"(?i)already|twice|start|running")
        expect_400(k, "FlushMetrics without PUT /metrics, after the start -> 400", "PUT", "/actions",
                   {"action_type": "FlushMetrics"}, pattern=r"(?i)metric")
        expect_400(k, 'PATCH /vm {"state": "Stopped"} -> 400 naming state or the value', "PATCH", "/vm",
                   {"state": "Stopped"}, pattern="state|Stopped")
        expect_400(k, "PATCH /vm without state -> 400 naming it", "PATCH", "/vm", {}, pattern="state")
        expect_400(k, "PATCH /vm with an unknown field -> 400 naming it", "PATCH", "/vm",
                   {"state": "Paused", "force": True}, pattern="force")
        machine_config_is(k, "the refused PUT/PATCH changed nothing", {"vcpu_count": 1, "mem_size_mib": 128})
        state_is(k, "Running", "still Running after the refused requests")
        finish_echo_guest(k, "post-boot errors")


# Devices kiln does not have: (method, path, a body Firecracker accepts, that body plus a bad field).
UNSUPPORTED_DEVICES = [
    ("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False}),
]


def t_unsupported_devices():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        for method, path, body in UNSUPPORTED_DEVICES:
            expect_400(k, "%s %s (no such device in kiln) -> 400 saying it is not supported" % (method, path),
                       method, path, body, pattern=UNSUPPORTED)
            bad = dict(body, bogus_field=1)
            expect_400(k, "%s %s with an unknown field -> 400 naming the field" % (method, path),
                       method, path, bad, pattern="bogus_field")
        expect_400(k, "PUT /mmds -> 400 saying it is not supported", "PUT", "/mmds", {"latest": {}},
                   pattern=UNSUPPORTED)
        st, js, text = k.api("GET", "/")
        check("server still answers after the unsupported-device requests", st == 200, text)
        check("no drive or interface appeared in GET /vm/config",
              get_json(k, "/vm/config").get("drives") == [] and
              get_json(k, "/vm/config").get("network-interfaces") == [])


# --- drives and entropy (virtio-blk, virtio-rng) ----------------------------------------------

def make_image(k, name, size=1 << 20):
    p = k.path(name)
    with open(p, "wb") as f:
        f.truncate(size)
    return p


def vm_config_drives(k):
    return get_json(k, "/vm/config").get("drives")


def t_drives():
    """PUT/PATCH /drives/{id} and PUT /entropy before boot: validation, replacement, the root
    device first, and GET /vm/config reporting them."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        a, b, c = make_image(k, "a.img"), make_image(k, "b.img"), make_image(k, "c.img")
        expect_204(k, "PUT /drives/data (not root) -> 204", "PUT", "/drives/data",
                   {"drive_id": "data", "path_on_host": a, "is_root_device": False})
        expect_204(k, "PUT /drives/rootfs (root, read-only, Sync engine) -> 204", "PUT", "/drives/rootfs",
                   {"drive_id": "rootfs", "path_on_host": b, "is_root_device": True, "is_read_only": True,
                    "io_engine": "Sync", "cache_type": "Writeback"})
        d = vm_config_drives(k)
        check("GET /vm/config lists both drives in the order they were put",
              [x["drive_id"] for x in d] == ["data", "rootfs"] and d[1]["is_root_device"] is True
              and d[1]["is_read_only"] is True and d[1]["io_engine"] == "Sync" and d[0]["path_on_host"] == a,
              repr(d))
        expect_400(k, "a second root device -> 400 naming the first", "PUT", "/drives/other",
                   {"drive_id": "other", "path_on_host": c, "is_root_device": True}, pattern="rootfs")
        expect_204(k, "PUT of a known drive_id replaces it", "PUT", "/drives/data",
                   {"drive_id": "data", "path_on_host": c, "is_root_device": False})
        expect_204(k, "PATCH /drives/data with a new path_on_host -> 204", "PATCH", "/drives/data",
                   {"drive_id": "data", "path_on_host": a})
        d = vm_config_drives(k)
        check("still two drives, data now at the patched path", len(d) == 2 and d[0]["path_on_host"] == a, repr(d))
        check("a drive without a rate limiter reports null", d[0].get("rate_limiter", "absent") is None, repr(d))
        expect_204(k, "PATCH /drives/data with a rate limiter -> 204", "PATCH", "/drives/data",
                   {"drive_id": "data", "rate_limiter": {"bandwidth": {"size": 1048576, "one_time_burst": 4096,
                                                                       "refill_time": 100}}})
        expect_204(k, "PATCH /drives/data with only its ops bucket -> 204", "PATCH", "/drives/data",
                   {"drive_id": "data", "rate_limiter": {"ops": {"size": 100, "refill_time": 1000}}})
        got = vm_config_drives(k)[0].get("rate_limiter")
        check("GET /vm/config shows both buckets: the second PATCH kept the first's",
              got == {"bandwidth": {"size": 1048576, "one_time_burst": 4096, "refill_time": 100},
                      "ops": {"size": 100, "one_time_burst": 0, "refill_time": 1000}}, repr(got))
        for name, body, pattern in [
                ("drive_id not matching the path", {"drive_id": "x", "path_on_host": a, "is_root_device": False},
                 "drive_id"),
                ("missing is_root_device", {"drive_id": "e", "path_on_host": a}, "is_root_device"),
                ("missing path_on_host", {"drive_id": "e", "is_root_device": False}, "path_on_host"),
                ("a path that does not exist", {"drive_id": "e", "path_on_host": k.path("nope"),
                                                "is_root_device": False}, "nope"),
                ("a directory as image", {"drive_id": "e", "path_on_host": k.dir, "is_root_device": False},
                 "(?i)is a directory"),
                ("cache_type not Unsafe/Writeback", {"drive_id": "e", "path_on_host": a, "is_root_device": False,
                                                     "cache_type": "Bogus"}, "cache_type"),
                ("io_engine not Sync/Async", {"drive_id": "e", "path_on_host": a, "is_root_device": False,
                                              "io_engine": "Turbo"}, "io_engine"),
                ("a rate limiter with a negative size", {"drive_id": "e", "path_on_host": a, "is_root_device": False,
                                    "rate_limiter": {"bandwidth": {"size": -1, "refill_time": 1}}},
                 r"drives: rate_limiter\.bandwidth: size -1 must not be negative"),
                ("a rate limiter bucket without refill_time", {"drive_id": "e", "path_on_host": a,
                                                              "is_root_device": False,
                                                              "rate_limiter": {"ops": {"size": 5}}},
                 r"rate_limiter\.ops: missing field 'refill_time'"),
                ("a vhost-user socket", {"drive_id": "e", "is_root_device": False, "socket": "/tmp/x"}, "socket"),
                ("an unknown field", {"drive_id": "e", "path_on_host": a, "is_root_device": False, "bogus": 1},
                 "bogus"),
                ("drive_id longer than 20 bytes", {"drive_id": "e" * 21, "path_on_host": a,
                                                   "is_root_device": False}, "drive_id")]:
            path = "/drives/" + (body.get("drive_id") if name != "drive_id not matching the path" else "e")
            expect_400(k, "PUT /drives: %s -> 400 naming it" % name, "PUT", path, body, pattern=pattern)
        expect_400(k, "PATCH of an unknown drive -> 400 naming it", "PATCH", "/drives/ghost",
                   {"drive_id": "ghost", "path_on_host": a}, pattern="ghost")
        check("the refused requests changed nothing", len(vm_config_drives(k)) == 2, repr(vm_config_drives(k)))
        check("no entropy device before PUT /entropy", get_json(k, "/vm/config").get("entropy") is None)
        expect_400(k, "PUT /entropy with a bad rate limiter -> 400 naming it", "PUT", "/entropy",
                   {"rate_limiter": {"ops": {"size": 1, "refill_time": "1"}}}, pattern=r"rate_limiter\.ops")
        expect_400(k, "PUT /entropy with an unknown field -> 400 naming it", "PUT", "/entropy", {"bogus": 1},
                   pattern="bogus")
        expect_204(k, "PUT /entropy {} -> 204", "PUT", "/entropy", {})
        got = get_json(k, "/vm/config").get("entropy")
        check("GET /vm/config shows the entropy device, with no rate limiter", got == {"rate_limiter": None},
              repr(got))
        expect_204(k, "PUT /entropy with a rate limiter -> 204", "PUT", "/entropy",
                   {"rate_limiter": {"ops": {"size": 4, "refill_time": 1000}}})
        got = get_json(k, "/vm/config").get("entropy")
        check("GET /vm/config shows entropy's rate limiter",
              got == {"rate_limiter": {"bandwidth": None,
                                       "ops": {"size": 4, "one_time_burst": 0, "refill_time": 1000}}},
              repr(got))


def t_drives_boot():
    """Drives and entropy reach the VM: kiln creates the devices at InstanceStart (a drive whose
    image vanished is a 400 naming it, and the VM stays unstarted), and after boot the drive
    endpoints refuse changes."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(["-v"]), k.describe()):
            return
        a = make_image(k, "a.img")
        gone = make_image(k, "gone.img")
        configure(k, guest("hello64.elf"))
        expect_204(k, "PUT /drives/rootfs", "PUT", "/drives/rootfs",
                   {"drive_id": "rootfs", "path_on_host": a, "is_root_device": True})
        expect_204(k, "PUT /drives/gone", "PUT", "/drives/gone",
                   {"drive_id": "gone", "path_on_host": gone, "is_root_device": False})
        expect_204(k, "PUT /entropy", "PUT", "/entropy", {})
        os.unlink(gone)
        expect_400(k, "InstanceStart with a drive whose image was removed -> 400 naming it", "PUT", "/actions",
                   {"action_type": "InstanceStart"}, pattern="gone.img")
        state_is(k, "Not started", "still Not started after the failed InstanceStart")
        make_image(k, "gone.img")
        instance_start(k, "InstanceStart once the image is back -> 204")
        rc = k.wait(30)
        check("hello64 with two drives and entropy: exit 33", rc == 33, "status %s, %s" % (rc, k.describe()))
        err = k.errors()
        check("kiln created virtio-blk0 on the root drive, virtio-blk1 and virtio-rng0",
              re.search(r"virtio-blk0: \S*a\.img", err) and re.search(r"virtio-blk1: \S*gone\.img", err),
              short(err, 600))

    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(["-v"]), k.describe()):
            return
        a, b = make_image(k, "a.img"), make_image(k, "b.img", 2 << 20)
        configure(k, guest("mb_count.elf"))
        expect_204(k, "PUT /drives/d", "PUT", "/drives/d", {"drive_id": "d", "path_on_host": a,
                                                             "is_root_device": False})
        instance_start(k)
        expect_400(k, "PUT /drives after boot -> 400", "PUT", "/drives/d",
                   {"drive_id": "d", "path_on_host": a, "is_root_device": False})
        expect_400(k, "PUT /entropy after boot -> 400", "PUT", "/entropy", {})
        expect_400(k, "PATCH /drives after boot to a missing image -> 400 naming it", "PATCH", "/drives/d",
                   {"drive_id": "d", "path_on_host": k.path("missing.img")}, pattern="missing.img")
        check("the refused PATCH kept the old image in GET /vm/config", vm_config_drives(k)[0]["path_on_host"] == a,
              repr(vm_config_drives(k)))
        expect_204(k, "PATCH /drives after boot to a 2 MiB image -> 204 (image swapped)", "PATCH", "/drives/d",
                   {"drive_id": "d", "path_on_host": b})
        check("GET /vm/config shows the new image", vm_config_drives(k)[0]["path_on_host"] == b,
              repr(vm_config_drives(k)))
        check("kiln switched virtio-blk0 to the new image, 4096 sectors",
              re.search(r"virtio-blk0: now \S*b\.img, 4096 sectors", k.errors() or ""), short(k.errors(), 600))
        other = Kiln()
        with other:
            other.start(["run", "-k", guest("hello64.elf"), "--debug-exit", "--disk", b])
            rc = other.wait(30)
            check("the swapped-in image is locked: another kiln cannot use it (exit 2)", rc == 2,
                  "status %s, %s" % (rc, other.describe()))
        check("the VM is still running after the swap", k.alive(), k.describe())


# --- socket hygiene ----------------------------------------------------------------------------

def make_stale_socket(path):
    """A socket file nobody listens on, as a crashed kiln would leave."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()


def one_line(text):
    return len(text.strip().splitlines()) == 1


def t_socket():
    with Kiln() as k:
        ok = check("kiln --api-sock starts and listens", k.start_api(), k.describe())
        if ok:
            st = os.stat(k.sock)
            check("API socket mode is 0600", stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
                  oct(st.st_mode))
            k.proc.send_signal(signal.SIGTERM)
            rc = k.wait(10)
            check("SIGTERM without a VM: kiln exits 143", rc == 128 + signal.SIGTERM, "status %s" % rc)
            check("SIGTERM without a VM: socket removed", not os.path.exists(k.sock))

    with Kiln() as k:
        if check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            k.proc.send_signal(signal.SIGINT)
            rc = k.wait(10)
            check("SIGINT without a VM: kiln exits 130, socket removed",
                  rc == 128 + signal.SIGINT and not os.path.exists(k.sock), "status %s" % rc)

    with Kiln() as k:
        make_stale_socket(k.sock)
        k.start(["--api-sock", k.sock])
        rc = k.wait(10)
        err = k.errors()
        check("stale socket path refused: exit 2", rc == 2, "status %s, %s" % (rc, k.describe()))
        check("stale socket path refused with one line naming the path", one_line(err) and k.sock in err, repr(err))

    with Kiln() as k:
        open(k.sock, "w").close()
        k.start(["--api-sock", k.sock])
        rc = k.wait(10)
        check("a regular file at the socket path is refused: exit 2, one line naming it",
              rc == 2 and one_line(k.errors()) and k.sock in k.errors(), "status %s, %s" % (rc, k.describe()))
        check("the refused regular file is left alone", os.path.isfile(k.sock))

    with Kiln() as k:
        make_stale_socket(k.sock)
        k.start(["--api-sock", k.sock, "--api-sock-force"])
        if check("stale socket path with --api-sock-force: kiln listens", k.wait_socket(), k.describe()):
            state_is(k, "Not started", "--api-sock-force: GET / answers")
            check("--api-sock-force: the new socket has mode 0600",
                  stat.S_IMODE(os.stat(k.sock).st_mode) == 0o600, oct(os.stat(k.sock).st_mode))
            k.proc.send_signal(signal.SIGTERM)
            k.wait(10)
            check("--api-sock-force: socket removed after SIGTERM", not os.path.exists(k.sock))

    with Kiln() as k:
        k.start(["--api-sock", os.path.join(k.dir, "no-such-dir", "api.sock")])
        rc = k.wait(10)
        check("socket in a missing directory: kiln exits (2 or 6) with one line",
              rc in (2, 6) and one_line(k.errors()), "status %s, %s" % (rc, k.describe()))

    with Kiln() as k:
        if start_echo_guest(k):
            k.proc.send_signal(signal.SIGTERM)
            rc = k.wait(10)
            check("SIGTERM with a running VM: exit 143", rc == 128 + signal.SIGTERM, "status %s" % rc)
            check("SIGTERM with a running VM: socket removed", not os.path.exists(k.sock))

    with Kiln() as k:
        if not start_echo_guest(k):
            return
        expect_204(k, "pause before SIGTERM", "PATCH", "/vm", {"state": "Paused"})
        k.proc.send_signal(signal.SIGTERM)
        rc = k.wait(10)
        check("SIGTERM with a paused VM: exit 143 (no hang), socket removed",
              rc == 128 + signal.SIGTERM and not os.path.exists(k.sock), "status %s" % rc)


def stable_fd_count(k):
    """kiln's open fd count once the server is done with earlier connections (a closed client's
    socket can stay open on the server's side for a moment): two equal readings 0.2 s apart."""
    count = k.fd_count()
    end = time.monotonic() + 3
    while time.monotonic() < end:
        time.sleep(0.2)
        now = k.fd_count()
        if now == count:
            break
        count = now
    return count


def t_socket_clients():
    """Clients that misbehave do not stop the server from answering the others, nor leak fds."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        # The baseline comes after the server has finished with earlier connections (the
        # readiness probe may still be open on its side): a request, then a stable count.
        k.api("GET", "/")
        fds_before = stable_fd_count(k)
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(k.sock)
        partial = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        partial.connect(k.sock)
        partial.sendall(b"PUT /machine-config HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"vcp")
        binary = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        binary.connect(k.sock)
        binary.sendall(b"\x00\x01 this is not HTTP \xff\r\n\r\n")
        t0 = time.monotonic()
        st, _, text = k.api("GET", "/", timeout=5)
        check("a request is answered while other clients sit idle, half-way through a request, or sent binary junk",
              st == 200, "HTTP %d after %.1f s: %r" % (st, time.monotonic() - t0, text))
        junk = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        junk.connect(k.sock)
        junk.sendall(b"GARBAGE\r\n\r\n")
        junk.settimeout(5)
        try:
            reply = junk.recv(4096)
            answered = True
        except socket.timeout:
            reply, answered = b"", False
        check("a request line that is not HTTP gets an error status or a closed connection within 5 s",
              answered and (reply == b"" or re.match(rb"HTTP/1\.[01] [45]\d\d ", reply)), repr(reply[:200]))
        for s in (idle, partial, binary, junk):
            s.close()
        st, _, text = k.api("GET", "/version")
        check("server still answers after the misbehaving clients left", st == 200, "HTTP %d %r" % (st, text))
        # Clients that go away in the middle of sending their body.
        for _ in range(20):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(k.sock)
            s.sendall(b"PUT /boot-source HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"ker")
            s.close()
        st, _, text = k.api("GET", "/")
        check("server still answers after 20 clients hung up mid-body", st == 200, "HTTP %d %r" % (st, text))
        fds_after = k.fd_count()
        end = time.monotonic() + 3
        while fds_after > fds_before and time.monotonic() < end:
            time.sleep(0.1)
            fds_after = k.fd_count()
        check("no fd left behind by the clients that hung up (%d before, %d after)" % (fds_before, fds_after),
              fds_after <= fds_before)
        check("kiln still running", k.alive(), k.describe())


# --- config file --------------------------------------------------------------------------------

def write_config(k, cfg, name="vm.json"):
    p = k.path(name)
    with open(p, "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg, indent=2))
    return p


def t_config_file():
    hello = guest("hello64.elf")
    with Kiln() as k:
        f = write_config(k, {"boot-source": {"kernel_image_path": hello},
                             "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}})
        k.start(["--config-file", f, "--debug-exit"])
        rc = k.wait(30)
        check("kiln --config-file F --debug-exit boots hello64: exit 33", rc == 33, "status %s, %s" % (rc, k.describe()))
        check("--config-file: guest output on stdout ends with SUCCESS", k.output().endswith("SUCCESS\n"),
              k.describe())

    with Kiln() as k:
        serial, log, metrics = k.touch("serial.out"), k.touch("kiln.log"), k.touch("metrics.json")
        f = write_config(k, {
            "boot-source": {"kernel_image_path": guest("mb_hello.elf"), "boot_args": "hello world",
                            "initrd_path": ARGS.module},
            "machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "smt": False, "track_dirty_pages": False},
            "drives": [],
            "network-interfaces": [],
            "logger": {"log_path": log, "level": "Info"},
            "metrics": {"metrics_path": metrics},
            "serial": {"serial_out_path": serial},
        })
        k.start(["--config-file", f, "--debug-exit"])
        rc = k.wait(30)
        check("config file with every section kiln implements: exit 33", rc == 33, "status %s, %s" % (rc, k.describe()))
        with open(serial, errors="replace") as fh:
            text = fh.read()
        check("config file: serial section sends the output to the file",
              text.endswith("SUCCESS\n") and "SUCCESS" not in k.output(), repr(text))
        check("config file: boot_args, initrd_path and mem_size_mib reach the guest",
              re.search(r"(?m)^cmdline=.*mb_hello\.elf hello world$", text) and "mods=1\n" in text
              and "mem_upper=64512\n" in text, repr(text))
        with open(log, errors="replace") as fh:
            check("config file: logger section fills the log file", fh.read().strip() != "")

    with Kiln() as k:
        f = write_config(k, {"boot-source": {"kernel_image_path": guest("mb_echo.elf")},
                             "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}})
        k.start(["--config-file", f, "--api-sock", k.sock, "--debug-exit"], stdin="pipe")
        if check("--config-file with --api-sock: kiln listens", k.wait_socket(), k.describe()):
            k.wait_output(lambda o: "echo: ready\n" in o)
            state_is(k, "Running", "--config-file with --api-sock: GET / says Running")
            bs = get_json(k, "/vm/config").get("boot-source") or {}
            check("--config-file with --api-sock: GET /vm/config shows the file's kernel",
                  bs.get("kernel_image_path") == guest("mb_echo.elf"), repr(bs))
            expect_400(k, "--config-file with --api-sock: InstanceStart -> 400 (already started)", "PUT",
                       "/actions", {"action_type": "InstanceStart"})
            finish_echo_guest(k, "--config-file with --api-sock")


CONFIG_ERRORS = [
    # name, config (dict or raw text), a regex the one line must match besides naming the file
    ("unknown top-level key", {"boot-source": {"kernel_image_path": "@hello"}, "boot-sauce": {}}, "boot-sauce"),
    ("unknown field in machine-config", {"boot-source": {"kernel_image_path": "@hello"},
                                         "machine-config": {"vcpu_count": 1, "mem_size_mib": 128,
                                                            "ht_enabled": False}}, "ht_enabled"),
    ("wrong type for vcpu_count", {"boot-source": {"kernel_image_path": "@hello"},
                                   "machine-config": {"vcpu_count": "2", "mem_size_mib": 128}}, "vcpu_count"),
    ("wrong type for boot_args", {"boot-source": {"kernel_image_path": "@hello", "boot_args": 7}}, "boot_args"),
    ("missing kernel_image_path", {"boot-source": {"boot_args": "console=ttyS0"}}, "kernel_image_path"),
    ("missing boot-source", {"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}},
     "boot-source|kernel_image_path"),
    ("missing mem_size_mib", {"boot-source": {"kernel_image_path": "@hello"},
                              "machine-config": {"vcpu_count": 1}}, "mem_size_mib"),
    ("vcpu_count out of range", {"boot-source": {"kernel_image_path": "@hello"},
                                 "machine-config": {"vcpu_count": 255, "mem_size_mib": 128}}, "vcpu_count"),
    ("network-interfaces not an array", {"boot-source": {"kernel_image_path": "@hello"},
                                         "network-interfaces": {"iface_id": "eth0", "host_dev_name": "tap0"}},
     "network-interfaces"),
    ("a bad rate limiter on a network interface",
     {"boot-source": {"kernel_image_path": "@hello"},
      "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                              "rx_rate_limiter": {"bandwidth": {"size": 1000}}}]},
     r"rx_rate_limiter\.bandwidth: missing field 'refill_time'"),
    ("vsock guest_cid 2", {"boot-source": {"kernel_image_path": "@hello"},
                           "vsock": {"guest_cid": 2, "uds_path": "/tmp/kiln-test-v.sock"}},
     r"vsock: guest_cid 2 is reserved"),
    ("vsock without uds_path", {"boot-source": {"kernel_image_path": "@hello"}, "vsock": {"guest_cid": 3}},
     r"vsock: missing field 'uds_path'"),
    ("vsock with a 97-byte uds_path", {"boot-source": {"kernel_image_path": "@hello"},
                                       "vsock": {"guest_cid": 3, "uds_path": "/" + "u" * 96}},
     r"vsock: uds_path '/u{96}' is longer than 96 bytes"),
    ("vsock with an unknown field", {"boot-source": {"kernel_image_path": "@hello"},
                                     "vsock": {"guest_cid": 3, "uds_path": "/tmp/kiln-test-v.sock", "port": 52}},
     r"vsock: unknown field 'port'"),
    ("malformed JSON", '{"boot-source": {"kernel_image_path": ', None),
    ("not a JSON object", "[]", None),
]


def t_config_file_errors():
    hello = guest("hello64.elf")
    for name, cfg, needle in CONFIG_ERRORS:
        with Kiln() as k:
            if isinstance(cfg, dict):
                cfg = json.loads(json.dumps(cfg).replace('"@hello"', json.dumps(hello)))
            f = write_config(k, cfg, "bad-config.json")
            k.start(["--config-file", f, "--debug-exit"])
            rc = k.wait(15)
            err = k.errors()
            ok = rc == 2 and one_line(err) and "bad-config.json" in err and (needle is None or re.search(needle, err))
            check("config file, %s: exit 2, one line naming the file%s" %
                  (name, "" if needle is None else " and " + needle), ok, "status %s, stderr %r" % (rc, err))
            check("config file, %s: nothing on stdout" % name, k.output() == "", repr(k.output()))

    with Kiln() as k:
        missing = k.path("no-such-config.json")
        k.start(["--config-file", missing])
        rc = k.wait(15)
        check("config file that does not exist: exit 2, one line naming it",
              rc == 2 and one_line(k.errors()) and missing in k.errors(), "status %s, %s" % (rc, k.describe()))

    with Kiln() as k:
        k.start(["--config-file", k.dir])
        rc = k.wait(15)
        check("config file that is a directory (unreadable): exit 2, one line naming it",
              rc == 2 and one_line(k.errors()) and k.dir in k.errors(), "status %s, %s" % (rc, k.describe()))

    with Kiln() as k:
        f = write_config(k, {"boot-source": {"kernel_image_path": "/nonexistent/vmlinux.bin"}})
        k.start(["--config-file", f])
        rc = k.wait(15)
        check("config file naming a missing kernel: exit 2, one line naming the kernel",
              rc == 2 and one_line(k.errors()) and "/nonexistent/vmlinux.bin" in k.errors(),
              "status %s, %s" % (rc, k.describe()))

    with Kiln() as k:
        f = write_config(k, {"boot-source": {"kernel_image_path": hello}, "sneaky": 1}, "bad-config.json")
        k.start(["--config-file", f, "--api-sock", k.sock])
        rc = k.wait(15)
        check("bad config file with --api-sock: exit 2 and no socket left behind",
              rc == 2 and not os.path.exists(k.sock), "status %s, %s" % (rc, k.describe()))


# --- pause / resume and metrics ----------------------------------------------------------------

def read_metrics(path):
    with open(path) as f:
        return f.read().splitlines()


def pause_run(count, results):
    """One mb_count run paused in the middle. Appends (name, ok, detail) to results; returns
    "too-fast" if the guest was already done when the pause landed (nothing then checked)."""
    def rec(name, ok, detail=""):
        results.append((name, bool(ok), detail))
        return ok

    with Kiln() as k:
        if not rec("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return None
        metrics = k.touch("metrics.json")
        flushes = 0

        def flush(label):
            nonlocal flushes
            st, _, text = k.api("PUT", "/actions", {"action_type": "FlushMetrics"})
            flushes += 1
            lines = read_metrics(metrics)
            rec("FlushMetrics %s -> 204 and exactly one more line in the metrics file" % label,
                st == 204 and len(lines) == flushes, "HTTP %d %r, %d lines after %d flushes" %
                (st, text, len(lines), flushes))
            try:
                return json.loads(lines[-1])
            except (ValueError, IndexError):
                rec("metrics line %d is a JSON object" % flushes, False, repr(lines[-1:]))
                return {}

        # Two vCPUs: the second sits in KVM_RUN waiting for a SIPI that never comes, and the
        # pause must get it out of there too.
        rec("PUT /machine-config 2 vCPUs", k.api("PUT", "/machine-config",
                                                  {"vcpu_count": 2, "mem_size_mib": 128})[0] == 204)
        rec("PUT /boot-source mb_count count=%d" % count,
            k.api("PUT", "/boot-source", {"kernel_image_path": guest("mb_count.elf"),
                                          "boot_args": "count=%d" % count})[0] == 204)
        rec("PUT /metrics", k.api("PUT", "/metrics", {"metrics_path": metrics})[0] == 204)
        rec("InstanceStart", k.api("PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204)
        rec("mb_count prints its first 20 lines",
            k.wait_output(lambda o: o.count("\n") >= 20, 30) is not None, k.describe())
        m_run = flush("while running")

        st, _, text = k.api("PATCH", "/vm", {"state": "Paused"})
        paused_len = len(k.output())
        out = k.output()
        if "SUCCESS" in out:
            return "too-fast"
        rec('PATCH /vm {"state": "Paused"} in the middle of the run -> 204', st == 204, "HTTP %d %r" % (st, text))
        rec('GET / says "Paused"', k.api("GET", "/")[1] == {"id": "anonymous-instance", "state": "Paused",
                                                             "vmm_version": VERSION, "app_name": "kiln"})
        m_paused1 = flush("while paused")
        time.sleep(1.0)
        m_paused2 = flush("while paused, 1 s later")
        now_len = len(k.output())
        rec("nothing printed while paused (1 s)", now_len == paused_len,
            "%d bytes when the pause returned, %d one second later" % (paused_len, now_len))
        rec("vCPU exit counts do not change while paused",
            counter_total(m_paused1.get("vcpu")) == counter_total(m_paused2.get("vcpu")),
            "%r then %r" % (m_paused1.get("vcpu"), m_paused2.get("vcpu")))

        st, _, text = k.api("PATCH", "/vm", {"state": "Resumed"})
        rec('PATCH /vm {"state": "Resumed"} -> 204', st == 204, "HTTP %d %r" % (st, text))
        rec('GET / says "Running" after the resume', (k.api("GET", "/")[1] or {}).get("state") == "Running")
        lines_at_pause = out.count("\n")
        rec("output continues after the resume",
            k.wait_output(lambda o: o.count("\n") >= lines_at_pause + 20, 20) is not None,
            "%d lines at the pause, %s" % (lines_at_pause, k.describe()))
        m_after = flush("after the resume")
        vr, va = counter_total(m_run.get("vcpu")), counter_total(m_after.get("vcpu"))
        rec("vcpu exit counts grow while the guest prints (%d -> %d)" % (vr, va), va > vr,
            "%r then %r" % (m_run.get("vcpu"), m_after.get("vcpu")))
        sr, sa = counter_total(m_paused2.get("serial")), counter_total(m_after.get("serial"))
        rec("serial counters grow while the guest prints (%d -> %d)" % (sr, sa), sa > sr,
            "%r then %r" % (m_paused2.get("serial"), m_after.get("serial")))

        # Short pauses in quick succession.
        ok = True
        for _ in range(10):
            ok &= k.api("PATCH", "/vm", {"state": "Paused"})[0] == 204
            time.sleep(0.02)
            ok &= k.api("PATCH", "/vm", {"state": "Resumed"})[0] == 204
        rec("10 more pause/resume pairs in quick succession -> 204 each", ok)

        lines = read_metrics(metrics)
        objs = []
        for line in lines:
            try:
                objs.append(json.loads(line))
            except ValueError:
                objs.append(None)
        now_ms = time.time() * 1000
        rec("every metrics line is a JSON object with utc_timestamp_ms, vcpu, serial and error counters",
            all(metrics_line_ok(o) for o in objs), short(repr(lines), 1000))
        stamps = [o.get("utc_timestamp_ms") for o in objs if isinstance(o, dict)]
        rec("utc_timestamp_ms is the wall clock in ms and never goes back",
            stamps and all(isinstance(s, int) and abs(s - now_ms) < 600000 for s in stamps)
            and stamps == sorted(stamps), repr(stamps))

        rc = k.wait(180)
        out = k.output()
        want = "".join("count %d\n" % i for i in range(count)) + "SUCCESS\n"
        rec("mb_count exits 33 after the pauses", rc == 33, "status %s, stderr %r" % (rc, short(k.errors())))
        if out == want:
            rec("output is exactly 'count 0' .. 'count %d' then SUCCESS: no gap, no duplicate" % (count - 1), True)
        else:
            got, exp = out.splitlines(), want.splitlines()
            i = next((i for i in range(min(len(got), len(exp))) if got[i] != exp[i]), min(len(got), len(exp)))
            rec("output is exactly 'count 0' .. 'count %d' then SUCCESS: no gap, no duplicate" % (count - 1), False,
                "%d lines, first difference at line %d: got %r, expected %r" %
                (len(got), i, got[i:i + 3], exp[i:i + 3]))
        rec("socket removed after the guest stopped", not os.path.exists(k.sock))
    return "done"


def t_pause_resume():
    # About 0.5 ms per line on the development host (each byte costs two VM exits): 4000 lines
    # run for ~2 s. A faster host may finish before the pause lands: then 10 times as many.
    for count in (4000, 40000):
        results = []
        r = pause_run(count, results)
        if r != "too-fast":
            for name, ok, detail in results:
                check(name, ok, detail)
            return
    check("mb_count paused in the middle of its run", False, "it finished before the pause even with count=40000")


# --- snapshots (docs/snapshot.md) -----------------------------------------------------------------

def snap_file(sections, version=1, arch=b"x86_64"):
    """A state file as docs/snapshot.md lays it out: header, named sections, CRC-32 (zlib's)."""
    body = b""
    for name, data in sections:
        body += name.encode().ljust(24, b"\0") + struct.pack("<Q", len(data))
        body += data + b"\0" * (-len(data) % 8)
    size = 64 + len(body) + 8
    head = b"KILNSNAP" + struct.pack("<II", version, 64) + arch.ljust(16, b"\0")
    head += struct.pack("<QI", size, len(sections)) + b"\0" * 20
    data = head + body
    return data + struct.pack("<I", zlib.crc32(data)) + b"KEND"


def snap_vm_section(vcpus=1, mem_mib=16, devices=0):
    """Section "vm": nr_vcpus, nr_devices, mem_size, irqchip (split), debug_exit, its port,
    virtio discovery."""
    return struct.pack("<IIQIIII", vcpus, devices, mem_mib << 20, 0, 1, 0xf4, 0)


def snap_load_body(snap, mem, resume=True, legacy=False):
    if legacy:
        return {"snapshot_path": snap, "mem_file_path": mem, "resume_vm": resume}
    return {"snapshot_path": snap, "mem_backend": {"backend_type": "File", "backend_path": mem},
            "resume_vm": resume}


def uffd_load_body(snap, sock, resume=True):
    return {"snapshot_path": snap, "mem_backend": {"backend_type": "Uffd", "backend_path": sock},
            "resume_vm": resume}


class UffdHandler:
    """tools/uffd_handler.c serving MEM on SOCK (one VM); started, then waited for."""

    def __init__(self, sock, mem):
        self.proc = subprocess.Popen([ARGS.uffd_handler, sock, mem], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True)
        self.result = None
        self.ready = self.proc.stdout.readline().strip() == b"ready"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Exit status and stderr; killed if it did not exit within 10 s of kiln. Once."""
        if self.result is not None:
            return self.result
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        err = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.result = (rc, err)
        return self.result


def t_snapshot_refusals():
    """Every refusal of a load, on one fresh process: each leaves it able to take the next."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        cfg = json.dumps({"boot-source": {"kernel_image_path": guest("mb_count.elf"), "boot_args": None,
                                          "initrd_path": None},
                          "machine-config": {"vcpu_count": 1, "mem_size_mib": 16}}).encode()
        cfg_rng = json.dumps({"boot-source": {"kernel_image_path": guest("mb_count.elf")},
                              "machine-config": {"vcpu_count": 1, "mem_size_mib": 16}, "entropy": {}}).encode()
        good = snap_file([("config", cfg), ("vm", snap_vm_section())])
        files = {
            "good": good,
            "truncated": good[:len(good) - 20],
            "corrupted": good[:70] + bytes([good[70] ^ 1]) + good[71:],
            "version": snap_file([("config", cfg), ("vm", snap_vm_section())], version=2),
            "arch": snap_file([("config", cfg), ("vm", snap_vm_section())], arch=b"aarch64"),
            "no-config": snap_file([("vm", snap_vm_section())]),
            "mismatch": snap_file([("config", cfg), ("vm", snap_vm_section(vcpus=2))]),
            "devices": snap_file([("config", cfg_rng), ("vm", snap_vm_section(devices=1))]),
        }
        path = {}
        for name, data in files.items():
            path[name] = k.path(name + ".snap")
            with open(path[name], "wb") as f:
                f.write(data)
        mem_small = k.path("small.mem")
        with open(mem_small, "wb") as f:
            f.truncate(1 << 20)
        mem_ok = k.path("ok.mem")
        with open(mem_ok, "wb") as f:
            f.truncate(16 << 20)

        expect_400(k, "PUT /snapshot/create before boot -> 400", "PUT", "/snapshot/create",
                   {"snapshot_path": k.path("x.snap"), "mem_file_path": k.path("x.mem")},
                   pattern="not supported before starting")
        expect_400(k, "PUT /snapshot/create snapshot_type Diff before boot -> 400",
                   "PUT", "/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": k.path("x.snap"),
                                               "mem_file_path": k.path("x.mem")}, pattern="not supported before starting")
        expect_400(k, "PUT /snapshot/create snapshot_type Half -> 400 naming it", "PUT", "/snapshot/create",
                   {"snapshot_type": "Half", "snapshot_path": k.path("x.snap"), "mem_file_path": k.path("x.mem")},
                   pattern="'Half' is not Full or Diff")
        # The Uffd backend: the handler's socket is checked first, so these refusals are the
        # same on a host without /dev/kvm or userfaultfd.
        expect_400(k, "PUT /snapshot/load, Uffd backend, no socket at backend_path -> 400 naming it",
                   "PUT", "/snapshot/load", uffd_load_body(path["good"], k.path("none.sock")),
                   pattern=r"page-fault handler socket '.*none\.sock': cannot connect: No such file")
        expect_400(k, "PUT /snapshot/load, Uffd backend, backend_path a regular file -> 400",
                   "PUT", "/snapshot/load", uffd_load_body(path["good"], mem_ok),
                   pattern=r"ok\.mem': cannot connect: Connection refused")
        stale = k.path("stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()  # what a handler that exited leaves behind
        expect_400(k, "PUT /snapshot/load, Uffd backend, a socket nobody listens on -> 400",
                   "PUT", "/snapshot/load", uffd_load_body(path["good"], stale),
                   pattern=r"stale\.sock': cannot connect: Connection refused \(is the handler listening")
        # A handler that never accepts: its backlog is full, kiln refuses rather than wait.
        busy = k.path("busy.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(busy)
        s.listen(0)
        fillers = []
        for _ in range(4):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(busy)
            except OSError:
                c.close()
                break
            fillers.append(c)
        expect_400(k, "PUT /snapshot/load, Uffd backend, a handler that does not accept -> 400 at once",
                   "PUT", "/snapshot/load", uffd_load_body(path["good"], busy),
                   pattern=r"busy\.sock': cannot connect: .*does not accept connections")
        for c in fillers + [s]:
            c.close()
        expect_400(k, "PUT /snapshot/load, backend_type Ufd -> 400 naming it", "PUT", "/snapshot/load",
                   {"snapshot_path": path["good"], "mem_backend": {"backend_type": "Ufd", "backend_path": stale}},
                   pattern="'Ufd' is not File or Uffd")
        expect_400(k, "PUT /snapshot/load without a memory backend -> 400", "PUT", "/snapshot/load",
                   {"snapshot_path": path["good"]}, pattern="mem_backend")
        expect_400(k, "PUT /snapshot/load with mem_backend and mem_file_path -> 400", "PUT", "/snapshot/load",
                   dict(snap_load_body(path["good"], mem_ok), mem_file_path=mem_ok), pattern="not both")
        expect_400(k, "PUT /snapshot/load with a network_overrides iface_id the snapshot lacks -> 400 naming it",
                   "PUT", "/snapshot/load", dict(snap_load_body(path["good"], mem_ok),
                                                 network_overrides=[{"iface_id": "eth0", "host_dev_name": "t"}]),
                   pattern="network_overrides: the snapshot has no interface with iface_id 'eth0'")
        expect_400(k, "PUT /snapshot/load with a vsock_override for a snapshot without vsock -> 400",
                   "PUT", "/snapshot/load", dict(snap_load_body(path["good"], mem_ok),
                                                 vsock_override={"uds_path": k.path("v.sock")}),
                   pattern="vsock_override: the snapshot has no vsock device")
        expect_400(k, "PUT /snapshot/load with a malformed network_overrides entry -> 400 naming the field",
                   "PUT", "/snapshot/load", dict(snap_load_body(path["good"], mem_ok),
                                                 network_overrides=[{"iface_id": "eth0"}]),
                   pattern=r"network_overrides\[0\].*host_dev_name")
        expect_400(k, "PUT /snapshot/load of a missing file -> 400 naming it", "PUT", "/snapshot/load",
                   snap_load_body(k.path("none.snap"), mem_ok), pattern="none.snap.*cannot open")
        for name, pattern in [("truncated", "truncated"), ("corrupted", "corrupted: checksum mismatch"),
                              ("version", "format version 2, this kiln reads version 1"),
                              ("arch", "architecture 'aarch64'"), ("no-config", "section 'config' is missing"),
                              ("mismatch", "does not match the configuration"),
                              ("devices", "section 'virtio' is missing")]:
            expect_400(k, "PUT /snapshot/load of a %s state file -> 400 saying so" % name, "PUT", "/snapshot/load",
                       snap_load_body(path[name], mem_ok), pattern=pattern)
        expect_400(k, "PUT /snapshot/load with a memory file of the wrong size -> 400 giving both sizes",
                   "PUT", "/snapshot/load", snap_load_body(path["good"], mem_small, legacy=True),
                   pattern="has 1048576 bytes, the snapshot's guest has 16777216")
        # Past every check of the file: the build itself refuses (no vCPU state in the file; on a
        # host without /dev/kvm, KVM cannot be opened), after the configuration was swapped in.
        expect_400(k, "PUT /snapshot/load of a state file without vCPU state -> 400", "PUT", "/snapshot/load",
                   snap_load_body(path["good"], mem_ok), pattern=r"section '(vcpu0|x86.cpuid)' is missing|/dev/kvm|KVM")
        # The refusals changed nothing: still a fresh process with no boot-source, and one more
        # refusal is still judged on its own merits.
        state_is(k, "Not started", "GET / still says Not started after the refused loads")
        check("GET /vm/config has no boot-source after the refused loads",
              get_json(k, "/vm/config").get("boot-source") is None)
        expect_400(k, "one more load (wrong architecture) after all those -> 400 saying so", "PUT",
                   "/snapshot/load", snap_load_body(path["arch"], mem_ok), pattern="architecture 'aarch64'")
        expect_204(k, "PUT /boot-source afterwards -> 204 (the process is still fresh)", "PUT", "/boot-source",
                   {"kernel_image_path": guest("mb_count.elf")})
        expect_400(k, "PUT /snapshot/load after a boot-source -> 400 (only on a fresh kiln)", "PUT",
                   "/snapshot/load", snap_load_body(path["good"], mem_ok), pattern="fresh")
        check("kiln is still running after every refusal", k.alive(), k.describe())


def counting(text):
    """(lines, ok, detail): the complete lines of snap_count's output must be "count 0",
    "count 1", ... with no gap and no repeat; the last line may be cut short."""
    lines = text.split("\n")
    whole = lines[:-1]
    for i, line in enumerate(whole):
        if line != "count %d" % i:
            return len(whole), False, "line %d is %r (then %r)" % (i, line, whole[i + 1:i + 3])
    return len(whole), True, ""


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def t_snapshot_restore(vcpus):
    tag = "-c %d: " % vcpus
    work = tempfile.mkdtemp(prefix="kiln-snap.", dir="/tmp")
    snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")
    snap2, mem2 = os.path.join(work, "vm2.snap"), os.path.join(work, "vm2.mem")
    try:
        with Kiln() as k:
            if not check(tag + "kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            # With two vCPUs they take turns: every second line is the second vCPU's.
            configure(k, guest("snap_count.elf"), "cpus=%d" % vcpus, vcpus=vcpus, mem=32, name=tag)
            instance_start(k)
            check(tag + "snap_count prints its first 20 lines",
                  k.wait_output(lambda o: o.count("\n") >= 20, 60) is not None, k.describe())
            expect_400(k, tag + "PUT /snapshot/create on a running VM -> 400 (pause first)", "PUT",
                       "/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem}, pattern="paused first")
            st, _, text = k.api("PATCH", "/vm", {"state": "Paused"})
            check(tag + "PATCH /vm Paused in the middle of the count -> 204", st == 204, text)
            expect_204(k, tag + "PUT /snapshot/create Full -> 204", "PUT", "/snapshot/create",
                       {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
            before = k.output()
            os.kill(k.proc.pid, signal.SIGKILL)
            k.wait(10)
        n1, ok, detail = counting(before)
        check(tag + "the first process counted 0..%d before the snapshot" % (n1 - 1), ok and n1 >= 20, detail)
        check(tag + "the memory file holds the guest's 32 MiB", os.path.getsize(mem) == 32 << 20,
              "%d bytes" % os.path.getsize(mem))
        mem_sum = md5(mem)

        with Kiln() as k:
            if not check(tag + "a new kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            short_mem = os.path.join(work, "short.mem")
            with open(short_mem, "wb") as f:
                f.truncate(16 << 20)
            expect_400(k, tag + "PUT /snapshot/load with a memory file of the wrong size -> 400", "PUT",
                       "/snapshot/load", snap_load_body(snap, short_mem), pattern="has 16777216 bytes")
            expect_204(k, tag + "then PUT /snapshot/load (File backend, resume_vm) in the same process -> 204",
                       "PUT", "/snapshot/load", snap_load_body(snap, mem))
            state_is(k, "Running", tag + "GET / says Running after the load with resume_vm")
            after = k.wait_output(lambda o: o.count("\n") >= 20, 60)
            check(tag + "the restored guest prints 20 more lines", after is not None, k.describe())
            # A restored VM can be saved again, but never over the file its memory comes from.
            expect_204(k, tag + "PATCH /vm Paused on the restored VM -> 204", "PATCH", "/vm", {"state": "Paused"})
            expect_400(k, tag + "PUT /snapshot/create over the memory file it was restored from -> 400", "PUT",
                       "/snapshot/create", {"snapshot_path": snap2, "mem_file_path": mem},
                       pattern="memory file this VM was restored from")
            expect_204(k, tag + "PUT /snapshot/create of the restored VM to new files -> 204", "PUT",
                       "/snapshot/create", {"snapshot_path": snap2, "mem_file_path": mem2})
            after = k.output()
            k.kill()
        n, ok, detail = counting(before + after)
        check(tag + "restored output continues from the exact next number: 0..%d, no gap, no repeat"
              % (n - 1), ok and n >= n1 + 19, detail + " (first process: %r, second: %r)" %
              (before[-30:], after[:40]))
        check(tag + "the memory file is unchanged after the restored guest ran (MAP_PRIVATE)",
              md5(mem) == mem_sum)

        with Kiln() as k:
            if not check(tag + "a third kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            expect_204(k, tag + "PUT /snapshot/load without resume_vm -> 204", "PUT", "/snapshot/load",
                       snap_load_body(snap, mem, resume=False, legacy=True))
            state_is(k, "Paused", tag + "GET / says Paused after a load without resume_vm")
            time.sleep(0.5)
            check(tag + "nothing printed while the restored VM stays paused", k.output() == "", k.describe())
            expect_204(k, tag + "PATCH /vm Resumed -> 204", "PATCH", "/vm", {"state": "Resumed"})
            check(tag + "the resumed clone prints 10 lines",
                  k.wait_output(lambda o: o.count("\n") >= 10, 60) is not None, k.describe())
            third = k.output()
            k.kill()
        n, ok, detail = counting(before + third)
        check(tag + "a second restore from the same files continues from the same number", ok and n >= n1 + 9,
              detail)

        with Kiln() as k:
            k.start(["run", "--restore", snap, "--mem-file", mem])
            check(tag + "kiln run --restore prints 10 lines", k.wait_output(lambda o: o.count("\n") >= 10, 60)
                  is not None, k.describe())
            cli_out = k.output()
            k.kill()
        n, ok, detail = counting(before + cli_out)
        check(tag + "kiln run --restore continues from the same number", ok and n >= n1 + 9, detail)

        with Kiln() as k:
            if not check(tag + "a fourth kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            expect_204(k, tag + "PUT /snapshot/load of the snapshot of the restored VM -> 204", "PUT",
                       "/snapshot/load", snap_load_body(snap2, mem2))
            check(tag + "it prints 10 lines", k.wait_output(lambda o: o.count("\n") >= 10, 60) is not None,
                  k.describe())
            fourth = k.output()
            k.kill()
        n, ok, detail = counting(before + after + fourth)
        n2 = (before + after).count("\n")
        check(tag + "a restore of a restored VM's snapshot continues where that one stopped",
              ok and n >= n2 + 9, detail)

        snapshot_uffd(tag, work, snap, mem, before, mem_sum)
        if vcpus == 1:
            snapshot_clones(tag, snap, mem, before, mem_sum)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def snapshot_uffd(tag, work, snap, mem, before, mem_sum):
    """The Uffd backend: tools/uffd_handler.c serves the memory file, the guest counts on; then
    kiln run --restore --mem-uffd does the same."""
    sock = os.path.join(work, "uffd.sock")
    with Kiln() as k, UffdHandler(sock, mem) as h:
        if not check(tag + "the reference page-fault handler listens", h.ready):
            return
        if not check(tag + "a kiln --api-sock for the Uffd restore starts", k.start_api(), k.describe()):
            return
        expect_204(k, tag + "PUT /snapshot/load with the Uffd backend (resume_vm) -> 204", "PUT",
                   "/snapshot/load", uffd_load_body(snap, sock))
        check(tag + "the handler got the handshake (one region, 32 MiB, Firecracker's fields)",
              h.proc.stdout.readline().strip() == b"serving 1 regions")
        state_is(k, "Running", tag + "GET / says Running after the Uffd load")
        check(tag + "the Uffd-restored guest prints 20 lines",
              k.wait_output(lambda o: o.count("\n") >= 20, 60) is not None, k.describe())
        # Saving it reads every page from kiln's own thread: the pages not touched yet come
        # from the handler too.
        expect_204(k, tag + "PATCH /vm Paused on the Uffd-restored VM -> 204", "PATCH", "/vm", {"state": "Paused"})
        snap3, mem3 = os.path.join(work, "uffd.snap"), os.path.join(work, "uffd.mem")
        expect_204(k, tag + "PUT /snapshot/create of the Uffd-restored VM -> 204", "PUT", "/snapshot/create",
                   {"snapshot_path": snap3, "mem_file_path": mem3})
        uffd_out = k.output()
        k.kill()
        rc, err = h.stop()
        check(tag + "the handler exits 0 once kiln is gone, having served faults",
              rc == 0 and re.search(r"served [1-9]\d* faults", err), "rc %r, stderr %r" % (rc, err))
    n, ok, detail = counting(before + uffd_out)
    check(tag + "Uffd restore continues from the exact next number: 0..%d, no gap, no repeat" % (n - 1),
          ok and n >= before.count("\n") + 19, detail)
    check(tag + "the memory file is unchanged after the Uffd restore", md5(mem) == mem_sum)
    with Kiln() as k:
        if not check(tag + "a kiln --api-sock for the snapshot of the Uffd-restored VM starts", k.start_api(),
                     k.describe()):
            return
        expect_204(k, tag + "PUT /snapshot/load (File) of the Uffd-restored VM's snapshot -> 204", "PUT",
                   "/snapshot/load", snap_load_body(snap3, mem3))
        check(tag + "it prints 10 lines", k.wait_output(lambda o: o.count("\n") >= 10, 60) is not None,
              k.describe())
        again = k.output()
        k.kill()
    n, ok, detail = counting(before + uffd_out + again)
    check(tag + "it continues where the Uffd-restored VM was saved", ok and n >= (before + uffd_out).count("\n") + 9,
          detail)

    with Kiln() as k, UffdHandler(sock, mem) as h:
        if not check(tag + "the handler listens again", h.ready):
            return
        k.start(["run", "--restore", snap, "--mem-uffd", sock])
        check(tag + "kiln run --restore --mem-uffd prints 10 lines",
              k.wait_output(lambda o: o.count("\n") >= 10, 60) is not None, k.describe())
        cli_out = k.output()
        k.kill()
    n, ok, detail = counting(before + cli_out)
    check(tag + "kiln run --restore --mem-uffd continues from the same number", ok and n >= before.count("\n") + 9,
          detail)

    # A handler that dies while the VM runs: the guest's next fault would wait forever, so kiln
    # watches the handler (a pidfd of its SO_PEERCRED pid) and ends, naming it.
    with Kiln() as k, UffdHandler(sock, mem) as h:
        if not check(tag + "the handler listens once more", h.ready):
            return
        k.start(["run", "--restore", snap, "--mem-uffd", sock])
        check(tag + "kiln run --restore --mem-uffd prints 5 lines before the handler dies",
              k.wait_output(lambda o: o.count("\n") >= 5, 60) is not None, k.describe())
        h.proc.kill()
        rc = k.wait(20)
        want = "the page-fault handler (pid %d, socket '%s') exited: guest memory can no longer be served" % (
            h.proc.pid, sock)
        check(tag + "kiln ends with status 6 within 20 s of the handler's death, naming it on stderr",
              rc == 6 and want in k.errors(), "status %r, stderr %r" % (rc, k.errors()[-300:]))


def free_tcp_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_accepts(port):
    """Whether 127.0.0.1:port accepts a TCP connection."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return True
    except OSError:
        return False


def t_snapshot_net_user():
    """A user-mode network interface (--net user) is saved as its configuration (kiln_net in the
    state file's document) and rebuilt by the restoring process: a fresh libslirp, its port
    forwards listening again there (libslirp's connections are not saved: docs/snapshot.md).
    The guest continues its count from the exact next number; a network_overrides entry for it
    is refused, naming it."""
    work = tempfile.mkdtemp(prefix="kiln-snapnet.", dir="/tmp")
    snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")
    port = free_tcp_port()
    fwd = "hostfwd=tcp:127.0.0.1:%d-:22" % port
    try:
        with Kiln() as k:
            k.start(["run", "--debug-exit", "-m", "32", "-k", guest("snap_count.elf"), "--net", "user," + fwd,
                     "--api-sock", k.sock])
            if not check("net user: kiln run --net user,%s --api-sock listens" % fwd, k.wait_socket(), k.describe()):
                return
            check("net user: snap_count prints", k.wait_output(lambda o: o.count("\n") >= 5, 60) is not None,
                  k.describe())
            check("net user: the forward accepts on 127.0.0.1:%d" % port, tcp_accepts(port))
            nets = get_json(k, "/vm/config").get("network-interfaces") or [{}]
            check("net user: GET /vm/config shows it as kiln_net, in --net's syntax",
                  nets[0].get("kiln_net") == "user,net=10.0.2.0/24," + fwd and "host_dev_name" not in nets[0],
                  repr(nets))
            expect_204(k, "net user: PATCH /vm Paused -> 204", "PATCH", "/vm", {"state": "Paused"})
            expect_204(k, "net user: PUT /snapshot/create with a user-mode interface -> 204", "PUT",
                       "/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem})
            before = k.output()
            k.kill()
        n1, ok, detail = counting(before)
        check("net user: the first process counted 0..%d" % (n1 - 1), ok and n1 >= 5, detail)
        check("net user: the forward's port is free once that process is gone", not tcp_accepts(port))
        with Kiln() as k:
            if not check("net user: a new kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            expect_400(k, "net user: PUT /snapshot/load without --seccomp-allow-inet -> 400 naming it", "PUT",
                       "/snapshot/load", snap_load_body(snap, mem),
                       pattern="kiln_net: user-mode networking opens AF_INET sockets, which this kiln's seccomp "
                               "filters forbid: start it with --seccomp-allow-inet")
            state_is(k, "Not started", "net user: the refused load left the process not started")
        with Kiln() as k:
            if not check("net user: a new kiln --api-sock --seccomp-allow-inet starts and listens",
                         k.start_api(["--seccomp-allow-inet"]), k.describe()):
                return
            expect_400(k, "net user: PUT /snapshot/load overriding the user-mode interface -> 400", "PUT",
                       "/snapshot/load",
                       dict(snap_load_body(snap, mem), network_overrides=[{"iface_id": "eth0", "host_dev_name": "t0"}]),
                       pattern="network_overrides: interface 'eth0' is user-mode \\(kiln_net\\): it has no "
                               "host_dev_name to override")
            expect_204(k, "net user: then PUT /snapshot/load -> 204", "PUT", "/snapshot/load", snap_load_body(snap, mem))
            after = k.wait_output(lambda o: o.count("\n") >= 10, 60)
            check("net user: the restored guest prints 10 more lines", after is not None, k.describe())
            check("net user: the restored process's libslirp forwards 127.0.0.1:%d again" % port, tcp_accepts(port))
            nets = get_json(k, "/vm/config").get("network-interfaces") or [{}]
            check("net user: the restored process reports the same kiln_net",
                  nets[0].get("kiln_net") == "user,net=10.0.2.0/24," + fwd, repr(nets))
            after = k.output()
            k.kill()
        n, ok, detail = counting(before + after)
        check("net user: the count goes on from the exact next number: 0..%d, no gap, no repeat" % (n - 1),
              ok and n >= n1 + 10, detail)
    finally:
        shutil.rmtree(work, ignore_errors=True)


SNAP_VIO_BUS = "virtio=0xd0000000,0x1000,16"


def t_snapshot_virtio():
    """snap_vio counts through virtio-blk and virtio-rng (a disk write and read per number, two
    requests in flight): paused in the middle of its I/O, saved, killed, restored in a new
    process (with a vsock_override for its vsock device), it continues from the exact next
    number, and reads back the disk write it made before the snapshot."""
    work = tempfile.mkdtemp(prefix="kiln-snapvio.", dir="/tmp")
    p = lambda name: os.path.join(work, name)
    snap, mem, disk = p("vm.snap"), p("vm.mem"), p("disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    try:
        with Kiln() as k:
            if not check("virtio: kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            configure(k, guest("snap_vio.elf"), SNAP_VIO_BUS + " rng", mem=32, name="virtio: ")
            expect_204(k, "virtio: PUT /drives/disk0 -> 204", "PUT", "/drives/disk0",
                       {"drive_id": "disk0", "path_on_host": disk, "is_root_device": False,
                        "is_read_only": False})
            expect_204(k, "virtio: PUT /entropy -> 204", "PUT", "/entropy", {})
            expect_204(k, "virtio: PUT /vsock -> 204", "PUT", "/vsock",
                       {"guest_cid": 3, "uds_path": p("v1.sock")})
            instance_start(k)
            check("virtio: snap_vio prints its first 20 lines",
                  k.wait_output(lambda o: o.count("\n") >= 20, 90) is not None, k.describe())
            expect_204(k, "virtio: PATCH /vm Paused in the middle of the disk I/O -> 204", "PATCH", "/vm",
                       {"state": "Paused"})
            expect_204(k, "virtio: PUT /snapshot/create Full with virtio-blk, rng and vsock -> 204", "PUT",
                       "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
            before = k.output()
            os.kill(k.proc.pid, signal.SIGKILL)
            k.wait(10)
        n1, ok, detail = counting(before)
        check("virtio: the first process counted 0..%d before the snapshot" % (n1 - 1), ok and n1 >= 20, detail)
        shutil.copy(disk, p("disk.saved"))

        with Kiln() as k:
            if not check("virtio: a new kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            expect_400(k, "virtio: PUT /snapshot/load with an unknown iface_id in network_overrides -> 400",
                       "PUT", "/snapshot/load",
                       dict(snap_load_body(snap, mem), network_overrides=[{"iface_id": "eth9", "host_dev_name": "t9"}]),
                       pattern="network_overrides: the snapshot has no interface with iface_id 'eth9'")
            expect_204(k, "virtio: then PUT /snapshot/load with a vsock_override -> 204", "PUT", "/snapshot/load",
                       dict(snap_load_body(snap, mem), vsock_override={"uds_path": p("v2.sock")},
                            network_overrides=[]))
            check("virtio: the restored vsock device listens on the overriding uds_path",
                  os.path.exists(p("v2.sock")), k.describe())
            check("virtio: GET /vm/config shows the overriding uds_path",
                  (get_json(k, "/vm/config").get("vsock") or {}).get("uds_path") == p("v2.sock"))
            after = k.wait_output(lambda o: o.count("\n") >= 20, 90)
            check("virtio: the restored guest prints 20 more lines", after is not None, k.describe())
            after = k.output()
            k.kill()
        n, ok, detail = counting(before + after)
        check("virtio: restored output continues from the exact next number, each disk read matching: "
              "0..%d, no gap, no repeat" % (n - 1), ok and n >= n1 + 19 and "FAIL" not in after,
              detail + " (first process: %r, second: %r)" % (before[-30:], after[:80]))

        # A clone from the same files, on the disk as it was at the snapshot.
        shutil.copy(p("disk.saved"), disk)
        with Kiln() as k:
            k.start(["run", "--restore", snap, "--mem-file", mem])
            check("virtio: kiln run --restore prints 10 lines", k.wait_output(lambda o: o.count("\n") >= 10, 90)
                  is not None, k.describe())
            third = k.output()
            k.kill()
        n, ok, detail = counting(before + third)
        check("virtio: kiln run --restore continues from the same number", ok and n >= n1 + 9
              and "FAIL" not in third, detail)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def snapshot_clones(tag, snap, mem, before, mem_sum, nr=10):
    """nr processes restore the same files at once; each continues the count on its own."""
    kilns = [Kiln() for _ in range(nr)]
    try:
        started = [k.start_api() for k in kilns]
        if not check(tag + "%d more kiln --api-sock processes start" % nr, all(started)):
            return
        results = [None] * nr

        def load(i):
            results[i] = kilns[i].api("PUT", "/snapshot/load", snap_load_body(snap, mem), timeout=60)[0]

        threads = [threading.Thread(target=load, args=(i,)) for i in range(nr)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(tag + "%d concurrent PUT /snapshot/load of the same files -> 204 each" % nr,
              results == [204] * nr, repr(results))
        bad = []
        for i, k in enumerate(kilns):
            out = k.wait_output(lambda o: o.count("\n") >= 10, 120) or k.output()
            n, ok, detail = counting(before + out)
            if not ok or n < len(before.split("\n")) + 8:
                bad.append("clone %d: %s %r" % (i, detail, out[:60]))
        check(tag + "each of the %d clones continues the count from the saved number" % nr, not bad,
              "; ".join(bad))
    finally:
        for k in kilns:
            k.__exit__(None, None, None)
    check(tag + "the memory file is unchanged after %d clones ran (MAP_PRIVATE)" % nr, md5(mem) == mem_sum)


def t_snapshot_diff():
    """A Diff snapshot over a copy of the previous memory file equals a Full one taken at the
    same moment, byte for byte, and restores to the exact next number."""
    work = tempfile.mkdtemp(prefix="kiln-diff.", dir="/tmp")
    p = lambda name: os.path.join(work, name)
    try:
        with Kiln() as k:
            if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            expect_204(k, "PUT /machine-config with track_dirty_pages -> 204", "PUT", "/machine-config",
                       {"vcpu_count": 1, "mem_size_mib": 32, "track_dirty_pages": True})
            expect_204(k, "PUT /boot-source snap_count", "PUT", "/boot-source",
                       {"kernel_image_path": guest("snap_count.elf")})
            instance_start(k)
            check("snap_count prints 20 lines", k.wait_output(lambda o: o.count("\n") >= 20, 60) is not None)
            expect_204(k, "PATCH /vm Paused -> 204", "PATCH", "/vm", {"state": "Paused"})
            expect_204(k, "PUT /snapshot/create Full (the base) -> 204", "PUT", "/snapshot/create",
                       {"snapshot_type": "Full", "snapshot_path": p("base.snap"), "mem_file_path": p("base.mem")})
            n = k.output().count("\n")
            expect_204(k, "PATCH /vm Resumed -> 204", "PATCH", "/vm", {"state": "Resumed"})
            check("20 more lines", k.wait_output(lambda o: o.count("\n") >= n + 20, 60) is not None)
            expect_204(k, "PATCH /vm Paused again -> 204", "PATCH", "/vm", {"state": "Paused"})
            shutil.copyfile(p("base.mem"), p("diff.mem"))
            with open(p("odd.mem"), "wb") as f:
                f.write(b"x")
            expect_400(k, "PUT /snapshot/create Diff over a file of another size -> 400", "PUT",
                       "/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": p("bad.snap"),
                                            "mem_file_path": p("odd.mem")}, pattern="a Diff snapshot writes over")
            expect_204(k, "PUT /snapshot/create Diff over a copy of the base memory file -> 204", "PUT",
                       "/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": p("diff.snap"),
                                            "mem_file_path": p("diff.mem")})
            expect_204(k, "PUT /snapshot/create Full at the same moment -> 204", "PUT", "/snapshot/create",
                       {"snapshot_type": "Full", "snapshot_path": p("full.snap"), "mem_file_path": p("full.mem")})
            before = k.output()
            k.kill()
        check("base + diff equals the Full snapshot's memory file byte for byte",
              md5(p("diff.mem")) == md5(p("full.mem")))
        check("the Diff changed the copy of the base memory file (the guest wrote pages since the base)",
              md5(p("diff.mem")) != md5(p("base.mem")))
        with Kiln() as k:
            if not check("a new kiln --api-sock starts and listens", k.start_api(), k.describe()):
                return
            expect_204(k, "PUT /snapshot/load of the Diff (base + diff) -> 204", "PUT", "/snapshot/load",
                       dict(snap_load_body(p("diff.snap"), p("diff.mem")), enable_diff_snapshots=True))
            check("it prints 10 lines", k.wait_output(lambda o: o.count("\n") >= 10, 60) is not None, k.describe())
            after = k.output()
            k.kill()
        n, ok, detail = counting(before + after)
        check("the restore from base + diff continues from the exact next number", ok and
              n >= before.count("\n") + 9, detail)
        with Kiln() as k:
            if not check("one more kiln --api-sock", k.start_api(), k.describe()):
                return
            configure(k, guest("snap_count.elf"), None, mem=32)
            instance_start(k)
            check("snap_count prints", k.wait_output(lambda o: o.count("\n") >= 5, 60) is not None)
            expect_204(k, "PATCH /vm Paused -> 204", "PATCH", "/vm", {"state": "Paused"})
            expect_400(k, "PUT /snapshot/create Diff without track_dirty_pages -> 400 saying so", "PUT",
                       "/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": p("x.snap"),
                                            "mem_file_path": p("x.mem")}, pattern="Diff needs dirty-page tracking")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def t_snapshot_irqchip(mode):
    """mb_echo, idle in hlt between serial interrupts, is saved with either irqchip and restored
    in a new process (which takes the mode from the snapshot): its next input must arrive as an
    interrupt through the restored IOAPIC and local APIC, and its byte count go on."""
    tag = "--irqchip %s: " % mode
    work = tempfile.mkdtemp(prefix="kiln-snap.", dir="/tmp")
    snap, mem = os.path.join(work, "vm.snap"), os.path.join(work, "vm.mem")
    try:
        with Kiln() as k:
            if not check(tag + "kiln --api-sock starts and listens",
                         k.start_api(extra=["--irqchip", mode], stdin="pipe"), k.describe()):
                return
            configure(k, guest("mb_echo.elf"), mem=32, name=tag)
            instance_start(k)
            if not check(tag + "mb_echo prints 'echo: ready'",
                         k.wait_output(lambda o: "echo: ready\n" in o) is not None, k.describe()):
                return
            k.proc.stdin.write(b"ab")
            k.proc.stdin.flush()
            check(tag + "mb_echo echoes 'ab' (serial interrupts)",
                  k.wait_output(lambda o: o.endswith("echo: ready\nab")) is not None, k.describe())
            expect_204(k, tag + "PATCH /vm Paused -> 204", "PATCH", "/vm", {"state": "Paused"})
            expect_204(k, tag + "PUT /snapshot/create Full -> 204", "PUT", "/snapshot/create",
                       {"snapshot_path": snap, "mem_file_path": mem})
            k.kill()
        with open(snap, "rb") as f:
            state = f.read()
        names = [b"x86.irqchip", b"x86.pit"] if mode == "kernel" else [b"ioapic", b"pic"]
        check(tag + "the state file has sections %s" % b", ".join(names).decode(),
              all(n in state for n in names))
        with Kiln() as k:
            if not check(tag + "a new kiln --api-sock starts and listens", k.start_api(stdin="pipe"),
                         k.describe()):
                return
            expect_204(k, tag + "PUT /snapshot/load -> 204", "PUT", "/snapshot/load",
                       snap_load_body(snap, mem))
            k.proc.stdin.write(b"cd")
            k.proc.stdin.flush()
            check(tag + "the restored mb_echo echoes 'cd': its interrupt arrives",
                  k.wait_output(lambda o: o == "cd") is not None, repr(k.output()) + k.describe())
            finish_echo_guest(k, tag + "restored", expect_bytes=5)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def t_snapshot_irqchip_split():
    t_snapshot_irqchip("split")


def t_snapshot_irqchip_kernel():
    t_snapshot_irqchip("kernel")


def t_snapshot_one_vcpu():
    t_snapshot_restore(1)


def t_snapshot_two_vcpus():
    t_snapshot_restore(2)


# --- SendCtrlAltDel --------------------------------------------------------------------------------

KBD_LINES = ["kbd: 0x14", "kbd: 0x11", "kbd: 0xe0", "kbd: 0x71", "kbd: ctrl-alt-del", "SUCCESS"]


def check_kbd_output(name, out):
    lines = out.splitlines()
    check(name + ": the guest read 0x14 0x11 0xe0 0x71 from port 0x60, then printed ctrl-alt-del",
          lines[-6:] == KBD_LINES and "FAIL" not in out, short(out))


def t_ctrl_alt_del():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        configure(k, guest("mb_kbd.elf"))
        instance_start(k)
        if not check("mb_kbd prints 'kbd: ready' (keyboard interrupt enabled)",
                     k.wait_output(lambda o: "kbd: ready\n" in o, 20) is not None, k.describe()):
            return
        time.sleep(0.2)
        check("nothing arrives from the keyboard on its own", k.output().endswith("kbd: ready\n"), repr(k.output()))
        expect_204(k, "SendCtrlAltDel -> 204", "PUT", "/actions", {"action_type": "SendCtrlAltDel"})
        rc = k.wait(30)
        check("mb_kbd exits 33 after SendCtrlAltDel", rc == 33, "status %s, %s" % (rc, k.describe()))
        check_kbd_output("API", k.output())
        check("socket removed", not os.path.exists(k.sock))

    with Kiln() as k:
        k.start(["run", "--debug-exit", "-k", guest("mb_kbd.elf"), "--api-sock", k.sock])
        if not check("kiln run -k mb_kbd --api-sock listens", k.wait_socket(), k.describe()):
            return
        if not check("kiln run: mb_kbd prints 'kbd: ready'", k.wait_output(lambda o: "kbd: ready\n" in o, 20)
                     is not None, k.describe()):
            return
        # Paused, the keys wait in the controller; the guest gets them after the resume.
        expect_204(k, "kiln run: pause", "PATCH", "/vm", {"state": "Paused"})
        expect_204(k, "kiln run: SendCtrlAltDel while paused -> 204", "PUT", "/actions",
                   {"action_type": "SendCtrlAltDel"})
        time.sleep(0.3)
        check("kiln run: nothing printed while paused", k.output().endswith("kbd: ready\n") and k.alive(),
              repr(k.output()))
        expect_204(k, "kiln run: resume", "PATCH", "/vm", {"state": "Resumed"})
        rc = k.wait(30)
        check("kiln run: mb_kbd exits 33 after the resume", rc == 33, "status %s, %s" % (rc, k.describe()))
        check_kbd_output("kiln run, keys sent while paused", k.output())


# --- network interfaces (virtio-net) --------------------------------------------------------------

def vm_config_nets(k):
    return get_json(k, "/vm/config").get("network-interfaces")


def t_network_interfaces():
    """PUT/PATCH /network-interfaces/{id} before boot: Firecracker's fields, replacement in place,
    the order of first PUTs, bad rate limiters refused, and GET /vm/config reporting the interfaces.
    No VM is started: the TAP devices named here do not exist, and kiln opens them only at
    InstanceStart."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        expect_204(k, "PUT /network-interfaces/eth0 with guest_mac -> 204", "PUT", "/network-interfaces/eth0",
                   {"iface_id": "eth0", "guest_mac": "AA:FC:00:00:00:01", "host_dev_name": "tap0"})
        expect_204(k, "PUT /network-interfaces/net1 with null rate limiters -> 204", "PUT",
                   "/network-interfaces/net1",
                   {"iface_id": "net1", "host_dev_name": "tap1", "rx_rate_limiter": None, "tx_rate_limiter": None})
        want = [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "aa:fc:00:00:00:01"},
                {"iface_id": "net1", "host_dev_name": "tap1"}]
        nets = vm_config_nets(k)
        check("GET /vm/config lists both interfaces in the order they were put, guest_mac only where set",
              nets == want, repr(nets))
        expect_204(k, "PUT /network-interfaces/eth0 again -> 204 (replaces it)", "PUT", "/network-interfaces/eth0",
                   {"iface_id": "eth0", "host_dev_name": "tap2"})
        want = [{"iface_id": "eth0", "host_dev_name": "tap2"}, {"iface_id": "net1", "host_dev_name": "tap1"}]
        nets = vm_config_nets(k)
        check("the replaced eth0 keeps its place, with the new host_dev_name and no guest_mac", nets == want,
              repr(nets))

        limiter = {"bandwidth": {"size": 1000, "refill_time": 100}}
        for what, body, pattern in [
            ("an iface_id unlike the path's", {"iface_id": "eth2", "host_dev_name": "tap3"}, "iface_id"),
            ("no host_dev_name", {"iface_id": "eth1"}, "host_dev_name"),
            ("a 16-byte host_dev_name", {"iface_id": "eth1", "host_dev_name": "abcdefghijklmnop"}, "host_dev_name"),
            ("a short guest_mac", {"iface_id": "eth1", "host_dev_name": "tap3", "guest_mac": "AA:FC:00:00:00"},
             "guest_mac"),
            ("a multicast guest_mac", {"iface_id": "eth1", "host_dev_name": "tap3", "guest_mac": "01:00:5E:00:00:01"},
             "guest_mac"),
            ("the host_dev_name of net1", {"iface_id": "eth1", "host_dev_name": "tap1"}, "host_dev_name"),
            ("an rx_rate_limiter with an unknown bucket",
             {"iface_id": "eth1", "host_dev_name": "tap3", "rx_rate_limiter": {"iops": {}}},
             r"rx_rate_limiter: unknown field 'iops'"),
            ("a tx_rate_limiter with a negative refill_time",
             {"iface_id": "eth1", "host_dev_name": "tap3",
              "tx_rate_limiter": {"ops": {"size": 1, "refill_time": -5}}},
             r"tx_rate_limiter\.ops: refill_time -5 must not be negative"),
            ("an unknown field", {"iface_id": "eth1", "host_dev_name": "tap3", "bogus_field": 1}, "bogus_field"),
        ]:
            expect_400(k, "PUT /network-interfaces/eth1 with %s -> 400 naming it" % what, "PUT",
                       "/network-interfaces/eth1", body, pattern=pattern)
        check("the refused PUTs changed nothing", vm_config_nets(k) == want, repr(vm_config_nets(k)))

        expect_204(k, "PATCH /network-interfaces/eth0 with only iface_id -> 204", "PATCH",
                   "/network-interfaces/eth0", {"iface_id": "eth0"})
        expect_204(k, "PATCH /network-interfaces/eth0 with null rate limiters -> 204", "PATCH",
                   "/network-interfaces/eth0", {"iface_id": "eth0", "rx_rate_limiter": None, "tx_rate_limiter": None})
        expect_400(k, "PATCH /network-interfaces/eth9 (no such interface) -> 400 naming it", "PATCH",
                   "/network-interfaces/eth9", {"iface_id": "eth9"}, pattern="eth9")
        expect_400(k, "PATCH /network-interfaces/eth0 with a bad rx_rate_limiter -> 400 naming it", "PATCH",
                   "/network-interfaces/eth0", {"iface_id": "eth0", "rx_rate_limiter": {"ops": {}}},
                   pattern=r"rx_rate_limiter\.ops: missing field")
        check("the PATCHes changed nothing", vm_config_nets(k) == want, repr(vm_config_nets(k)))
        expect_204(k, "PATCH /network-interfaces/eth0 with an rx_rate_limiter -> 204", "PATCH",
                   "/network-interfaces/eth0", {"iface_id": "eth0", "rx_rate_limiter": limiter})
        got = vm_config_nets(k)[0].get("rx_rate_limiter")
        check("GET /vm/config shows eth0's rx_rate_limiter",
              got == {"bandwidth": {"size": 1000, "one_time_burst": 0, "refill_time": 100}, "ops": None},
              repr(got))


# --- the vsock device -----------------------------------------------------------------------------

NOT_AFTER_START = r"^The requested operation is not supported after starting the microVM\.$"


def vm_config_vsock(k):
    return get_json(k, "/vm/config").get("vsock", "absent")


def t_vsock():
    """PUT /vsock before boot: Firecracker's Vsock fields, a second PUT replacing the first, bad
    bodies refused with the field named and nothing changed, GET /vm/config reporting the device
    as Firecracker does (guest_cid and uds_path; null without one). No VM is started."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        got = vm_config_vsock(k)
        check("GET /vm/config before PUT /vsock: \"vsock\": null", got is None, repr(got))
        first = {"guest_cid": 3, "uds_path": k.path("v.sock")}
        expect_204(k, "PUT /vsock {guest_cid: 3, uds_path} -> 204", "PUT", "/vsock", first)
        got = vm_config_vsock(k)
        check("GET /vm/config shows the vsock device's guest_cid and uds_path", got == first, repr(got))
        expect_204(k, "PUT /vsock again, with vsock_id, CID 52 and another socket -> 204 (replaces it)", "PUT",
                   "/vsock", {"vsock_id": "vsock0", "guest_cid": 52, "uds_path": k.path("w.sock")})
        want = {"guest_cid": 52, "uds_path": k.path("w.sock")}
        got = vm_config_vsock(k)
        check("GET /vm/config shows only the second device, without the deprecated vsock_id", got == want,
              repr(got))
        expect_204(k, "PUT /vsock with the largest CID and a null vsock_id -> 204", "PUT", "/vsock",
                   {"vsock_id": None, "guest_cid": 4294967294, "uds_path": "./v.sock"})
        expect_204(k, "PUT /vsock with a 96-byte uds_path -> 204", "PUT", "/vsock",
                   {"guest_cid": 3, "uds_path": "/" + "u" * 95})
        expect_204(k, "PUT /vsock back to the second body -> 204", "PUT", "/vsock", want)

        for what, body, pattern in [
            ("no guest_cid", {"uds_path": "./v.sock"}, r"^vsock: missing field 'guest_cid'$"),
            ("no uds_path", {"guest_cid": 3}, r"^vsock: missing field 'uds_path'$"),
            ("a null uds_path", {"guest_cid": 3, "uds_path": None}, r"^vsock: field 'uds_path' must be a string$"),
            ("guest_cid \"3\"", {"guest_cid": "3", "uds_path": "./v.sock"},
             r"^vsock: field 'guest_cid' must be an integer$"),
            ("guest_cid 3.5", {"guest_cid": 3.5, "uds_path": "./v.sock"},
             r"^vsock: field 'guest_cid' must be an integer$"),
            ("guest_cid 0", {"guest_cid": 0, "uds_path": "./v.sock"}, r"^vsock: guest_cid 0 is reserved"),
            ("guest_cid 1", {"guest_cid": 1, "uds_path": "./v.sock"}, r"^vsock: guest_cid 1 is reserved"),
            ("guest_cid 2 (the host)", {"guest_cid": 2, "uds_path": "./v.sock"},
             r"^vsock: guest_cid 2 is reserved \(0: hypervisor, 1: local, 2: host; a guest has 3 to 4294967294\)$"),
            ("guest_cid -3", {"guest_cid": -3, "uds_path": "./v.sock"},
             r"^vsock: guest_cid -3 is out of range \(3 to 4294967294\)$"),
            ("guest_cid 4294967295 (VMADDR_CID_ANY)", {"guest_cid": 4294967295, "uds_path": "./v.sock"},
             r"^vsock: guest_cid 4294967295 is out of range \(3 to 4294967294\)$"),
            ("guest_cid 2^40", {"guest_cid": 1 << 40, "uds_path": "./v.sock"},
             r"^vsock: guest_cid 1099511627776 is out of range"),
            ("an empty uds_path", {"guest_cid": 3, "uds_path": ""}, r"^vsock: uds_path '' is empty$"),
            ("a 97-byte uds_path", {"guest_cid": 3, "uds_path": "/" + "u" * 96},
             r"^vsock: uds_path '/u{96}' is longer than 96 bytes \(the guest's connections go to <uds>_<port>, "
             r"which must fit a Unix socket address\)$"),
            ("uds_path 5", {"guest_cid": 3, "uds_path": 5}, r"^vsock: field 'uds_path' must be a string$"),
            ("vsock_id 1", {"guest_cid": 3, "uds_path": "./v.sock", "vsock_id": 1},
             r"^vsock: field 'vsock_id' must be a string$"),
            ("an empty vsock_id", {"guest_cid": 3, "uds_path": "./v.sock", "vsock_id": ""},
             r"^vsock: vsock_id '' must be 1 to 64 bytes$"),
            ("an unknown field", {"guest_cid": 3, "uds_path": "./v.sock", "bogus_field": 1},
             r"^vsock: unknown field 'bogus_field'$"),
            ("an array", [{"guest_cid": 3, "uds_path": "./v.sock"}], r"^vsock: expected a JSON object$"),
        ]:
            expect_400(k, "PUT /vsock with %s -> 400 naming it" % what, "PUT", "/vsock", body, pattern=pattern)
        expect_400(k, "PUT /vsock without a body -> 400", "PUT", "/vsock", pattern="body")
        expect_400(k, "PUT /vsock with malformed JSON -> 400", "PUT", "/vsock", raw='{"guest_cid": 3,')
        got = vm_config_vsock(k)
        check("the refused PUTs changed nothing", got == want, repr(got))
        # Firecracker's API has only PUT /vsock.
        for method in ("GET", "PATCH"):
            expect_400(k, "%s /vsock -> 400 (no such endpoint in Firecracker's API)" % method, method, "/vsock",
                       None if method == "GET" else {"guest_cid": 3},
                       pattern=r"^Invalid request method and/or path: %s /vsock\.$" % method)
        got = vm_config_vsock(k)
        check("GET /vm/config still shows the second device", got == want, repr(got))


def t_vsock_boot():
    """A vsock device put before InstanceStart is part of the VM and cannot be changed after it;
    the config file's vsock section and kiln run --vsock reach GET /vm/config the same way."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(stdin="pipe"), k.describe()):
            return
        configure(k, guest("mb_echo.elf"))
        want = {"guest_cid": 3, "uds_path": k.path("v.sock")}
        expect_204(k, "PUT /vsock before the start -> 204", "PUT", "/vsock", want)
        instance_start(k)
        if check("mb_echo with a vsock device prints 'echo: ready'",
                 k.wait_output(lambda o: "echo: ready\n" in o) is not None, k.describe()):
            expect_400(k, "PUT /vsock after the start -> 400 with Firecracker's words", "PUT", "/vsock",
                       {"guest_cid": 4, "uds_path": k.path("w.sock")}, pattern=NOT_AFTER_START)
            got = vm_config_vsock(k)
            check("GET /vm/config after the refused PUT still shows the first device", got == want, repr(got))
            finish_echo_guest(k, "vsock through the API")

    with Kiln() as k:
        want = {"guest_cid": 7, "uds_path": k.path("v.sock")}
        f = write_config(k, {"boot-source": {"kernel_image_path": guest("mb_echo.elf")},
                             "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}, "vsock": want})
        k.start(["--config-file", f, "--api-sock", k.sock, "--debug-exit"], stdin="pipe")
        if check("--config-file with a vsock section and --api-sock: kiln listens", k.wait_socket(), k.describe()):
            k.wait_output(lambda o: "echo: ready\n" in o)
            got = vm_config_vsock(k)
            check("--config-file: GET /vm/config shows the file's vsock section", got == want, repr(got))
            expect_400(k, "--config-file: PUT /vsock -> 400 (already started)", "PUT", "/vsock",
                       {"guest_cid": 3, "uds_path": k.path("w.sock")}, pattern=NOT_AFTER_START)
            finish_echo_guest(k, "vsock from the config file")

    with Kiln() as k:
        want = {"guest_cid": 42, "uds_path": k.path("v.sock")}
        k.start(["run", "--debug-exit", "-k", guest("mb_echo.elf"), "--vsock", "cid=42,uds=" + want["uds_path"],
                 "--api-sock", k.sock], stdin="pipe")
        if check("kiln run --vsock ... --api-sock listens", k.wait_socket(), k.describe()):
            k.wait_output(lambda o: "echo: ready\n" in o)
            got = vm_config_vsock(k)
            check("kiln run: GET /vm/config shows --vsock", got == want, repr(got))
            expect_400(k, "kiln run: PUT /vsock -> 400 (already started)", "PUT", "/vsock",
                       {"guest_cid": 3, "uds_path": k.path("w.sock")}, pattern=NOT_AFTER_START)
            finish_echo_guest(k, "kiln run --vsock")


# --- Firecracker's request examples -------------------------------------------------------------

# file in fixtures/, method, path, the host path field to replace (None: sent byte for byte).
FIXTURES = [
    ("machine-config.getting-started.json", "PUT", "/machine-config", None),
    ("boot-source.getting-started.json", "PUT", "/boot-source", "kernel_image_path"),
    ("logger.getting-started.json", "PUT", "/logger", "log_path"),
    ("logger.logger-doc.json", "PUT", "/logger", "log_path"),
    ("logger.logger-and-metrics.json", "PUT", "/logger", "log_path"),
    ("metrics.logger-and-metrics.json", "PUT", "/metrics", "metrics_path"),
    ("serial.swagger.json", "PUT", "/serial", "serial_out_path"),
    ("vsock.vsock-doc.json", "PUT", "/vsock", "uds_path"),
    ("actions.flush-metrics.json", "PUT", "/actions", None),
    ("actions.instance-start.json", "PUT", "/actions", None),
    ("vm.paused.json", "PATCH", "/vm", None),
    ("vm.resumed.json", "PATCH", "/vm", None),
    ("actions.send-ctrl-alt-del.json", "PUT", "/actions", None),
    ("network-interfaces.network-setup.json", "PUT", "/network-interfaces/eth0", None),
]


def fixture_body(name, field, value):
    """The fixture's text with only the value of field replaced; every other byte as in the file."""
    with open(os.path.join(ARGS.fixtures, name)) as f:
        raw = f.read()
    if field is None:
        return raw
    orig = json.loads(raw)
    text = raw.replace(json.dumps(orig[field]), json.dumps(value), 1)
    new = json.loads(text)
    assert new[field] == value and {k: v for k, v in new.items() if k != field} == \
        {k: v for k, v in orig.items() if k != field}, name
    return text


def t_fixtures():
    on_disk = {f for f in os.listdir(ARGS.fixtures) if f.endswith(".json")}
    listed = {f[0] for f in FIXTURES}
    check("every fixture file is in FIXTURES and every FIXTURES entry has a file", on_disk == listed,
          "only on disk: %s, only listed: %s" % (sorted(on_disk - listed), sorted(listed - on_disk)))

    # Each pre-boot body on its own, each on a fresh kiln.
    kernel = guest("mb_kbd.elf")
    for name, method, path, field in FIXTURES:
        if path == "/vm" or name == "actions.send-ctrl-alt-del.json":
            continue  # post-boot only: sent to the running VM below
        with Kiln() as k:
            if not k.start_api():
                check("kiln --api-sock starts and listens", False, k.describe())
                continue
            # uds_path: a socket kiln creates, so a path where nothing is yet.
            value = kernel if field == "kernel_image_path" else k.path("v.sock") if field == "uds_path" \
                else (k.touch("file") if field else None)
            if name == "actions.flush-metrics.json":
                k.api("PUT", "/metrics", {"metrics_path": k.touch("metrics")})
            if name == "actions.instance-start.json":
                k.api("PUT", "/boot-source", {"kernel_image_path": kernel})
            expect_204(k, "fixture %s: %s %s -> 204" % (name, method, path), method, path,
                       raw=fixture_body(name, field, value))

    # All of them, in the order Firecracker's guide uses them, on one VM running mb_kbd: the
    # machine-config example asks for 2 vCPUs and 1024 MiB, the boot-source example keeps its
    # Linux boot_args; SendCtrlAltDel ends the guest.
    with Kiln() as k:
        if not check("fixtures on one VM: kiln --api-sock starts", k.start_api(), k.describe()):
            return
        files = {"log_path": k.touch("firecracker.log"), "metrics_path": k.touch("metrics.fifo"),
                 "serial_out_path": k.touch("serial.out"), "kernel_image_path": kernel,
                 "uds_path": k.path("v.sock")}
        serial = files["serial_out_path"]
        sent = set()
        for name, method, path, field in FIXTURES:
            if path == "/logger" and "/logger" in sent:
                continue  # one logger per VM
            if path.startswith("/network-interfaces/"):
                continue  # its TAP device, tap0, does not exist on the test host: InstanceStart would fail
            sent.add(path)
            if name == "vm.paused.json" and not check(
                    "fixtures on one VM: mb_kbd says 'kbd: ready' in serial_out_path",
                    k.wait_output(lambda o: "kbd: ready\n" in o, 20, path=serial) is not None,
                    k.describe()):
                return
            if name == "actions.instance-start.json":
                js = get_json(k, "/vm/config")
                check("fixtures on one VM: GET /vm/config before the start shows the fixtures' values",
                      (js.get("machine-config") or {}).get("vcpu_count") == 2
                      and (js.get("machine-config") or {}).get("mem_size_mib") == 1024
                      and (js.get("boot-source") or {}).get("boot_args") == "console=ttyS0 reboot=k panic=1 pci=off"
                      and (js.get("logger") or {}).get("level") == "Debug"
                      and js.get("vsock") == {"guest_cid": 3, "uds_path": files["uds_path"]}, repr(js))
            expect_204(k, "fixtures on one VM: %s: %s %s -> 204" % (name, method, path), method, path,
                       raw=fixture_body(name, field, files.get(field)))
        rc = k.wait(30)
        check("fixtures on one VM: mb_kbd exits 33 after the SendCtrlAltDel fixture", rc == 33,
              "status %s, %s" % (rc, k.describe()))
        with open(serial, errors="replace") as f:
            check_kbd_output("fixtures on one VM", f.read())
        check("fixtures on one VM: metrics file has the FlushMetrics line",
              len(read_metrics(files["metrics_path"])) >= 1)


# --- stress ---------------------------------------------------------------------------------------

def t_stress():
    """1,000 requests from 8 threads against a running VM; no error, no leak, guest unharmed.
    KILN_API_STRESS_REQUESTS sets another count: the real-KVM tier (tests/kvm) runs 250, as each
    curl process there starts on an emulated CPU (1,000 take about 5 minutes)."""
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(stdin="pipe"), k.describe()):
            return
        metrics = k.touch("metrics.json")
        configure(k, guest("mb_echo.elf"))
        expect_204(k, "PUT /metrics", "PUT", "/metrics", {"metrics_path": metrics})
        instance_start(k)
        if not check("mb_echo prints 'echo: ready'", k.wait_output(lambda o: "echo: ready\n" in o), k.describe()):
            return
        fds_before = stable_fd_count(k)

        total, threads = int(os.environ.get("KILN_API_STRESS_REQUESTS", "1000")), 8
        pair_lock = threading.Lock()  # one pause/resume pair at a time: each PATCH then expects 204
        lock = threading.Lock()
        counters = {"requests": 0, "flushes": 0}
        problems = []

        def note(desc, st, text, want):
            if st not in want:
                with lock:
                    problems.append("%s -> HTTP %d %r (wanted %s)" % (desc, st, short(text, 200), want))

        def worker(tid):
            i = tid
            while True:
                with lock:
                    if counters["requests"] >= total:
                        return
                    kind = counters["requests"] % 10
                    counters["requests"] += 2 if kind == 9 else 1
                if kind in (0, 1, 2):
                    st, js, text = k.api("GET", "/")
                    note("GET /", st, text, (200,))
                    if st == 200 and (js or {}).get("state") not in ("Running", "Paused"):
                        note("GET / state", 0, text, ("Running or Paused",))
                elif kind in (3, 4):
                    st, _, text = k.api("GET", "/machine-config")
                    note("GET /machine-config", st, text, (200,))
                elif kind == 5:
                    st, _, text = k.api("GET", "/vm/config")
                    note("GET /vm/config", st, text, (200,))
                elif kind == 6:
                    st, _, text = k.api("PUT", "/actions", {"action_type": "FlushMetrics"})
                    note("FlushMetrics", st, text, (204,))
                    if st == 204:
                        with lock:
                            counters["flushes"] += 1
                elif kind == 7:
                    st, _, text = k.api("GET", "/version")
                    note("GET /version", st, text, (200,))
                elif kind == 8:
                    if i % 2:
                        st, _, text = k.api("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 64})
                        note("PUT /machine-config after the start", st, text, (400,))
                    else:
                        st, _, text = k.api("GET", "/nope")
                        note("GET /nope", st, text, (400,))
                else:
                    with pair_lock:
                        st, _, text = k.api("PATCH", "/vm", {"state": "Paused"})
                        note("PATCH /vm Paused", st, text, (204,))
                        st, _, text = k.api("PATCH", "/vm", {"state": "Resumed"})
                        note("PATCH /vm Resumed", st, text, (204,))
                i += threads

        t0 = time.monotonic()
        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.monotonic() - t0
        check("%d requests from %d threads all answered with the expected status (%.1f s)" %
              (counters["requests"], threads, elapsed), not problems,
              "%d wrong, first: %s" % (len(problems), "; ".join(problems[:5])))
        check("kiln still running after the requests", k.alive(), k.describe())
        fds_after = k.fd_count()
        end = time.monotonic() + 3
        while fds_after > fds_before and time.monotonic() < end:
            time.sleep(0.1)
            fds_after = k.fd_count()
        check("no fd leaked by %d requests (%d before, %d after)" % (total, fds_before, fds_after),
              fds_after <= fds_before, str(sorted(os.listdir("/proc/%d/fd" % k.proc.pid))))
        lines = read_metrics(metrics)
        bad = [line for line in lines if not line.startswith("{")]
        parsed = 0
        for line in lines:
            try:
                parsed += isinstance(json.loads(line), dict)
            except ValueError:
                pass
        check("one whole JSON line per FlushMetrics (%d flushes, %d lines)" % (counters["flushes"], len(lines)),
              len(lines) == counters["flushes"] and parsed == len(lines), short(repr(bad[:3])))
        state_is(k, "Running", "GET / says Running after the last resume")
        finish_echo_guest(k, "stress")


# --- CPU templates (docs/cpu-templates.md) -----------------------------------------------------

# Firecracker's documented example (docs/cpu_templates/cpu-templates.md) without kvm_capabilities.
FC_CPU_CONFIG = {
    "cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                         "modifiers": [{"register": "eax", "bitmap": "0bxxxx000000000011xx00011011110010"}]}],
    "msr_modifiers": [{"addr": "0x10a", "bitmap": "0b" + "0" * 64}],
}
# x2APIC hidden (CPUID.1:ECX[21]) and async page faults offered again (KVM leaf, EAX[4]).
HIDE_X2APIC = {
    "cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                         "modifiers": [{"register": "ecx", "bitmap": "0b0" + "x" * 21}]},
                        {"leaf": "0x40000001", "subleaf": "0x0", "flags": 0,
                         "modifiers": [{"register": "eax", "bitmap": "0b1xxxx"}]}],
}


def cpu_leaf(bitmap="0b0", register="ecx", leaf="0x1", **extra):
    return {"cpuid_modifiers": [dict({"leaf": leaf, "subleaf": "0x0", "flags": 0,
                                      "modifiers": [{"register": register, "bitmap": bitmap}]}, **extra)]}


def t_cpu_config():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        machine_config_is(k, "GET /machine-config: cpu_template None by default", {"cpu_template": "None"})
        for name in ("T2", "C3", "None"):
            expect_204(k, "PUT /machine-config cpu_template %s -> 204" % name, "PUT", "/machine-config",
                       {"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": name})
            machine_config_is(k, "GET /machine-config shows cpu_template %s" % name, {"cpu_template": name})
        expect_204(k, "PATCH /machine-config cpu_template C3 -> 204", "PATCH", "/machine-config",
                   {"cpu_template": "C3"})
        expect_204(k, "PATCH /machine-config without cpu_template keeps it", "PATCH", "/machine-config",
                   {"vcpu_count": 2})
        machine_config_is(k, "cpu_template still C3", {"cpu_template": "C3", "vcpu_count": 2})
        expect_204(k, "PUT /cpu-config with Firecracker's documented example -> 204", "PUT", "/cpu-config",
                   FC_CPU_CONFIG)
        machine_config_is(k, "a custom template replaces the static one (cpu_template None)",
                          {"cpu_template": "None"})
        expect_204(k, "PUT /cpu-config with empty lists -> 204", "PUT", "/cpu-config",
                   {"kvm_capabilities": [], "cpuid_modifiers": [], "msr_modifiers": []})
        bad = [
            ("a 33-digit bitmap", cpu_leaf("0b" + "0" * 33), r"cpuid_modifiers\[0\]\.modifiers\[0\]\.bitmap"),
            ("a bitmap with a 2", cpu_leaf("0b0120"), r"bitmap '0b0120'"),
            ("register esi", cpu_leaf(register="esi"), r"register 'esi'"),
            ("leaf 'one'", cpu_leaf(leaf="one"), r"cpuid_modifiers\[0\]\.leaf 'one'"),
            ("leaf as a JSON number", cpu_leaf(leaf=1), r"leaf"),
            ("flags 8", cpu_leaf(flags=8), r"flags 8"),
            ("an unknown field", cpu_leaf(bogus=1), r"bogus"),
            ("no flags", {"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "modifiers": []}]}, r"flags"),
            ("modifiers not an array", {"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                                                             "modifiers": {}}]}, r"modifiers"),
            ("cpuid_modifiers not an array", {"cpuid_modifiers": {}}, r"cpuid_modifiers"),
            ("a 65-digit MSR bitmap", {"msr_modifiers": [{"addr": "0x10", "bitmap": "0b" + "1" * 65}]},
             r"msr_modifiers\[0\]\.bitmap"),
            ("an MSR address 0x100000000", {"msr_modifiers": [{"addr": "0x100000000", "bitmap": "0b0"}]},
             r"msr_modifiers\[0\]\.addr"),
            ("kvm_capabilities [\"!56\"]", {"kvm_capabilities": ["!56"]}, r"kvm_capabilities"),
            ("aarch64 reg_modifiers", {"reg_modifiers": [{"addr": "0x1", "bitmap": "0b0"}]}, r"reg_modifiers.*aarch64"),
            ("an unknown top-level field", {"cpuid_modifier": []}, r"cpuid_modifier"),
        ]
        for what, body, pattern in bad:
            expect_400(k, "PUT /cpu-config with %s -> 400 naming it" % what, "PUT", "/cpu-config", body,
                       pattern=pattern)
        expect_400(k, "PUT /cpu-config with a JSON array -> 400", "PUT", "/cpu-config", [], pattern="cpu-config")
        expect_400(k, "GET /cpu-config -> 400 (Firecracker has only PUT)", "GET", "/cpu-config")

    # Booted through the API: the guest sees the custom template, and the MSR modifier is applied.
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        configure(k, guest("cpuid_probe.elf"),
                  boot_args="clear=0x1.0:ecx:0x200000 set=0x40000001.0:eax:0x10 x2apic=gp")
        expect_204(k, "PUT /cpu-config hiding x2APIC", "PUT", "/cpu-config", HIDE_X2APIC)
        instance_start(k)
        rc = k.wait(30)
        out = k.output()
        check("cpuid_probe under the custom template: exit 33, x2APIC hidden for real",
              rc == 33 and "cpuid: x2APIC enable raised #GP" in out and "cpuid: 3 checks passed" in out,
              "status %s, %s" % (rc, k.describe()))

    # A template this host cannot satisfy: 400 at InstanceStart naming the leaf, VM not started.
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        configure(k, guest("cpuid_probe.elf"), boot_args="x2apic=ok")
        expect_204(k, "PUT /cpu-config with leaf 0x8fffff00", "PUT", "/cpu-config", cpu_leaf(leaf="0x8fffff00"))
        expect_400(k, "InstanceStart -> 400 naming the leaf the host lacks", "PUT", "/actions",
                   {"action_type": "InstanceStart"}, pattern=r"CPUID leaf 0x8fffff00 subleaf 0x0 is not in")
        state_is(k, "Not started", "still Not started after the refused template")

    # The config file's cpu-config section: inline or, as Firecracker's, the path of a file; applied
    # after machine-config wherever it is in the file.
    for form in ("inline", "path"):
        with Kiln() as k:
            tmpl = HIDE_X2APIC
            if form == "path":
                tmpl = k.path("template.json")
                with open(tmpl, "w") as fp:
                    json.dump(HIDE_X2APIC, fp)
            f = write_config(k, {"cpu-config": tmpl,
                                 "boot-source": {"kernel_image_path": guest("cpuid_probe.elf"),
                                                 "boot_args": "clear=0x1.0:ecx:0x200000 x2apic=gp"},
                                 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "T2"}})
            k.start(["--config-file", f, "--debug-exit"])
            rc = k.wait(30)
            check("--config-file with cpu-config (%s) before machine-config's T2: the custom template "
                  "wins and hides x2APIC: exit 33" % form,
                  rc == 33 and "cpuid: 2 checks passed" in k.output(), "status %s, %s" % (rc, k.describe()))
    with Kiln() as k:
        f = write_config(k, {"boot-source": {"kernel_image_path": guest("cpuid_probe.elf")},
                             "cpu-config": cpu_leaf("0bx2")})
        k.start(["--config-file", f, "--debug-exit"])
        rc = k.wait(30)
        check("--config-file with a bad cpu-config bitmap: exit 2 naming it",
              rc == 2 and "bitmap '0bx2'" in k.errors(), "status %s, %s" % (rc, k.describe()))


# --- issue 15: bad input through the API, Firecracker's command line -------------------------

def responsive(k, name):
    """The API still answers GET / and kiln is alive (nothing blocked the server)."""
    st, js, text = k.api("GET", "/", timeout=5)
    return check("%s: GET / still answers 200" % name, st == 200 and isinstance(js, dict) and k.alive(),
                 "HTTP %d, body %r, %s" % (st, short(text), k.describe()))


def sigterm_ends(k, name):
    """SIGTERM ends kiln promptly with 128+15."""
    k.proc.terminate()
    try:
        rc = k.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    return check("%s: SIGTERM ends kiln with 143" % name, rc == 143, "status %r, %s" % (rc, k.describe()))


def t_fifo_paths():
    with Kiln() as k:
        if not check("kiln --api-sock starts", k.start_api(), k.describe()):
            return
        fifo = k.path("fifo")
        os.mkfifo(fifo)
        ok_file = ARGS.module
        expect_400(k, "PUT /boot-source with a FIFO kernel_image_path -> 400", "PUT", "/boot-source",
                   {"kernel_image_path": fifo}, pattern=r"kernel_image_path '.*fifo' is a FIFO, not a regular file$",
                   timeout=5)
        responsive(k, "FIFO kernel")
        expect_400(k, "PUT /boot-source with a FIFO initrd_path -> 400", "PUT", "/boot-source",
                   {"kernel_image_path": ok_file, "initrd_path": fifo},
                   pattern=r"initrd_path '.*fifo' is a FIFO, not a regular file$", timeout=5)
        expect_400(k, "PUT /boot-source with a directory kernel -> 400", "PUT", "/boot-source",
                   {"kernel_image_path": k.dir}, pattern=r"is a directory, not a regular file$", timeout=5)
        expect_400(k, "PUT /drives with a FIFO path_on_host -> 400", "PUT", "/drives/d",
                   {"drive_id": "d", "path_on_host": fifo, "is_root_device": False, "is_read_only": True},
                   pattern=r"path_on_host '.*fifo' is a FIFO, not a regular file or block device$", timeout=5)
        small = k.path("small.img")
        with open(small, "wb") as f:
            f.write(b"x" * 100)
        expect_400(k, "PUT /drives with a 100-byte image -> 400 at PUT", "PUT", "/drives/d",
                   {"drive_id": "d", "path_on_host": small, "is_root_device": False, "is_read_only": True},
                   pattern=r"path_on_host '.*small.img' is 100 bytes, smaller than one 512-byte sector$")
        expect_400(k, "PUT /drives with /proc/self/mem -> 400 at PUT", "PUT", "/drives/d",
                   {"drive_id": "d", "path_on_host": "/proc/self/mem", "is_root_device": False,
                    "is_read_only": True}, pattern=r"'/proc/self/mem' is 0 bytes, smaller than one 512-byte sector$")
        drives = get_json(k, "/vm/config").get("drives")
        check("rejected drives are not in GET /vm/config", not drives, repr(drives))
        # Outputs: a FIFO nobody reads is opened read-write and non-blocking (as Firecracker).
        expect_204(k, "PUT /logger with a FIFO log_path nobody reads -> 204", "PUT", "/logger",
                   {"log_path": fifo, "level": "Debug"})
        responsive(k, "FIFO log_path")
        expect_204(k, "PUT /metrics with a FIFO metrics_path nobody reads -> 204", "PUT", "/metrics",
                   {"metrics_path": fifo})
        # Enough flushes to fill the pipe: each must be answered, none may block the server.
        codes = set()
        for _ in range(150):
            st, _, _ = k.api("PUT", "/actions", {"action_type": "FlushMetrics"}, timeout=5)
            codes.add(st)
        check("150 FlushMetrics into an unread FIFO are all answered (204, or 400 once it is full)",
              codes <= {204, 400} and 204 in codes, repr(codes))
        responsive(k, "full metrics FIFO")
        expect_204(k, "PUT /serial with a FIFO serial_out_path -> 204", "PUT", "/serial",
                   {"serial_out_path": fifo})
        expect_400(k, "PUT /serial with a directory -> 400", "PUT", "/serial",
                   {"serial_out_path": k.dir}, pattern=r"cannot open serial_out_path '.*' for writing: Is a directory$")
        responsive(k, "after every bad path")
        sigterm_ends(k, "after every bad path")


def raw_http(sock, data, timeout=5.0):
    """Sends raw bytes on a new connection; returns (status, parsed JSON or None, raw answer,
    closed) where closed says the server closed the connection after its answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    out, closed = b"", False
    try:
        s.connect(sock)
        try:
            s.sendall(data)
        except OSError:
            pass  # the server answered and closed before taking it all (1 MiB header)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    except OSError:
        closed = True  # reset after the answer: the server closed with our bytes unread
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    try:
        js = json.loads(body) if body else None
    except ValueError:
        js = None
    return (int(m.group(1)) if m else 0), js, out, closed


def t_malformed_http():
    cases = [
        ("garbage bytes", b"\x00\x01\xff garbage\r\n\r\n", 400, r"malformed request line"),
        ("garbage without a newline", b"\x16\x03\x01\x02\x00", 400, r"byte 0x16 in the method"),
        ("Content-Length 2^64-1", b"PUT /logger HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n{}",
         400, r"Content-Length"),
        ("Content-Length over the payload limit", b"PUT /logger HTTP/1.1\r\nContent-Length: 51201\r\n\r\n{}",
         400, r"size 51201 is larger than the limit of 51200"),
        ("Content-Length not a number", b"PUT /logger HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n{}",
         400, r"Content-Length: '12abc' is not a number"),
        ("two different Content-Lengths", b"PUT /logger HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
         400, r"conflicting Content-Length"),
        ("Transfer-Encoding: gzip", b"PUT /logger HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n{}",
         501, r"Transfer-Encoding 'gzip' is not supported"),
        ("Transfer-Encoding: chunked", b"PUT /logger HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         501, r"Transfer-Encoding 'chunked' is not supported"),
        ("a 1 MiB header", b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n", 431,
         r"larger than 8192 bytes"),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", 505, r"2.0 is not supported \(HTTP/1.0 or HTTP/1.1\)"),
        ("HTTP/1.9", b"GET / HTTP/1.9\r\n\r\n", 505, r"1.9 is not supported"),
        ("a target without '/'", b"GET http://x/ HTTP/1.1\r\n\r\n", 400, r"must start with '/'"),
        ("a 2 KiB target", b"GET /" + b"a" * 2048 + b" HTTP/1.1\r\n\r\n", 414, r"longer than 1024"),
        ("a folded header", b"GET / HTTP/1.1\r\nX-A: 1\r\n  2\r\n\r\n", 400, r"folded"),
        ("a header without a colon", b"GET / HTTP/1.1\r\nnocolon\r\n\r\n", 400, r"Name: value"),
        ("a control byte in a header", b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", 400, r"control byte 0x01"),
        ("Expect: something", b"PUT /logger HTTP/1.1\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n{}",
         417, r"Expect 'magic'"),
    ]
    with Kiln() as k:
        if not check("kiln --api-sock starts", k.start_api(), k.describe()):
            return
        for name, data, want, pattern in cases:
            st, js, out, closed = raw_http(k.sock, data)
            msg = js.get("fault_message") if isinstance(js, dict) else None
            check("%s -> %d with a JSON fault_message, then a close" % (name, want),
                  st == want and isinstance(msg, str) and re.search(pattern, msg) and closed,
                  "answer %r, closed %s" % (short(out.decode("latin-1"), 300), closed))
        responsive(k, "after malformed requests")
        # Valid HTTP that clients send: keep-alive with two pipelined requests, HTTP/1.0,
        # Expect: 100-continue.
        st, js, out, closed = raw_http(k.sock, b"GET / HTTP/1.1\r\n\r\nGET /version HTTP/1.1\r\nConnection: close\r\n\r\n")
        check("two pipelined requests on one connection are both answered",
              out.count(b"HTTP/1.1 200 OK") == 2 and b"firecracker_version" in out and closed, short(out.decode("latin-1")))
        st, js, out, closed = raw_http(k.sock, b"GET / HTTP/1.0\r\n\r\n")
        check("HTTP/1.0 request -> 200, then a close", st == 200 and isinstance(js, dict) and closed, short(out.decode("latin-1")))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(k.sock)
            s.sendall(b"PUT /logger HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 17\r\n\r\n")
            first = s.recv(4096)
            s.sendall(b'{"level": "Info"}')
            second = s.recv(4096)
        except OSError as e:
            first, second = b"", repr(e).encode()
        finally:
            s.close()
        check("Expect: 100-continue gets '100 Continue', then the answer 204",
              first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") and second.startswith(b"HTTP/1.1 204 "),
              "%r then %r" % (first, second))
        # A client that stops mid-request holds nothing: others are still answered.
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stalled.connect(k.sock)
        stalled.sendall(b"PUT /logger HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        responsive(k, "while another client stalls mid-body")
        stalled.close()
        sigterm_ends(k, "after malformed requests")


def read_fifo(fd, want, timeout=5.0):
    """Reads a non-blocking FIFO until the regex matches; returns the text."""
    end, text = time.monotonic() + timeout, ""
    while time.monotonic() < end:
        try:
            chunk = os.read(fd, 65536)
            text += chunk.decode("utf-8", "replace")
        except BlockingIOError:
            pass
        if re.search(want, text, re.M):
            break
        time.sleep(0.02)
    return text


def t_firecracker_cli():
    # firecracker-go-sdk's default command: --api-sock SOCK --id VMID --no-seccomp.
    with Kiln() as k:
        k.start(["--api-sock", k.sock, "--id", "vm-0123", "--no-seccomp"])
        if check("kiln --api-sock S --id vm-0123 --no-seccomp serves the API", k.wait_socket(), k.describe()):
            js = get_json(k, "/")
            check("GET / reports id vm-0123", js.get("id") == "vm-0123", repr(js))
    # Logger and metrics on FIFOs from the command line, and the jailer's start time.
    with Kiln() as k:
        log_fifo, met_fifo = k.path("log.fifo"), k.path("metrics.fifo")
        os.mkfifo(log_fifo)
        os.mkfifo(met_fifo)
        fd = os.open(log_fifo, os.O_RDONLY | os.O_NONBLOCK)
        mfd = os.open(met_fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            start_us = int(time.time() * 1e6)
            k.start(["--api-sock", k.sock, "--log-path", log_fifo, "--level", "Info", "--show-level",
                     "--show-log-origin", "--metrics-path", met_fifo, "--start-time-us", str(start_us),
                     "--start-time-cpu-us", "0", "--parent-cpu-time-us", "10"])
            if not check("kiln with --log-path/--metrics-path FIFOs serves the API", k.wait_socket(), k.describe()):
                return
            text = read_fifo(fd, r"Process startup CPU time")
            check("--log-path FIFO gets '[Info] file:line: Process startup time is N us' (--show-level, "
                  "--show-log-origin, --start-time-us)",
                  re.search(r"^kiln: \[Info\] \S+\.c:\d+: Process startup time is \d+ us", text, re.M), repr(text))
            check("--start-time-cpu-us/--parent-cpu-time-us: 'Process startup CPU time is N us' logged",
                  re.search(r"^kiln: \[Info\] \S+: Process startup CPU time is \d+ us", text, re.M), repr(text))
            check("the start-up line is not on stderr (the log goes to the FIFO)",
                  "Process startup" not in k.errors(), k.describe())
            expect_204(k, "FlushMetrics with --metrics-path FIFO -> 204", "PUT", "/actions",
                       {"action_type": "FlushMetrics"})
            mtext = read_fifo(mfd, r"utc_timestamp_ms.*\n")
            try:
                line_ok = metrics_line_ok(json.loads(mtext.splitlines()[-1]))
            except (ValueError, IndexError):
                line_ok = False
            check("--metrics-path FIFO gets a JSON metrics line", line_ok, short(mtext))
        finally:
            os.close(fd)
            os.close(mfd)
    # --http-api-max-payload-size.
    with Kiln() as k:
        k.start(["--api-sock", k.sock, "--http-api-max-payload-size", "100"])
        if check("kiln --http-api-max-payload-size 100 serves the API", k.wait_socket(), k.describe()):
            expect_400(k, "a ~150-byte body -> 400 naming the 100-byte limit", "PUT", "/logger",
                       raw='{"level": "Info", "module": "%s"}' % ("x" * 118),
                       pattern=r"size 1[45][0-9] is larger than the limit of 100 allowed")
            expect_204(k, "a body under the limit -> 204", "PUT", "/logger", {"level": "Info"})
    # --no-api with a config file: no socket, the VM described by the file (bad kernel: exit 2,
    # the error on stderr).
    with Kiln() as k:
        cfg = write_config(k, {"boot-source": {"kernel_image_path": ARGS.module}})
        k.start(["--no-api", "--config-file", cfg, "--id", "vm-1"])
        rc = k.wait(10)
        check("kiln --no-api --config-file (text kernel) exits 2 with one line on stderr",
              rc == 2 and one_line(k.errors()) and "module.txt" in k.errors(), "status %r, %s" % (rc, k.describe()))



# --- exits: GET /vm/exits and kiln top (docs/exits.md) ---------------------------------------

def exits_schema_problems(js):
    """What is wrong with a GET /vm/exits body, as a list of strings (empty: it is right)."""
    bad = []
    if not isinstance(js, dict):
        return ["not an object"]
    if set(js) != {"time_ns", "rip_sampling", "vcpus"}:
        bad.append("keys %s" % sorted(js))
    if not isinstance(js.get("time_ns"), int) or js.get("time_ns", 0) <= 0:
        bad.append("time_ns %r" % js.get("time_ns"))
    if not isinstance(js.get("rip_sampling"), bool):
        bad.append("rip_sampling %r" % js.get("rip_sampling"))
    vcpus = js.get("vcpus")
    if not isinstance(vcpus, list) or not vcpus:
        return bad + ["vcpus %r" % vcpus]
    for i, v in enumerate(vcpus):
        if not isinstance(v, dict) or set(v) != {"id", "exits", "accesses", "rip_seq", "rips"}:
            bad.append("vcpu %d keys %r" % (i, sorted(v) if isinstance(v, dict) else v))
            continue
        if v["id"] != i:
            bad.append("vcpu %d id %r" % (i, v["id"]))
        for e in v["exits"]:
            if not (isinstance(e, dict) and set(e) == {"reason", "code", "count", "ns"}
                    and isinstance(e["reason"], str) and all(isinstance(e[f], int) and e[f] >= 0
                                                             for f in ("code", "count", "ns"))):
                bad.append("exit %r" % e)
        for a in v["accesses"]:
            if not (isinstance(a, dict) and set(a) == {"kind", "addr", "device", "count", "ns"}
                    and a["kind"] in ("in", "out", "read", "write") and isinstance(a["addr"], int)
                    and isinstance(a["device"], str) and isinstance(a["count"], int)
                    and isinstance(a["ns"], int)):
                bad.append("access %r" % a)
        if not isinstance(v["rip_seq"], int) or not isinstance(v["rips"], list) or \
                len(v["rips"]) > min(256, v["rip_seq"]):
            bad.append("rip_seq %r with %d rips" % (v["rip_seq"], len(v["rips"])))
        for r in v["rips"]:
            if not (isinstance(r, list) and len(r) == 2 and re.fullmatch(r"0x[0-9a-f]+", str(r[0]))
                    and isinstance(r[1], str)):
                bad.append("rip sample %r" % r)
    return bad


def t_exits_api():
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        expect_400(k, "GET /vm/exits before InstanceStart -> 400", "GET", "/vm/exits",
                   pattern="not running")
    with Kiln() as k:
        if not start_echo_guest(k):
            return
        st, js, text = k.api("GET", "/vm/exits")
        problems = exits_schema_problems(js) if st == 200 else ["HTTP %d" % st]
        check("GET /vm/exits -> 200 with the documented schema", not problems,
              "%s; body %r" % (problems, short(text)))
        io = [e for e in (js or {}).get("vcpus", [{}])[0].get("exits", []) if e.get("reason") == "IO"]
        check("GET /vm/exits counts the IO exits of the guest's serial output",
              len(io) == 1 and io[0]["code"] == 2 and io[0]["count"] > 10, short(text))
        # The guest idles in hlt; its output goes on with a key press, seen as serial exits
        # while watched: the UART's port must then be in the access list.
        try:
            k.proc.stdin.write(b"abc")
            k.proc.stdin.flush()
        except OSError:
            pass
        k.wait_output(lambda o: o.count("abc") >= 1, timeout=10)
        st2, js2, text2 = k.api("GET", "/vm/exits")
        check("a second GET /vm/exits has a later time_ns",
              st2 == 200 and isinstance(js2, dict) and js2.get("time_ns", 0) > js.get("time_ns", 0),
              short(text2))
        ports = [a for a in js2.get("vcpus", [{}])[0].get("accesses", [])] if isinstance(js2, dict) else []
        check("while watched, the UART's port 0x3f8 is counted with its handling time",
              any(a["addr"] == 0x3f8 and a["device"] == "serial" and a["count"] > 0 and a["ns"] > 0
                  for a in ports), short(text2))
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            expect_400(k, "%s /vm/exits -> 400" % method, method, "/vm/exits",
                       body={} if method != "DELETE" else None)
        expect_400(k, "GET /vm/exits/0 -> 400", "GET", "/vm/exits/0")
        expect_400(k, "GET /vm/exit -> 400", "GET", "/vm/exit")
        finish_echo_guest(k, "after GET /vm/exits", expect_bytes=4)


def run_top(args, timeout=60):
    p = subprocess.run([ARGS.kiln, "top"] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def t_exits_top_errors():
    rc, out, err = run_top([])
    check("kiln top without --api-sock -> 2, one line", rc == 2 and "--api-sock" in err
          and err.count("\n") == 1, "%d %r" % (rc, err))
    rc, out, err = run_top(["--api-sock", "/nonexistent/api.sock"])
    check("kiln top on a missing socket -> 6 naming it", rc == 6 and "/nonexistent/api.sock" in err,
          "%d %r" % (rc, err))
    rc, out, err = run_top(["--api-sock", "/x", "--symbols", "/nonexistent/System.map"])
    check("kiln top --symbols on a missing file -> 2 naming it",
          rc == 2 and "--symbols: /nonexistent/System.map" in err, "%d %r" % (rc, err))
    rc, out, err = run_top(["--api-sock", "/x", "--symbols", ARGS.module])
    check("kiln top --symbols on a file that is no symbol table -> 2 naming the line",
          rc == 2 and "line 1" in err, "%d %r" % (rc, err))
    for bad in (["--interval", "0"], ["--interval", "x"], ["--count", "0"], ["--bogus"], ["extra"]):
        rc, out, err = run_top(["--api-sock", "/x"] + bad)
        check("kiln top %s -> 2" % " ".join(bad), rc == 2 and err.count("\n") == 1, "%d %r" % (rc, err))
    rc, out, err = run_top(["--help"])
    check("kiln top --help -> 0 with the options", rc == 0 and "--symbols" in out and "--json" in out,
          "%d %r" % (rc, out))
    with Kiln() as k:
        if not check("kiln --api-sock starts and listens", k.start_api(), k.describe()):
            return
        rc, out, err = run_top(["--api-sock", k.sock, "--count", "1"])
        check("kiln top before the VM runs -> 6 with the API's reason",
              rc == 6 and "not running" in err, "%d %r" % (rc, err))


PACE_HZ = 1000  # tests/guests/exit_pace.c


def t_exits_live():
    """exit_pace writes port 0x80 PACE_HZ times a second by its own clock: kiln top must show that
    rate within 10%, port 0x80 on top, and pace_out() as the top RIP."""
    pace = guest("exit_pace.elf")
    with Kiln() as k:
        k.start(["run", "--api-sock", k.sock, "--debug-exit", "-k", pace])
        if not check("kiln run --api-sock with exit_pace listens", k.wait_socket(), k.describe()):
            return
        if not check("exit_pace calibrates its clock and starts pacing",
                     k.wait_output(lambda o: "pacing" in o, timeout=60) is not None, k.describe()):
            return
        rc, out, err = run_top(["--api-sock", k.sock, "--json", "--count", "3", "--symbols", pace])
        lines = out.splitlines()
        if not check("kiln top --json --count 3 prints 3 JSON lines", rc == 0 and len(lines) == 3,
                     "%d %r %r" % (rc, short(out), err)):
            return
        views = [json.loads(l) for l in lines]
        v = views[-1]  # the first interval began as watching started
        print("INFO: kiln top's last interval: %s" % lines[-1], flush=True)
        io = [r for r in v["vcpus"][0]["reasons"] if r["reason"] == "IO"]
        rate = io[0]["per_s"] if io else 0
        check("IO exits per second on vCPU 0 within 10%% of the guest's %d/s" % PACE_HZ,
              abs(rate - PACE_HZ) <= 0.1 * PACE_HZ, "%.1f/s; %s" % (rate, short(lines[-1], 2000)))
        top = v["ports"][0] if v["ports"] else {}
        check("the top port is the guest's 0x80, written within 10%% of %d/s" % PACE_HZ,
              top.get("port") == 0x80 and "out" in top.get("what", "")
              and abs(top.get("per_s", 0) - PACE_HZ) <= 0.1 * PACE_HZ, short(lines[-1], 2000))
        check("port 0x80's handling time in kiln is measured", top.get("avg_ns", 0) > 0, str(top))
        if v["rip_sampling"]:
            rip = v["rips"][0] if v["rips"] else {}
            check("the top exit RIP is in pace_out() (--symbols exit_pace.elf), exit IO",
                  rip.get("symbol", "").startswith("pace_out") and rip.get("reason") == "IO"
                  and abs(rip.get("per_s", 0) - PACE_HZ) <= 0.1 * PACE_HZ, str(v["rips"]))
        else:
            check("RIP sampling: KVM without KVM_CAP_SYNC_REGS (noted, not a kiln failure)", True)
        check("kiln_time lists IO with an average", any(r["reason"] == "IO" and r.get("avg_ns", 0) > 0
                                                       for r in v["kiln_time"]), str(v["kiln_time"]))
        rc, out, err = run_top(["--api-sock", k.sock, "--count", "1", "--interval", "0.5"])
        check("kiln top (terminal view) redraws with the sections and port 0x80",
              rc == 0 and out.startswith("\033[H\033[2J") and "0x0080 out" in out
              and "GUEST RIP" in out and "TIME IN KILN BY EXIT KIND" in out, "%d %r" % (rc, short(out)))
        k.kill()


GROUPS = {
    "exits": [t_exits_api, t_exits_top_errors, t_exits_live],
    "endpoints": [t_info_version, t_machine_config, t_boot_source_and_vm_config, t_states_and_post_boot,
                  t_run_with_api],
    "boot": [t_api_boot_hello, t_api_boot_thp, t_api_boot_args_initrd, t_api_boot_serial_logger_metrics, t_api_boot_failures,
             t_api_boot_network],
    "errors": [t_errors_pre_boot, t_errors_post_boot, t_unsupported_devices],
    "config-file": [t_config_file, t_config_file_errors],
    "socket": [t_socket, t_socket_clients],
    "pause-resume": [t_pause_resume],
    "ctrl-alt-del": [t_ctrl_alt_del],
    "fixtures": [t_fixtures],
    "drives": [t_drives, t_drives_boot, t_network_interfaces],
    "vsock": [t_vsock, t_vsock_boot],
    "stress": [t_stress],
    "cpu-config": [t_cpu_config],
    "hardening": [t_fifo_paths, t_firecracker_cli, t_malformed_http],
    "snapshot": [t_snapshot_one_vcpu, t_snapshot_two_vcpus, t_snapshot_net_user, t_snapshot_diff,
                 t_snapshot_irqchip_split, t_snapshot_irqchip_kernel],
    "snapshot-refusals": [t_snapshot_refusals],
    "snapshot-virtio": [t_snapshot_virtio],
}
# Groups that never start a guest: they run without /dev/kvm.
NO_KVM_GROUPS = {"hardening", "snapshot-refusals"}


def main():
    global ARGS, VERSION
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kiln", required=True)
    p.add_argument("--guests", required=True, help="directory with the built test guests")
    p.add_argument("--module", required=True, help="tests/guests/module.txt")
    p.add_argument("--fixtures", required=True, help="tests/api/fixtures")
    p.add_argument("--uffd-handler", required=True, help="tools/kiln-uffd-handler")
    p.add_argument("groups", nargs="+", choices=sorted(GROUPS) + ["all"])
    ARGS = p.parse_args()
    ARGS.kiln = os.path.abspath(ARGS.kiln)

    if shutil.which("curl") is None:
        print("SKIP: curl is not installed")
        return 77
    groups = sorted(GROUPS) if "all" in ARGS.groups else ARGS.groups
    if not kvm_usable():
        if not set(groups) <= NO_KVM_GROUPS:
            print("SKIP: /dev/kvm cannot be opened read-write")
            return 77
    VERSION = subprocess.run([ARGS.kiln, "--version"], stdout=subprocess.PIPE, timeout=10).stdout.decode().split()[-1]

    for g in groups:
        for t in GROUPS[g]:
            try:
                t()
            except Exception:  # a crash in one test is a failure of that test, not of the run
                check("%s: %s ran to the end" % (g, t.__name__), False, traceback.format_exc())
    print("%d check(s) failed" % len(FAILURES) if FAILURES else "all checks passed", flush=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
