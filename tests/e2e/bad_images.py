#!/usr/bin/env python3
"""Writes the hostile guest images the e2e tests feed kiln: bad-image.NAME files in OUTDIR.

usage: bad_images.py OUTDIR HELLO64_ELF MB_HELLO_ELF
Each image is broken in exactly one way, so the test can check kiln names that one thing.
"""
import struct
import sys
from pathlib import Path

EHDR64 = "<16sHHIQQQIHHHHHH"
PHDR64 = "<IIQQQQQQ"
PT_LOAD = 1


def elf64(segments, entry, machine=62, etype=2):
    """A minimal little-endian ELF64: segments are (paddr, data, memsz)."""
    phoff = 64
    data_off = phoff + 56 * len(segments)
    phdrs, blobs = b"", b""
    for paddr, data, memsz in segments:
        phdrs += struct.pack(PHDR64, PT_LOAD, 7, data_off + len(blobs), paddr, paddr,
                             len(data), memsz, 0x1000)
        blobs += data
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = struct.pack(EHDR64, ident, etype, machine, 1, entry, phoff, 0, 0, 64, 56,
                       len(segments), 64, 0, 0)
    return ehdr + phdrs + blobs


EHDR32 = "<16sHHIIIIIHHHHHH"
PHDR32 = "<IIIIIIII"


def multiboot32(segments, entry):
    """A minimal ELF32 multiboot kernel: segments are (paddr, data, memsz); the multiboot header
    (flags 0: load by the ELF headers) sits right after the program headers."""
    mb = struct.pack("<III", 0x1BADB002, 0, (-0x1BADB002) & 0xFFFFFFFF)
    phoff = 52
    data_off = phoff + 32 * len(segments) + len(mb)
    phdrs, blobs = b"", b""
    for paddr, data, memsz in segments:
        phdrs += struct.pack(PHDR32, PT_LOAD, data_off + len(blobs), paddr, paddr, len(data),
                             memsz, 7, 0x1000)
        blobs += data
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    ehdr = struct.pack(EHDR32, ident, 2, 3, 1, entry, phoff, 0, 0, 52, 32, len(segments), 40,
                       0, 0)
    return ehdr + phdrs + mb + blobs


def main():
    out, hello64, mb_hello = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    h64 = hello64.read_bytes()
    code = b"\xf4" * 16  # hlt; never run: every image here must be refused
    images = {
        "empty": b"",
        "unknown": b"this is not a kernel\n" * 20,
        "truncated-header": h64[:40],
        "truncated-segment": h64[:300],
        "outside-ram": elf64([(0x40000000, code, 0x1000)], 0x40000000),
        "overlap": elf64([(0x100000, code, 0x2000), (0x101000, code, 0x1000)], 0x100000),
        "boot-area": elf64([(0x8000, code, 0x1000)], 0x8000),
        "entry-outside": elf64([(0x100000, code, 0x1000)], 0x300000),
        "wrong-machine": elf64([(0x100000, code, 0x1000)], 0x100000, machine=40),
        # Multiboot images that may load low (issue 17) but leave kiln no room at all: all of
        # conventional memory and, with 2 MiB of RAM, everything after the image. And one over
        # the BIOS area, where the ACPI tables are: both true conflicts.
        "multiboot-no-room": multiboot32([(0x1000, code, 0x9E000), (0x100000, code, 0xFC000)],
                                         0x100000),
        "multiboot-bios-area": multiboot32([(0xE0000, code, 0x1000)], 0xE0000),
    }
    mb = bytearray(mb_hello.read_bytes())
    magic = struct.pack("<I", 0x1BADB002)
    off = mb.find(magic)
    if off < 0 or off % 4 or off > 8192 - 12:
        sys.exit("bad_images.py: no multiboot header in " + str(mb_hello))
    mb[off + 8] ^= 0x01  # checksum no longer balances magic + flags
    images["multiboot-badsum"] = bytes(mb)
    for name, blob in images.items():
        (out / ("bad-image." + name)).write_bytes(blob)


if __name__ == "__main__":
    main()
