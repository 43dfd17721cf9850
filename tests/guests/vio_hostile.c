/*
 * vio_hostile: multiboot ELF32; feeds the first virtio-blk device broken queues and checks the
 * monitor survives each one. Per case: reset and set the device up, write a bad chain (or a
 * bad avail index) straight into the rings, notify, and wait for the device's reaction:
 * DEVICE_NEEDS_RESET in Status, or the request completed with a status other than OK. Then
 * reset, set up again, and one valid read must succeed. A case the device ignores, or answers
 * with OK, fails the test, except for the cases named in `lenient=` (a reference device that
 * accepts them, as QEMU bounce-buffers an address outside RAM instead of refusing it).
 *
 * Command line: virtio=BASE,STRIDE,COUNT [hostile=NAME] (one case only) [lenient=NAME,NAME]
 */
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

#define QSIZE 16
#define WAIT_SPINS 20000 /* status reads: each one is a VM exit */
#define SPINS 2000000
#define OUTSIDE_RAM 0x40000000u /* 1 GiB: beyond the test's 128 MiB of guest RAM */

static struct vio_bus bus;
static struct vio_dev dev;
static struct vq q;
static struct virtio_blk_req_hdr hdr __attribute__((aligned(16)));
static u8 status_byte;
static u8 data[512] __attribute__((aligned(512)));
static struct virtq_desc table[4] __attribute__((aligned(16)));

static void setup(void)
{
	vio_arena_reset();
	if (vio_init(&dev, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) != 0)
		guest_fail("feature negotiation failed");
	if (vio_queue_setup(&dev, &q, 0, QSIZE) != 0)
		guest_fail("cannot set up request queue 0");
	vio_driver_ok(&dev);
	vq_disable_irq(&q);
}

static void set_desc(struct virtq_desc *d, u64 addr, u32 len, u16 flags, u16 next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* A well-formed read of sector 0 in descriptors 0-2; cases then break one field. */
static void good_chain(void)
{
	hdr.type = VIRTIO_BLK_T_IN;
	hdr.reserved = 0;
	hdr.sector = 0;
	status_byte = 0xee;
	set_desc(&q.desc[0], (u32)(uptr)&hdr, sizeof(hdr), VIRTQ_DESC_F_NEXT, 1);
	set_desc(&q.desc[1], (u32)(uptr)data, sizeof(data), VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(&q.desc[2], (u32)(uptr)&status_byte, 1, VIRTQ_DESC_F_WRITE, 0);
}

static void case_loop(void)
{
	good_chain();
	q.desc[2].flags |= VIRTQ_DESC_F_NEXT;
	q.desc[2].next = 1; /* 0 -> 1 -> 2 -> 1 -> 2 ...: all device-writable, so only the loop is wrong */
	vq_publish(&q, 0);
}

static void case_outside_ram(void)
{
	good_chain();
	q.desc[1].addr = OUTSIDE_RAM;
	vq_publish(&q, 0);
}

static void case_huge_length(void)
{
	good_chain();
	q.desc[1].len = 0xffffffffu;
	vq_publish(&q, 0);
}

static void case_wrapping(void)
{
	good_chain();
	q.desc[1].addr = 0xfffffffffffff000ull; /* addr + len wraps past 2^64 */
	q.desc[1].len = 0x2000;
	vq_publish(&q, 0);
}

static void case_avail_jump(void)
{
	good_chain();
	q.avail->ring[0] = 0;
	vio_barrier();
	*(volatile u16 *)&q.avail->idx = (u16)(QSIZE + 5); /* 21 new heads in a 16-entry queue */
}

static void case_next_range(void)
{
	good_chain();
	q.desc[1].next = QSIZE + 7;
	vq_publish(&q, 0);
}

static void case_head_range(void)
{
	good_chain();
	vq_publish(&q, QSIZE + 3);
}

static void case_indirect_len(void)
{
	good_chain();
	for (u32 i = 0; i < 3; i++)
		table[i] = q.desc[i];
	set_desc(&q.desc[0], (u32)(uptr)table, 16 * 3 + 1, VIRTQ_DESC_F_INDIRECT, 0);
	vq_publish(&q, 0);
}

static const char *lenient;

/* Is name one of the comma-separated words at `lenient=`? */
static int is_lenient(const char *name)
{
	uptr n = k_strlen(name);
	for (const char *s = lenient; s != NULL && *s != 0 && *s != ' ';) {
		if (k_strncmp(s, name, n) == 0 && (s[n] == ',' || s[n] == ' ' || s[n] == 0))
			return 1;
		while (*s != 0 && *s != ' ' && *s != ',')
			s++;
		if (*s == ',')
			s++;
	}
	return 0;
}

static const struct {
	const char *name;
	void (*inject)(void);
} cases[] = {
	{ "loop", case_loop },
	{ "outside-ram", case_outside_ram },
	{ "huge-length", case_huge_length },
	{ "wrapping", case_wrapping },
	{ "avail-jump", case_avail_jump },
	{ "next-range", case_next_range },
	{ "head-range", case_head_range },
	{ "indirect-len", case_indirect_len },
};

/* Wait for the device's reaction to a broken queue; prints it, fails on none or on OK. */
static void observe(const char *name)
{
	serial_puts("hostile: ");
	serial_puts(name);
	serial_puts(": ");
	for (u32 i = 0; i < WAIT_SPINS; i++) {
		u32 st = vio_status(&dev);
		if (st & VIRTIO_STATUS_NEEDS_RESET) {
			serial_puts("DEVICE_NEEDS_RESET (status=");
			serial_put_hex(st);
			serial_puts(")");
			return;
		}
		if (*(volatile u16 *)&q.used->idx != 0) {
			u8 s = *(volatile u8 *)&status_byte;
			serial_puts("completed with status ");
			serial_put_dec(s);
			if (s == VIRTIO_BLK_S_OK && is_lenient(name)) {
				serial_puts(" (accepted: lenient)");
				return;
			}
			if (s == VIRTIO_BLK_S_OK) {
				serial_putc('\n');
				guest_fail("a broken request completed with status OK");
			}
			return;
		}
	}
	serial_putc('\n');
	vio_dump(&dev, "no reaction");
	if (is_lenient(name)) {
		serial_puts("hostile: no reaction (accepted: lenient)");
		return;
	}
	guest_fail("the device neither set DEVICE_NEEDS_RESET nor completed the request");
}

/* After a reset the device must serve a valid read again. */
static void recover(void)
{
	if (vio_reset(&dev) != 0)
		guest_fail("status does not read 0 after reset");
	setup();
	struct vio_buf bufs[3] = {
		{ (u32)(uptr)&hdr, sizeof(hdr), 0 },
		{ (u32)(uptr)data, sizeof(data), 1 },
		{ (u32)(uptr)&status_byte, 1, 1 },
	};
	hdr.type = VIRTIO_BLK_T_IN;
	hdr.sector = 0;
	status_byte = 0xee;
	if (vq_post(&q, bufs, 3, 0, NULL) < 0)
		guest_fail("vq_post refused the valid request");
	vq_kick(&q);
	int id = vq_wait_used(&q, NULL, NULL, SPINS);
	if (id < 0) {
		vio_dump(&dev, "after reset");
		guest_fail("no valid completion after reset");
	}
	if (status_byte != VIRTIO_BLK_S_OK)
		guest_fail("valid read after reset did not return OK");
	serial_puts(", recovered after reset\n");
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	const char *cmdline = vio_boot(magic, mbi, &bus);
	if (vio_find(&bus, VIRTIO_ID_BLOCK, 0, &dev) != 0)
		guest_fail("no virtio-blk device");
	const char *only = cmdline_find(cmdline, "hostile=");
	lenient = cmdline_find(cmdline, "lenient=");
	u32 ran = 0;
	for (u32 c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		if (only != NULL && !word_is(only, cases[c].name))
			continue;
		setup();
		cases[c].inject();
		vq_notify(&q);
		observe(cases[c].name);
		recover();
		ran++;
	}
	if (ran == 0)
		guest_fail("no case matches hostile=");
	serial_puts("hostile: ");
	serial_put_dec(ran);
	serial_puts(" cases, the device recovered from each\n");
	guest_success();
}
