/*
 * vio_bench: multiboot ELF32; the guest half of bench/virtio_blk.py. Sets up the first
 * virtio-blk device at ring 0, then drops to ring 3 (SYSEXIT into a DPL-3 code/data pair, a TSS
 * for the way back, EFLAGS.IOPL=3 so serial and debug-exit stay reachable; paging is off, so
 * the device registers and rings are too) and runs the request loop there: on a PVM host ring-0
 * code is emulated, ring 3 runs natively, so only ring 3 can issue requests at full speed.
 *
 * Protocol on the serial port: prints "bench: ready", waits for one byte (the host starts its
 * clocks), issues `count` reads of `bs` bytes with up to `qd` in flight, sequential from sector
 * 0 (wrapping at the end of the disk) or, with mode=rand, at random bs-aligned offsets; polls the
 * used ring (interrupts suppressed); prints "bench: done N requests", waits for one more byte
 * and leaves through debug-exit with SUCCESS.
 *
 * Command line: virtio=BASE,STRIDE,COUNT [mode=seq|rand] [bs=BYTES] [qd=N] [count=N]
 */
#include "irq32.h"
#include "ring3.h"
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);
void user_main(void);

#define MAX_QD 32
#define BUF_BYTES (4u << 20)
#define SPINS 100000000u

static u8 bufs[BUF_BYTES] __attribute__((aligned(4096)));

struct slot {
	struct virtio_blk_req_hdr hdr;
	u8 status;
} __attribute__((aligned(16)));
static struct slot slots[MAX_QD];

static struct vio_bus bus;
static struct vio_dev dev;
static struct vq q;
static u32 mode_rand, bs = 4096, qd = 1, count = 10000;
static u32 capacity;
static u32 free_mask = 0xffffffffu; /* request slots not in flight */

void device_irq(void)
{
	guest_fail("unexpected device interrupt");
}

static u32 arg(const char *cmdline, const char *key, u32 def)
{
	const char *s = cmdline_find(cmdline, key);
	int ok = 0;
	u32 v = s ? parse_dec(s, &ok) : 0;
	return ok ? v : def;
}

/* Bounded wait for one byte on the UART (the host's go-ahead); ring 3 reaches it by IOPL 3. */
static void wait_byte(void)
{
	for (u32 i = 0; i < SPINS; i++)
		if (inb(COM1 + UART_LSR) & UART_LSR_DR) {
			(void)inb(COM1 + UART_RBR);
			return;
		}
	guest_fail("no byte from the host on the serial port");
}

static u32 rng_state = 0x6b696c6e;

static u32 next_sector(u32 i)
{
	u32 blocks = capacity / (bs / 512);
	if (mode_rand) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 17;
		rng_state ^= rng_state << 5;
		return (rng_state % blocks) * (bs / 512);
	}
	return (i % blocks) * (bs / 512);
}

static void post(u32 i)
{
	/* Requests complete in any order: each takes a free slot (header, status and a bs-byte
	 * buffer) and carries its number as the cookie. */
	(void)i;
	u32 k = (u32)__builtin_ctz(free_mask);
	free_mask &= ~(1u << k);
	struct slot *r = &slots[k];
	r->hdr.type = VIRTIO_BLK_T_IN;
	r->hdr.reserved = 0;
	r->hdr.sector = next_sector(i);
	r->status = 0xee;
	struct vio_buf b[3] = {
		{ (u32)(uptr)&r->hdr, sizeof(r->hdr), 0 },
		{ (u32)(uptr)(bufs + k * bs), bs, 1 },
		{ (u32)(uptr)&r->status, 1, 1 },
	};
	if (vq_post(&q, b, 3, 0, (void *)(uptr)k) < 0)
		guest_fail("vq_post refused a request");
}


void user_main(void)
{
	serial_puts("bench: ring 3, ready\n");
	wait_byte();
	u32 issued = 0, done = 0, inflight = 0;
	while (done < count) {
		while (inflight < qd && issued < count) {
			post(issued++);
			inflight++;
		}
		vq_kick(&q);
		void *cookie;
		int id = vq_wait_used(&q, NULL, &cookie, SPINS);
		if (id < 0)
			guest_fail("no completion within the spin bound");
		/* Take every completion there is before posting more. */
		for (;;) {
			u32 k = (u32)(uptr)cookie;
			if (slots[k].status != VIRTIO_BLK_S_OK)
				guest_fail("a read failed");
			free_mask |= 1u << k;
			inflight--;
			done++;
			id = vq_get_used(&q, NULL, &cookie);
			if (id == -1)
				break;
			if (id < 0)
				guest_fail("bad used id");
		}
	}
	serial_puts("bench: done ");
	serial_put_dec(done);
	serial_puts(" requests\n");
	wait_byte();
	guest_success();
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	const char *cmdline = vio_boot(magic, mbi, &bus);
	const char *m = cmdline_find(cmdline, "mode=");
	mode_rand = m != NULL && word_is(m, "rand");
	bs = arg(cmdline, "bs=", bs);
	qd = arg(cmdline, "qd=", qd);
	count = arg(cmdline, "count=", count);
	if (bs < 512 || bs % 512 != 0 || qd == 0 || qd > MAX_QD || (u64)bs * qd > BUF_BYTES)
		guest_fail("bs must be a multiple of 512, qd 1 to 32, bs * qd at most 4 MiB");

	/* Exceptions (from ring 3 too) report themselves. */
	ring3_trap_exceptions();

	if (vio_find(&bus, VIRTIO_ID_BLOCK, 0, &dev) != 0)
		guest_fail("no virtio-blk device");
	if (vio_init(&dev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0)
		guest_fail("feature negotiation failed");
	if (vio_queue_setup(&dev, &q, 0, 0) != 0)
		guest_fail("cannot set up request queue 0");
	vio_driver_ok(&dev);
	vq_disable_irq(&q);
	u64 cap = vio_config64(&dev, VIRTIO_BLK_CFG_CAPACITY);
	capacity = cap > 0xffffffffu ? 0xffffffffu : (u32)cap;
	if (capacity < bs / 512)
		guest_fail("disk smaller than one request");
	serial_puts("bench: transport ");
	serial_put_dec(dev.index);
	serial_puts(" capacity=");
	serial_put_dec(capacity);
	serial_puts(mode_rand ? " mode=rand" : " mode=seq");
	serial_puts(" bs=");
	serial_put_dec(bs);
	serial_puts(" qd=");
	serial_put_dec(qd);
	serial_puts(" count=");
	serial_put_dec(count);
	serial_puts(" features=");
	serial_put_hex(dev.features);
	serial_putc('\n');
	enter_ring3();
}
