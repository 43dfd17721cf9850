#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_virtio_blk (tests/fuzz/corpus/virtio_blk/): valid virtio-blk
requests in the fuzzer's input format (see the comment at the top of fuzz_virtio_blk.c), so the
fuzzer starts from chains kiln accepts and mutates them from there."""
import os
import struct
import sys

QNUM, DESC, AVAIL, USED = 16, 0x100, 0x200, 0x280
HDR, STATUS, DATA = 0x400, 0x500, 0x600
NEXT, WRITE, INDIRECT = 1, 2, 4
IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES = 0, 1, 4, 8, 11, 13
EVENT_IDX_F, INDIRECT_F = 0x04, 0x08
NOTIFY, SAVE_LOAD, RESET = 0x00, 0xc1, 0xc0


class Ram:
    def __init__(self):
        self.b = bytearray(0x1800)
        self.next_desc = 0
        self.avail_idx = 0

    def put(self, gpa, data):
        self.b[gpa:gpa + len(data)] = data

    def desc(self, table, i, addr, length, flags, nxt):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def chain(self, segs):
        """segs: (addr, len, writable); returns the head."""
        head = self.next_desc
        for k, (addr, length, w) in enumerate(segs):
            last = k + 1 == len(segs)
            self.desc(DESC, head + k, addr, length, (WRITE if w else 0) | (0 if last else NEXT),
                      0 if last else head + k + 1)
        self.next_desc += len(segs)
        self.avail(head)
        return head

    def avail(self, head):
        self.put(AVAIL + 4 + 2 * (self.avail_idx % QNUM), struct.pack("<H", head))
        self.avail_idx += 1
        self.put(AVAIL + 2, struct.pack("<H", self.avail_idx))

    def hdr(self, slot, rtype, sector):
        self.put(HDR + 16 * slot, struct.pack("<IIQ", rtype, 0, sector))
        return (HDR + 16 * slot, 16, False)


def request(ram, slot, rtype, sector, data=None, data_len=0, data_writable=False):
    segs = [ram.hdr(slot, rtype, sector)]
    if data_len:
        segs.append((DATA + 0x200 * slot, data_len, data_writable))
        if data is not None:
            ram.put(DATA + 0x200 * slot, data)
    segs.append((STATUS + slot, 1, True))
    return ram.chain(segs)


def seed(ram, flags=0, ops=(NOTIFY,)):
    ctl = struct.pack("<HHHHB", QNUM, DESC, AVAIL, USED, flags)
    ops = bytes(ops) + bytes([0x3e]) * (23 - len(ops))  # 0x3e: notify queue 0
    return ctl + ops[:23] + bytes(ram.b)


def seeds():
    ram = Ram()
    request(ram, 0, IN, 3, data_len=1024, data_writable=True)
    yield "read", seed(ram)

    ram = Ram()
    request(ram, 0, OUT, 7, data=bytes(range(256)) * 2, data_len=512)
    request(ram, 1, IN, 7, data_len=512, data_writable=True)
    yield "write-read", seed(ram)

    ram = Ram()
    request(ram, 0, FLUSH, 0)
    request(ram, 1, GET_ID, 0, data_len=20, data_writable=True)
    yield "flush-get-id", seed(ram)

    ram = Ram()
    request(ram, 0, DISCARD, 0, data=struct.pack("<QII", 4, 4, 0), data_len=16)
    request(ram, 1, WRITE_ZEROES, 0, data=struct.pack("<QII", 8, 2, 1), data_len=16)
    # Header and segment in one buffer.
    ram.put(HDR + 32, struct.pack("<IIQ", WRITE_ZEROES, 0, 0) + struct.pack("<QII", 1, 1, 0))
    ram.chain([(HDR + 32, 32, False), (STATUS + 2, 1, True)])
    yield "discard-write-zeroes", seed(ram)

    ram = Ram()
    table = 0x1400
    ram.hdr(0, IN, 1)
    ram.desc(table, 0, HDR, 16, NEXT, 1)
    ram.desc(table, 1, DATA, 512, WRITE | NEXT, 2)
    ram.desc(table, 2, STATUS, 1, WRITE, 0)
    ram.desc(DESC, 0, table, 48, INDIRECT, 0)
    ram.avail(0)
    yield "indirect", seed(ram, INDIRECT_F)

    ram = Ram()
    for i in range(4):
        request(ram, i, IN if i % 2 else OUT, i, data=b"\x5a" * 512, data_len=512,
                data_writable=bool(i % 2))
    # Split header, data spread over buffers, status sharing the last data buffer.
    ram.put(HDR + 64, struct.pack("<IIQ", IN, 0, 9)[:5])
    ram.put(HDR + 80, struct.pack("<IIQ", IN, 0, 9)[5:])
    ram.chain([(HDR + 64, 5, False), (HDR + 80, 11, False), (DATA + 0x800, 100, True),
               (DATA + 0x900, 413, True)])
    yield "event-idx-batch", seed(ram, EVENT_IDX_F, ops=(0x42, NOTIFY, SAVE_LOAD, NOTIFY))

    ram = Ram()
    request(ram, 0, IN, 0, data_len=512, data_writable=True)
    # A register write (QueueNotify via op 0x80 | 0x14, value 0), a reset and set-up again.
    yield "registers-reset", seed(ram, EVENT_IDX_F | INDIRECT_F,
                                  ops=(0x80 | (0x50 >> 2), 0, RESET, NOTIFY, 0x41, NOTIFY))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                               "corpus", "virtio_blk")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
