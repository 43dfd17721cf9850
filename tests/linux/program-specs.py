#!/usr/bin/env python3
"""program-specs.py: the mkcpio.py lines that put host programs, with their shared libraries, into
an initramfs (build-initramfs.sh, KILN_INITRAMFS_PROGRAMS).

Usage: program-specs.py SPEC NAME...

For each NAME found on PATH prints a `file` line putting the program at that path, and one for
each shared library and the dynamic loader that `ldd` names for it, at the path ldd gives (the
bytes of a symlink's target: the soname's file is what the loader opens). Prints a `dir` line
for every parent directory those need that SPEC (the archive's spec so far) does not list. The
loader finds the libraries in its built-in directories (Debian's include the multiarch ones), so
the archive needs no ld.so.cache. Exits 1 with a message for a program that is not there or a
library ldd cannot find. Standard library only.
"""

import os
import shutil
import subprocess
import sys


def libraries(path):
    """The absolute paths ldd names for the program at path."""
    r = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=dict(os.environ, LC_ALL="C"))
    if r.returncode:
        sys.exit("program-specs.py: ldd %s: %s" % (path, r.stdout.strip()))
    found = []
    for line in r.stdout.splitlines():
        words = line.split()
        if "=>" in words:
            after = words[words.index("=>") + 1:]
            if after and after[0] == "not":
                sys.exit("program-specs.py: %s: library %s not found" % (path, words[0]))
            if after and after[0].startswith("/"):
                found.append(after[0])
        elif words and words[0].startswith("/"):
            found.append(words[0])  # the dynamic loader
    return found


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: program-specs.py SPEC NAME...")
    have = set()
    with open(argv[1]) as f:
        for line in f:
            words = line.split()
            if len(words) >= 2 and not words[0].startswith("#"):
                have.add(words[1])
    files = {}
    for name in argv[2:]:
        path = shutil.which(name)
        if not path:
            sys.exit("program-specs.py: %s is not on PATH" % name)
        files[path] = os.path.realpath(path)
        for lib in libraries(path):
            files[lib] = os.path.realpath(lib)
    dirs = set()
    for path in files:
        d = os.path.dirname(path)
        while d != "/" and d not in have:
            dirs.add(d)
            d = os.path.dirname(d)
    for d in sorted(dirs):
        print("dir %s 0755" % d)
    for path in sorted(files):
        if path in have:
            sys.exit("program-specs.py: %s is in the archive already" % path)
        print("file %s %s 0755" % (path, files[path]))


if __name__ == "__main__":
    main(sys.argv)
