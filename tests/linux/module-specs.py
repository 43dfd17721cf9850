#!/usr/bin/env python3
"""module-specs.py: the mkcpio.py lines that put kernel modules, in load order, into an initramfs.

Usage: module-specs.py MODDIR NAME...

Reads MODDIR/modules.dep and prints one `file /lib/modules/NN-FILE.ko SRC 0644` line per module,
each after everything modules.dep says it needs (NN keeps the order in the file names; /init
loads them in name order). Names may use - or _. Exits 1 with a message for a module that is not
there or is compressed (only plain .ko files are supported). Standard library only.
"""

import os
import sys


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: module-specs.py MODDIR NAME...")
    moddir = argv[1]
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
    by_name = {os.path.basename(m).split(".ko")[0].replace("-", "_"): m for m in deps}
    done, order = set(), []

    def visit(path):
        if path in done:
            return
        done.add(path)
        for d in deps[path]:
            visit(d)
        order.append(path)

    for name in argv[2:]:
        key = name.replace("-", "_")
        if key not in by_name:
            sys.exit("module-specs.py: module %s is not in %s/modules.dep" % (name, moddir))
        visit(by_name[key])
    for n, path in enumerate(order, 1):
        if not path.endswith(".ko"):
            sys.exit("module-specs.py: %s is compressed; only plain .ko modules are supported" % path)
        print("file /lib/modules/%02d-%s %s 0644" % (n, os.path.basename(path),
                                                      os.path.join(moddir, path)))


if __name__ == "__main__":
    main(sys.argv)
