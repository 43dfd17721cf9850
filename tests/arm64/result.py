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


def main():
    out, name = sys.argv[1], sys.argv[2]
    try:
        with open(os.path.join(out, "skip-reason")) as f:
            print("SKIP: the arm64 tier did not run: " + f.read().strip())
            return 77
    except OSError:
        pass
    try:
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
    except (OSError, ValueError):
        print("FAIL: no results from the arm64 tier (%s/results.json): see the test arm64-tier's "
              "log" % out)
        return 1
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
    sys.exit(main())
