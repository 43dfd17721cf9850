#!/usr/bin/env python3
"""Adds up meson test logs (testlog.json) and prints the suite's closing line:
'N passed, N failed, N skipped'. A TAP test (the Criterion unit tests) counts each of its
cases; any other test counts once. Exits 1 when anything failed or nothing ran."""
import json
import re
import sys

TAP = re.compile(r"^(not ok|ok)\b(.*)$", re.M)


def count(record):
    """(passed, failed, skipped) for one meson test."""
    result = record["result"]
    cases = TAP.findall(record.get("stdout") or "")
    if not cases:
        if result in ("OK", "EXPECTEDFAIL"):
            return 1, 0, 0
        if result == "SKIP":
            return 0, 0, 1
        return 0, 1, 0
    p = f = s = 0
    for status, rest in cases:
        if "# SKIP" in rest.upper():
            s += 1
        elif status == "ok":
            p += 1
        else:
            f += 1
    # A crash or timeout after the last reported case is a failure of its own.
    if result not in ("OK", "EXPECTEDFAIL", "SKIP") and f == 0:
        f = 1
    return p, f, s


passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        with open(path) as log:
            for line in log:
                if line.strip():
                    p, f, s = count(json.loads(line))
                    passed, failed, skipped = passed + p, failed + f, skipped + s
    except OSError as e:
        print(f"summary: {path}: {e.strerror}", file=sys.stderr)
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
