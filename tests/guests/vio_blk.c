/*
 * vio_blk: multiboot ELF32; drives virtio-blk disks through common/virtio.c.
 *
 * The first writable disk must hold the host pattern (word i of sector s is
 * 0x48000000 | s << 8 | i); the guest reads its capacity and serial (GET_ID, compared with
 * `blk_id=` when given), writes the guest pattern (0xa5000000 | s << 8 | i) to sectors 1, 8-15,
 * 32-33, 40-41, 48-49, 56-57 and 64-67 through a single-descriptor request, a request split over
 * three data descriptors, four requests in flight at once and an indirect table; flushes; reads
 * everything back; checks that out-of-range requests and an unknown type fail, and waits for
 * one completion by interrupt when `virtio_irqs=` says where it arrives. With `ro_disk`, a
 * read-only disk (BLK_F_RO) must also be present and hold 0x52000000 | s << 8 | i: a read
 * works, a write fails with IOERR.
 *
 * Command line: virtio=BASE,STRIDE,COUNT [virtio_irqs=...] [blk_id=SERIAL] [ro_disk]
 */
#include "irq32.h"
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

#define TAG_HOST 0x48
#define TAG_GUEST 0xa5
#define TAG_RO 0x52
#define SPINS 2000000
#define BLK_VECTOR 0x30
#define SLOTS 8

static u32 data[16384] __attribute__((aligned(4096))); /* 64 KiB of sector data */
static u32 check[4096] __attribute__((aligned(4096)));

struct blk_slot {
	struct virtio_blk_req_hdr hdr;
	u8 status;
} __attribute__((aligned(16)));
static struct blk_slot slots[SLOTS];

static struct vio_bus bus;
static const char *cmdline = "";

static void fail_at(const char *what, u32 value)
{
	serial_puts("FAIL: ");
	serial_puts(what);
	serial_putc(' ');
	serial_put_hex(value);
	serial_putc('\n');
	debug_exit(EXIT_FAIL_CODE);
}

static u32 pattern(u32 tag, u32 sector, u32 word)
{
	return tag << 24 | sector << 8 | word;
}

static void fill(u32 *buf, u32 tag, u32 sector, u32 count)
{
	for (u32 s = 0; s < count; s++)
		for (u32 i = 0; i < 128; i++)
			buf[s * 128 + i] = pattern(tag, sector + s, i);
}

/* Sector `sector + s` of buf must hold tag's pattern, for s < count. */
static void expect(const u32 *buf, u32 tag, u32 sector, u32 count, const char *what)
{
	for (u32 s = 0; s < count; s++)
		for (u32 i = 0; i < 128; i++)
			if (buf[s * 128 + i] != pattern(tag, sector + s, i)) {
				serial_puts("blk: ");
				serial_puts(what);
				serial_puts(": sector ");
				serial_put_dec(sector + s);
				serial_puts(" word ");
				serial_put_dec(i);
				serial_puts(" is ");
				serial_put_hex_w(buf[s * 128 + i], 8);
				serial_puts(", expected ");
				serial_put_hex_w(pattern(tag, sector + s, i), 8);
				serial_putc('\n');
				guest_fail("data read back does not match");
			}
}

/*
 * Post one request: header, data segments (device-writable for IN and GET_ID), status.
 * Returns the head; fails the test when the queue refuses it.
 */
static int submit(struct vq *q, u32 slot, u32 type, u32 sector, const struct vio_buf *seg, u32 nseg,
		  int indirect)
{
	struct vio_buf bufs[8];
	struct blk_slot *r = &slots[slot];
	if (nseg > 6)
		guest_fail("submit: too many data segments");
	r->hdr.type = type;
	r->hdr.reserved = 0;
	r->hdr.sector = sector;
	r->status = 0xee; /* the device must overwrite it */
	bufs[0] = (struct vio_buf){ (u32)(uptr)&r->hdr, sizeof(r->hdr), 0 };
	for (u32 i = 0; i < nseg; i++)
		bufs[1 + i] = seg[i];
	bufs[1 + nseg] = (struct vio_buf){ (u32)(uptr)&r->status, 1, 1 };
	int head = vq_post(q, bufs, nseg + 2, indirect, r);
	if (head < 0)
		fail_at("vq_post refused a request of type", type);
	return head;
}

/* Wait for one used element; returns its slot and stores the written length. */
static struct blk_slot *complete(struct vq *q, u32 *len)
{
	void *cookie = NULL;
	int id = vq_wait_used(q, len, &cookie, SPINS);
	if (id == -1) {
		vio_dump(q->dev, "timeout");
		guest_fail("no used buffer from the device");
	}
	if (id == -2)
		guest_fail("the device returned a used id that is not an outstanding head");
	return cookie;
}

/* One request with its data in one buffer; returns the status byte. */
static u32 rw(struct vq *q, u32 type, u32 sector, void *buf, u32 bytes, int indirect)
{
	struct vio_buf seg = { (u32)(uptr)buf, bytes, type != VIRTIO_BLK_T_OUT };
	submit(q, 0, type, sector, &seg, bytes ? 1 : 0, indirect);
	vq_kick(q);
	u32 len;
	struct blk_slot *r = complete(q, &len);
	if (r != &slots[0])
		guest_fail("used element carries the wrong head");
	return r->status;
}

static void expect_status(u32 got, u32 want, const char *what)
{
	if (got == want)
		return;
	serial_puts("blk: ");
	serial_puts(what);
	serial_puts(": status ");
	serial_put_dec(got);
	serial_puts(", expected ");
	serial_put_dec(want);
	serial_putc('\n');
	guest_fail("wrong request status");
}

static void setup(struct vio_dev *d, struct vq *q, const char *name)
{
	u64 want = VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
		   VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_RO) |
		   VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE);
	if (vio_init(d, want) != 0)
		guest_fail("feature negotiation failed");
	if (vio_queue_setup(d, q, 0, 0) != 0)
		guest_fail("cannot set up request queue 0");
	vio_driver_ok(d);
	serial_puts("blk: ");
	serial_puts(name);
	serial_puts(" at transport ");
	serial_put_dec(d->index);
	serial_puts(" offered=");
	serial_put_hex(d->offered);
	serial_puts(" features=");
	serial_put_hex(d->features);
	serial_puts(" queue=");
	serial_put_dec(q->size);
	serial_puts(" capacity=");
	serial_put_dec((uptr)vio_config64(d, VIRTIO_BLK_CFG_CAPACITY));
	if (vio_has(d, VIRTIO_BLK_F_SEG_MAX)) {
		serial_puts(" seg_max=");
		serial_put_dec(vio_config32(d, VIRTIO_BLK_CFG_SEG_MAX));
	}
	serial_putc('\n');
	if (!vio_has(d, VIRTIO_F_INDIRECT_DESC) || !vio_has(d, VIRTIO_F_EVENT_IDX))
		guest_fail("device does not offer INDIRECT_DESC and EVENT_IDX");
}

static void check_id(struct vq *q)
{
	u8 *id = (u8 *)data;
	for (u32 i = 0; i < 32; i++)
		id[i] = 0xcc;
	struct vio_buf seg = { (u32)(uptr)id, VIRTIO_BLK_ID_BYTES, 1 };
	submit(q, 0, VIRTIO_BLK_T_GET_ID, 0, &seg, 1, 0);
	vq_kick(q);
	u32 len;
	complete(q, &len);
	expect_status(slots[0].status, VIRTIO_BLK_S_OK, "GET_ID");
	if (id[VIRTIO_BLK_ID_BYTES] != 0xcc)
		guest_fail("GET_ID wrote past its 20-byte buffer");
	serial_puts("blk: id=");
	u32 n = 0;
	while (n < VIRTIO_BLK_ID_BYTES && id[n] != 0)
		serial_putc((char)id[n++]);
	serial_putc('\n');
	const char *want = cmdline_find(cmdline, "blk_id=");
	if (want != NULL) {
		u32 wn = 0;
		while (want[wn] != 0 && want[wn] != ' ')
			wn++;
		if (wn != n || k_strncmp(want, (const char *)id, n) != 0)
			guest_fail("GET_ID does not match blk_id=");
	}
}

static void write_tests(struct vq *q)
{
	u32 len;
	/* One data descriptor: sector 1. */
	fill(data, TAG_GUEST, 1, 1);
	expect_status(rw(q, VIRTIO_BLK_T_OUT, 1, data, 512, 0), VIRTIO_BLK_S_OK, "write sector 1");
	serial_puts("blk: wrote sector 1\n");

	/* Sectors 8-15 from three data descriptors of 512, 1536 and 2048 bytes. */
	fill(data, TAG_GUEST, 8, 8);
	struct vio_buf segs[4] = {
		{ (u32)(uptr)data, 512, 0 },
		{ (u32)(uptr)data + 512, 1536, 0 },
		{ (u32)(uptr)data + 2048, 2048, 0 },
	};
	submit(q, 0, VIRTIO_BLK_T_OUT, 8, segs, 3, 0);
	vq_kick(q);
	complete(q, &len);
	expect_status(slots[0].status, VIRTIO_BLK_S_OK, "write 8-15 in 3 descriptors");
	serial_puts("blk: wrote sectors 8-15 from 3 descriptors\n");

	/* Four 2-sector writes in flight, one notification. */
	for (u32 k = 0; k < 4; k++) {
		u32 sector = 32 + 8 * k;
		u32 *buf = data + 1024 + 256 * k;
		fill(buf, TAG_GUEST, sector, 2);
		struct vio_buf seg = { (u32)(uptr)buf, 1024, 0 };
		submit(q, k, VIRTIO_BLK_T_OUT, sector, &seg, 1, 0);
	}
	vq_kick(q);
	u32 done = 0;
	for (u32 k = 0; k < 4; k++) {
		struct blk_slot *r = complete(q, &len);
		u32 slot = (u32)(r - slots);
		if (slot >= 4 || (done & (1u << slot)))
			guest_fail("a request of the batch completed twice or is unknown");
		done |= 1u << slot;
		expect_status(r->status, VIRTIO_BLK_S_OK, "batched write");
	}
	serial_puts("blk: wrote 4 requests in flight\n");

	/* Sectors 64-67 through an indirect table (header, two data descriptors, status). */
	fill(data, TAG_GUEST, 64, 4);
	segs[0] = (struct vio_buf){ (u32)(uptr)data, 1024, 0 };
	segs[1] = (struct vio_buf){ (u32)(uptr)data + 1024, 1024, 0 };
	submit(q, 0, VIRTIO_BLK_T_OUT, 64, segs, 2, 1);
	vq_kick(q);
	complete(q, &len);
	expect_status(slots[0].status, VIRTIO_BLK_S_OK, "indirect write");
	serial_puts("blk: wrote sectors 64-67 through an indirect table\n");

	expect_status(rw(q, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0), VIRTIO_BLK_S_OK, "flush");
	serial_puts("blk: flushed\n");
}

static int written(u32 s)
{
	return s == 1 || (s >= 8 && s <= 15) || (s >= 64 && s <= 67) ||
	       ((s >= 32 && s < 64) && (s % 8) < 2);
}

static void read_tests(struct vq *q, u32 capacity)
{
	u32 len;
	/* Sectors 0-71 in one request: 36 KiB in one descriptor. */
	for (u32 i = 0; i < 72 * 128; i++)
		data[i] = 0;
	expect_status(rw(q, VIRTIO_BLK_T_IN, 0, data, 72 * 512, 0), VIRTIO_BLK_S_OK, "read 0-71");
	for (u32 s = 0; s < 72; s++)
		expect(data + s * 128, written(s) ? TAG_GUEST : TAG_HOST, s, 1, "read 0-71");
	serial_puts("blk: read back sectors 0-71\n");

	/* Sectors 8-15 through an indirect table of four 1 KiB descriptors. */
	for (u32 i = 0; i < 1024; i++)
		check[i] = 0;
	struct vio_buf segs[4];
	for (u32 k = 0; k < 4; k++)
		segs[k] = (struct vio_buf){ (u32)(uptr)check + 1024 * k, 1024, 1 };
	submit(q, 0, VIRTIO_BLK_T_IN, 8, segs, 4, 1);
	vq_kick(q);
	complete(q, &len);
	expect_status(slots[0].status, VIRTIO_BLK_S_OK, "indirect read");
	expect(check, TAG_GUEST, 8, 8, "indirect read 8-15");
	if (len < 4096)
		fail_at("indirect read: used length below the 4096 bytes written:", len);
	serial_puts("blk: read sectors 8-15 through an indirect table, used len=");
	serial_put_dec(len);
	serial_putc('\n');

	/* The last sector reads; one past it, and a write straddling the end, fail. */
	expect_status(rw(q, VIRTIO_BLK_T_IN, capacity - 1, check, 512, 0), VIRTIO_BLK_S_OK,
		      "read last sector");
	expect(check, TAG_HOST, capacity - 1, 1, "last sector");
	expect_status(rw(q, VIRTIO_BLK_T_IN, capacity, check, 512, 0), VIRTIO_BLK_S_IOERR,
		      "read past the end");
	fill(check, TAG_GUEST, capacity - 1, 2);
	expect_status(rw(q, VIRTIO_BLK_T_OUT, capacity - 1, check, 1024, 0), VIRTIO_BLK_S_IOERR,
		      "write straddling the end");
	expect_status(rw(q, VIRTIO_BLK_T_IN, 0xffffffffu, check, 512, 0), VIRTIO_BLK_S_IOERR,
		      "read at sector 0xffffffff");
	serial_puts("blk: out-of-range requests fail with IOERR\n");
	expect_status(rw(q, 0x7f, 0, check, 512, 0), VIRTIO_BLK_S_UNSUPP, "unknown request type");
	serial_puts("blk: unknown request type is UNSUPP\n");
}

/* Interrupt wait without IRET (see irq32.h): irq_wait() halts with interrupts on until the
 * vector's handler throws the interrupt frame away and returns from irq_wait() itself. */
__asm__(".pushsection .text\n"
	".code32\n"
	"irq_wait:\n"
	"	pushl %ebp\n"
	"	pushl %ebx\n"
	"	pushl %esi\n"
	"	pushl %edi\n"
	"	movl %esp, irq_wait_esp\n"
	"1:	sti\n"
	"	hlt\n"
	"	cli\n"
	"	jmp 1b\n"
	"blk_isr:\n"
	"	movl irq_wait_esp, %esp\n"
	"	popl %edi\n"
	"	popl %esi\n"
	"	popl %ebx\n"
	"	popl %ebp\n"
	"	cld\n"
	"	ret\n"
	".popsection\n");
void irq_wait(void);
extern const char blk_isr[];
u32 irq_wait_esp;

void device_irq(void)
{
	guest_fail("device_irq: not used");
}

static void irq_test(struct vio_dev *d, struct vq *q)
{
	if (d->irq == 0xffffffffu || d->irq > 23) {
		serial_puts("blk: no interrupt line given, interrupt test skipped\n");
		return;
	}
	irq_setup(d->irq, BLK_VECTOR);
	set_gate(BLK_VECTOR, blk_isr);
	/* Earlier polled completions may have left InterruptStatus set (and a level-triggered line
	 * high, as QEMU's is): acknowledge them so the next one makes a new edge. */
	vio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, vio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	vq_enable_irq(q);
	struct vio_buf seg = { (u32)(uptr)check, 512, 1 };
	submit(q, 0, VIRTIO_BLK_T_IN, 1, &seg, 1, 0);
	vq_kick(q);
	irq_wait();
	u32 isr = vio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (!(isr & VIRTIO_INT_USED))
		fail_at("interrupt arrived but InterruptStatus lacks the used-buffer bit:", isr);
	vio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	lapic_eoi();
	u32 len;
	int id = vq_get_used(q, &len, NULL);
	if (id < 0)
		guest_fail("interrupt arrived but the used ring is empty");
	expect_status(slots[0].status, VIRTIO_BLK_S_OK, "read by interrupt");
	expect(check, TAG_GUEST, 1, 1, "read by interrupt");
	vq_disable_irq(q);
	serial_puts("blk: completion by interrupt on GSI ");
	serial_put_dec(d->irq);
	serial_puts(" isr=");
	serial_put_hex(isr);
	serial_putc('\n');
}

/* The first virtio-blk device that offers (ro = 1) or does not offer (ro = 0) BLK_F_RO:
 * monitors number their transports differently (QEMU microvm fills them from the top). */
static void find_disk(struct vio_dev *d, int ro)
{
	for (u32 n = 0; vio_find(&bus, VIRTIO_ID_BLOCK, n, d) == 0; n++)
		if (!!(vio_device_features(d) & VIRTIO_BIT(VIRTIO_BLK_F_RO)) == ro)
			return;
	guest_fail(ro ? "no read-only virtio-blk device" : "no writable virtio-blk device");
}

static void ro_tests(void)
{
	static struct vio_dev d;
	static struct vq q;
	find_disk(&d, 1);
	setup(&d, &q, "disk1");
	if (!vio_has(&d, VIRTIO_BLK_F_RO))
		guest_fail("disk1 does not offer VIRTIO_BLK_F_RO");
	expect_status(rw(&q, VIRTIO_BLK_T_IN, 0, check, 1024, 0), VIRTIO_BLK_S_OK, "ro read");
	expect(check, TAG_RO, 0, 2, "ro disk");
	fill(check, TAG_GUEST, 0, 2);
	expect_status(rw(&q, VIRTIO_BLK_T_OUT, 0, check, 1024, 0), VIRTIO_BLK_S_IOERR, "ro write");
	expect_status(rw(&q, VIRTIO_BLK_T_IN, 0, check, 512, 0), VIRTIO_BLK_S_OK, "ro read again");
	expect(check, TAG_RO, 0, 1, "ro disk after the refused write");
	serial_puts("blk: read-only disk refuses writes with IOERR\n");
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	static struct vio_dev d;
	static struct vq q;
	cmdline = vio_boot(magic, mbi, &bus);
	find_disk(&d, 0);
	setup(&d, &q, "disk0");
	if (vio_has(&d, VIRTIO_BLK_F_RO))
		guest_fail("disk0 is read-only");
	u64 capacity = vio_config64(&d, VIRTIO_BLK_CFG_CAPACITY);
	if (capacity < 128 || capacity > 65535)
		fail_at("disk0 capacity is not 128 to 65535 sectors:", (u32)capacity);

	check_id(&q);
	write_tests(&q);
	read_tests(&q, (u32)capacity);
	irq_test(&d, &q);
	if (cmdline_find(cmdline, "ro_disk") != NULL)
		ro_tests();
	guest_success();
}
