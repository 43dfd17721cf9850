#!/usr/bin/env python3
"""Writes an uncompressed newc ("070701") cpio archive, as Linux unpacks for its initramfs.

usage: mkcpio.py SPEC OUT

SPEC lists the archive's entries, one a line, in the format of the kernel's usr/gen_init_cpio
(Documentation/driver-api/early-userspace/early_userspace_support.rst), of which it supports:

    dir   NAME MODE
    file  NAME SOURCE MODE
    slink NAME TARGET MODE
    nod   NAME MODE c|b MAJOR MINOR

MODE is octal; blank lines and lines starting with '#' are ignored. Entries are written sorted
by name, every one owned by 0:0 with mtime $SOURCE_DATE_EPOCH (default 0) and inode numbers
counted from 1, so the same SPEC and sources always give the same bytes. Device nodes need no
privileges: they are only described in the archive. Every entry's parent must be a listed dir.
"""
import os
import stat
import sys

TYPES = {"dir": stat.S_IFDIR, "file": stat.S_IFREG, "slink": stat.S_IFLNK, "nod": None}


def fail(msg):
    sys.exit(f"mkcpio.py: {msg}")


def parse(spec_path):
    entries = {}
    with open(spec_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            where = f"{spec_path}:{lineno}"
            kind = words[0]
            want = {"dir": 3, "file": 4, "slink": 4, "nod": 6}.get(kind)
            if want is None:
                fail(f"{where}: unknown entry type {kind!r}")
            if len(words) != want:
                fail(f"{where}: {kind} takes {want - 1} fields, got {len(words) - 1}")
            name = words[1]
            if not name.startswith("/") or "//" in name or name.endswith("/") or "/../" in name + "/":
                fail(f"{where}: bad name {name!r}")
            name = name.lstrip("/")
            if name in entries:
                fail(f"{where}: {name} listed twice")
            try:
                mode = int(words[3] if kind in ("file", "slink") else words[2], 8)
            except ValueError:
                fail(f"{where}: bad mode")
            if mode & ~0o7777:
                fail(f"{where}: mode {mode:o} has bits beyond 07777")
            e = {"kind": kind, "mode": mode, "rdev": (0, 0), "data": b""}
            if kind == "file":
                with open(words[2], "rb") as src:
                    e["data"] = src.read()
                e["mode"] |= stat.S_IFREG
            elif kind == "slink":
                e["data"] = words[2].encode()
                e["mode"] |= stat.S_IFLNK
            elif kind == "dir":
                e["mode"] |= stat.S_IFDIR
            else:
                if words[3] not in ("c", "b"):
                    fail(f"{where}: device type must be c or b")
                e["mode"] |= stat.S_IFCHR if words[3] == "c" else stat.S_IFBLK
                e["rdev"] = (int(words[4]), int(words[5]))
            entries[name] = e
    for name in entries:
        parent = os.path.dirname(name)
        if parent and entries.get(parent, {}).get("kind") != "dir":
            fail(f"/{name}: parent /{parent} is not a listed dir")
    return entries


def header(ino, mode, nlink, mtime, size, rdev, namesize):
    fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev[0], rdev[1], namesize, 0)
    return b"070701" + b"".join(b"%08X" % v for v in fields)


def pad4(n):
    return b"\0" * (-n % 4)


def archive(entries, mtime):
    out = bytearray()

    def put(ino, name, e):
        bname = name.encode() + b"\0"
        nlink = 2 if e["kind"] == "dir" else 1
        out.extend(header(ino, e["mode"], nlink, mtime, len(e["data"]), e["rdev"], len(bname)))
        out.extend(bname)
        out.extend(pad4(110 + len(bname)))
        out.extend(e["data"])
        out.extend(pad4(len(e["data"])))

    for ino, name in enumerate(sorted(entries), 1):
        put(ino, name, entries[name])
    put(0, "TRAILER!!!", {"kind": "file", "mode": 0, "rdev": (0, 0), "data": b""})
    out.extend(pad4(len(out)))
    return bytes(out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    data = archive(parse(sys.argv[1]), mtime)
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
