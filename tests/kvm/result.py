#!/usr/bin/env python3
"""Reports one test of the real-KVM tier's inner run (tests/kvm/run-tier.py) as a Meson test of
its own: prints what the test printed inside L1 and exits as it did there (0 pass, 1 fail, 77
skip). A test the inner run did not reach fails, unless the whole tier was skipped for a host
reason (OUT/skip-reason), which is a skip with that reason.

usage: result.py OUT NAME
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tierlib import result_main  # noqa: E402


def load(f):
    return [json.loads(line) for line in f if line.strip()]


def report(records, out, name):
    for r in records:
        if r["name"].split(" / ")[-1] == name:  # Meson's "project:suite / name"
            print("inside L1 (kvm_amd on TCG's SVM): %s in %.1f s" % (r["result"], r["duration"]))
            print("command: " + " ".join(r.get("command") or []))
            sys.stdout.write(r.get("stdout") or "")
            if r.get("stderr"):
                sys.stdout.write(r["stderr"])
            return {"OK": 0, "SKIP": 77, "EXPECTEDFAIL": 0}.get(r["result"], 1)
    print("FAIL: %s did not run inside L1 (the tier stopped early? see the test kvm-tier's log)" % name)
    return 1


if __name__ == "__main__":
    sys.exit(result_main("real-KVM", "kvm-tier", "kvm-inner.json", load, report))
