#!/usr/bin/env python3
"""Checks the test kernel's images for what kiln's loaders rely on, and prints what it found.

usage: check-images.py [--vmlinux FILE] [--bzimage FILE]

vmlinux: an ELF64 x86-64 executable with a PT_NOTE holding the "Xen" note
XEN_ELFNOTE_PHYS32_ENTRY (type 18): the PVH entry point.
bzImage: the Linux x86 boot protocol setup header (Documentation/arch/x86/boot.rst): boot_flag
0xAA55, "HdrS", protocol >= 2.12, LOADED_HIGH, a relocatable kernel, XLF_KERNEL_64; the payload's
compression is named from its magic bytes.

Exit status: 0 all checks pass, 1 a check failed (each failure on its own line), 2 bad usage.
"""
import argparse
import struct
import sys

XEN_ELFNOTE_PHYS32_ENTRY = 18
PT_LOAD, PT_NOTE = 1, 4

# Magic bytes of the payload formats Linux's x86 decompressor supports.
COMPRESSION = [
    (b"\x02\x21\x4c\x18", "lz4"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x89LZO", "lzo"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x7fELF", "none (ELF)"),
]

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def notes(data):
    """Yields (name, type, desc) from a run of ELF notes."""
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        off += 12
        name = data[off:off + namesz].rstrip(b"\0").decode("ascii", "replace")
        off += (namesz + 3) & ~3
        desc = data[off:off + descsz]
        off += (descsz + 3) & ~3
        yield name, ntype, desc


def check_vmlinux(path):
    with open(path, "rb") as f:
        data = f.read()
    print(f"vmlinux: {path} ({len(data)} bytes)")
    if not check(data[:4] == b"\x7fELF", "vmlinux: no ELF magic"):
        return
    ei_class, ei_data = data[4], data[5]
    check(ei_class == 2, f"vmlinux: ELF class {ei_class}, expected 2 (ELF64)")
    check(ei_data == 1, "vmlinux: not little-endian")
    (e_type, e_machine, _, e_entry, e_phoff, _, _, _, e_phentsize, e_phnum) = \
        struct.unpack_from("<HHIQQQIHHH", data, 16)
    print(f"  ELF64 type {e_type} machine {e_machine} entry {e_entry:#x}, {e_phnum} program headers")
    check(e_type == 2, f"vmlinux: e_type {e_type}, expected ET_EXEC")
    check(e_machine == 62, f"vmlinux: e_machine {e_machine}, expected EM_X86_64 (62)")
    pvh = None
    for i in range(e_phnum):
        p_type, _, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, _ = \
            struct.unpack_from("<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == PT_LOAD:
            print(f"  PT_LOAD  vaddr {p_vaddr:#x} paddr {p_paddr:#x} filesz {p_filesz:#x} memsz {p_memsz:#x}")
        elif p_type == PT_NOTE:
            for name, ntype, desc in notes(data[p_offset:p_offset + p_filesz]):
                if name == "Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY and len(desc) >= 4:
                    pvh = struct.unpack_from("<I", desc)[0]
    if check(pvh is not None, "vmlinux: no XEN_ELFNOTE_PHYS32_ENTRY note (is CONFIG_PVH on?)"):
        print(f"  XEN_ELFNOTE_PHYS32_ENTRY (PVH entry): {pvh:#x}")


def check_bzimage(path):
    with open(path, "rb") as f:
        data = f.read()
    print(f"bzImage: {path} ({len(data)} bytes)")
    if not check(len(data) >= 0x270, "bzImage: shorter than a setup header"):
        return

    def u8(o):
        return data[o]

    def u16(o):
        return struct.unpack_from("<H", data, o)[0]

    def u32(o):
        return struct.unpack_from("<I", data, o)[0]

    def u64(o):
        return struct.unpack_from("<Q", data, o)[0]

    setup_sects = u8(0x1f1) or 4
    version = u16(0x206)
    loadflags = u8(0x211)
    xloadflags = u16(0x236)
    fields = [
        ("setup_sects (0x1f1)", f"{setup_sects}"),
        ("boot_flag (0x1fe)", f"{u16(0x1fe):#06x}"),
        ("header (0x202)", repr(data[0x202:0x206].decode("ascii", "replace"))),
        ("version (0x206)", f"{version >> 8}.{version & 0xff:02d} ({version:#06x})"),
        ("loadflags (0x211)", f"{loadflags:#04x}"),
        ("code32_start (0x214)", f"{u32(0x214):#x}"),
        ("initrd_addr_max (0x22c)", f"{u32(0x22c):#x}"),
        ("kernel_alignment (0x230)", f"{u32(0x230):#x}"),
        ("relocatable_kernel (0x234)", f"{u8(0x234)}"),
        ("min_alignment (0x235)", f"{u8(0x235)} (2^{u8(0x235)} = {1 << u8(0x235):#x})"),
        ("xloadflags (0x236)", f"{xloadflags:#06x}"),
        ("cmdline_size (0x238)", f"{u32(0x238):#x}"),
        ("payload_offset (0x248)", f"{u32(0x248):#x}"),
        ("payload_length (0x24c)", f"{u32(0x24c):#x}"),
        ("pref_address (0x258)", f"{u64(0x258):#x}"),
        ("init_size (0x260)", f"{u32(0x260):#x} ({u32(0x260) / (1 << 20):.1f} MiB)"),
        ("handover_offset (0x264)", f"{u32(0x264):#x}"),
        ("kernel_info_offset (0x268)", f"{u32(0x268):#x}"),
    ]
    for name, value in fields:
        print(f"  {name:28} {value}")
    flags = [n for bit, n in [(0, "KERNEL_64"), (1, "CAN_BE_LOADED_ABOVE_4G"), (2, "EFI_HANDOVER_32"),
                              (3, "EFI_HANDOVER_64"), (4, "EFI_KEXEC"), (5, "5LEVEL"),
                              (6, "5LEVEL_ENABLED")] if xloadflags & (1 << bit)]
    print(f"  {'xloadflags bits':28} {' '.join(flags) or '-'}")
    lflags = [n for bit, n in [(0, "LOADED_HIGH"), (1, "KASLR_FLAG"), (5, "QUIET_FLAG"),
                               (6, "KEEP_SEGMENTS"), (7, "CAN_USE_HEAP")] if loadflags & (1 << bit)]
    print(f"  {'loadflags bits':28} {' '.join(lflags) or '-'}")
    pm_offset = (setup_sects + 1) * 512
    payload = data[pm_offset + u32(0x248):pm_offset + u32(0x248) + 8]
    kind = next((n for magic, n in COMPRESSION if payload.startswith(magic)), "unknown " + payload.hex())
    print(f"  {'protected-mode code':28} at file offset {pm_offset:#x}, {len(data) - pm_offset} bytes")
    print(f"  {'payload compression':28} {kind}")

    check(u16(0x1fe) == 0xAA55, "bzImage: boot_flag is not 0xAA55")
    check(data[0x202:0x206] == b"HdrS", "bzImage: no HdrS magic at 0x202")
    check(version >= 0x020c, f"bzImage: boot protocol {version:#06x} < 2.12")
    check(loadflags & 1, "bzImage: LOADED_HIGH not set")
    check(xloadflags & 1, "bzImage: XLF_KERNEL_64 not set")
    check(u8(0x234) == 1, "bzImage: not relocatable")


def main():
    p = argparse.ArgumentParser(usage=__doc__.split("\n\n")[1])
    p.add_argument("--vmlinux")
    p.add_argument("--bzimage")
    a = p.parse_args()
    if not a.vmlinux and not a.bzimage:
        p.print_usage(sys.stderr)
        return 2
    if a.vmlinux:
        check_vmlinux(a.vmlinux)
    if a.bzimage:
        check_bzimage(a.bzimage)
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
