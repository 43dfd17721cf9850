/*
 * vio_net: multiboot ELF32; virtio-net (device id 1) through common/virtio.c, against the host end
 * of a TAP at 10.0.0.1 (tests/e2e/virtio_test.py, case net, sets it up in a network namespace):
 *  1. ARP: asks who has 10.0.0.1 and gets the host's MAC from the reply;
 *  2. ICMP: an echo request to 10.0.0.1, whose reply must carry the same id, sequence and data,
 *     with correct IPv4 and ICMP checksums;
 *  3. out: `frames` frames of EtherType 0x88b5 to the host, each with a sequence number and a
 *     payload derived from it (the host checks every one: none lost, reordered or corrupted);
 *  4. in: sends a 0x88b7 "ready" frame; the host then sends `frames` frames of EtherType 0x88b6
 *     in batches, and waits for a 0x88b7 acknowledgement after each batch; the guest checks each
 *     frame's sequence number and payload.
 * Frames it does not expect (the host's IPv6 chatter) are ignored. Progress goes to the serial
 * port; SUCCESS through debug-exit.
 *
 * Command line: virtio=BASE,STRIDE,COUNT [frames=N] [batch=N] [lenient_num_buffers]
 * (lenient_num_buffers: accept num_buffers 0 without MRG_RXBUF, as QEMU 7.2 leaves it; virtio 1.2,
 * 5.1.6.4.1, says 1, which kiln writes.)
 */
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

#define VIRTIO_ID_NET 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define NET_HDR 12
#define RX_BUFS 128
#define BUF_SIZE 2048
#define SPINS 20000000u
#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define ETH_OUT 0x88b5
#define ETH_IN 0x88b6
#define ETH_ACK 0x88b7
#define PAYLOAD 256

static const u8 guest_ip[4] = { 10, 0, 0, 2 }, host_ip[4] = { 10, 0, 0, 1 };
static u8 mac[6], host_mac[6];
static u8 rx_bufs[RX_BUFS][BUF_SIZE] __attribute__((aligned(64)));
static u8 tx_frame[BUF_SIZE] __attribute__((aligned(64)));
static struct vq rxq, txq;
static int lenient_num_buffers;

static void put16(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static void put32(u8 *p, u32 v) { put16(p, (u16)(v >> 16)); put16(p + 2, (u16)v); }
static u32 get32(const u8 *p) { return (u32)get16(p) << 16 | get16(p + 2); }

static int same(const u8 *a, const u8 *b, u32 n)
{
	for (u32 i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* The Internet checksum (RFC 1071) of n bytes. */
static u16 csum(const u8 *p, u32 n)
{
	u32 s = 0;
	for (u32 i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (u32)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (u16)~s;
}

static void post_rx(u8 *buf)
{
	struct vio_buf v = { (u32)(uptr)buf, BUF_SIZE, 1 };
	if (vq_post(&rxq, &v, 1, 0, buf) < 0)
		guest_fail("vq_post refused a receive buffer");
}

/* Sends the frame in tx_frame (after its zero header), `len` bytes of Ethernet frame. */
static void send(u32 len)
{
	for (u32 i = 0; i < NET_HDR; i++)
		tx_frame[i] = 0;
	struct vio_buf v = { (u32)(uptr)tx_frame, NET_HDR + len, 0 };
	if (vq_post(&txq, &v, 1, 0, NULL) < 0)
		guest_fail("vq_post refused the transmit buffer");
	vq_kick(&txq);
	int id = vq_wait_used(&txq, NULL, NULL, SPINS);
	if (id == -1) {
		vio_dump(txq.dev, "timeout");
		guest_fail("a transmitted frame never came back");
	}
	if (id < 0)
		guest_fail("transmit queue returned a bad id");
}

/* Ethernet header into tx_frame for `type` to `dst`; returns where the payload goes. */
static u8 *eth(const u8 *dst, u16 type)
{
	u8 *f = tx_frame + NET_HDR;
	k_memcpy(f, dst, 6);
	k_memcpy(f + 6, mac, 6);
	put16(f + 12, type);
	return f + 14;
}

/* Waits for a frame of EtherType `type` (others are given back unread); returns its Ethernet
 * frame and length in *len, the buffer to re-post in *buf. */
static const u8 *recv_type(u16 type, u32 *len, u8 **buf)
{
	for (u32 tries = 0; tries < 100000; tries++) {
		void *cookie;
		u32 l = 0;
		int id = vq_wait_used(&rxq, &l, &cookie, SPINS);
		if (id == -1) {
			vio_dump(rxq.dev, "timeout");
			guest_fail("no frame arrived");
		}
		if (id < 0 || l < NET_HDR + 14 || l > BUF_SIZE)
			guest_fail("receive queue returned a bad id or length");
		u8 *b = cookie;
		if ((b[10] != 1 && !(lenient_num_buffers && b[10] == 0)) || b[11] != 0)
			guest_fail("num_buffers is not 1 without MRG_RXBUF");
		if (get16(b + NET_HDR + 12) == type) {
			*len = l - NET_HDR;
			*buf = b;
			return b + NET_HDR;
		}
		post_rx(b);
		vq_kick(&rxq);
	}
	guest_fail("only unexpected frames arrived");
}

static void done_with(u8 *buf)
{
	post_rx(buf);
	vq_kick(&rxq);
}

static void arp(void)
{
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	u8 *p = eth(bcast, ETH_ARP), *buf;
	u32 len;
	put16(p, 1);      /* Ethernet */
	put16(p + 2, ETH_IP);
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, 1);  /* request */
	k_memcpy(p + 8, mac, 6);
	k_memcpy(p + 14, guest_ip, 4);
	for (u32 i = 0; i < 6; i++)
		p[18 + i] = 0;
	k_memcpy(p + 24, host_ip, 4);
	send(14 + 28);
	for (;;) {
		const u8 *r = recv_type(ETH_ARP, &len, &buf);
		if (len >= 14 + 28 && get16(r + 14 + 6) == 2 && same(r + 14 + 14, host_ip, 4) &&
		    same(r + 14 + 24, guest_ip, 4)) {
			k_memcpy(host_mac, r + 14 + 8, 6);
			done_with(buf);
			break;
		}
		done_with(buf);
	}
	serial_puts("net: ARP reply: 10.0.0.1 is at");
	for (u32 i = 0; i < 6; i++) {
		serial_putc(i ? ':' : ' ');
		serial_put_hex_w(host_mac[i], 2);
	}
	serial_putc('\n');
}

static void ping(void)
{
	u8 *ip = eth(host_mac, ETH_IP), *buf;
	u8 *icmp = ip + 20;
	u32 len, n = 8 + 56;
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (u16)(20 + n));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 1; /* ICMP */
	put16(ip + 10, 0);
	k_memcpy(ip + 12, guest_ip, 4);
	k_memcpy(ip + 16, host_ip, 4);
	put16(ip + 10, csum(ip, 20));
	icmp[0] = 8; /* echo request */
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, 0x4b4e); /* id "KN" */
	put16(icmp + 6, 1);
	for (u32 i = 8; i < n; i++)
		icmp[i] = (u8)(i * 3);
	put16(icmp + 2, csum(icmp, n));
	send(14 + 20 + n);
	for (;;) {
		const u8 *r = recv_type(ETH_IP, &len, &buf);
		const u8 *rip = r + 14, *ric = rip + 20;
		if (len >= 14 + 20 + n && rip[9] == 1 && same(rip + 12, host_ip, 4) && ric[0] == 0) {
			if (csum(rip, 20) != 0)
				guest_fail("echo reply: bad IPv4 header checksum");
			if (csum(ric, n) != 0)
				guest_fail("echo reply: bad ICMP checksum");
			if (get16(ric + 4) != 0x4b4e || get16(ric + 6) != 1 || !same(ric + 8, icmp + 8, n - 8))
				guest_fail("echo reply: id, sequence or data differ");
			done_with(buf);
			break;
		}
		done_with(buf);
	}
	serial_puts("net: ICMP echo reply from 10.0.0.1\n");
}

static u8 pattern(u32 seq, u32 i)
{
	return (u8)(seq * 31 + i * 7);
}

static void frames_out(u32 frames)
{
	for (u32 seq = 0; seq < frames; seq++) {
		u8 *p = eth(host_mac, ETH_OUT);
		put32(p, seq);
		for (u32 i = 4; i < PAYLOAD; i++)
			p[i] = pattern(seq, i);
		send(14 + PAYLOAD);
	}
	serial_puts("net: sent ");
	serial_put_dec(frames);
	serial_puts(" frames\n");
}

static void ack(u32 count)
{
	u8 *p = eth(host_mac, ETH_ACK);
	put32(p, count);
	for (u32 i = 4; i < 46; i++)
		p[i] = 0;
	send(14 + 46);
}

static void frames_in(u32 frames, u32 batch)
{
	u8 *buf;
	u32 len;
	ack(0); /* ready */
	for (u32 seq = 0; seq < frames; seq++) {
		const u8 *r = recv_type(ETH_IN, &len, &buf);
		if (len != 14 + PAYLOAD)
			guest_fail("a received frame has the wrong length");
		if (get32(r + 14) != seq)
			guest_fail("a received frame is out of sequence (lost or reordered)");
		for (u32 i = 4; i < PAYLOAD; i++)
			if (r[14 + i] != pattern(seq, i))
				guest_fail("a received frame is corrupted");
		done_with(buf);
		if ((seq + 1) % batch == 0 || seq + 1 == frames)
			ack(seq + 1);
	}
	serial_puts("net: received ");
	serial_put_dec(frames);
	serial_puts(" frames\n");
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	static struct vio_bus bus;
	static struct vio_dev d;
	const char *cmdline = vio_boot(magic, mbi, &bus);
	u32 frames = 10000, batch = 500;
	const char *v;
	int ok_frames = 1, ok_batch = 1;
	if ((v = cmdline_find(cmdline, "frames=")) != NULL)
		frames = parse_dec(v, &ok_frames);
	if ((v = cmdline_find(cmdline, "batch=")) != NULL)
		batch = parse_dec(v, &ok_batch);
	lenient_num_buffers = cmdline_find(cmdline, "lenient_num_buffers") != NULL;
	if (!ok_frames || !ok_batch || batch == 0)
		guest_fail("bad frames= or batch=");
	if (vio_find(&bus, VIRTIO_ID_NET, 0, &d) != 0)
		guest_fail("no virtio-net device");
	if (vio_init(&d, VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS)) != 0)
		guest_fail("feature negotiation failed");
	if (!vio_has(&d, VIRTIO_NET_F_MAC))
		guest_fail("the device offers no MAC address");
	for (u32 i = 0; i < 6; i++)
		mac[i] = vio_config8(&d, i);
	if (!(vio_config8(&d, 6) & 1))
		guest_fail("the link is down");
	if (vio_queue_setup(&d, &rxq, 0, 0) != 0 || vio_queue_setup(&d, &txq, 1, 0) != 0)
		guest_fail("cannot set up the receive and transmit queues");
	for (u32 i = 0; i < RX_BUFS; i++)
		post_rx(rx_bufs[i]);
	vio_driver_ok(&d);
	vq_kick(&rxq);
	serial_puts("net: transport ");
	serial_put_dec(d.index);
	serial_puts(" features=");
	serial_put_hex(d.features);
	serial_putc('\n');

	arp();
	ping();
	frames_out(frames);
	frames_in(frames, batch);
	guest_success();
}
