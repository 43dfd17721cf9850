#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_virtio_blk (tests/fuzz/corpus/virtio_blk/): valid virtio-blk
requests, of fuzz_virtio_net (tests/fuzz/corpus/virtio_net/): frames to send and buffers for
frames to arrive, and of fuzz_virtio_vsock (tests/fuzz/corpus/virtio_vsock/): connections both
ways through REQUEST, RESPONSE, RW, credit and SHUTDOWN, and hostile packets and lines, each in
its fuzzer's input format (see the comment at the top of fuzz_virtio_blk.c, fuzz_virtio_net.c
and fuzz_virtio_vsock.c), so the fuzzers start from what kiln accepts and mutate it from there;
likewise legacy/ (device register accesses), loader/ (small ELF, multiboot, bzImage and flat
images), config/ (Firecracker config documents and API bodies), arm64_image/ (arm64 Images with
RAM, device tree and initrd sizes) and x86_emulate/ (one instruction
of each kind kiln completes), and gdb_rsp/ (a gdb session, for fuzz_gdb_rsp). An argument names the directory to write them into."""
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


# ---- virtio-vsock ----------------------------------------------------------------------------

VS_RXQ, VS_TXQ, VS_EVQ = 0, 1, 2
VS_QNUM = {VS_RXQ: 32, VS_TXQ: 32, VS_EVQ: 4}
VS_RINGS = {VS_RXQ: (0x200, 0x400, 0x500), VS_TXQ: (0x800, 0xa00, 0xb00),
            VS_EVQ: (0xd00, 0xd80, 0xdc0)}
VS_HDRS, VS_DATA, VS_TABLES, VS_RX_BUF = 0xe00, 0x1400, 0x2400, 0x4000
VS_IMAGE = 0x2800  # RAM the seed carries; above it RAM is zero (receive buffers, big payloads)
VS_CID, VS_HOST = 3, 2
VS_HDR_LEN, VS_MAX_PKT, VS_BUF_ALLOC = 44, 65536, 256 * 1024
VS_HOST_PORT_BASE = 1 << 30
VS_LISTEN_PORT = 1000  # fuzz_virtio_vsock.c's listeners: 1000 and 1001
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = 1, 2, 3, 4, 5, 6, 7
SHUT_RCV, SHUT_SEND = 1, 2
STREAM = 1
# Flags ([24]) of fuzz_virtio_vsock.c.
VS_EVENT_IDX, VS_INDIRECT = 0x10, 0x20
# Operations.
VS_IO = 0x04  # kick the receive queue, then virtio_vsock_io()
SAVE_LOAD_VS, TRANSPORT_RESET, RESET_ONLY, RESET_VS = 0xe1, 0xe2, 0xe3, 0xe0
LINE_P, LINE_P_DATA, LINE_CONN, LINE_ECT, LINE_LONG, LINE_BIG, LINE_NO_NL, LINE_RAM = range(8)
W1, W7, W100, W4K, W60K, W70K, W256K, W1M = range(8)


def vs_notify(q, io=False):
    return q | (4 if io else 0)


VS_COUNTS = (1, 2, 3, 4, 8, 16, 64, 256)  # entries a publish operation adds


def vs_publish(q, n):
    return 0x40 | q << 3 | VS_COUNTS.index(n)


def vs_send(n=1):
    """The driver publishes n more TX entries and notifies."""
    return vs_publish(3, n)


def dial(s):
    return (0x60 | s,)


def line(s, which):
    return (0x68 | s, which)


def write(s, size):
    return (0x70 | s, size)


def read(s):
    return (0x78 | s,)


def shut(s):
    return (0xc0 | s,)


def close(s):
    return (0xc8 | s,)


def accept(s):
    """Accepts on listener s & 1 (port VS_LISTEN_PORT + (s & 1)) into slot s."""
    return (0xd0 | s,)


def listen(k):
    return (0xd8 | k,)


def vs_hdr(op, sport, dport, length=0, flags=0, buf_alloc=65536, fwd_cnt=0, src_cid=VS_CID,
           dst_cid=VS_HOST, rtype=STREAM):
    return struct.pack("<QQIIIHHIII", src_cid, dst_cid, sport, dport, length, rtype, op, flags,
                       buf_alloc, fwd_cnt)


class VsockRam:
    """Guest RAM for fuzz_virtio_vsock: the three queues' rings, packet headers and payloads."""

    def __init__(self, qnum=None, rings=None, image=VS_IMAGE):
        self.qnum = {**VS_QNUM, **(qnum or {})}
        self.rings = {**VS_RINGS, **(rings or {})}
        self.b = bytearray(image)
        self.next_desc = {q: 0 for q in VS_RINGS}
        self.avail_idx = {q: 0 for q in VS_RINGS}
        self.next_hdr = 0
        self.next_data = VS_DATA

    def put(self, gpa, data):
        if gpa < len(self.b):
            self.b[gpa:gpa + len(data)] = data[:len(self.b) - gpa]

    def desc(self, table, i, addr, length, flags, nxt):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def chain(self, q, segs, publish=True):
        """segs: (addr, len, writable); writes the chain and (maybe) publishes its head."""
        table = self.rings[q][0]
        head = self.next_desc[q]
        for k, (addr, length, w) in enumerate(segs):
            last = k + 1 == len(segs)
            self.desc(table, head + k, addr, length, (WRITE if w else 0) | (0 if last else NEXT),
                      0 if last else head + k + 1)
        self.next_desc[q] += len(segs)
        self.avail(q, head, publish)
        return head

    def avail(self, q, head, publish=True):
        ring = self.rings[q][1]
        self.put(ring + 4 + 2 * (self.avail_idx[q] % self.qnum[q]), struct.pack("<H", head))
        self.avail_idx[q] += 1
        if publish:
            self.put(ring + 2, struct.pack("<H", self.avail_idx[q]))

    def hdr_at(self, hdr):
        at = VS_HDRS + 0x40 * self.next_hdr
        self.next_hdr += 1
        self.put(at, hdr)
        return at

    def data_at(self, data):
        at = self.next_data
        self.next_data += (len(data) + 15) & ~15
        self.put(at, data)
        return at

    def packet(self, hdr, data=b"", publish=False, payload=None):
        """A packet from the guest: header and payload in two buffers, as Linux sends them,
        written but (by default) not published: an operation sends it. payload=(addr, len)
        points the payload at RAM outside the image."""
        at = self.hdr_at(hdr)
        segs = [(at, VS_HDR_LEN, False)]
        if payload:
            segs.append((payload[0], payload[1], False))
        elif data:
            segs.append((self.data_at(data), len(data), False))
        return self.chain(VS_TXQ, segs, publish)

    def rx_buffers(self, count, size=0x1000, at=VS_RX_BUF):
        for i in range(count):
            self.chain(VS_RXQ, [(at + i * size, size, True)])


def vs_seed(ram, flags=0, port=5000, ops=()):
    ctl = b""
    for q in (VS_RXQ, VS_TXQ, VS_EVQ):
        ctl += struct.pack("<HHHH", ram.qnum[q], *ram.rings[q])
    ctl += bytes([flags, 0, 0, 0]) + struct.pack("<I", port)
    flat = bytes(b for op in ops for b in (op if isinstance(op, tuple) else (op,)))
    assert len(flat) <= 96, len(flat)
    flat += bytes([VS_IO]) * (96 - len(flat))
    return ctl + flat + bytes(ram.b)


def vsock_seeds():
    hp = VS_HOST_PORT_BASE  # the host port of the device's first host connection

    ram = VsockRam()
    ram.rx_buffers(8)
    ram.packet(vs_hdr(RESPONSE, 5000, hp))
    ram.packet(vs_hdr(RW, 5000, hp, 16), b"ping from guest\n")
    ram.packet(vs_hdr(CREDIT_REQUEST, 5000, hp, fwd_cnt=100))
    ram.packet(vs_hdr(SHUTDOWN, 5000, hp, flags=SHUT_RCV | SHUT_SEND, fwd_cnt=100))
    # The host connects to guest port 5000, the guest accepts, bytes both ways, the host
    # half-closes, the guest closes (and kiln answers RST).
    yield "host-connect", vs_seed(ram, ops=(
        dial(0), line(0, LINE_P), VS_IO, vs_send(), read(0), write(0, W100), VS_IO,
        vs_send(), read(0), vs_send(), VS_IO, shut(0), VS_IO, vs_send(), close(0), VS_IO))

    ram = VsockRam()
    ram.rx_buffers(8)
    gp, lp = 40000, VS_LISTEN_PORT
    ram.packet(vs_hdr(REQUEST, gp, lp))
    ram.packet(vs_hdr(RW, gp, lp, 4096), bytes(range(256)) * 16)
    ram.packet(vs_hdr(CREDIT_UPDATE, gp, lp, fwd_cnt=100))
    ram.packet(vs_hdr(SHUTDOWN, gp, lp, flags=SHUT_SEND, fwd_cnt=100))
    ram.packet(vs_hdr(SHUTDOWN, gp, lp, flags=SHUT_RCV, fwd_cnt=4196))
    # The guest connects to a host listener at <uds_path>_1000, both sides send, the guest
    # half-closes then closes.
    yield "guest-connect", vs_seed(ram, ops=(
        listen(0), vs_send(), accept(2), vs_send(), read(2), write(2, W100), VS_IO,
        vs_send(), vs_send(), read(2), write(2, W4K), VS_IO, vs_send(), VS_IO, close(2),
        listen(0)))

    ram = VsockRam()
    ram.rx_buffers(12)
    ram.packet(vs_hdr(RESPONSE, 6000, hp, buf_alloc=4096))
    ram.packet(vs_hdr(CREDIT_UPDATE, 6000, hp, buf_alloc=4096, fwd_cnt=4096))
    for _ in range(8):  # 512 KiB: beyond what the socket and kiln's 256 KiB credit hold: RST
        ram.packet(vs_hdr(RW, 6000, hp, VS_MAX_PKT, buf_alloc=4096, fwd_cnt=4096),
                   payload=(0x10000, VS_MAX_PKT))
    # A guest with a 4 KiB buffer: the host's 60000 bytes wait for credit (CREDIT_REQUEST);
    # then the guest sends while the host does not read, until its credit is gone.
    yield "credit", vs_seed(ram, port=6000, ops=(
        dial(1), line(1, LINE_P_DATA), VS_IO, vs_send(), write(1, W60K), VS_IO, vs_send(),
        VS_IO, vs_publish(VS_RXQ, 4), VS_IO, vs_send(4), VS_IO, vs_send(4), read(1), VS_IO,
        write(1, W1M), VS_IO, close(1), VS_IO))

    ram = VsockRam()
    # Receive buffers no packet fits (a header's worth, or readable), then good ones.
    ram.chain(VS_RXQ, [(VS_RX_BUF, VS_HDR_LEN, True)])
    ram.chain(VS_RXQ, [(VS_RX_BUF + 0x100, 0x100, False)])
    ram.chain(VS_RXQ, [(VS_RX_BUF + 0x200, 10, True), (VS_RX_BUF + 0x300, 34, True)])
    ram.rx_buffers(4, at=0x8000)
    ram.chain(VS_TXQ, [(ram.hdr_at(vs_hdr(RW, 1, 2)), 20, False)], publish=False)  # short
    ram.packet(vs_hdr(REQUEST, 1, 2, src_cid=4))
    ram.packet(vs_hdr(REQUEST, 1, 2, dst_cid=5))
    ram.packet(vs_hdr(REQUEST, 1, 2, dst_cid=1 << 32 | VS_HOST))
    ram.packet(vs_hdr(REQUEST, 1, 2, rtype=2))  # SEQPACKET
    ram.packet(vs_hdr(RW, 1, 2, 3, rtype=0xffff), b"abc")
    ram.packet(vs_hdr(RW, 1, 2, 3), b"abc")  # no such connection
    ram.packet(vs_hdr(RST, 1, 2))
    ram.packet(vs_hdr(RW, 1, 2, 1000), b"x")  # length lies
    ram.packet(vs_hdr(RW, 1, 2, VS_MAX_PKT + 1), payload=(0xf000, VS_MAX_PKT + 1))
    ram.packet(vs_hdr(99, 1, 2))
    ram.chain(VS_TXQ, [(ram.hdr_at(vs_hdr(CREDIT_REQUEST, 1, 2)), VS_HDR_LEN, False),
                       (0x9000, 16, True)], publish=False)  # a writable buffer on TX
    ram.packet(vs_hdr(REQUEST, 7, VS_LISTEN_PORT + 1))  # nothing listens: RST
    yield "hostile", vs_seed(ram, ops=(
        vs_send(8), VS_IO, vs_send(4), vs_send(), VS_IO, vs_publish(VS_RXQ, 4), VS_IO))

    ram = VsockRam()
    ram.rx_buffers(8)
    ram.chain(VS_EVQ, [(0x3000, 2, True)])  # too small for an event
    ram.chain(VS_EVQ, [(0x3010, 8, True)])
    # The RESPONSE through an indirect table, header split over three buffers.
    h = ram.hdr_at(vs_hdr(RESPONSE, 5000, hp))
    table = VS_TABLES
    ram.desc(table, 0, h, 10, NEXT, 1)
    ram.desc(table, 1, h + 10, 20, NEXT, 2)
    ram.desc(table, 2, h + 30, 14, 0, 0)
    ram.desc(ram.rings[VS_TXQ][0], ram.next_desc[VS_TXQ], table, 48, INDIRECT, 0)
    ram.avail(VS_TXQ, ram.next_desc[VS_TXQ], publish=False)
    ram.next_desc[VS_TXQ] += 1
    ram.packet(vs_hdr(RW, 5000, hp, 5), b"hello")
    # Connected, then restored (transport reset event), reset by the driver, connected again
    # while the driver is away.
    yield "events-reset", vs_seed(ram, VS_EVENT_IDX | VS_INDIRECT, ops=(
        dial(0), line(0, LINE_P), VS_IO, vs_send(), read(0), write(0, W7), VS_IO, vs_send(),
        read(0), SAVE_LOAD_VS, vs_notify(VS_EVQ), read(0), close(0), dial(1), line(1, LINE_P),
        VS_IO, TRANSPORT_RESET, RESET_ONLY, dial(2), line(2, LINE_P), VS_IO, RESET_VS, VS_IO,
        vs_publish(VS_RXQ, 8), VS_IO, read(1), read(2)))

    ram = VsockRam()
    ram.rx_buffers(8)
    # CONNECT lines: split in two writes, too long, a port too big, no newline, RAM bytes, none.
    yield "connect-lines", vs_seed(ram, port=4294967295, ops=(
        dial(0), line(0, LINE_CONN), VS_IO, line(0, LINE_ECT), VS_IO, dial(1),
        line(1, LINE_LONG), VS_IO, dial(2), line(2, LINE_BIG), VS_IO, dial(3),
        line(3, LINE_NO_NL), close(3), VS_IO, dial(4), line(4, LINE_RAM | 0x40), VS_IO,
        dial(5), VS_IO, close(5), VS_IO, read(0), read(1), read(2), read(4), dial(6),
        line(6, LINE_P_DATA), line(6, LINE_P), VS_IO))

    ram = VsockRam()
    # Receive buffers with the header split over two descriptors.
    for i in range(6):
        a = VS_RX_BUF + i * 0x1000
        ram.chain(VS_RXQ, [(a, 20, True), (a + 0x20, 24, True), (a + 0x40, 0x800, True)])
    gp, lp = 41000, VS_LISTEN_PORT + 1
    h = ram.hdr_at(vs_hdr(REQUEST, gp, lp, buf_alloc=1000))
    ram.chain(VS_TXQ, [(h, 30, False), (h + 30, 14, False)], publish=False)
    h = ram.hdr_at(vs_hdr(RW, gp, lp, 300, buf_alloc=1000))
    d = ram.data_at(bytes(range(150)) * 2)
    ram.chain(VS_TXQ, [(h, VS_HDR_LEN, False), (d, 100, False), (d + 100, 1, False),
                       (d + 101, 199, False)], publish=False)
    h = ram.hdr_at(vs_hdr(RW, gp, lp, 200, buf_alloc=1000) + bytes(200))  # one buffer
    ram.next_hdr += 3
    ram.chain(VS_TXQ, [(h, VS_HDR_LEN + 200, False)], publish=False)
    ram.packet(vs_hdr(RST, gp, lp))
    # A guest connection to listener 1 with split headers, data in pieces, a small guest
    # buffer, and the host closing first.
    yield "split-buffers", vs_seed(ram, VS_EVENT_IDX, ops=(
        listen(1), vs_send(), accept(1), vs_send(2), read(1), write(1, W4K), VS_IO, VS_IO,
        shut(1), VS_IO, vs_send(), close(1), VS_IO, listen(1)))

    ram = VsockRam()
    ram.rx_buffers(8)
    gp, lp = 42000, VS_LISTEN_PORT
    ram.packet(vs_hdr(REQUEST, gp, lp))
    for _ in range(4):  # exactly the 256 KiB credit, while the host reads nothing
        ram.packet(vs_hdr(RW, gp, lp, VS_MAX_PKT), payload=(0x10000, VS_MAX_PKT))
    ram.packet(vs_hdr(SHUTDOWN, gp, lp, flags=SHUT_SEND))
    ram.packet(vs_hdr(REQUEST, gp + 1, lp))
    for _ in range(4):
        ram.packet(vs_hdr(RW, gp + 1, lp, VS_MAX_PKT), payload=(0x10000, VS_MAX_PKT))
    ram.packet(vs_hdr(SHUTDOWN, gp + 1, lp, flags=SHUT_RCV | SHUT_SEND))
    # A host reader slower than the guest: kiln holds what the socket does not take, and the
    # guest's SHUTDOWN waits for it: SEND half-closes the socket, both ways closes it (RST),
    # each once the host has read everything.
    yield "slow-reader", vs_seed(ram, ops=(
        listen(0), vs_send(), accept(0), vs_send(4), vs_send(), read(0), VS_IO, read(0),
        VS_IO, read(0), VS_IO, read(0), VS_IO, vs_send(), accept(2), vs_send(4), vs_send(),
        read(2), VS_IO, read(2), VS_IO, read(2), VS_IO, read(2), VS_IO, vs_publish(VS_RXQ, 8),
        VS_IO, listen(0)))

    ram = VsockRam()
    ram.rx_buffers(16)
    ram.packet(vs_hdr(RESPONSE, 5000, hp))
    ram.packet(vs_hdr(RESPONSE, 5000, hp + 1))
    ram.packet(vs_hdr(RW, 5000, hp + 1, 4096), bytes(range(256)) * 16)
    ram.packet(vs_hdr(RESPONSE, 5000, hp + 2))
    ram.packet(vs_hdr(RW, 5000, hp + 2, 5), b"late!")
    ram.packet(vs_hdr(SHUTDOWN, 5000, hp + 2, flags=7))  # an unknown flag
    # The host goes away: before the guest answers (RST), with the guest's bytes unread
    # (kiln's read fails: RST), and after reading everything (the guest's next write fails).
    yield "host-gone", vs_seed(ram, ops=(
        dial(0), line(0, LINE_P), VS_IO, close(0), VS_IO, vs_send(), dial(1), line(1, LINE_P),
        VS_IO, vs_send(2), write(1, W100), close(1), VS_IO, VS_IO, dial(2), line(2, LINE_P),
        VS_IO, vs_send(), read(2), close(2), VS_IO, vs_send(), vs_send(), VS_IO))

    big = {VS_RXQ: 256, VS_TXQ: 256}
    ram = VsockRam(big, {VS_RXQ: (0x4000, 0x5000, 0x6000), VS_TXQ: (0x7000, 0x8000, 0x9000)},
                   image=0xa000)
    for i in range(256):
        ram.chain(VS_RXQ, [(0x10000 + 64 * i, 64, True)], publish=False)
    gp, lp = 43000, VS_LISTEN_PORT
    ram.packet(vs_hdr(REQUEST, gp, lp))
    head = ram.packet(vs_hdr(RW, gp, lp, 1), b"z")
    for _ in range(254):  # the REQUEST and 255 times the same 1-byte packet fill the ring
        ram.avail(VS_TXQ, head, publish=False)
    # Queues of 256: a pass of 256 packets from the guest and one of 256 to it (64-byte
    # buffers, 20 bytes of data each) end at the budget and come back through their own kick.
    yield "budget", vs_seed(ram, ops=(
        listen(0), vs_send(256), vs_notify(VS_TXQ), accept(0), read(0), write(0, W60K),
        vs_publish(VS_RXQ, 256), VS_IO, vs_notify(VS_RXQ), vs_notify(VS_RXQ), listen(0)))


def gdb_packet(payload):
    """One GDB remote-protocol packet: $payload#checksum (payload already escaped)."""
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xff)


def gdb_seeds():
    """fuzz_gdb_rsp: byte 0 splits the input into feeds, the rest is what gdb sends."""
    session = [b"qSupported:multiprocess+;swbreak+;hwbreak+", b"vMustReplyEmpty",
               b"qXfer:features:read:target.xml:0,ffb", b"?", b"qfThreadInfo", b"qsThreadInfo",
               b"qC", b"Hg1", b"g", b"p10", b"P10=0010400000000000", b"m1000,40", b"M1000,2:abcd",
               b"X1000,3:a}]b", b"Z0,1010,1", b"Z2,1020,4", b"z0,1010,1", b"vCont?",
               b"vCont;s:1;c", b"vCont;c", b"Hc-1", b"c", b"s", b"T2", b"D"]
    yield "session", b"\x07" + b"+".join(gdb_packet(p) for p in session)
    yield "interrupt", b"\x01" + gdb_packet(b"vCont;c") + b"\x03" + gdb_packet(b"g") + b"-"
    yield "bad", b"\x03" + b"$g#00$m#6d$Z9,0,0#00" + gdb_packet(b"G" + b"0" * 63) + gdb_packet(b"k")


# ---- fuzz_legacy: 6-byte operations (device, offset, flags, value) --------------------------

def legacy_op(dev, off, write, size_log, value):
    flags = (0x80 if write else 0) | size_log
    return bytes([dev, off, flags]) + struct.pack("<I", value)[:3]


def legacy_seeds():
    SER, IOA, PIC, ELCR, KD, KC, RTC, PM, IRQ, EOI = range(10)
    yield "uart-init-and-send", b"".join([
        legacy_op(SER, 3, 1, 0, 0x80), legacy_op(SER, 0, 1, 0, 0x01), legacy_op(SER, 1, 1, 0, 0),
        legacy_op(SER, 3, 1, 0, 0x03), legacy_op(SER, 1, 1, 0, 0x0f), legacy_op(SER, 4, 1, 0, 0x1f),
        legacy_op(SER, 0, 1, 0, 0x41), legacy_op(SER, 0, 0, 0, 0), legacy_op(SER, 5, 0, 0, 0),
        legacy_op(SER, 2, 0, 0, 0)])
    # IOAPIC: select the ID register and each redirection entry, write and read them back, then
    # raise and lower lines and EOI.
    ops = [legacy_op(IOA, 0x00, 1, 2, 0x00), legacy_op(IOA, 0x10, 1, 2, 0x0f000000),
           legacy_op(IOA, 0x10, 0, 2, 0)]
    for pin in range(4):
        ops += [legacy_op(IOA, 0x00, 1, 2, 0x10 + 2 * pin), legacy_op(IOA, 0x10, 1, 2, 0x8030 + pin),
                legacy_op(IOA, 0x00, 1, 2, 0x11 + 2 * pin), legacy_op(IOA, 0x10, 1, 2, 0),
                legacy_op(IRQ, pin, 0, 1, 0), legacy_op(EOI, 0x30 + pin, 0, 0, 0),
                legacy_op(IRQ, pin, 0, 0, 0)]
    yield "ioapic-routes", b"".join(ops)
    yield "pic-init", b"".join([
        legacy_op(PIC, 0, 1, 0, 0x11), legacy_op(PIC, 1, 1, 0, 0x20), legacy_op(PIC, 1, 1, 0, 4),
        legacy_op(PIC, 1, 1, 0, 1), legacy_op(PIC, 0x80, 1, 0, 0x11), legacy_op(PIC, 0x81, 1, 0, 0x28),
        legacy_op(PIC, 0x81, 1, 0, 2), legacy_op(PIC, 0x81, 1, 0, 1), legacy_op(PIC, 0, 1, 0, 0x0b),
        legacy_op(PIC, 0, 0, 0, 0), legacy_op(ELCR, 0, 1, 0, 0x20), legacy_op(ELCR, 1, 0, 0, 0)])
    yield "i8042-and-rtc", b"".join([
        legacy_op(KC, 0, 1, 0, 0x20), legacy_op(KD, 0, 0, 0, 0), legacy_op(KC, 0, 1, 0, 0x60),
        legacy_op(KD, 0, 1, 0, 0x47), legacy_op(KD, 0, 1, 0, 0xf4), legacy_op(KC, 0, 0, 0, 0),
        legacy_op(RTC, 0, 1, 0, 0x0a), legacy_op(RTC, 1, 0, 0, 0), legacy_op(RTC, 0, 1, 0, 0x0b),
        legacy_op(RTC, 1, 1, 0, 0x06), legacy_op(RTC, 0, 1, 0, 0x00), legacy_op(RTC, 1, 0, 0, 0),
        legacy_op(PM, 1, 0, 0, 0), legacy_op(PM, 2, 1, 0, 0x05)])


# ---- fuzz_loader: a mode byte (1 flat, 2 initrd, 4 command line, 8 RSDP), then an image ------

def elf64(entry, segs):
    """A 64-bit little-endian x86-64 ELF with one PT_LOAD per (paddr, bytes)."""
    phoff, n = 64, len(segs)
    data_off = phoff + 56 * n
    hdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, phoff, 0, 0, 64, 56, n, 64, 0, 0)
    ph, body = b"", b""
    for paddr, blob in segs:
        ph += struct.pack("<IIQQQQQQ", 1, 5, data_off + len(body), paddr, paddr, len(blob),
                          len(blob) + 16, 0x1000)
        body += blob
    return hdr + ph + body


def multiboot(load_addr, entry, code, flags=0x10003):
    """A multiboot v1 image with the a.out kludge (address fields) at offset 0."""
    magic = 0x1BADB002
    hdr = struct.pack("<IIIIIIII", magic, flags, (-(magic + flags)) & 0xffffffff, load_addr,
                      load_addr, 0, 0, entry)
    return hdr + code


def bzimage():
    """A setup sector and header a bzImage detector accepts, with a tiny protected-mode part."""
    setup_sects = 1
    img = bytearray(512 * (setup_sects + 1) + 512)
    img[0x1f1] = setup_sects
    img[0x1fe:0x200] = b"\x55\xaa"
    img[0x202:0x206] = b"HdrS"
    img[0x206:0x208] = struct.pack("<H", 0x020f)
    img[0x211] = 0x01  # LOADED_HIGH
    img[0x230:0x234] = struct.pack("<I", 0x200000)  # kernel_alignment
    img[0x234] = 1  # relocatable
    img[0x236:0x238] = struct.pack("<H", 0x3)  # xloadflags: 64-bit entry, above 4G
    img[0x238:0x23c] = struct.pack("<I", 255)  # cmdline_size
    img[0x260:0x264] = struct.pack("<I", 0x100000)  # init_size
    return bytes(img)


def loader_seeds():
    hlt = b"\xf4\xeb\xfd"
    yield "elf64", bytes([0]) + elf64(0x100000, [(0x100000, hlt)])
    yield "elf64-two-segments", bytes([6]) + elf64(0x100000, [(0x100000, hlt), (0x200000, b"data")])
    yield "multiboot-aout", bytes([6]) + multiboot(0x100000, 0x100020, hlt)
    yield "multiboot-low", bytes([0]) + multiboot(0x8000, 0x8020, hlt)
    yield "bzimage", bytes([14]) + bzimage()
    yield "flat", bytes([1]) + b"\xfa\xf4" * 16


# ---- fuzz_arm64_image: 16 control bytes (RAM, DTB, initrd, CPUs), then an arm64 Image -------

def arm64_image(text_offset, image_size, flags, body=b"", magic=b"ARM\x64"):
    """An arm64 Image header (booting.rst), all little-endian, then body."""
    return struct.pack("<IIQQQQQQ", 0x14000010, 0, text_offset, image_size, flags, 0, 0, 0) + \
        magic + struct.pack("<I", 0) + body


def arm64_ctl(ram_mib, base, dtb, initrd_shift, initrd_mant, cpus=1, gicv2=False, uart=True,
              kaslr=False):
    """The control block: RAM of ram_mib MiB at base (4 KiB-aligned), initrd of initrd_mant <<
    initrd_shift bytes."""
    last = (cpus - 1) | (32 if gicv2 else 0) | (0 if uart else 64) | (128 if kaslr else 0)
    return struct.pack("<III", ram_mib * 256 - 1, base >> 12, dtb) + \
        bytes([0, initrd_shift, initrd_mant, last])


def arm64_seeds():
    mib = 1 << 20
    debian = arm64_image(0, 0x2210000, 0xa, bytes(64))
    yield "debian-like", arm64_ctl(256, 0x40000000, 64 * 1024, 20, 8) + debian
    yield "two-cpus-gicv2", arm64_ctl(128, 0x40000000, 64 * 1024, 12, 3, cpus=2, gicv2=True) + debian
    yield "legacy", arm64_ctl(64, 0x40000000, 8192, 0, 0) + arm64_image(0x80000 << 32, 0, 0, bytes(32))
    yield "big-endian", arm64_ctl(64, 0x40000000, 8192, 0, 0) + arm64_image(0, 8 * mib, 0xb)
    yield "64k-pages-no-uart", arm64_ctl(512, 0x80000000, 4096, 24, 1, cpus=4, uart=False,
                                         kaslr=True) + arm64_image(0, 16 * mib, 0x6)
    yield "text-offset", arm64_ctl(64, 0x40001000, 2 * mib, 0, 0) + arm64_image(0x80000, 8 * mib, 0x2)
    yield "kernel-too-big", arm64_ctl(16, 0x40000000, 4096, 0, 0) + arm64_image(0, 64 * mib, 0xa)
    yield "initrd-above-dtb", arm64_ctl(2048, 0x40000000, 4096, 22, 175) + debian
    yield "bad-magic", arm64_ctl(64, 0, 4096, 0, 0) + arm64_image(0, mib, 2, magic=b"ARM\x65")
    yield "gzip", arm64_ctl(64, 0, 4096, 0, 0) + b"\x1f\x8b\x08" + bytes(61)
    yield "truncated", arm64_ctl(64, 0, 4096, 0, 0) + debian[:40]


# ---- fuzz_config: Firecracker config documents --------------------------------------------

def config_seeds():
    import json
    yield "full", json.dumps({
        "boot-source": {"kernel_image_path": "/dev/null", "boot_args": "console=ttyS0",
                        "initrd_path": None},
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": False,
                           "track_dirty_pages": False},
        "drives": [{"drive_id": "rootfs", "path_on_host": "/dev/null", "is_root_device": True,
                    "is_read_only": True, "rate_limiter": {
                        "bandwidth": {"size": 1048576, "one_time_burst": 0, "refill_time": 100},
                        "ops": {"size": 100, "refill_time": 1000}}}],
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                                "guest_mac": "aa:fc:00:00:00:01",
                                "rx_rate_limiter": {"ops": {"size": 10, "refill_time": 10}}}],
        "vsock": {"guest_cid": 3, "uds_path": "/tmp/v.sock"},
        "entropy": {"rate_limiter": {"bandwidth": {"size": 100, "refill_time": 100}}},
    }).encode()
    yield "bad-types", b'{"machine-config": {"vcpu_count": "2", "mem_size_mib": -1}, ' \
        b'"drives": [{"drive_id": 5}], "network-interfaces": {}}'
    yield "patches", b'{"a": {"drive_id": "d0", "path_on_host": "/nonexistent"}, ' \
        b'"b": {"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {"size": 1}}}, ' \
        b'"c": {"vcpu_count": 300, "mem_size_mib": 0}}'


# fuzz_x86_emulate.c: mode byte, CPUID byte, page bits, registers, instruction, window contents.
X_LONG, X_CPL3, X_PCIDE, X_OSXSAVE = 0x01, 0x02, 0x04, 0x08
X_ALL_CPUID = 0x3f  # all but RDPRU
X_PAGES = bytes([3, 3, 3, 3, 3, 1, 0, 7])  # page 5 read-only, 6 absent, 7 user
X_IDT, X_DATA = 0x1000, 0x4000


def x_seed(insn, mode=X_LONG | X_OSXSAVE, cpuid=X_ALL_CPUID, regs=None, window=b""):
    r = [0] * 16
    r[4] = 0x8000 | 0x3ff8  # RSP near the end of page 3
    r[6] = r[7] = 0x8000 | X_DATA  # RSI, RDI: a data page
    for i, v in (regs or {}).items():
        r[i] = v
    return (bytes([mode, cpuid]) + X_PAGES + struct.pack("<16H", *r) +
            insn.ljust(15, b"\x90") + window)


def x_gate(vector, dpl=0):
    """A 64-bit interrupt gate at the IDT (window 0x1000) to window 0x40, CS 0x10."""
    handler = 0xffffffff80000040
    g = struct.pack("<HHBBHII", handler & 0xffff, 0x10, 0, 0x8e | dpl << 5,
                    (handler >> 16) & 0xffff, handler >> 32, 0)
    w = bytearray(X_IDT + 16 * (vector + 1))
    w[X_IDT + 16 * vector:] = g
    return bytes(w)


def emulate_seeds():
    yield "int-0x40", x_seed(b"\xcd\x40", window=x_gate(0x40))
    yield "int3", x_seed(b"\xcc", window=x_gate(3))
    yield "clac", x_seed(b"\x0f\x01\xca")
    yield "stac-cpl3", x_seed(b"\x0f\x01\xcb", mode=X_LONG | X_CPL3)
    yield "xgetbv", x_seed(b"\x0f\x01\xd0")
    yield "clwb", x_seed(b"\x66\x0f\xae\x37")
    yield "clwb-r8-disp8", x_seed(b"\x66\x41\x0f\xae\x70\x08", regs={8: 0x8000 | 0x4100})
    yield "invpcid", x_seed(b"\x66\x0f\x38\x82\x07", mode=X_LONG | X_PCIDE, regs={0: 1})
    yield "rdpru", x_seed(b"\x0f\x01\xfd")
    yield "movbe-reg", x_seed(b"\x0f\x38\xf0\xc1", cpuid=0)
    yield "cmpxchg16b", x_seed(b"\xf0\x48\x0f\xc7\x0e")
    yield "ldmxcsr", x_seed(b"\x0f\xae\x16", window=bytes(X_DATA) + struct.pack("<I", 0x1f80))
    yield "stmxcsr-gs", x_seed(b"\x65\x0f\xae\x1c\x25\x00\x10\x00\x00")
    yield "fwait", x_seed(b"\x9b")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for target, gen in (("virtio_blk", seeds), ("virtio_net", net_seeds),
                        ("virtio_vsock", vsock_seeds), ("legacy", legacy_seeds),
                        ("loader", loader_seeds), ("config", config_seeds),
                        ("x86_emulate", emulate_seeds), ("gdb_rsp", gdb_seeds),
                        ("arm64_image", arm64_seeds)):
        out = os.path.join(root, target)
        os.makedirs(out, exist_ok=True)
        for name, data in gen():
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
