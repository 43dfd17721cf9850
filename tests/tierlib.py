"""Shared by the tiers' result.py scripts (tests/kvm, tests/arm64): one test of a tier's inner run
reported as a Meson test of its own. The tier's runner leaves the results in its OUT folder, or
OUT/skip-reason when the whole tier was skipped for a host reason."""
import os
import sys


def result_main(tier, tier_test, results_file, load, report, argv=None):
    """`result.py OUT NAME`: a skip (77) with the reason when OUT/skip-reason is there; a failure
    (1) when OUT/results_file cannot be read (load(open file) raises OSError or ValueError);
    otherwise report(results, out, name), which prints the test's output and returns its exit
    status. tier names the tier in messages ("real-KVM"), tier_test is the Meson test that runs
    it ("kvm-tier")."""
    argv = sys.argv if argv is None else argv
    if len(argv) != 3:
        print("usage: %s OUT NAME" % os.path.basename(argv[0]), file=sys.stderr)
        return 2
    out, name = argv[1], argv[2]
    try:
        with open(os.path.join(out, "skip-reason")) as f:
            print("SKIP: the %s tier did not run: %s" % (tier, f.read().strip()))
            return 77
    except OSError:
        pass
    try:
        with open(os.path.join(out, results_file)) as f:
            results = load(f)
    except (OSError, ValueError):
        print("FAIL: no results from the %s tier (%s/%s): see the test %s's log"
              % (tier, out, results_file, tier_test))
        return 1
    return report(results, out, name)
