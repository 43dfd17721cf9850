#!/usr/bin/env python3
"""check-layers.py: kiln's include layering and "no x86 outside arch/x86" (issue 11, docs/design.md).

Usage: check-layers.py SRC_DIR

Reads every `#include "..."` in SRC_DIR (headers are named from src/, as `-Isrc` finds them) and
prints one line per problem, `file:line: rule: detail`, then exits 1 when there is any:

  (a) upward include: a file includes a header from a layer above its own (LAYERS below);
  (b) x86 in the generic core: a file in GENERIC includes a header from arch/x86/ or names an
      `x86_` symbol (comments and string literals are not looked at);
  (c) a file under SRC_DIR that no entry of LAYERS places, or a quoted include of a header that
      is not in SRC_DIR (so a new file has to be given a layer here);
  (e) a private header (PRIVATE) included by a file not allowed to.

Standard library only.
"""

import os
import re
import sys

# The layers, ground floor first: a file may include headers from its own layer and the layers
# below it. A path ending in "/" covers everything under that folder; paths are relative to src/.
# The longest matching path decides.
LAYERS = [
    # Ground floor: util/, the stop protocol and config.{c,h}, the plain-data description of a VM
    # (and the vocabulary enums every layer shares: irqchip mode, memory backing, disk I/O).
    (0, "ground", ["util/", "stop.h", "version.h", "config.h", "config.c",
                   # the GDB remote protocol, pure (the stub that drives a VM is control/)
                   "gdb/"]),
    # KVM mechanism only: fds, memory slots, vCPU create/kick, exit counters, buses.
    (1, "kvm", ["kvm/"]),
    # arch/ (arch.h, the interface, and arch/x86/, its implementation), acpi/ (the AML encoder)
    # and devices/ share a floor. Inside it the loaders build on the architecture's memory map
    # and entry state (loader/*.c include arch/x86/layout.h), so loader/ sits above arch/, and
    # arch/ must not include loader/.
    (2, "arch, acpi, devices", ["arch/", "acpi/", "devices/"]),
    (2.5, "loader", ["loader/"]),
    # The exit dispatch: one vCPU's KVM_RUN loop.
    (3, "exits", ["exits.c", "exits.h"]),
    (4, "builder, vmm", ["builder.c", "builder.h", "vmm.c", "vmm.h", "vmm_priv.h", "console.c",
                         "console.h", "snapshot.c", "snapshot.h"]),
    (5, "control", ["control/"]),
    (6, "main", ["main.c"]),
    # kiln-jailer is a program of its own that links none of kiln: its files may use only the
    # ground floor (version.h) and each other.
    (6, "jailer", ["jailer/"]),
]

# Files that must not include arch/x86/ headers nor name x86_ symbols (rule b).
GENERIC = ["kvm/", "exits.c", "exits.h", "builder.c", "builder.h", "vmm.c", "vmm.h", "vmm_priv.h",
           "snapshot.c", "snapshot.h",
           "config.c", "config.h", "control/", "main.c"]

# Private headers: only the files listed may include them (rule e). struct vmm is opaque to
# everything but the builder, which fills it, and vmm.c, which runs it.
PRIVATE = {
    "vmm_priv.h": ["builder.c", "vmm.c", "snapshot.c"],
    "arch/x86/board.h": ["arch/x86/board.c", "arch/x86/vm.c", "arch/x86/snapshot.c"],
}

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
X86_RE = re.compile(r"\bx86_[A-Za-z0-9_]*")


def blank(text, strings):
    """Returns text with comments (and the insides of string/char literals when `strings`)
    replaced by spaces, newlines kept, so line numbers still match the original."""
    out = list(text)

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    i, n = 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            wipe(i, j)
            i = j
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            if strings:
                wipe(i + 1, min(j, n))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def layer_of(rel):
    best = None
    for rank, name, paths in LAYERS:
        for p in paths:
            if rel == p or (p.endswith("/") and rel.startswith(p)):
                if best is None or len(p) > best[0]:
                    best = (len(p), rank, name)
    return None if best is None else best[1:]


def is_generic(rel):
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in GENERIC)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def main(argv):
    if len(argv) != 2:
        print("usage: check-layers.py SRC_DIR", file=sys.stderr)
        return 2
    src = argv[1]
    files = []
    for root, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            if name.endswith((".c", ".h")):
                files.append(os.path.relpath(os.path.join(root, name), src).replace(os.sep, "/"))
    if not files:
        print(f"check-layers: no .c or .h files under {src}", file=sys.stderr)
        return 2
    known_files = set(files)

    problems = []  # (file, line, rule, detail)
    for rel in files:
        with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        mine = layer_of(rel)
        if mine is None:
            problems.append((rel, 1, "no layer", "place this file in LAYERS in "
                             "scripts/check-layers.py"))
            continue
        generic = is_generic(rel)
        code = blank(text, strings=False)
        for m in INCLUDE_RE.finditer(code):
            hdr, line = m.group(1), line_of(code, m.start())
            if hdr not in known_files:
                problems.append((rel, line, "unknown header",
                                 f'"{hdr}" is not a file under src/ (name headers from src/)'))
                continue
            theirs = layer_of(hdr)
            if theirs is not None and theirs[0] > mine[0]:
                problems.append((rel, line, "upward include",
                                 f"{rel} ({mine[1]}) includes {hdr} ({theirs[1]})"))
            if hdr in PRIVATE and rel != hdr and rel not in PRIVATE[hdr]:
                problems.append((rel, line, "private header",
                                 f"{hdr} is for {', '.join(PRIVATE[hdr])} only"))
            if generic and hdr.startswith("arch/x86/"):
                problems.append((rel, line, "x86 in generic code", f"includes {hdr}"))
        if generic:
            code = blank(text, strings=True)
            seen = set()
            for m in X86_RE.finditer(code):
                sym = m.group(0)
                if sym in seen:
                    continue
                seen.add(sym)
                problems.append((rel, line_of(code, m.start()), "x86 in generic code",
                                 f"names {sym}"))

    for rel, line, rule, detail in problems:
        print(f"src/{rel}:{line}: {rule}: {detail}")
    if problems:
        print(f"check-layers: {len(problems)} problem(s); layers and rules: "
              "scripts/check-layers.py, docs/design.md (Layers)")
        return 1
    print(f"check-layers: {len(files)} files, no upward include, no x86 outside arch/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
