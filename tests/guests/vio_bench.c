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
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);
void user_main(void);

#define MAX_QD 32
#define BUF_BYTES (4u << 20)
#define SPINS 100000000u

/* GDT: 0x08 is crt0's ring-0 code (irq32.h's gates use it); SYSEXIT with SYSENTER_CS = 0x10
 * returns to CS 0x20 | 3 and SS 0x28 | 3, the same layout as Linux's flat segments. */
#define SEL_CODE0 0x10
#define SEL_DATA0 0x18
#define SEL_CODE3 0x23
#define SEL_DATA3 0x2b
#define SEL_TSS 0x30
#define MSR_SYSENTER_CS 0x174
#define EFLAGS_IOPL3 0x3000

struct tss32 {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u32 es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap_base;
} PACKED;

static struct tss32 tss;
static u64 gdt[7] __attribute__((aligned(8)));
static u8 ring0_stack[8192] __attribute__((aligned(16)));
static u8 user_stack[16384] __attribute__((aligned(16)));
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

static u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags)
{
	return (u64)(limit & 0xffff) | (u64)(base & 0xffffff) << 16 | (u64)access << 40 |
	       (u64)((limit >> 16) & 0xf) << 48 | (u64)flags << 52 | (u64)(base >> 24) << 56;
}

/* Ring 0: new GDT and TSS, IOPL 3, then SYSEXIT to user_entry on user_stack. */
void user_entry(void);

static NORETURN void enter_ring3(void)
{
	gdt[0] = 0;
	gdt[1] = seg_desc(0, 0xfffff, 0x9b, 0xc);  /* 0x08 code, DPL 0 */
	gdt[2] = seg_desc(0, 0xfffff, 0x9b, 0xc);  /* 0x10 code, DPL 0 */
	gdt[3] = seg_desc(0, 0xfffff, 0x93, 0xc);  /* 0x18 data, DPL 0 */
	gdt[4] = seg_desc(0, 0xfffff, 0xfb, 0xc);  /* 0x20 code, DPL 3 */
	gdt[5] = seg_desc(0, 0xfffff, 0xf3, 0xc);  /* 0x28 data, DPL 3 */
	gdt[6] = seg_desc((u32)(uptr)&tss, sizeof(tss) - 1, 0x89, 0x0); /* 0x30 32-bit TSS */
	tss.ss0 = SEL_DATA0;
	tss.esp0 = (u32)(uptr)(ring0_stack + sizeof(ring0_stack));
	tss.iomap_base = sizeof(tss); /* no I/O bitmap: IOPL 3 alone grants port access */
	struct {
		u16 limit;
		u32 base;
	} PACKED gdtr = { sizeof(gdt) - 1, (u32)(uptr)gdt };
	__asm__ volatile("lgdt %0\n"
			 "ljmp %1, $1f\n"
			 "1: movw %w2, %%ax\n"
			 "movw %%ax, %%ds\n"
			 "movw %%ax, %%es\n"
			 "movw %%ax, %%ss\n"
			 "ltr %w3\n"
			 : : "m"(gdtr), "i"(SEL_CODE0), "r"(SEL_DATA0), "r"(SEL_TSS) : "eax", "memory");
	__asm__ volatile("wrmsr" : : "c"(MSR_SYSENTER_CS), "a"(SEL_CODE0), "d"(0));
	__asm__ volatile("pushfl\n"
			 "orl %0, (%%esp)\n"
			 "popfl\n" : : "i"(EFLAGS_IOPL3) : "memory", "cc");
	__asm__ volatile("sysexit" : : "c"(user_stack + sizeof(user_stack)), "d"(user_entry));
	__builtin_unreachable();
}

/* Ring 3 starts here with CS 0x23 and SS 0x2b; the other data segments still hold ring 0's. */
__asm__(".pushsection .text\n"
	".code32\n"
	"user_entry:\n"
	"	movw $0x2b, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %fs\n"
	"	movw %ax, %gs\n"
	"	call user_main\n"
	"	ud2\n"
	".popsection\n");

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

	/* Exceptions (from ring 3 too) report themselves; no device interrupt is routed, so
	 * irq32.h's irq_setup() stays unused. */
	(void)irq_setup;
	for (u32 v = 0; v < 256; v++)
		set_gate(v, vector_stubs + 16 * v);
	struct {
		u16 limit;
		u32 base;
	} PACKED idtr = { sizeof(idt) - 1, (u32)(uptr)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));

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
