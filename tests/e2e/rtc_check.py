#!/usr/bin/env python3
"""The guest's CMOS clock must read the host's UTC time (within a minute), and the guest's ACPI
power-off must end kiln with status 0.

usage: rtc_check.py KILN PLATFORM_ELF
"""
import datetime
import re
import subprocess
import sys

from kvmcheck import require_kvm


def main():
    kiln, guest = sys.argv[1], sys.argv[2]
    require_kvm()
    before = datetime.datetime.now(datetime.timezone.utc)
    p = subprocess.run([kiln, "run", "--debug-exit", "-k", guest], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    after = datetime.datetime.now(datetime.timezone.utc)
    m = re.search(r"^rtc: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$", p.stdout, re.M)
    if not m:
        print("FAIL: no rtc line in the guest's output: %r %r" % (p.stdout, p.stderr))
        return 1
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    if not (before - datetime.timedelta(seconds=60) <= t <= after + datetime.timedelta(seconds=60)):
        print("FAIL: guest RTC says %s, host UTC was %s .. %s" % (t, before, after))
        return 1
    if p.returncode != 0 or "acpi: power off" not in p.stdout:
        print("FAIL: ACPI power-off: exit status %d, output %r %r" % (p.returncode, p.stdout, p.stderr))
        return 1
    print("PASS: guest RTC %s matches host UTC %s; ACPI power-off -> exit 0" % (t, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
