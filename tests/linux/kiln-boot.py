#!/usr/bin/env python3
"""Boots a Linux kernel with kiln and checks it, at two levels.

usage: kiln-boot.py --kiln KILN (--kernel FILE --initrd CPIO | --build|--from-cache --image vmlinux|bzImage)
                    [-c N] [-m MIB] [--acpi on|off] [--timeout S] [--log FILE]
                    [--pvm-workarounds auto|on|off] [--clearcpuid LIST] [--irqchip split|kernel]
                    [--net-tap NAME | --net-user | --netconsole NAME] [--vsock]
                    [--variant nopci] [--virtio-discovery both|acpi] [--virtio-once]
                    [--halt poweroff|reboot]
       kiln-boot.py --user-level --log FILE

--build takes kiln's test kernel from tests/linux/build-kernel.sh (which builds it once and
caches it); --from-cache only takes it from the cache (no build: for CI, where a test of its own
builds it under its own time cap). Either way the initramfs is built fresh by
tests/linux/build-initramfs.sh.

Kernel level (what every host can run): from the guest kernel's own log, all N vCPUs were
brought up, the memory the kernel found matches -m, the RTC set the system clock to the host's
time (within a minute), the serial port and the i8042 were probed (the i8042 and the RTC once
each), no spurious-interrupt message, with ACPI the MADT's SCI override, the kernel reached
"Run /init", and kiln exited 0 (the guest's power-off, or its panic=-1 reboot when /init could
not run). Off PVM also: KVM reported no internal error, so kiln completed no instruction (that
is PVM's workaround alone). Exit 0 when all hold, 1 otherwise, 77 without /dev/kvm.

With KILN_LINUX_DEADLINE set (seconds since the epoch), kiln is stopped by then at the latest,
and a boot with less than a minute left fails at once: CI's cap on all its Linux boots.

Every console line is echoed with the host time since kiln's exec ("  125.3s | ..."), and so is
every line kiln writes on stderr ("  125.3s ! ..."), kept apart from the console. At the
end the boot time is printed twice: the guest's own (its printk clock at "Run /init", i.e. from
the kernel's start) and the host's (exec to the first console line, to "Run /init", to exit).
On a failure the checks that failed, kiln's own messages (crash report, register dump), the last
console lines and when they came are repeated at the end.

User level (--user-level, reading the console log the kernel-level run saved): /init's own
checks (nproc equals -c, MemTotal matches -m, a line typed on kiln's stdin reached the shell,
poweroff). On a host whose KVM cannot run guest system calls (PVM: /init dies at its first
syscall) this is reported as SKIP (77) with that reason, never as a pass.

--netconsole NAME (as root): the kernel configures its virtio-net interface on TAP NAME itself
(ip=) and netconsole sends its log as UDP to the host's end, 10.0.0.1:6666, in a network
namespace of this process's own; the kernel level then also wants the log's lines there, each one
the console printed too, up to "Freeing unused kernel" or "Run /init".

--vsock (with --build or --from-cache): kiln's virtio-vsock on a Unix socket, and socat in the
initramfs. /init connects to the host (CID 2) port 6000, which kiln bridges to the socket
"<uds>_6000" this script listens on, sends a token and wants it back acknowledged; then it runs an
echo server on vsock port 5000, and this script connects to it through kiln's socket
("CONNECT 5000"), sends 1 MiB of random bytes and wants them back intact (SHA-256).

--variant nopci boots the no-PCI variant of the test kernel (tests/linux/nopci.config over
microvm.config): its ACPI namespace does not load, yet it keeps the 8259 and the ISA IRQs the
MADT gives (kiln's FADT is not HW-reduced), so it finds its devices on kiln's virtio_mmio.device=
with ACPI on as with --acpi off (the MP table; docs/linux.md says why), and ends with a reboot
(--halt reboot, the default there: without a namespace there is no power-off).
--virtio-once checks that each virtio device was found exactly once: at kernel level one
"[vdX]" line per disk, at user level /init's count of virtio devices and bound transports
(kiln.virtio_ids=).

PVM workarounds (docs/linux.md, "What a guest needs on a PVM host") go on the command line
when the host runs KVM under PVM (/sys/module/kvm_pvm), or with --pvm-workarounds on.
"""
import argparse
import ctypes
import datetime
import functools
import hashlib
import http.server
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# KVM's emulator on PVM hosts lacks these at ring 0 (docs/linux.md); cx16 is not among them:
# kiln completes cmpxchg16b itself (src/arch/x86/emulate.c).
PVM_CLEARCPUID = ("xsave,smap,smep,avx,avx2,avx512f,popcnt,movbe,bmi1,bmi2,fsgsbase,invpcid,pcid,"
                  "clwb,clflushopt,rdseed,rdrand")
PVM_REST = "noxsave lpj=5000000 tsc=reliable no_timer_check rcupdate.rcu_cpu_stall_suppress=1"
LINE = "hello from kiln's stdin"
RUN_INIT = "Run /init as init process"
SYSCALL_DEATH = re.compile(r"init\[1\]: segfault at|Attempted to kill init")
STATS_LINE = re.compile(r"(vcpu\d+|all vcpus): \d+ exits|  ")


def is_pvm_host():
    return os.path.isdir("/sys/module/kvm_pvm")


class Terminated(Exception):
    pass


def on_term(signum, frame):
    raise Terminated(signal.Signals(signum).name)


def cmdline_for(args, pvm):
    parts = ["console=ttyS0", "panic=-1", "kiln.expect_cpus=%d" % args.cpus,
             "kiln.expect_mem_mb=%d" % args.mem]
    if args.root_disk:
        # The kernel mounts the ext4 image itself; /init on it is the initramfs's /init.
        parts += ["root=/dev/vda", args.root_disk, "init=/init", "kiln.disk_sha=" + args.disk_sha]
        if args.root_disk == "rw":
            parts.append("kiln.disk_token=" + args.disk_token)
    if args.rng:
        parts.append("kiln.hwrng=1")
    if args.net_tap:
        parts += ["kiln.net_ip=%s/24" % NET_GUEST, "kiln.net_peer=" + NET_HOST,
                  "kiln.net_sha=" + args.net_sha, "kiln.net_serve=%d" % NET_GUEST_PORT]
    if args.net_user:
        parts += ["kiln.net_ip=%s/24" % USER_GUEST, "kiln.net_peer=" + USER_HOST,
                  "kiln.net_port=%d" % args.net_http_port, "kiln.net_sha=" + args.net_sha,
                  "kiln.net_serve=%d" % NET_GUEST_PORT]
    if args.netconsole:
        # ip= configures eth0 in the kernel (IP_PNP); netconsole then sends every kernel message
        # from 10.0.0.2 to the host's UDP port, with no user space involved.
        parts += ["ip=%s::%s:255.255.255.0::eth0:off" % (NET_GUEST, NET_HOST),
                  "netconsole=@%s/eth0,%d@%s/" % (NET_GUEST, NETCONSOLE_PORT, NET_HOST)]
    if args.vsock:
        parts += ["kiln.vsock_connect=%d" % VSOCK_HOST_PORT, "kiln.vsock_token=" + args.vsock_token,
                  "kiln.vsock_listen=%d" % VSOCK_GUEST_PORT]
    if args.virtio_once:
        parts.append("kiln.virtio_ids=" + ",".join(str(i) for i in sorted(virtio_ids(args))))
    if args.acpi == "off":
        parts.append("acpi=off")
    if args.halt == "reboot":
        parts.append("kiln.halt=reboot")
    if pvm:
        clear = ",".join(x for x in (args.clearcpuid, args.clearcpuid_more) if x)
        if clear:
            parts.append("clearcpuid=" + clear)
        parts.append(PVM_REST)
        if args.pvm_append:
            parts.append(args.pvm_append)
    if args.append:
        parts.append(args.append)
    return " ".join(parts)


def virtio_ids(args):
    """The virtio device ids of the devices boot() gives kiln (docs/virtio.md)."""
    ids = [2] * ((1 if args.root_disk else 0) + (1 if args.data_disk else 0))
    ids += [4] if args.rng else []
    ids += [1] if (args.net_tap or args.netconsole or args.net_user) else []
    ids += [19] if args.vsock else []
    return ids


def boot(args, pvm):
    """Runs kiln; returns (status or None, console lines, kiln's stderr lines, console text,
    host start time, marks, problem). Lines are (host seconds, text)."""
    # --stats: the exit counts (internal errors: the instructions kiln completed) end the log.
    cmd = [args.kiln, "run", "--stats", "-k", args.kernel, "-c", str(args.cpus),
           "-m", "%dM" % args.mem, "-p", cmdline_for(args, pvm)]
    if args.root_disk:
        cmd += ["--disk", args.root_image + (",ro" if args.root_disk == "ro" else "") + ",id=kilnroot"]
    else:
        cmd += ["-i", args.initrd]
    if args.data_disk:
        cmd += ["--disk", args.data_image + ",ro,id=kilndata"]
    if args.rng:
        cmd += ["--rng"]
    if args.irqchip:
        cmd += ["--irqchip=" + args.irqchip]
    if args.virtio_discovery:
        cmd += ["--virtio-discovery=" + args.virtio_discovery]
    if args.net_tap or args.netconsole:
        cmd += ["--net", "tap=" + (args.net_tap or args.netconsole)]
    if args.vsock:
        cmd += ["--vsock", "cid=%d,uds=%s" % (VSOCK_GUEST_CID, args.vsock_uds)]
    if args.net_user:
        cmd += ["--net", "user,hostfwd=tcp:127.0.0.1:%d-:%d" % (args.net_fwd_port, NET_GUEST_PORT)]
    print("+ " + " ".join(cmd), flush=True)
    log = open(args.log, "wb") if args.log else None
    t0 = time.monotonic()
    host_start = datetime.datetime.now(datetime.timezone.utc)
    # Same process group as us: a test runner that kills our group kills kiln too. The console
    # (stdout) and kiln's own messages (stderr) apart: a message written in the middle of a
    # console line must not break the line the checks look for.
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, "console")
    sel.register(p.stderr, selectors.EVENT_READ, "kiln")
    out, bufs, typed, marks, problem = b"", {"console": b"", "kiln": b""}, False, {}, None
    lines, kiln_lines = [], []

    def emit(raw, src):
        now = time.monotonic() - t0
        text = raw.decode(errors="replace").rstrip("\r")
        if src == "kiln":
            kiln_lines.append((now, text))
            print("%8.1fs ! %s" % (now, text), flush=True)
            return
        lines.append((now, text))
        print("%8.1fs | %s" % (now, text), flush=True)
        if "first line" not in marks:
            marks["first line"] = now
        if RUN_INIT in text and "run init" not in marks:
            marks["run init"] = now
            m = re.match(r"\[\s*(\d+\.\d+)\]", text)
            if m:
                marks["guest run init"] = float(m.group(1))

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        open_pipes = 2
        while open_pipes:
            if time.monotonic() - t0 > args.timeout:
                problem = "timed out after %d s (--timeout)" % args.timeout
                break
            for key, _ in sel.select(timeout=1):
                src = key.data
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_pipes -= 1
                    continue
                if src == "console":
                    if log:
                        log.write(chunk)
                        log.flush()
                    out += chunk
                bufs[src] += chunk
                *done, bufs[src] = bufs[src].split(b"\n")
                for raw in done:
                    emit(raw, src)
            if (args.net_tap or args.net_user) and not args.net_fetch and b"KILN-INIT: net serving" in out:
                args.net_fetch = threading.Thread(target=fetch_from_guest, args=(args,), daemon=True)
                args.net_fetch.start()
            if args.vsock and not args.vsock_echo and b"KILN-INIT: vsock listening" in out:
                args.vsock_echo = threading.Thread(target=vsock_echo, args=(args,), daemon=True)
                args.vsock_echo.start()
            if any(t and t.is_alive() for t in (args.net_fetch, args.vsock_echo)):
                continue  # the line is typed once the host is done with the guest's servers
            if not typed and b"KILN-INIT: type a line" in out:
                p.stdin.write((LINE + "\n").encode())
                p.stdin.flush()
                typed = True
    except Terminated as e:
        problem = "stopped by %s after %.0f s (the test runner's timeout?)" % (e, time.monotonic() - t0)
    finally:
        signal.signal(signal.SIGTERM, old)
        for src, rest in bufs.items():
            if rest:
                emit(rest, src)
        if problem:
            p.kill()
        status = p.wait()
        marks["exit"] = time.monotonic() - t0
        if log:
            log.close()
    return ((None if problem else status), lines, kiln_lines, out.decode(errors="replace"),
            host_start, marks, problem)


def kernel_checks(args, status, text, kiln_text, host_start, pvm):
    failures = []

    def need(cond, what):
        print("%s: kernel level: %s" % ("PASS" if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    cpus = "%d CPU%s" % (args.cpus, "" if args.cpus == 1 else "s")
    need(re.search(r"smp: Brought up \d+ nodes?, %s\b" % cpus, text), "all %s brought up" % cpus)
    m = re.search(r"Memory: \d+K/(\d+)K available", text)
    total_mib = int(m.group(1)) / 1024 if m else 0
    need(m and args.mem * 0.9 <= total_mib <= args.mem, "kernel sees %d MiB of memory (%.0f MiB)"
         % (args.mem, total_mib))
    m = re.search(r"setting system clock to (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) UTC", text)
    ok = False
    if m:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        # the guest reads the clock some time after start: within the run plus a minute
        ok = abs((t - host_start).total_seconds()) < 60 + args.timeout
        ok = ok and t >= host_start - datetime.timedelta(seconds=60)
    need(ok, "RTC gave the host's date and time (%s)" % (m.group(1) if m else "no RTC line"))
    # With ACPI, Linux numbers ISA interrupts itself (the DSDT gives GSI 4 and 1), so any IRQ.
    need(re.search(r"ttyS0 at I/O 0x3f8 \(irq = \d+, base_baud = 115200\) is a 16550A", text),
         "serial port probed as a 16550A")
    need(re.search(r"serio: i8042 KBD port at 0x60,0x64 irq \d+", text), "i8042 probed")
    # Probed once each, whether the DSDT (PNP ACPI) or the legacy probes found them.
    kbd = len(re.findall(r"serio: i8042 KBD port", text))
    rtcs = re.findall(r"rtc_cmos \S+: registered as (rtc\d+)", text)
    need(kbd == 1 and rtcs == ["rtc0"], "i8042 and RTC probed once each (i8042 %d, RTC %s)"
         % (kbd, " ".join(rtcs) or "none"))
    # kiln never raises the SCI, and nothing else should interrupt unasked.
    noise = re.findall(r"^.*(?:[Ss]purious|nobody cared).*$", text, re.M)
    need(not noise, "no spurious-interrupt messages (%s)" % (noise[0].strip() if noise else "none"))
    if args.acpi == "on":
        # A full ACPI platform (docs/linux.md): the SCI on ISA IRQ 3, level, active high.
        need(re.search(r"ACPI: INT_SRC_OVR \(bus 0 bus_irq 3 global_irq 3 high level\)", text),
             "the MADT's SCI override (IRQ 3, level, active high)")
    need(RUN_INIT in text, "kernel reached Run /init")
    if args.acpi == "on":
        # The FADT's PM timer (docs/linux.md): Linux checks it counts and offers it.
        need(re.search(r"clocksource: acpi_pm: mask: 0xffffff\b", text),
             "acpi_pm clocksource registered (the FADT's PM timer)")
    disk_checks(args, text, host_start, need)
    if args.virtio_once:
        disks = virtio_ids(args).count(2)
        found = re.findall(r"virtio_blk virtio\d+: \[(vd[a-z]+)\]", text)
        need(sorted(found) == ["vd" + chr(ord("a") + i) for i in range(disks)],
             "each of the %d virtio disks found once (%s)" % (disks, " ".join(found) or "none"))
        # Informational: the DSDT's and the command line's device for one transport (both
        # present with --virtio-discovery=both): the second cannot claim the registers.
        refused = re.findall(r"probe of (\S+) failed with error (-?\d+)", text)
        print("info: virtio-mmio transports not probed: %s" % (
            " ".join("%s (%s)" % r for r in refused) or "none"))
    if args.net_tap or args.net_user:
        net_checks(args, text, need)
    if args.netconsole:
        netconsole_checks(args, text, need)
    if args.vsock:
        vsock_checks(args, text, need)
    if not pvm:
        # Instruction completion (src/arch/x86/emulate.c) is PVM's workaround: where the guest's
        # ring 0 runs on the CPU, KVM never gives up on an instruction of a booting kernel.
        m = re.search(r"^  INTERNAL_ERROR .*$", kiln_text, re.M)
        done = re.search(r"completed by kiln +(\d+)", kiln_text)
        need(not m and not done, "no KVM internal errors, kiln completed no instruction (%s)"
             % ((done and done.group(0)) or (m and m.group(0).strip()) or "none"))
    need(status == 0, "kiln exited 0 (power-off, or the panic=-1 reboot) (status %s)" % status)
    return failures


# ---- virtio disks (docs/virtio.md): the root file system on an ext4 image, a read-only data disk

def extract_cpio(path, dest):
    """Unpacks a newc cpio archive (what build-initramfs.sh writes) into dest."""
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while True:
        h = data[off:off + 110]
        if h[:6] != b"070701":
            raise ValueError("%s: not a newc cpio archive at byte %d" % (path, off))
        f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        name = data[off + 110:off + 110 + namesize - 1].decode()
        off = (off + 110 + namesize + 3) & ~3
        body = data[off:off + size]
        off = (off + size + 3) & ~3
        if name == "TRAILER!!!":
            return
        p = os.path.join(dest, name.lstrip("/"))
        if p.rstrip("/") == dest.rstrip("/"):
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        kind = mode & 0o170000
        if kind == 0o040000:
            os.makedirs(p, exist_ok=True)
            os.chmod(p, mode & 0o7777)
        elif kind == 0o100000:
            with open(p, "wb") as out:
                out.write(body)
            os.chmod(p, mode & 0o7777)
        elif kind == 0o120000:
            os.symlink(body.decode(), p)
        elif kind == 0o020000 and os.geteuid() == 0:
            os.mknod(p, mode, os.makedev(rmaj, rmin))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_disks(args):
    """The root image (mkfs.ext4 -d from the initramfs's tree, plus /kiln-check.bin whose
    SHA-256 /init checks) and the data image; returns an error string or None."""
    if args.root_disk:
        tree = os.path.join(args.tmp, "root")
        os.makedirs(tree)
        extract_cpio(args.initrd, tree)
        check = os.urandom(256 << 10)
        with open(os.path.join(tree, "kiln-check.bin"), "wb") as f:
            f.write(check)
        args.disk_sha = hashlib.sha256(check).hexdigest()
        args.disk_token = "kiln-token-%s" % os.urandom(8).hex()
        args.root_image = os.path.join(args.tmp, "root.ext4")
        with open(args.root_image, "wb") as f:
            f.truncate(64 << 20)
        r = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "kilnroot", "-d", tree, args.root_image],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            return "mkfs.ext4 -d failed: %s" % r.stdout.strip()
        args.root_sha_before = sha256_file(args.root_image)
    if args.data_disk:
        args.data_image = os.path.join(args.tmp, "data.img")
        with open(args.data_image, "wb") as f:
            f.write(os.urandom(4 << 20))
        args.data_sha_before = sha256_file(args.data_image)
    return None


def superblock(image):
    r = subprocess.run(["dumpe2fs", "-h", image], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    fields = {}
    for line in r.stdout.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            fields[k.strip()] = v.strip()
    return fields


def disk_checks(args, text, host_start, need):
    """The kernel-level virtio checks: the disks probed, the root mounted by the kernel, and
    afterwards the images as the guest left them."""
    if args.root_disk:
        blocks = (64 << 20) // 512
        need(re.search(r"virtio_blk virtio\d+: \[vda\] %d 512-byte logical blocks" % blocks, text),
             "virtio-blk: the kernel found vda with %d sectors" % blocks)
        need(re.search(r"EXT4-fs \(vda\): mounted filesystem", text), "ext4 on vda mounted by the kernel")
        ro = " readonly" if args.root_disk == "ro" else ""
        need(re.search(r"VFS: Mounted root \(ext4 filesystem\)%s on device" % ro, text),
             "vda is the root file system%s" % (" (read-only)" if ro else ""))
        if args.root_disk == "ro":
            need(sha256_file(args.root_image) == args.root_sha_before,
                 "read-only root image byte-for-byte unchanged")
        else:
            sb = superblock(args.root_image)
            need(sb.get("Mount count") == "1", "superblock: mount count 1 (%s)" % sb.get("Mount count"))
            when = sb.get("Last mount time", "n/a")
            ok = False
            try:
                t = datetime.datetime.strptime(when, "%a %b %d %H:%M:%S %Y")
                # dumpe2fs prints local time; compare in local time
                start = host_start.astimezone().replace(tzinfo=None)
                ok = start - datetime.timedelta(seconds=60) <= t <= datetime.datetime.now() + \
                    datetime.timedelta(seconds=60)
            except ValueError:
                pass
            need(ok, "superblock: last mount time during this boot (%s)" % when)
            r = subprocess.run(["e2fsck", "-f", "-n", args.root_image], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            need(r.returncode == 0, "e2fsck -fn finds the file system clean (status %d)" % r.returncode)
            if "KILN-INIT: disk write ok" in text:  # user space ran (not on a PVM host)
                r = subprocess.run(["debugfs", "-R", "cat /kiln-written.txt", args.root_image],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                need(r.stdout.strip() == args.disk_token,
                     "the file /init wrote and synced is in the image after kiln exited (%r)"
                     % r.stdout.strip()[:40])
    if args.data_disk:
        need(re.search(r"virtio_blk virtio\d+: \[vd[a-z]\] 8192 512-byte logical blocks", text),
             "virtio-blk: the kernel found the read-only data disk (8192 sectors)")
        need(sha256_file(args.data_image) == args.data_sha_before,
             "read-only data image byte-for-byte unchanged")


def report_times(args, marks):
    name = os.path.basename(args.kernel)
    g = marks.get("guest run init")
    h = marks.get("run init")
    print("boot time: %s -c %d: guest kernel start -> Run /init %s (its printk clock)" % (
        name, args.cpus, "%.1f s" % g if g is not None else "not reached"))
    print("boot time: %s -c %d: host, kiln exec -> first console line %s, -> Run /init %s, -> kiln exit %.1f s" % (
        name, args.cpus, "%.1f s" % marks["first line"] if "first line" in marks else "-",
        "%.1f s" % h if h is not None else "not reached", marks["exit"]))


def report_failure(lines, kiln_lines, status):
    said = [t for _, t in kiln_lines if not STATS_LINE.match(t)]
    if said:
        print("kiln said (stderr, without the --stats table):")
        for t in said[-40:]:
            print("    " + t)
    if status is not None and status not in (0,):
        meaning = {2: "bad command line or image", 4: "the guest crashed (see kiln's report above)",
                   6: "the host cannot run the VM"}.get(status, "see README.md, Exit status")
        print("kiln exit status %d: %s" % (status, meaning))
    if lines:
        print("last console lines (host seconds since exec):")
        for t, text in lines[-15:]:
            print("  %8.1fs | %s" % (t, text))


# ---- virtio-net over a TAP in a network namespace of the test's own (--net-tap) -----------------

NET_HOST, NET_GUEST, NET_GUEST_PORT = "10.0.0.1", "10.0.0.2", 8080
CLONE_NEWNET = 0x40000000
# --net user: libslirp's default network; the gateway is the host's own 127.0.0.1.
USER_HOST, USER_GUEST = "10.0.2.2", "10.0.2.15"


def serve_blob(args, addr):
    """Serves a 1 MiB random blob over HTTP on addr (port 0: any free one); sets args.net_sha and
    returns the port."""
    args.net_dir = tempfile.mkdtemp(prefix="kiln-net-")
    blob = os.urandom(1 << 20)
    with open(os.path.join(args.net_dir, "blob"), "wb") as f:
        f.write(blob)
    args.net_sha = hashlib.sha256(blob).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=args.net_dir)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(addr, handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def setup_user_net(args):
    """--net user: the blob on 127.0.0.1 (the guest reaches it at 10.0.2.2) and a free host port
    for the forward to the guest's server."""
    args.net_http_port = serve_blob(args, ("127.0.0.1", 0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        args.net_fwd_port = s.getsockname()[1]
    print("net: user mode; blob on 127.0.0.1:%d (SHA-256 %s), guest port %d forwarded from "
          "127.0.0.1:%d" % (args.net_http_port, args.net_sha, NET_GUEST_PORT, args.net_fwd_port),
          flush=True)


def make_tap(name):
    """Moves this process into a new network namespace with a TAP `name` at NET_HOST/24, up.
    Returns a reason to skip, or None."""
    if os.geteuid() != 0:
        return "a TAP needs root (a network namespace and a TAP device)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun (load the tun module)"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return "cannot make a network namespace: %s" % os.strerror(ctypes.get_errno())
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"],
                ["ip", "addr", "add", NET_HOST + "/24", "dev", name],
                ["ip", "link", "set", name, "up"]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            return "%s: %s" % (" ".join(cmd), r.stdout.strip())
    return None


def setup_net(args):
    """A TAP `args.net_tap` at NET_HOST/24 in a new network namespace (make_tap), and a 1 MiB
    random blob served over HTTP there (port 8000). Returns a reason to skip, or None."""
    why = make_tap(args.net_tap)
    if why:
        return why
    serve_blob(args, (NET_HOST, 8000))
    print("net: TAP %s at %s/24 in a new network namespace; serving a 1 MiB blob (SHA-256 %s)"
          % (args.net_tap, NET_HOST, args.net_sha), flush=True)
    return None


def fetch_from_guest(args):
    url = ("http://127.0.0.1:%d/token" % args.net_fwd_port if args.net_user
           else "http://%s:%d/token" % (NET_GUEST, NET_GUEST_PORT))
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            args.net_fetched = r.read().decode(errors="replace").strip()
    except OSError as e:
        args.net_fetched = "error: %s" % e
    print("net: host fetched %s: %r" % (url, args.net_fetched), flush=True)


def net_checks(args, text, need):
    need("KILN-INIT: net ping ok" in text, "guest pinged the host over virtio-net")
    need("KILN-INIT: net fetch ok" in text, "guest fetched 1 MiB over TCP from the host, intact")
    need(args.net_fetched == "kiln-guest-token", "host fetched from the guest's HTTP server (%r)"
         % args.net_fetched)


# ---- netconsole over a TAP (--netconsole): the kernel's own log as UDP, no user space -----------

NETCONSOLE_PORT = 6666
# Lines netconsole must carry: the kernel reached user space (the last messages before /init).
NETCONSOLE_LATE = ("Freeing unused kernel", RUN_INIT)


def setup_netconsole(args):
    """A TAP `args.netconsole` at NET_HOST/24 in a new network namespace, and a thread collecting
    the UDP datagrams sent to NET_HOST:NETCONSOLE_PORT into args.netconsole_lines. Returns a
    reason to skip, or None."""
    why = make_tap(args.netconsole)
    if why:
        return why
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((NET_HOST, NETCONSOLE_PORT))
    args.netconsole_lines = []

    def listen():
        t0 = time.monotonic()
        buf = b""
        while True:
            data, peer = sock.recvfrom(65536)
            # netconsole sends a message per datagram, or a long one in pieces: join, then split.
            buf += data
            *done, buf = buf.split(b"\n")
            for raw in done:
                text = raw.decode(errors="replace")
                args.netconsole_lines.append((peer, text))
                print("%8.1fs u %s" % (time.monotonic() - t0, text), flush=True)

    threading.Thread(target=listen, daemon=True).start()
    print("netconsole: TAP %s at %s/24 in a new network namespace; listening on UDP %s:%d"
          % (args.netconsole, NET_HOST, NET_HOST, NETCONSOLE_PORT), flush=True)
    return None


def netconsole_checks(args, text, need):
    lines = [t for _, t in args.netconsole_lines]
    peers = sorted({p[0] for p, _ in args.netconsole_lines})
    need(re.search(r"IP-Config: Complete:", text), "ip= configured eth0 in the kernel (IP-Config)")
    need(len(lines) >= 5 and peers == [NET_GUEST],
         "netconsole: kernel log lines came over UDP from %s (%d lines, from %s)"
         % (NET_GUEST, len(lines), ", ".join(peers) or "nobody"))
    # Each line that came must be one the console printed too: the same log, not noise.
    console = set(re.sub(r"^\[[ \d.]+\] ", "", t).strip() for t in text.splitlines())
    strange = [t for t in lines if re.sub(r"^\[[ \d.]+\] ", "", t).strip() not in console]
    need(lines and not strange, "netconsole: every UDP line is a console line too (%d are not%s)"
         % (len(strange), ": %r" % strange[0] if strange else ""))
    late = [w for w in NETCONSOLE_LATE if any(w in t for t in lines)]
    need(late, "netconsole: the boot's late messages came too (%s)" % (", ".join(late) or "none of "
                                                                        + ", ".join(NETCONSOLE_LATE)))


# ---- virtio-vsock bridged to Unix sockets (--vsock, docs/vsock.md) ------------------------------

VSOCK_GUEST_CID, VSOCK_GUEST_PORT, VSOCK_HOST_PORT = 3, 5000, 6000
VSOCK_ECHO_BYTES = 1 << 20


def setup_vsock(args):
    """kiln's Unix socket path in a directory of our own, and a thread serving the guest's
    connection to host port VSOCK_HOST_PORT on "<uds>_<port>": it reads one line and answers
    "host-ack <line>"."""
    args.vsock_dir = tempfile.mkdtemp(prefix="kiln-vsock-")
    args.vsock_uds = os.path.join(args.vsock_dir, "v.sock")
    args.vsock_token = "kiln-vsock-%s" % os.urandom(8).hex()
    args.vsock_got, args.vsock_echo, args.vsock_echoed = None, None, None
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("%s_%d" % (args.vsock_uds, VSOCK_HOST_PORT))
    srv.listen(4)

    def serve():
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(60)
            line = b""
            try:
                while not line.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    line += chunk
                args.vsock_got = line.decode(errors="replace").strip()
                conn.sendall(b"host-ack " + line.strip() + b"\n")
            except OSError as e:
                args.vsock_got = "error: %s" % e
        print("vsock: the guest connected to host port %d and sent %r"
              % (VSOCK_HOST_PORT, args.vsock_got), flush=True)

    threading.Thread(target=serve, daemon=True).start()
    print("vsock: kiln's socket %s; host port %d listening on %s_%d" % (
        args.vsock_uds, VSOCK_HOST_PORT, args.vsock_uds, VSOCK_HOST_PORT), flush=True)


def vsock_connect(args):
    """Connects to the guest's port VSOCK_GUEST_PORT through kiln's socket: "CONNECT <port>\n",
    then "OK <host port>\n". Tries again while the guest's listener is not up yet (kiln closes
    the socket without "OK" when the guest refuses: /init says it listens as socat starts, not
    once it has); returns (socket, the OK line and the try it came on)."""
    problem = None
    for tries in range(1, 31):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        try:
            s.connect(args.vsock_uds)
            s.sendall(b"CONNECT %d\n" % VSOCK_GUEST_PORT)
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)  # byte by byte: nothing after the line is ours to take
                if not c:
                    break
                line += c
            if re.fullmatch(rb"OK \d+\n", line):
                return s, "%s (try %d)" % (line.decode().strip(), tries)
            problem = "answered %r" % line
        except OSError as e:
            problem = str(e)
        s.close()
        time.sleep(1)
    raise OSError("CONNECT %d through %s: %s" % (VSOCK_GUEST_PORT, args.vsock_uds, problem))


def vsock_echo(args):
    """Sends VSOCK_ECHO_BYTES random bytes to the guest's echo server and reads them back: the
    result, with the SHA-256 of each and the time taken, in args.vsock_echoed."""
    blob = os.urandom(VSOCK_ECHO_BYTES)
    want = hashlib.sha256(blob).hexdigest()
    t0 = time.monotonic()
    try:
        s, ok = vsock_connect(args)
    except OSError as e:
        args.vsock_echoed = {"error": str(e)}
        print("vsock: %s" % e, flush=True)
        return
    errors = []

    def send():
        try:
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)  # the guest's socat sees end of file, and so ends cat's input
        except OSError as e:
            errors.append("send: %s" % e)

    t1 = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    got = hashlib.sha256()
    n = 0
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got.update(chunk)
            n += len(chunk)
    except OSError as e:
        errors.append("receive: %s" % e)
    sender.join(10)
    s.close()
    t2 = time.monotonic()
    args.vsock_echoed = {"ok": ok, "sent": want, "got": got.hexdigest(), "bytes": n,
                         "error": "; ".join(errors), "connect_s": t1 - t0, "echo_s": t2 - t1}
    print("vsock: %s; sent %d bytes (SHA-256 %s), got back %d (SHA-256 %s) in %.1f s%s" % (
        ok, VSOCK_ECHO_BYTES, want, n, got.hexdigest(), t2 - t1,
        "; " + "; ".join(errors) if errors else ""), flush=True)


def vsock_checks(args, text, need):
    need("KILN-INIT: vsock connect ok" in text,
         "vsock: the guest connected to host port %d and got the host's answer" % VSOCK_HOST_PORT)
    need(args.vsock_got == args.vsock_token, "vsock: the host's listener on <uds>_%d got the "
         "guest's token (%r)" % (VSOCK_HOST_PORT, args.vsock_got))
    e = args.vsock_echoed or {"error": "never connected: no 'vsock listening' from /init"}
    need(e.get("ok") and not e.get("error") and e.get("got") == e.get("sent"),
         "vsock: the host connected to guest port %d (%s) and %d bytes came back intact (%s)" % (
             VSOCK_GUEST_PORT, e.get("ok", "no OK line"), VSOCK_ECHO_BYTES,
             e.get("error") or "%d bytes back" % e.get("bytes", 0)))


def user_level(text):
    if RUN_INIT not in text:
        print("SKIP: user level: the kernel-level boot never reached /init (its test says why)")
        return 77
    if "KILN-INIT: start" not in text:
        if SYSCALL_DEATH.search(text):
            if is_pvm_host():
                print("SKIP: user level: /init died at its first system call: this host's KVM "
                      "(PVM) cannot run guest system calls")
                return 77
            print("FAIL: user level: /init died at its first system call (not a PVM host)")
            return 1
        print("FAIL: user level: /init never started")
        return 1
    want = ["KILN-INIT: cpus ok", "KILN-INIT: mem ok", "KILN-INIT: got " + LINE, "KILN-INIT: done"]
    # What the command line asked of /init (the kernel echoes it): the virtio disk and rng checks.
    for param, line in (("kiln.disk_sha=", "KILN-INIT: disk read ok"),
                        ("kiln.disk_token=", "KILN-INIT: disk write ok"),
                        ("kiln.hwrng=1", "KILN-INIT: hwrng ok"),
                        ("kiln.virtio_ids=", "KILN-INIT: virtio devices ok"),
                        ("kiln.vsock_connect=", "KILN-INIT: vsock connect ok"),
                        ("kiln.vsock_listen=", "KILN-INIT: vsock listening")):
        if param in text:
            want.append(line)
    missing = [w for w in want if w not in text]
    if missing or "KILN-INIT: FAIL" in text:
        print("FAIL: user level: missing %s%s" % (missing, " (a FAIL line)" if "KILN-INIT: FAIL" in text else ""))
        return 1
    print("PASS: user level: /init saw the right nproc and memory, read a line typed on kiln's "
          "stdin, and powered off")
    return 0


def test_kernel(args):
    """Points args.kernel and args.initrd at the test kernel and a fresh initramfs; returns an
    exit status when that cannot be done, else None."""
    here = os.path.dirname(os.path.abspath(__file__))
    build = [os.path.join(here, "build-kernel.sh")] + (["--dir"] if args.from_cache else [])
    if args.variant:
        build += [os.path.join(here, "microvm.config"), os.path.join(here, args.variant + ".config")]
    k = subprocess.run(build, stdout=subprocess.PIPE, text=True)
    if k.returncode == 77:
        print("SKIP: the packages to build the test kernel are missing")
        return 77
    if k.returncode != 0:
        if args.from_cache:
            print("FAIL: the test kernel is not in the cache (%s): its build failed or did not run "
                  "(tests/linux/build-kernel.sh)" % k.stdout.strip())
        else:
            print("FAIL: building the test kernel failed (status %d)" % k.returncode)
        return 1
    args.kernel = os.path.join(k.stdout.strip().splitlines()[-1], args.image)
    args.tmp = tempfile.mkdtemp(prefix="kiln-initramfs-")
    args.initrd = os.path.join(args.tmp, "initramfs.cpio")
    # The vsock test's guest talks through socat (VSOCK-LISTEN, VSOCK-CONNECT).
    env = dict(os.environ, KILN_INITRAMFS_PROGRAMS="socat") if args.vsock else None
    r = subprocess.run([os.path.join(here, "build-initramfs.sh"), args.initrd], env=env)
    if r.returncode:
        print("%s: building the initramfs (status %d)" % ("SKIP" if r.returncode == 77 else "FAIL",
                                                         r.returncode))
        return 77 if r.returncode == 77 else 1
    problem = make_disks(args)
    if problem:
        print("FAIL: making the disk images: " + problem)
        return 1
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln")
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    ap.add_argument("-c", "--cpus", type=int, default=1)
    ap.add_argument("-m", "--mem", type=int, default=256)
    ap.add_argument("--acpi", choices=("on", "off"), default="on")
    ap.add_argument("--timeout", type=int, default=2400, help="seconds before kiln is killed")
    ap.add_argument("--log", help="save (or, with --user-level, read) the console log here")
    ap.add_argument("--user-level", action="store_true")
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--from-cache", action="store_true")
    ap.add_argument("--image", choices=("vmlinux", "bzImage"), default="vmlinux")
    ap.add_argument("--pvm-workarounds", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--clearcpuid", default=PVM_CLEARCPUID,
                    help="clearcpuid= list on PVM hosts (empty: none)")
    ap.add_argument("--clearcpuid-more", default="",
                    help="features to clear on PVM hosts besides --clearcpuid's")
    ap.add_argument("--append", help="more kernel command-line parameters")
    ap.add_argument("--pvm-append", default="",
                    help="more kernel command-line parameters, only with the PVM workarounds")
    ap.add_argument("--root-disk", choices=("rw", "ro"),
                    help="no initramfs: the root file system is an ext4 image on virtio-blk "
                         "(root=/dev/vda), made with mkfs.ext4 -d from the initramfs's files")
    ap.add_argument("--data-disk", action="store_true",
                    help="also a 4 MiB read-only virtio-blk data disk, checked unchanged afterwards")
    ap.add_argument("--rng", action="store_true", help="also virtio-rng (/init reads /dev/hwrng)")
    ap.add_argument("--irqchip", choices=("split", "kernel"), help="kiln's --irqchip (default: kiln's)")
    ap.add_argument("--variant", choices=("nopci",),
                    help="a variant of the test kernel (tests/linux/VARIANT.config over microvm.config)")
    ap.add_argument("--virtio-discovery", choices=("both", "acpi"),
                    help="kiln's --virtio-discovery (default: kiln's)")
    ap.add_argument("--virtio-once", action="store_true",
                    help="check that each virtio device was found exactly once")
    ap.add_argument("--halt", choices=("poweroff", "reboot"),
                    help="how /init ends (default: reboot with --acpi off or --variant nopci, "
                    "which cannot power off, else poweroff)")
    ap.add_argument("--net-tap", metavar="NAME",
                    help="a virtio-net interface on TAP NAME in a new network namespace: the "
                    "guest pings the host, fetches a file over TCP and serves one (needs root)")
    ap.add_argument("--net-user", action="store_true",
                    help="the same over --net user (libslirp): the host at 10.0.2.2, the guest's "
                    "server through a hostfwd")
    ap.add_argument("--netconsole", metavar="NAME",
                    help="a virtio-net interface on TAP NAME in a new network namespace, set up "
                    "by the kernel (ip=), which sends its log there with netconsole (needs root)")
    ap.add_argument("--vsock", action="store_true",
                    help="virtio-vsock on a Unix socket: the guest connects to a host listener, "
                    "and the host sends 1 MiB through the guest's echo server (socat)")
    args = ap.parse_args()
    if not args.halt:
        args.halt = "reboot" if args.acpi == "off" or args.variant == "nopci" else "poweroff"
    if (args.root_disk or args.data_disk or args.vsock) and not (args.build or args.from_cache):
        ap.error("--root-disk, --data-disk and --vsock need --build or --from-cache")
    if args.netconsole and (args.net_tap or args.net_user):
        ap.error("--netconsole has its own TAP: not with --net-tap or --net-user")
    if args.user_level:
        try:
            with open(args.log, errors="replace") as f:
                return user_level(f.read())
        except OSError:
            print("SKIP: user level: no console log from the kernel-level boot (%s)" % args.log)
            return 77
    if args.log and os.path.exists(args.log):
        os.unlink(args.log)  # never let the user level read an earlier run's log
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        print("SKIP: /dev/kvm is not usable: %s" % e.strerror)
        return 77
    if args.build or args.from_cache:
        try:
            status = test_kernel(args)
            if status is None:
                return kernel_level(args)
            return status
        finally:
            if getattr(args, "tmp", None):
                shutil.rmtree(args.tmp, ignore_errors=True)
            if getattr(args, "vsock_dir", None):
                shutil.rmtree(args.vsock_dir, ignore_errors=True)
    return kernel_level(args)


def kernel_level(args):
    # CI gives all its Linux boots one budget (scripts/test.sh): never run past its end.
    deadline = os.environ.get("KILN_LINUX_DEADLINE")
    if deadline:
        left = int(float(deadline) - time.time())
        if left < 60:
            print("FAIL: the time budget for Linux boots (KILN_LINUX_DEADLINE) is spent: %d s left" % left)
            return 1
        if left < args.timeout:
            print("time budget: %d s left of KILN_LINUX_DEADLINE (instead of --timeout %d)" % (left, args.timeout))
            args.timeout = left
    args.net_fetch, args.net_fetched, args.net_sha = None, None, ""
    if args.net_tap:
        why = setup_net(args)
        if why:
            print("SKIP: " + why)
            return 77
    if args.netconsole:
        why = setup_netconsole(args)
        if why:
            print("SKIP: " + why)
            return 77
    args.vsock_echo = None
    if args.vsock:
        setup_vsock(args)
    if args.net_user:
        setup_user_net(args)
    pvm = args.pvm_workarounds == "on" or (args.pvm_workarounds == "auto" and is_pvm_host())
    if pvm:
        print("host: KVM under PVM: guest ring-0 code is emulated (minutes per boot) and the PVM "
              "workarounds go on the command line (docs/linux.md)")
    status, lines, kiln_lines, text, host_start, marks, problem = boot(args, pvm)
    print()
    print("kiln exit status %s after %.1f s" % (status if status is not None else "- (killed)", marks["exit"]))
    report_times(args, marks)
    if problem:
        print("FAIL: " + problem)
        report_failure(lines, kiln_lines, status)
        print("kernel level: FAIL: " + problem)
        return 1
    kiln_text = "\n".join(t for _, t in kiln_lines)
    failures = kernel_checks(args, status, text, kiln_text, host_start, pvm)
    if failures:
        report_failure(lines, kiln_lines, status)
        if args.log:
            print("the whole console log: %s" % args.log)
    print("kernel level: %s" % ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
