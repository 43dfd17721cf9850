/*
 * snap_vio: multiboot ELF32; counts like snap_count, but every number goes through virtio
 * devices, for the snapshot tests (tests/api, group snapshot-virtio): number n is written to
 * sector 1 + n % 64 of the first virtio-blk disk, and in the same notification the sector of
 * n - 1 is read back (two requests in flight at once) and must hold n - 1; with `rng`, 32 bytes
 * of virtio-rng come too. Then it prints "count n". The guest is nearly always waiting for the
 * disk, so a pause lands in the middle of its I/O; after a restore in another process the next
 * line must follow with no gap and no repeat, and the first read checks that the disk write made
 * before the snapshot is there after it.
 *
 * Requests complete by polling the used rings (bounded): no interrupts are needed.
 *
 * Command line: virtio=BASE,STRIDE,COUNT [count=N] [rng]
 */
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

#define SECTORS 64
#define SPINS 50000000u

static u32 wbuf[128] __attribute__((aligned(512)));
static u32 rbuf[128] __attribute__((aligned(512)));
static u8 entropy[32];

struct blk_req {
	struct virtio_blk_req_hdr hdr;
	u8 status;
} __attribute__((aligned(16)));
static struct blk_req reqs[2];

static struct vio_bus bus;
static struct vio_dev blk, rng;
static struct vq blkq, rngq;

static u32 word(u32 n, u32 i)
{
	return n << 8 | i;
}

static void post(u32 slot, u32 type, u32 n, u32 *buf)
{
	struct blk_req *r = &reqs[slot];
	struct vio_buf bufs[3] = {
		{ (u32)(uptr)&r->hdr, sizeof(r->hdr), 0 },
		{ (u32)(uptr)buf, 512, type == VIRTIO_BLK_T_IN },
		{ (u32)(uptr)&r->status, 1, 1 },
	};

	r->hdr = (struct virtio_blk_req_hdr){ type, 0, 1 + n % SECTORS };
	r->status = 0xee;
	if (vq_post(&blkq, bufs, 3, 0, r) < 0)
		guest_fail("vq_post refused a disk request");
}

static void wait_one(struct vq *q, const char *what)
{
	int id = vq_wait_used(q, 0, 0, SPINS);

	if (id == -1) {
		vio_dump(q->dev, what);
		guest_fail("no used buffer from the device");
	}
	if (id < 0)
		guest_fail("the device returned a used id that is not an outstanding head");
}

static void step(u32 n, int with_rng)
{
	for (u32 i = 0; i < 128; i++) {
		wbuf[i] = word(n, i);
		rbuf[i] = 0xdeadbeef;
	}
	post(0, VIRTIO_BLK_T_OUT, n, wbuf);
	if (n)
		post(1, VIRTIO_BLK_T_IN, n - 1, rbuf);
	vq_kick(&blkq);
	wait_one(&blkq, "blk");
	if (n)
		wait_one(&blkq, "blk");
	if (reqs[0].status != VIRTIO_BLK_S_OK || (n && reqs[1].status != VIRTIO_BLK_S_OK))
		guest_fail("a disk request failed");
	for (u32 i = 0; n && i < 128; i++)
		if (rbuf[i] != word(n - 1, i)) {
			serial_puts("snap_vio: sector of ");
			serial_put_dec(n - 1);
			serial_puts(" word ");
			serial_put_dec(i);
			serial_puts(" is ");
			serial_put_hex(rbuf[i]);
			serial_putc('\n');
			guest_fail("the disk lost a write");
		}
	if (with_rng) {
		struct vio_buf b = { (u32)(uptr)entropy, sizeof(entropy), 1 };
		u32 len = 0;

		if (vq_post(&rngq, &b, 1, 0, 0) < 0)
			guest_fail("vq_post refused an entropy request");
		vq_kick(&rngq);
		if (vq_wait_used(&rngq, &len, 0, SPINS) < 0)
			guest_fail("no entropy from virtio-rng");
		if (len != sizeof(entropy))
			guest_fail("virtio-rng wrote a short buffer");
	}
	serial_puts("count ");
	serial_put_dec(n);
	serial_putc('\n');
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	const char *cmdline = vio_boot(magic, mbi, &bus);
	const char *v = cmdline_find(cmdline, "count=");
	int ok = 0, with_rng = cmdline_find(cmdline, "rng") != 0;
	u32 count = v ? parse_dec(v, &ok) : 100000000u;

	if (v && (!ok || !count))
		guest_fail("bad count= value");
	if (vio_find(&bus, VIRTIO_ID_BLOCK, 0, &blk) || vio_init(&blk, 0) ||
	    vio_queue_setup(&blk, &blkq, 0, 16))
		guest_fail("no usable virtio-blk disk");
	vio_driver_ok(&blk);
	if (with_rng) {
		if (vio_find(&bus, VIRTIO_ID_RNG, 0, &rng) || vio_init(&rng, 0) ||
		    vio_queue_setup(&rng, &rngq, 0, 16))
			guest_fail("no usable virtio-rng device");
		vio_driver_ok(&rng);
	}
	for (u32 n = 0; n < count; n++)
		step(n, with_rng);
	guest_success();
}
