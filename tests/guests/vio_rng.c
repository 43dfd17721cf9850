/*
 * vio_rng: multiboot ELF32; reads entropy from virtio-rng (device id 4) through common/virtio.c:
 * two 64-byte reads, each must return at least one byte, not all zero, and differ. With
 * reads=N it makes N reads (tests/e2e/rate_limit.py: a rate limiter holds them back, so each
 * read then waits up to 2^31 spins instead of 2 million).
 *
 * Command line: virtio=BASE,STRIDE,COUNT [reads=N]
 */
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

#define SPINS 2000000
#define BYTES 64

static u8 buf[2][BYTES];
static u32 spins = SPINS;

/* One read into b; returns the length the device wrote. */
static u32 read_entropy(struct vq *q, u8 *b)
{
	for (u32 i = 0; i < BYTES; i++)
		b[i] = 0;
	struct vio_buf v = { (u32)(uptr)b, BYTES, 1 };
	if (vq_post(q, &v, 1, 0, NULL) < 0)
		guest_fail("vq_post refused the buffer");
	vq_kick(q);
	u32 len = 0;
	int id = vq_wait_used(q, &len, NULL, spins);
	if (id == -1) {
		vio_dump(q->dev, "timeout");
		guest_fail("no used buffer from virtio-rng");
	}
	if (id < 0)
		guest_fail("virtio-rng returned a used id that is not an outstanding head");
	if (len == 0 || len > BYTES)
		guest_fail("virtio-rng used length is 0 or larger than the buffer");
	u32 nonzero = 0;
	for (u32 i = 0; i < len; i++)
		nonzero |= b[i];
	if (nonzero == 0)
		guest_fail("virtio-rng returned only zero bytes");
	serial_puts("rng: got ");
	serial_put_dec(len);
	serial_puts(" bytes:");
	for (u32 i = 0; i < len && i < 8; i++) {
		serial_putc(' ');
		serial_put_hex_w(b[i], 2);
	}
	serial_putc('\n');
	return len;
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	static struct vio_bus bus;
	static struct vio_dev d;
	static struct vq q;
	const char *cmdline = vio_boot(magic, mbi, &bus);
	const char *r = cmdline_find(cmdline, "reads=");
	int ok = 0;
	u32 reads = r ? parse_dec(r, &ok) : 0;

	if (r && (!ok || reads < 2))
		guest_fail("reads=N needs N >= 2");
	if (vio_find(&bus, VIRTIO_ID_RNG, 0, &d) != 0)
		guest_fail("no virtio-rng device");
	if (vio_init(&d, VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0)
		guest_fail("feature negotiation failed");
	if (vio_queue_setup(&d, &q, 0, 0) != 0)
		guest_fail("cannot set up the request queue");
	vio_driver_ok(&d);
	serial_puts("rng: transport ");
	serial_put_dec(d.index);
	serial_puts(" features=");
	serial_put_hex(d.features);
	serial_putc('\n');

	if (r) {
		spins = 0x80000000u;
		for (u32 i = 2; i < reads; i++)
			(void)read_entropy(&q, buf[0]);
	}
	u32 a = read_entropy(&q, buf[0]);
	u32 b = read_entropy(&q, buf[1]);
	u32 n = a < b ? a : b, same = 1;
	for (u32 i = 0; i < n; i++)
		if (buf[0][i] != buf[1][i])
			same = 0;
	if (same)
		guest_fail("two virtio-rng reads returned the same bytes");
	serial_puts("rng: two reads differ\n");
	guest_success();
}
