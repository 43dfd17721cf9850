/* fuzz_virtio_vsock.c: libFuzzer target for virtio-vsock (src/devices/virtio/vsock.c): a hostile
 * driver sets up the three queues and sends whatever its RAM describes (packets with any header,
 * length and chain, receive and event buffers of any shape), while a host side, driven by the
 * same input, dials the device's Unix socket with CONNECT lines or garbage, listens at
 * "<uds_path>_<port>" for the guest's connections, and writes, reads, half-closes and closes its
 * sockets. The property (issue 13): neither side can make kiln crash, spin, leak memory or a file
 * descriptor, keep more connections or RSTs than its limits, or hand one side bytes the other
 * never sent. Each input gets a fresh device on a per-process path under /tmp, destroyed at its
 * end with every socket closed and every path removed; a descriptor left open aborts.
 *
 * Input layout (little-endian):
 *   [0,24)  the RX, TX and event queues, 8 bytes each: QueueNum written by the driver (any
 *           value), then the descriptor table, available ring and used ring addresses
 *           (guest-physical, 16-bit; flags 0x01, 0x02, 0x04 move a queue's three up by
 *           RING_HIGH, outside RAM)
 *   [24]    flags: 0x01 RX, 0x02 TX, 0x04 event rings at +RING_HIGH, 0x08 no VERSION_1,
 *           0x10 EVENT_IDX, 0x20 INDIRECT_DESC, 0x40 the driver does not accept STREAM,
 *           0x80 the driver accepts SEQPACKET (never offered: FEATURES_OK must not stick)
 *   [25,28) unused
 *   [28,32) P: the guest port of CONNECT lines 0, 1 and 3 below
 *   [32,128) operations, one byte each; "slot" is one of eight host sockets (op & 7):
 *             0x00-0x3f  QueueNotify with value (op & 3) (3: a queue that does not exist), the
 *                        I/O thread's kick of that queue, and with op & 4 then
 *                        virtio_vsock_io() (the device's sockets)
 *             0x40-0x5f  the driver publishes counts[op & 7] (1, 2, 3, 4, 8, 16, 64 or 256)
 *                        more entries on queue (op >> 3) & 3 (0 RX, 1 TX, 2 event; 3: TX,
 *                        then QueueNotify and kick TX)
 *             0x60-0x67  the host dials the device's socket into slot
 *             0x68-0x6f  the host sends line (a & 7) of `lines` on slot, a the next byte
 *             0x70-0x77  the host writes sizes[a & 7] bytes on slot (as many as the socket
 *                        takes), a the next byte
 *             0x78-0x7f  the host reads slot until it would block
 *             0x80-0xbf  write register (op & 0x3f) * 4 with the next byte as value v, read it
 *                        back, and read 1 << ((v >> 4) & 3) bytes of configuration space at
 *                        offset v & 0xf
 *             0xc0-0xc7  shutdown(SHUT_WR) on slot
 *             0xc8-0xcf  close slot
 *             0xd0-0xd7  accept a guest connection on listener (op & 1) into slot
 *             0xd8-0xdf  listener (op & 1) at "<uds_path>_<LISTEN_PORT + (op & 1)>": opened if
 *                        closed, else closed and removed
 *             0xe0-0xff  (op & 3) 0: reset and set up again; 1: save and load (a transport
 *                        reset event); 2: virtio_vsock_transport_reset(); 3: reset only
 *   [128,..) guest RAM contents (RAM_SIZE bytes; the rest is zero)
 * tests/fuzz/make_corpus.py writes seeds in this format. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock.h"
#include "util/log.h"
#include "fuzz_common.h"

#define RAM_SIZE 0x20000 /* room for a 64 KiB packet above rings at 16-bit addresses */
#define CTL_SIZE 128
#define CTL_FLAGS 24
#define CTL_PORT 28
#define CTL_OPS 32
#define NR_QUEUES 3
#define RING_HIGH 0xffff0000ull
#define BASE 0xd0000000ull
#define CID 3
#define NR_SLOTS 8
#define NR_LISTENERS 2
#define LISTEN_PORT 1000
#define WRITE_MAX (1u << 20)
/* "OK <port>\n": what a host socket reads besides the guest's bytes. */
#define OK_LINE_MAX 14

static uint8_t *ram;
static struct gmem *gm;
static struct virtio_vsock vs;
static uint8_t ctl[CTL_SIZE];
static const uint8_t *image;
static size_t image_len;
static char uds[64];
static int slots[NR_SLOTS];
static int listeners[NR_LISTENERS];
static uint64_t host_wrote, host_read; /* bytes through the host's sockets, this input */
static uint8_t pattern[WRITE_MAX], sink[65536];
static bool verbose; /* KILN_FUZZ_LOG: kiln's log, and each input's counters */

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_virtio_vsock: invariant broken: %s\n", what);
		abort();
	}
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	verbose = getenv("KILN_FUZZ_LOG");
	log_set_level(verbose ? LOG_DEBUG : LOG_OFF);
	gm = fuzz_guest_ram(RAM_SIZE, &ram);
	/* One path per process, so parallel jobs (-jobs, -fork) never meet. */
	snprintf(uds, sizeof(uds), "/tmp/kiln-fuzz-vsock.%d.sock", (int)getpid());
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 131 + 7 + (i >> 11));
	return 0;
}

static void wr(uint64_t off, uint32_t v) { fuzz_mmio_wr(&vs.t, off, v); }
static uint32_t rd(uint64_t off) { return fuzz_mmio_rd(&vs.t, off); }

/* A driver's initialisation from the control bytes (it may well fail: that is fine). */
static void setup(void)
{
	uint8_t f = ctl[CTL_FLAGS];
	uint64_t features = (f & 0x08) ? 0 : VIRTIO_BIT(VIRTIO_F_VERSION_1);

	if (f & 0x10)
		features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (f & 0x20)
		features |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	if (!(f & 0x40))
		features |= VIRTIO_BIT(0); /* VIRTIO_VSOCK_F_STREAM */
	if (f & 0x80)
		features |= VIRTIO_BIT(1); /* VIRTIO_VSOCK_F_SEQPACKET */
	fuzz_driver_features(&vs.t, features);
	for (unsigned int q = 0; q < NR_QUEUES; q++) {
		const uint8_t *c = ctl + 8 * q;

		fuzz_queue_setup(&vs.t, q, rd16(c), rd16(c + 2), rd16(c + 4), rd16(c + 6),
				 (f & (1u << q)) ? RING_HIGH : 0);
	}
	fuzz_driver_ok(&vs.t);
	check(!(f & 0x80) || !(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK),
	      "FEATURES_OK does not stick with SEQPACKET, which is not offered");
}

static void publish(unsigned int q, unsigned int count)
{
	const struct virtq *vq = &vs.t.queues[q];
	uint16_t idx;

	/* The driver publishes entries it (maybe) wrote into the ring. */
	if (!vq->avail)
		return;
	memcpy(&idx, vq->avail + 2, 2);
	idx = (uint16_t)(idx + count);
	memcpy(vq->avail + 2, &idx, 2);
}

/* QueueNotify, then the I/O thread's handler for the queue's kick eventfd (which reads it). */
static void notify(unsigned int q)
{
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, q);
	if (q < NR_QUEUES)
		virtio_mmio_kick(&vs.t.kicks[q], 0);
}

/* ---- the host side ------------------------------------------------------------------------- */

static void listener_path(unsigned int k, char *path, size_t size)
{
	snprintf(path, size, "%s_%u", uds, LISTEN_PORT + k);
}

static void slot_close(unsigned int s)
{
	if (slots[s] >= 0)
		close(slots[s]);
	slots[s] = -1;
}

static void host_dial(unsigned int s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	slot_close(s);
	if (fd < 0)
		return;
	strcpy(sa.sun_path, uds);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return;
	}
	slots[s] = fd;
}

static void host_send(unsigned int s, const void *buf, size_t len)
{
	ssize_t n;

	if (slots[s] < 0)
		return;
	n = send(slots[s], buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		host_wrote += (uint64_t)n;
}

/* A CONNECT line, whole, split, with data after it, or not one at all. */
static void host_line(unsigned int s, uint8_t a)
{
	uint32_t port = rd32(ctl + CTL_PORT);
	char line[64];
	int len;

	switch (a & 7) {
	case 0:
		len = snprintf(line, sizeof(line), "CONNECT %u\n", port);
		break;
	case 1:
		len = snprintf(line, sizeof(line), "CONNECT %u\nhello, guest", port);
		break;
	case 2:
		len = snprintf(line, sizeof(line), "CONN");
		break;
	case 3:
		len = snprintf(line, sizeof(line), "ECT %u\n", port);
		break;
	case 4:
		memset(line, 'x', 40);
		len = 40;
		break;
	case 5:
		len = snprintf(line, sizeof(line), "CONNECT 4294967296\n");
		break;
	case 6:
		len = snprintf(line, sizeof(line), "CONNECT %u", port + 1);
		break;
	default:
		/* 16 bytes of the input's RAM image, whatever they are. */
		len = 16;
		memset(line, 0, 16);
		if (image_len > (size_t)(a >> 3) * 16)
			memcpy(line, image + (a >> 3) * 16,
			       image_len - (a >> 3) * 16 < 16 ? image_len - (a >> 3) * 16 : 16);
		break;
	}
	host_send(s, line, (size_t)len);
}

static void host_write(unsigned int s, uint8_t a)
{
	static const uint32_t sizes[8] = { 1, 7, 100, 4096, 60000, 70000, 262144, WRITE_MAX };
	uint32_t want = sizes[a & 7], done = 0;

	while (slots[s] >= 0 && done < want) {
		ssize_t n = send(slots[s], pattern + done, want - done, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			break;
		done += (uint32_t)n;
	}
	host_wrote += done;
}

static void host_read_all(unsigned int s)
{
	ssize_t n;

	while (slots[s] >= 0 && (n = recv(slots[s], sink, sizeof(sink), MSG_DONTWAIT)) > 0)
		host_read += (uint64_t)n;
}

static void host_accept(unsigned int k, unsigned int s)
{
	int fd;

	if (listeners[k] < 0)
		return;
	fd = accept4(listeners[k], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	slot_close(s);
	slots[s] = fd;
}

static void listener_toggle(unsigned int k)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	listener_path(k, sa.sun_path, sizeof(sa.sun_path));
	if (listeners[k] >= 0) {
		close(listeners[k]);
		listeners[k] = -1;
		unlink(sa.sun_path);
		return;
	}
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		close(fd);
		unlink(sa.sun_path);
		return;
	}
	listeners[k] = fd;
}

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	check(d != NULL, "/proc/self/fd can be read");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- the checks ---------------------------------------------------------------------------- */

/* What must hold after every operation. */
static void invariants(void)
{
	check(!(vs.t.st.status & ~0xffu), "status is 8 bits");
	for (unsigned int i = 0; i < NR_QUEUES; i++) {
		const struct virtq *q = &vs.t.queues[i];
		uint16_t ahead = (uint16_t)(q->st->next_avail - q->st->next_used);

		check(ahead <= q->st->size, "the used index never runs ahead of the available one");
		/* Every chain taken is pushed, or given back (RX: nothing to send after all). */
		if (q->desc && !q->broken)
			check(ahead == 0, "every popped chain was pushed or given back");
		if (q->desc) {
			check(q->st->size && q->st->size <= VIRTQ_MAX_SIZE &&
				      !(q->st->size & (q->st->size - 1)),
			      "an active queue has a valid size");
			check(q->desc == ram + q->st->desc && q->avail == ram + q->st->avail &&
				      q->used == ram + q->st->used,
			      "an active queue's rings are where the driver put them");
		}
	}
	check(vs.nr_conns <= VSOCK_MAX_CONNS, "at most VSOCK_MAX_CONNS connections");
	check(vs.nr_conns == vs.n.conns_added - vs.n.conns_removed,
	      "every connection added is removed once");
	check(vs.nr_loose_rst <= VSOCK_MAX_LOOSE_RST, "at most VSOCK_MAX_LOOSE_RST RSTs wait");
	check(vs.dead == NULL, "closed connections are freed before the device lets go");
	check((vs.work_head == NULL) == (vs.work_tail == NULL), "the work list has both ends");
	/* Bytes are not made up: what the guest got came from the host's sockets, and what the
	 * host read came from the guest (or was an "OK <port>" line). */
	check(vs.n.rx_bytes <= host_wrote, "bytes for the guest were written by the host");
	check(host_read <= vs.n.tx_bytes + OK_LINE_MAX * vs.n.conns_added,
	      "bytes the host read were sent by the guest");
	check(vs.n.rx_bytes <= vs.n.rx_packets * VSOCK_MAX_PKT, "no packet above VSOCK_MAX_PKT");
	check(vs.n.tx_bytes <= vs.n.tx_packets * VSOCK_MAX_PKT, "no packet above VSOCK_MAX_PKT");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int fds = count_fds();
	char err[256], path[128];

	memset(ctl, 0, sizeof(ctl));
	memcpy(ctl, data, size < CTL_SIZE ? size : CTL_SIZE);
	memset(ram, 0, RAM_SIZE);
	image = size > CTL_SIZE ? data + CTL_SIZE : data;
	image_len = size > CTL_SIZE ? size - CTL_SIZE : 0;
	if (image_len > RAM_SIZE)
		image_len = RAM_SIZE;
	memcpy(ram, image, image_len);
	for (unsigned int s = 0; s < NR_SLOTS; s++)
		slots[s] = -1;
	for (unsigned int k = 0; k < NR_LISTENERS; k++)
		listeners[k] = -1;
	host_wrote = host_read = 0;
	if (virtio_vsock_init(&vs, "virtio-vsock0", CID, uds, gm, BASE, 5, (struct irq_line){ 0 },
			      err, sizeof(err))) {
		fprintf(stderr, "fuzz_virtio_vsock: cannot create the device: %s\n", err);
		abort();
	}
	setup();
	for (unsigned int i = CTL_OPS; i < CTL_SIZE; i++) {
		uint8_t op = ctl[i], a = i + 1 < CTL_SIZE ? ctl[i + 1] : 0;
		unsigned int s = op & 7;

		if (op < 0x40) {
			notify(op & 3);
			if (op & 4)
				virtio_vsock_io(&vs, EPOLLIN);
		} else if (op < 0x60) {
			static const unsigned int counts[8] = { 1, 2, 3, 4, 8, 16, 64, 256 };
			unsigned int q = (op >> 3) & 3;

			publish(q == 3 ? VIRTIO_VSOCK_TXQ : q, counts[op & 7]);
			if (q == 3)
				notify(VIRTIO_VSOCK_TXQ);
		} else if (op < 0x68) {
			host_dial(s);
		} else if (op < 0x70) {
			host_line(s, a);
			i++;
		} else if (op < 0x78) {
			host_write(s, a);
			i++;
		} else if (op < 0x80) {
			host_read_all(s);
		} else if (op < 0xc0) {
			uint64_t cfg = 0;

			wr((uint64_t)(op & 0x3f) * 4, a);
			(void)rd((uint64_t)(op & 0x3f) * 4);
			/* And a configuration-space read of 1, 2, 4 or 8 bytes the value picks. */
			virtio_mmio_read(&vs.t, VIRTIO_MMIO_CONFIG + (a & 0xf), &cfg, 1u << ((a >> 4) & 3));
			i++;
		} else if (op < 0xc8) {
			if (slots[s] >= 0)
				(void)shutdown(slots[s], SHUT_WR);
		} else if (op < 0xd0) {
			slot_close(s);
		} else if (op < 0xd8) {
			host_accept(op & 1, s);
		} else if (op < 0xe0) {
			listener_toggle(op & 1);
		} else if ((op & 3) == 0) {
			setup();
		} else if ((op & 3) == 1) {
			struct virtio_vsock_state st;

			virtio_vsock_save(&vs, &st);
			/* A healthy device's state must load back. (One a driver broke may not.) */
			if (virtio_vsock_load(&vs, &st))
				check(!(st.transport.status & VIRTIO_STATUS_FEATURES_OK) ||
					      (st.transport.status & VIRTIO_STATUS_NEEDS_RESET),
				      "a healthy device's saved state loads back");
			else
				check(vs.nr_conns == 0, "a restore drops every connection");
		} else if ((op & 3) == 2) {
			virtio_vsock_transport_reset(&vs);
			check(vs.nr_conns == 0, "a transport reset drops every connection");
		} else {
			wr(VIRTIO_MMIO_STATUS, 0);
		}
		invariants();
	}
	if (verbose)
		fprintf(stderr, "fuzz_virtio_vsock: %llu connections (%llu killed), %u open; rx %llu "
			"packets, %llu bytes; tx %llu packets, %llu bytes, %llu malformed; %llu RSTs "
			"dropped; %llu guest errors; host wrote %llu, read %llu\n",
			(unsigned long long)vs.n.conns_added, (unsigned long long)vs.n.conns_killed,
			vs.nr_conns, (unsigned long long)vs.n.rx_packets,
			(unsigned long long)vs.n.rx_bytes, (unsigned long long)vs.n.tx_packets,
			(unsigned long long)vs.n.tx_bytes, (unsigned long long)vs.n.tx_malformed,
			(unsigned long long)vs.n.rst_dropped, (unsigned long long)vs.t.faults,
			(unsigned long long)host_wrote, (unsigned long long)host_read);
	/* Whatever happened, a reset returns the device to a clean state... */
	wr(VIRTIO_MMIO_STATUS, 0);
	check(rd(VIRTIO_MMIO_STATUS) == 0 && vs.t.queues[0].desc == NULL &&
		      vs.t.queues[1].desc == NULL && vs.t.queues[2].desc == NULL &&
		      vs.nr_loose_rst == 0 && !vs.reset_event && !vs.rx_stalled,
	      "reset");
	/* ...and destroying it, with the host's sockets closed, leaves nothing behind. */
	virtio_vsock_destroy(&vs);
	for (unsigned int s = 0; s < NR_SLOTS; s++)
		slot_close(s);
	for (unsigned int k = 0; k < NR_LISTENERS; k++)
		if (listeners[k] >= 0)
			listener_toggle(k);
	check(access(uds, F_OK) != 0, "the device removed its socket");
	for (unsigned int k = 0; k < NR_LISTENERS; k++) {
		listener_path(k, path, sizeof(path));
		check(access(path, F_OK) != 0, "the listeners are gone");
	}
	check(count_fds() == fds, "no file descriptor left open");
	return 0;
}
