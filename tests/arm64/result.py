#!/usr/bin/env python3
"""Reports one test of the arm64 tier (tests/arm64/run-tier.py) as a Meson test of its own: prints
what the test printed inside L1 and exits as it ended there (0 pass, 1 fail, 77 skip). A test
the tier did not reach fails, unless the whole tier was skipped for a host reason
(OUT/skip-reason), which is a skip with that reason.

usage: result.py OUT NAME
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tierlib import result_main  # noqa: E402


def report(results, out, name):
    r = results.get(name)
    if not r:
        print("FAIL: %s did not run inside L1 (the tier stopped early? see arm64-tier's log)" % name)
        return 1
    print("inside L1 (KVM on qemu-system-aarch64 TCG with EL2): " + r["result"] +
          (": " + r["why"] if r["why"] else ""))
    for line in r["output"]:
        print(line)
    return {"PASS": 0, "SKIP": 77}.get(r["result"], 1)


if __name__ == "__main__":
    sys.exit(result_main("arm64", "arm64-tier", "results.json", json.load, report))
