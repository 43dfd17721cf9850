"""Shared by the Python e2e scripts: skip (exit 77) when /dev/kvm cannot be used."""
import os
import sys


def require_kvm():
    """Returns when /dev/kvm opens read-write; otherwise prints SKIP with the reason and exits 77."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        print("SKIP: /dev/kvm is not usable: %s" % e.strerror)
        sys.exit(77)


def kvm_usable():
    """True when /dev/kvm opens read-write (for a script that words its own skip)."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False
