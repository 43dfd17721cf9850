#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_virtio_blk (tests/fuzz/corpus/virtio_blk/): valid virtio-blk
requests, and of fuzz_virtio_net (tests/fuzz/corpus/virtio_net/): frames to send and buffers
for frames to arrive, each in its fuzzer's input format (see the comment at the top of
fuzz_virtio_blk.c and fuzz_virtio_net.c), so the fuzzers start from what kiln accepts and mutate
it from there. An argument names the directory to write virtio_blk/ and virtio_net/ into."""
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


# ---- virtio-net ------------------------------------------------------------------------------

NET_HDR_LEN, NET_FRAME_MAX = 12, 65535 + 14 + 4
NET_RXQ, NET_TXQ = 0, 1
NET_QNUM = 16
NET_RINGS = {NET_RXQ: (0x100, 0x200, 0x280), NET_TXQ: (0x400, 0x500, 0x580)}
NET_IMAGE = 0x2000  # RAM the seed carries; above it RAM is zero (frame bodies may lie there)
# Control flags ([16]) and net features ([17]) of fuzz_virtio_net.c.
NET_EVENT_IDX, NET_INDIRECT, NET_SEND_FAILS = 0x08, 0x10, 0x20
MRG_RXBUF, CSUM, GUEST_CSUM, HOST_TSO4, HOST_TSO6, GUEST_TSO4, GUEST_TSO6 = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)
NEEDS_CSUM, DATA_VALID = 1, 2
GSO_NONE, GSO_TCPV4, GSO_TCPV6 = 0, 1, 4
RECV_EIO = 0x800000
KICK_RX, KICK_TX, SAVE_LOAD_NET, RESET_NET = 0x00, 0x01, 0xe1, 0xe0


def publish_op(q, n):
    return 0x40 | q << 5 | n


def frames_op(n, fire=True):
    return 0xc0 | (0 if fire else 0x10) | n


def reg_op(off):
    return 0x80 | off >> 2


class NetRam:
    """Guest RAM for fuzz_virtio_net: both queues' rings, frames and buffers."""

    def __init__(self):
        self.b = bytearray(NET_IMAGE)
        self.next_desc = {NET_RXQ: 0, NET_TXQ: 0}
        self.avail_idx = {NET_RXQ: 0, NET_TXQ: 0}

    def put(self, gpa, data):
        if gpa < len(self.b):
            self.b[gpa:gpa + len(data)] = data

    def desc(self, table, i, addr, length, flags, nxt):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def chain(self, q, segs, publish=True):
        """segs: (addr, len, writable); writes the chain and (maybe) publishes its head."""
        table = NET_RINGS[q][0]
        head = self.next_desc[q]
        for k, (addr, length, w) in enumerate(segs):
            last = k + 1 == len(segs)
            self.desc(table, head + k, addr, length, (WRITE if w else 0) | (0 if last else NEXT),
                      0 if last else head + k + 1)
        self.next_desc[q] += len(segs)
        self.avail(q, head, publish)
        return head

    def avail(self, q, head, publish=True):
        """Writes the ring entry; the index moves only when published (else an operation does
        it later)."""
        ring = NET_RINGS[q][1]
        self.put(ring + 4 + 2 * (self.avail_idx[q] % NET_QNUM), struct.pack("<H", head))
        self.avail_idx[q] += 1
        if publish:
            self.put(ring + 2, struct.pack("<H", self.avail_idx[q]))


def vnet_hdr(flags=0, gso=GSO_NONE, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, csum_start, csum_offset, 0)


def ether(length, seed=0):
    """An Ethernet frame of `length` bytes: broadcast, kiln's MAC, IPv4, then a pattern."""
    f = bytearray(b"\xff" * 6 + bytes([0x06, 0x00, 0xac, 0x10, 0x00, 0x02]) + b"\x08\x00")
    f += bytes((seed + 7 * i) & 0xff for i in range(length - len(f)))
    return bytes(f[:length])


def tx_frame(ram, hdr, length, at, split=True):
    """A frame to send: header and frame in two buffers (or one) at `at`; a frame body that does
    not fit the seed's image stays zero."""
    if split:
        ram.put(at, hdr)
        ram.put(at + 0x10, ether(min(length, 0x200)))
        return ram.chain(NET_TXQ, [(at, NET_HDR_LEN, False), (at + 0x10, length, False)])
    ram.put(at, hdr + ether(length))
    return ram.chain(NET_TXQ, [(at, NET_HDR_LEN + length, False)])


def rx_buffers(ram, count, size, at, publish=True, split_first=False):
    for i in range(count):
        a = at + i * size
        if split_first and i == 0:
            ram.chain(NET_RXQ, [(a, 10, True), (a + 10, size - 10, True)], publish)
        else:
            ram.chain(NET_RXQ, [(a, size, True)], publish)


def net_seed(ram, flags=0, features=0, frames=(), ops=(KICK_TX,)):
    ctl = b""
    for q in (NET_RXQ, NET_TXQ):
        ctl += struct.pack("<HHHH", NET_QNUM, *NET_RINGS[q])
    ctl += bytes([flags, features])
    frames = list(frames) + [0] * (8 - len(frames))
    ctl += b"".join(struct.pack("<I", v)[:3] for v in frames[:8])
    ops = bytes(ops) + bytes([KICK_TX]) * (38 - len(ops))
    return ctl + ops[:38] + bytes(ram.b)


def net_seeds():
    mtu_frame = 1500 + 14 + 4

    ram = NetRam()
    tx_frame(ram, vnet_hdr(), 1514, 0x800)
    tx_frame(ram, vnet_hdr(), 60, 0xa00, split=False)
    tx_frame(ram, vnet_hdr(), mtu_frame, 0xc00)
    tx_frame(ram, vnet_hdr(), mtu_frame + 1, 0xe00)  # one byte too many: refused
    yield "tx-plain", net_seed(ram)

    ram = NetRam()
    tx_frame(ram, vnet_hdr(NEEDS_CSUM, csum_start=34, csum_offset=16), 1514, 0x800)
    tx_frame(ram, vnet_hdr(NEEDS_CSUM, csum_start=34, csum_offset=6), 42, 0xa00, split=False)
    tx_frame(ram, vnet_hdr(DATA_VALID), 100, 0xc00)
    yield "tx-csum", net_seed(ram, features=CSUM)

    ram = NetRam()
    tso = vnet_hdr(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16)
    tx_frame(ram, tso, 9000, 0x800)
    tx_frame(ram, vnet_hdr(NEEDS_CSUM, GSO_TCPV6, 74, 1428, 54, 16), 9000, 0xa00)
    yield "tx-tso4", net_seed(ram, features=CSUM | HOST_TSO4, ops=(KICK_TX, SAVE_LOAD_NET))

    ram = NetRam()
    tso = vnet_hdr(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16)
    ram.put(0x800, tso)
    ram.put(0x810, ether(0x200))
    ram.chain(NET_TXQ, [(0x800, NET_HDR_LEN, False), (0x4000, NET_FRAME_MAX, False)])
    ram.put(0x820, vnet_hdr(NEEDS_CSUM, GSO_TCPV6, 74, 1428, 54, 16))
    ram.chain(NET_TXQ, [(0x820, NET_HDR_LEN, False), (0x4000, NET_FRAME_MAX + 1, False)])
    # The same 64 KiB frame through an indirect table of 16 buffers.
    table = 0x1000
    ram.desc(table, 0, 0x800, NET_HDR_LEN, NEXT, 1)
    for i in range(16):
        length = 0x1000 if i < 15 else NET_FRAME_MAX - 15 * 0x1000
        ram.desc(table, i + 1, 0x4000 + i * 0x1000, length, NEXT if i < 15 else 0, i + 2)
    ram.desc(NET_RINGS[NET_TXQ][0], ram.next_desc[NET_TXQ], table, 17 * 16, INDIRECT, 0)
    ram.avail(NET_TXQ, ram.next_desc[NET_TXQ])
    yield "tx-gso-64k", net_seed(ram, NET_INDIRECT, CSUM | HOST_TSO4 | HOST_TSO6)

    ram = NetRam()
    rx_buffers(ram, 8, 0x600, 0x4000)
    frames = (NET_HDR_LEN + 1514, NET_HDR_LEN + 60, NET_HDR_LEN + 14, NET_HDR_LEN + 13, 0,
              RECV_EIO, NET_HDR_LEN + 0x600, NET_HDR_LEN + 2000)
    yield "rx-frames", net_seed(ram, frames=frames,
                                ops=(frames_op(3), KICK_RX, frames_op(5), KICK_RX, frames_op(0)))

    ram = NetRam()
    rx_buffers(ram, 16, 0x400, 0x4000)
    # The 64 KiB frame needs more than all 16 buffers: dropped, and they are used again.
    frames = (NET_HDR_LEN + NET_FRAME_MAX, NET_HDR_LEN + 1514, NET_HDR_LEN + 9000,
              NET_HDR_LEN + 14, NET_HDR_LEN + 1024, NET_HDR_LEN + 1012)
    yield "rx-mrg", net_seed(ram, NET_EVENT_IDX, MRG_RXBUF | GUEST_CSUM | GUEST_TSO4,
                             frames=frames, ops=(frames_op(2), frames_op(1), KICK_RX,
                                                 SAVE_LOAD_NET, frames_op(3), KICK_RX))

    ram = NetRam()
    # Buffers written but not published: the frame waits until the driver publishes them.
    # The header split over the first two descriptors: num_buffers lands in the first.
    rx_buffers(ram, 4, 0x800, 0x4000, publish=False, split_first=True)
    tx_frame(ram, vnet_hdr(), 1514, 0x800)
    yield "rx-stall", net_seed(ram, 0, MRG_RXBUF, frames=(NET_HDR_LEN + 1514, NET_HDR_LEN + 3000),
                               ops=(frames_op(2), KICK_TX, publish_op(NET_RXQ, 1), KICK_RX,
                                    publish_op(NET_RXQ, 3), KICK_RX))

    ram = NetRam()
    ram.chain(NET_RXQ, [(0x4000, 0x8000, True), (0xc000, NET_HDR_LEN + NET_FRAME_MAX - 0x8000,
                                                 True)])
    rx_buffers(ram, 1, 0x1000, 0x2000)
    yield "rx-64k", net_seed(ram, NET_EVENT_IDX | NET_INDIRECT, GUEST_CSUM | GUEST_TSO4 |
                             GUEST_TSO6, frames=(NET_HDR_LEN + NET_FRAME_MAX, NET_HDR_LEN + 1514),
                             ops=(frames_op(1), frames_op(1), KICK_RX))

    ram = NetRam()
    # 270 frames pile up, each too big for all 16 buffers: each is dropped; the device stops
    # at its budget of 256 and comes back through its own kick.
    rx_buffers(ram, 16, 0x40, 0x4000)
    yield "rx-budget", net_seed(ram, 0, MRG_RXBUF, frames=(NET_HDR_LEN + 2000,),
                                ops=[frames_op(15, fire=False)] * 18 + [frames_op(0), KICK_RX])

    ram = NetRam()
    rx_buffers(ram, 4, 0x800, 0x4000)
    tx_frame(ram, vnet_hdr(NEEDS_CSUM, csum_start=34, csum_offset=16), 1514, 0x800)
    tx_frame(ram, vnet_hdr(), 60, 0xa00)
    # A register write (QueueNotify 1), send failures, a reset and set-up again.
    yield "mixed-reset", net_seed(ram, NET_EVENT_IDX | NET_SEND_FAILS, MRG_RXBUF | CSUM,
                                  frames=(NET_HDR_LEN + 100, NET_HDR_LEN + 1514),
                                  ops=(reg_op(0x50), 1, frames_op(1), KICK_TX, RESET_NET,
                                       KICK_TX, frames_op(1), SAVE_LOAD_NET, KICK_RX))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for target, gen in (("virtio_blk", seeds), ("virtio_net", net_seeds)):
        out = os.path.join(root, target)
        os.makedirs(out, exist_ok=True)
        for name, data in gen():
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
