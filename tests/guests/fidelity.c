/* fidelity: platform details guests written for real hardware or QEMU probe (issue 17). The
 * command line picks one check:
 *   ioapic   checks the IOAPIC ID register at boot holds the MADT's IOAPIC ID (which must fit
 *            its 4 bits, whatever the vCPU count), then writes it and reads it back: only bits
 *            27:24 stick;
 *   ports    probes fw_cfg, Super I/O, the DMA page registers, port 0x80 and the PIT (absent
 *            with kiln's split irqchip): every read gives all ones, "QEMU" never;
 *   pmtimer  finds the ACPI PM timer through the RSDP and FADT, checks it never goes backwards,
 *            and measures its rate against the TSC, whose rate comes from kvmclock (KVM's own
 *            TSC-to-nanoseconds factors): within 1% of 3.579545 MHz. */
#include "acpi.h"
#include "entry.h"
#include "kstring.h"

void kmain(u64 probe, const char *cmdline);

/* ---- IOAPIC ---------------------------------------------------------------------------------- */

#define IOAPIC_BASE 0xfec00000ul
#define IOAPIC_SELECT (IOAPIC_BASE + 0x00)
#define IOAPIC_WINDOW (IOAPIC_BASE + 0x10)

static u32 ioapic_read(u32 reg)
{
	mmio_write32(IOAPIC_SELECT, reg);
	return mmio_read32(IOAPIC_WINDOW);
}

static void ioapic_write(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_SELECT, reg);
	mmio_write32(IOAPIC_WINDOW, v);
}

static void expect_id(u32 wrote, u32 want)
{
	u32 got;

	ioapic_write(0, wrote);
	got = ioapic_read(0);
	serial_puts("ioapic: wrote ");
	serial_put_hex_w(wrote, 8);
	serial_puts(", id register reads ");
	serial_put_hex_w(got, 8);
	serial_putc('\n');
	if (got != want)
		guest_fail("IOAPIC ID register: only bits 27:24 are writable");
	if (ioapic_read(2) != want)
		guest_fail("IOAPIC arbitration register does not follow the ID");
}

static void check_ioapic(void)
{
	u32 old = ioapic_read(0);

	const u8 *madt = acpi_find_table("APIC");
	u32 len, off;
	int id = -1;

	serial_puts("ioapic: id register at boot ");
	serial_put_hex_w(old, 8);
	serial_putc('\n');
	if (old & ~0x0f000000u)
		guest_fail("IOAPIC ID register has bits outside 27:24 at boot");
	if (!madt)
		guest_fail("no MADT");
	len = acpi_rd32(madt + 4);
	for (off = 44; off + 2 <= len && madt[off + 1] >= 2; off += madt[off + 1])
		if (madt[off] == 1 && off + 12 <= len) { /* I/O APIC entry */
			id = madt[off + 2];
			break;
		}
	if (id < 0)
		guest_fail("no I/O APIC entry in the MADT");
	serial_puts("ioapic: MADT id ");
	serial_put_hex_w((u64)id, 2);
	serial_putc('\n');
	if ((u32)id != old >> 24)
		guest_fail("IOAPIC ID register at boot is not the MADT's IOAPIC ID");
	expect_id(0xffffffff, 0x0f000000);
	expect_id(0x0a000000, 0x0a000000);
	expect_id(0xf0ffffff, 0x00000000);
	ioapic_write(0, old);
	if (ioapic_read(0) != old)
		guest_fail("IOAPIC ID register did not take its boot value back");
}

/* ---- absent ports ---------------------------------------------------------------------------- */

static void expect_ff(u16 port, const char *what)
{
	u8 v = inb(port);

	if (v != 0xff) {
		serial_puts("inb ");
		serial_put_hex_w(port, 4);
		serial_puts(" = ");
		serial_put_hex_w(v, 2);
		serial_putc('\n');
		guest_fail(what);
	}
}

static void check_ports(void)
{
	static const u16 superio[] = { 0x2e, 0x4e };
	u8 sig[4];

	/* fw_cfg (QEMU docs/specs/fw_cfg.rst): select key 0 (signature), read four bytes. */
	outw(0x510, 0x0000);
	for (int i = 0; i < 4; i++)
		sig[i] = inb(0x511);
	if (sig[0] == 'Q' && sig[1] == 'E' && sig[2] == 'M' && sig[3] == 'U')
		guest_fail("fw_cfg signature reads QEMU");
	for (int i = 0; i < 4; i++)
		if (sig[i] != 0xff)
			guest_fail("fw_cfg signature byte is not 0xff (absent)");
	if (inw(0x510) != 0xffff || inl(0x514) != 0xffffffff || inl(0x518) != 0xffffffff)
		guest_fail("fw_cfg selector or DMA address port is not all ones");
	serial_puts("fw_cfg: signature ff ff ff ff: absent\n");

	/* Super I/O: the Winbond/Nuvoton "enter configuration" key, then the chip ID register. */
	for (unsigned int i = 0; i < 2; i++) {
		outb(superio[i], 0x87);
		outb(superio[i], 0x87);
		outb(superio[i], 0x20);
		expect_ff((u16)(superio[i] + 1), "Super I/O chip ID is not 0xff (absent)");
		expect_ff(superio[i], "Super I/O index port is not 0xff (absent)");
		outb(superio[i], 0xaa); /* leave configuration mode */
	}
	serial_puts("superio: 0x2e/0x2f and 0x4e/0x4f read 0xff: absent\n");

	/* DMA page registers, written and read as the floppy and ISA DMA drivers do. */
	for (u16 port = 0x81; port <= 0x8f; port++) {
		outb(port, 0x12);
		expect_ff(port, "DMA page register is not 0xff (absent)");
	}
	serial_puts("dma: page registers 0x81-0x8f read 0xff: absent\n");

	/* Port 0x80: POST codes and Linux's I/O delay; written only. */
	for (int i = 0; i < 16; i++)
		outb(0x80, (u8)i);
	serial_puts("post: 16 writes to port 0x80\n");

	/* PIT: latch counter 0, read it; program counter 2; read the status. */
	outb(0x43, 0x00);
	expect_ff(0x40, "PIT counter 0 is not 0xff (absent)");
	expect_ff(0x40, "PIT counter 0 is not 0xff (absent)");
	outb(0x43, 0xb6);
	outb(0x42, 0x34);
	outb(0x42, 0x12);
	expect_ff(0x41, "PIT counter 1 is not 0xff (absent)");
	expect_ff(0x42, "PIT counter 2 is not 0xff (absent)");
	expect_ff(0x43, "PIT mode port is not 0xff (absent)");
	serial_puts("pit: 0x40-0x43 read 0xff: absent\n");
}

/* ---- ACPI PM timer --------------------------------------------------------------------------- */

#define PM_TIMER_HZ 3579545ull
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)

struct pvclock {
	u32 version, pad0;
	u64 tsc_timestamp, system_time;
	u32 tsc_to_system_mul;
	signed char tsc_shift;
	u8 flags, pad[2];
} __attribute__((packed));

static volatile struct pvclock kvmclock __attribute__((aligned(64)));

static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline u64 rdtsc_ordered(void)
{
	u32 lo, hi;

	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

static const u8 *find_rsdp(void)
{
	for (uptr p = 0xe0000; p < 0x100000; p += 16)
		if (k_strncmp((const char *)p, "RSD PTR ", 8) == 0)
			return (const u8 *)p;
	return 0;
}

static u32 rd32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

static u64 rd64(const u8 *p)
{
	return rd32(p) | (u64)rd32(p + 4) << 32;
}

/* The PM timer's port from the FADT's X_PM_TMR_BLK (what Linux reads), checking the legacy field
 * and TMR_VAL_EXT agree. */
static u16 pm_timer_port(void)
{
	const u8 *rsdp = find_rsdp(), *xsdt, *fadt = 0;
	u32 len;

	if (!rsdp)
		guest_fail("no RSDP in 0xe0000-0xfffff");
	xsdt = (const u8 *)(uptr)rd64(rsdp + 24);
	len = rd32(xsdt + 4);
	for (u32 off = 36; off + 8 <= len; off += 8) {
		const u8 *t = (const u8 *)(uptr)rd64(xsdt + off);

		if (k_strncmp((const char *)t, "FACP", 4) == 0)
			fadt = t;
	}
	if (!fadt)
		guest_fail("no FADT in the XSDT");
	if (fadt[208] != 1 || fadt[209] != 32)
		guest_fail("X_PM_TMR_BLK is not a 32-bit System I/O register");
	if (rd32(fadt + 76) != rd64(fadt + 212) || fadt[91] != 4)
		guest_fail("PM_TMR_BLK/PM_TMR_LEN disagree with X_PM_TMR_BLK");
	if (!(rd32(fadt + 112) & (1u << 8)))
		guest_fail("FADT TMR_VAL_EXT is clear: want a 32-bit timer");
	return (u16)rd64(fadt + 212);
}

static u64 tsc_to_ns(u64 delta, u32 mul, signed char shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	return (u64)(((unsigned __int128)delta * mul) >> 32);
}

static void check_pm_timer(void)
{
	u32 a, b, c, d, mul, prev, now, moved = 0;
	signed char shift;
	u64 hz;
	u16 port = pm_timer_port();

	serial_puts("pmtimer: port ");
	serial_put_hex_w(port, 4);
	serial_putc('\n');

	/* Monotonic: 20000 reads in a row; a step back would be a huge 32-bit difference. */
	prev = inl(port);
	for (int i = 0; i < 20000; i++) {
		now = inl(port);
		if ((u32)(now - prev) > PM_TIMER_HZ) {
			serial_puts("pmtimer: ");
			serial_put_hex_w(prev, 8);
			serial_puts(" then ");
			serial_put_hex_w(now, 8);
			serial_putc('\n');
			guest_fail("PM timer went backwards (or jumped a second between two reads)");
		}
		moved += now != prev;
		prev = now;
	}
	if (moved < 10)
		guest_fail("PM timer hardly moves");
	serial_puts("pmtimer: monotonic over 20000 reads\n");

	/* kvmclock gives KVM's TSC-to-nanoseconds factors: the TSC's rate, not measured here. */
	cpuid(0x40000000, &a, &b, &c, &d);
	if (b != 0x4b4d564b || c != 0x564b4d56 || d != 0x4d)
		guest_fail("no KVM signature at CPUID 0x40000000");
	cpuid(0x40000001, &a, &b, &c, &d);
	if (!(a & KVM_FEATURE_CLOCKSOURCE2))
		guest_fail("no kvmclock (KVM_FEATURE_CLOCKSOURCE2) to learn the TSC rate from");
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uptr)&kvmclock | 1);
	do {
		a = kvmclock.version;
		__asm__ volatile("" ::: "memory");
		mul = kvmclock.tsc_to_system_mul;
		shift = kvmclock.tsc_shift;
		__asm__ volatile("" ::: "memory");
	} while ((a & 1) || a != kvmclock.version || mul == 0);
	hz = (1000000000ull << 32) / mul; /* ns = (tsc << shift) * mul / 2^32 */
	hz = shift > 0 ? hz >> shift : hz << -shift;
	serial_puts("pmtimer: TSC at ");
	serial_put_dec((uptr)hz);
	serial_puts(" Hz (kvmclock)\n");

	/* One second of PM ticks against the TSC. Each PM read is bracketed by TSC reads: the exit
	 * to kiln takes time (much of it under nested emulation), so the TSC is taken halfway and
	 * the bracket's width is the measurement's own uncertainty. Three tries. */
	for (int attempt = 1; attempt <= 3; attempt++) {
		u64 t0a, t0b, t1a, t1b, tsc_ns, pm_ns, diff, err_ppm, slack_ppm;
		u32 p0, p1;

		t0a = rdtsc_ordered();
		p0 = inl(port);
		t0b = rdtsc_ordered();
		do {
			t1a = rdtsc_ordered();
			p1 = inl(port);
			t1b = rdtsc_ordered();
			if (tsc_to_ns(t1b - t0a, mul, shift) > 10000000000ull)
				guest_fail("PM timer did not advance one second in ten TSC seconds");
		} while ((u32)(p1 - p0) < PM_TIMER_HZ);
		pm_ns = (u64)(u32)(p1 - p0) * 1000000000ull / PM_TIMER_HZ;
		tsc_ns = tsc_to_ns((t1a + t1b) / 2 - (t0a + t0b) / 2, mul, shift);
		diff = tsc_ns > pm_ns ? tsc_ns - pm_ns : pm_ns - tsc_ns;
		err_ppm = diff * 1000000 / pm_ns;
		slack_ppm = tsc_to_ns((t0b - t0a) + (t1b - t1a), mul, shift) / 2 * 1000000 / pm_ns;
		serial_puts("pmtimer: ");
		serial_put_dec((uptr)pm_ns);
		serial_puts(" ns of PM ticks, ");
		serial_put_dec((uptr)tsc_ns);
		serial_puts(" ns of TSC: ");
		serial_put_dec((uptr)err_ppm);
		serial_puts(" ppm apart (reads bracketed within ");
		serial_put_dec((uptr)slack_ppm);
		serial_puts(" ppm)\n");
		if (err_ppm < 10000) {
			serial_puts("pmtimer: rate within 1% of the TSC\n");
			return;
		}
	}
	guest_fail("PM timer rate is more than 1% off the TSC's three times");
}

void kmain(u64 probe, const char *cmdline)
{
	check_entry_stack(probe);
	if (cmdline && cmdline_find(cmdline, "ioapic"))
		check_ioapic();
	else if (cmdline && cmdline_find(cmdline, "ports"))
		check_ports();
	else if (cmdline && cmdline_find(cmdline, "pmtimer"))
		check_pm_timer();
	else
		guest_fail("no check named on the command line (ioapic, ports, pmtimer)");
	guest_success();
}
