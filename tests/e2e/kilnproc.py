"""Shared by the Python tests and benchmarks (tests/api, tests/linux, bench): waiting for a kiln's
API socket, and reading what a kiln wrote to a file."""
import os
import socket
import time


def wait_socket(path, proc=None, timeout=10.0, poll_s=0.01):
    """True once a connection to the Unix socket at path succeeds (kiln binds before it listens:
    the file alone is not enough); False when timeout seconds pass or proc (a Popen, if given)
    exits first. Polls every poll_s seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return True
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(poll_s)
    return False


def read_text(path):
    """The file's text, undecodable bytes replaced."""
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")
