/* test_acpi.c: the ACPI tables, the AML encoder and the MP table (src/arch/x86/acpi.c,
 * src/acpi/aml.c, src/arch/x86/mptable.c) built into poisoned fake guest RAM and read back as a
 * guest would: every signature, length and checksum, the pointers between tables, the entries,
 * and what the builders refuse; and the in-kernel irqchip's routes (irq.c), which must wire
 * interrupts as those tables say. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acpi/aml.h"
#include "arch/arch.h"
#include "arch/x86/acpi.h"
#include "arch/x86/irq.h"
#include "arch/x86/mptable.h"

#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define RAM_SIZE (2 * MIB)
#define HIGH_GPA (4 * GIB)
#define HIGH_SIZE (64 * KIB)
#define POISON 0xaa

/* ---- fixtures ---------------------------------------------------------------------------- */

static uint8_t *ram, *high;
static struct gmem *gm;
static struct x86_platform plat;

/* 2 MiB of RAM at 0 and 64 KiB at 4 GiB, poisoned so that stray writes show. */
static void ram_setup(void)
{
	struct gmem_region r[2];

	ram = malloc(RAM_SIZE);
	high = malloc(HIGH_SIZE);
	cr_assert(ram && high);
	memset(ram, POISON, RAM_SIZE);
	memset(high, POISON, HIGH_SIZE);
	r[0] = (struct gmem_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	r[1] = (struct gmem_region){ .gpa = HIGH_GPA, .size = HIGH_SIZE, .hva = high };
	cr_assert_eq(gmem_create_from(&gm, r, 2), 0);
	x86_platform_default(&plat, 1);
}

static void ram_teardown(void)
{
	gmem_destroy(gm);
	free(ram);
	free(high);
}

TestSuite(acpi, .init = ram_setup, .fini = ram_teardown);
TestSuite(aml, .init = ram_setup, .fini = ram_teardown);
TestSuite(mptable, .init = ram_setup, .fini = ram_teardown);

/* Guest RAM at gpa, asserted to hold len bytes. */
static const uint8_t *at(uint64_t gpa, uint64_t len)
{
	cr_assert(gpa <= RAM_SIZE && len <= RAM_SIZE - gpa, "0x%llx+0x%llx outside low RAM",
		  (unsigned long long)gpa, (unsigned long long)len);
	return ram + gpa;
}

static uint8_t rd8(uint64_t gpa) { return *at(gpa, 1); }
static uint16_t rd16(uint64_t gpa) { return (uint16_t)(rd8(gpa) | rd8(gpa + 1) << 8); }
static uint32_t rd32(uint64_t gpa) { return rd16(gpa) | (uint32_t)rd16(gpa + 2) << 16; }
static uint64_t rd64(uint64_t gpa) { return rd32(gpa) | (uint64_t)rd32(gpa + 4) << 32; }

/* No byte of [lo, hi) was written. */
static bool untouched(uint64_t lo, uint64_t hi)
{
	for (uint64_t i = lo; i < hi; i++)
		if (ram[i] != POISON)
			return false;
	return true;
}

static bool high_untouched(void)
{
	for (uint64_t i = 0; i < HIGH_SIZE; i++)
		if (high[i] != POISON)
			return false;
	return true;
}

/* Occurrences of `needle` in guest RAM [gpa, gpa+len). */
static unsigned int count_bytes(uint64_t gpa, uint64_t len, const void *needle, size_t n)
{
	const uint8_t *p = at(gpa, len);
	unsigned int c = 0;

	for (uint64_t i = 0; i + n <= len; i++)
		c += !memcmp(p + i, needle, n);
	return c;
}

static void add_mmio(uint64_t addr, uint64_t size, unsigned int irq)
{
	plat.mmio_devs[plat.nr_mmio_devs++] = (struct x86_acpi_mmio_dev){ addr, size, irq };
}

/* X86_ACPI_MAX_MMIO_DEVS devices on the free pins 5-7, 9-21 (3 is the SCI's, 4 the UART's). */
static void add_max_mmio(void)
{
	unsigned int pin = 5;

	for (unsigned int i = 0; i < X86_ACPI_MAX_MMIO_DEVS; i++, pin++) {
		while (pin == 8)
			pin++;
		add_mmio(0xd0000000 + i * 0x1000, 0x1000, pin);
	}
}

/* ---- ACPI: reading the tables back ------------------------------------------------------- */

struct tables {
	uint64_t rsdp, xsdt, fadt, facs, madt, dsdt;
	uint32_t fadt_len, madt_len, dsdt_len;
};

/* A system description table at gpa: its signature, a length of at least the header that lies
 * inside [lo, hi), a zero checksum. Returns the length. */
static uint32_t check_table(uint64_t gpa, const char *sig, uint64_t lo, uint64_t hi)
{
	uint32_t len;

	cr_assert(gpa >= lo && gpa + ACPI_HEADER_LEN <= hi, "%s at 0x%llx outside the range", sig,
		  (unsigned long long)gpa);
	cr_assert_arr_eq(at(gpa, 4), sig, 4, "signature at 0x%llx is not %s",
			 (unsigned long long)gpa, sig);
	len = rd32(gpa + ACPI_HDR_LENGTH);
	cr_assert_geq(len, ACPI_HEADER_LEN);
	cr_assert_leq(gpa + len, hi, "%s (0x%x bytes) runs past the range", sig, len);
	cr_assert_eq(aml_checksum(at(gpa, len), len), 0, "%s checksum", sig);
	cr_assert_arr_eq(at(gpa + ACPI_HDR_OEM_ID, 6), "KILN  ", 6);
	cr_assert_arr_eq(at(gpa + ACPI_HDR_OEM_TABLE_ID, 8), "KILNVM  ", 8);
	cr_assert_arr_eq(at(gpa + 28, 4), "KILN", 4, "%s creator id", sig);
	cr_assert_neq(rd32(gpa + 32), 0, "%s creator revision", sig);
	return len;
}

/* Follows RSDP -> XSDT -> FADT, MADT; FADT -> DSDT, FACS, checking each as an OS would. */
static struct tables read_tables(uint64_t rsdp, uint64_t lo, uint64_t hi)
{
	struct tables t = { .rsdp = rsdp };
	uint64_t s[6], l[6];
	uint32_t xsdt_len;

	cr_assert_eq(rsdp % 16, 0, "RSDP at 0x%llx not 16-byte aligned", (unsigned long long)rsdp);
	cr_assert(rsdp >= lo && rsdp + ACPI_RSDP_LEN <= hi);
	cr_assert_arr_eq(at(rsdp, 8), ACPI_RSDP_SIG, 8);
	cr_assert_eq(aml_checksum(at(rsdp, ACPI_RSDP_V1_LEN), ACPI_RSDP_V1_LEN), 0,
		     "RSDP checksum (first 20 bytes)");
	cr_assert_eq(aml_checksum(at(rsdp, ACPI_RSDP_LEN), ACPI_RSDP_LEN), 0,
		     "RSDP extended checksum");
	cr_assert_eq(rd8(rsdp + ACPI_RSDP_REVISION), 2);
	cr_assert_eq(rd32(rsdp + ACPI_RSDP_LENGTH), ACPI_RSDP_LEN);
	cr_assert_arr_eq(at(rsdp + 9, 6), "KILN  ", 6);
	cr_assert_eq(rd8(rsdp + 33) | rd8(rsdp + 34) | rd8(rsdp + 35), 0, "RSDP reserved bytes");

	t.xsdt = rd64(rsdp + ACPI_RSDP_XSDT);
	xsdt_len = check_table(t.xsdt, "XSDT", lo, hi);
	cr_assert_eq(xsdt_len, ACPI_HEADER_LEN + 2 * 8, "XSDT: FADT and MADT, 64-bit pointers");
	t.fadt = rd64(t.xsdt + ACPI_HEADER_LEN);
	t.madt = rd64(t.xsdt + ACPI_HEADER_LEN + 8);
	t.fadt_len = check_table(t.fadt, "FACP", lo, hi);
	t.madt_len = check_table(t.madt, "APIC", lo, hi);
	t.dsdt = rd64(t.fadt + ACPI_FADT_X_DSDT);
	t.dsdt_len = check_table(t.dsdt, "DSDT", lo, hi);
	cr_assert_eq(rd32(t.fadt + ACPI_FADT_DSDT), t.dsdt, "32-bit DSDT repeats X_DSDT");
	/* The FACS (5.2.10): 64-byte aligned, no checksum, through FIRMWARE_CTRL only. */
	t.facs = rd32(t.fadt + ACPI_FADT_FIRMWARE_CTRL);
	cr_assert_eq(rd64(t.fadt + ACPI_FADT_X_FIRMWARE_CTRL), 0, "X_FIRMWARE_CTRL 0 beside it");
	cr_assert(t.facs >= lo && t.facs + ACPI_FACS_LEN <= hi, "FACS at 0x%llx outside the range",
		  (unsigned long long)t.facs);
	cr_assert_eq(t.facs % 64, 0, "FACS at 0x%llx not 64-byte aligned",
		     (unsigned long long)t.facs);
	cr_assert_arr_eq(at(t.facs, 4), "FACS", 4);
	cr_assert_eq(rd32(t.facs + 4), 64, "FACS length");
	cr_assert_eq(rd32(t.facs + 8), 0, "hardware signature");
	cr_assert_eq(rd32(t.facs + 12), 0, "no waking vector");
	cr_assert_eq(rd32(t.facs + 16), 0, "global lock free");
	cr_assert_eq(rd32(t.facs + 20), 0, "no S4BIOS, no 64-bit wake");
	cr_assert_eq(rd64(t.facs + 24), 0, "no X waking vector");
	cr_assert_eq(rd8(t.facs + 32), 2, "FACS version");
	for (unsigned int i = 33; i < 64; i++)
		cr_assert_eq(rd8(t.facs + i), 0, "FACS byte %u", i);
	/* The tables do not overlap one another. */
	memcpy(s, (uint64_t[]){ t.rsdp, t.xsdt, t.fadt, t.madt, t.dsdt, t.facs }, sizeof(s));
	memcpy(l, (uint64_t[]){ ACPI_RSDP_LEN, xsdt_len, t.fadt_len, t.madt_len, t.dsdt_len,
				ACPI_FACS_LEN },
	       sizeof(l));
	for (unsigned int i = 0; i < 6; i++)
		for (unsigned int j = i + 1; j < 6; j++)
			cr_assert(s[i] + l[i] <= s[j] || s[j] + l[j] <= s[i],
				  "tables %u and %u overlap", i, j);
	return t;
}

/* A Generic Address Structure for `bits` at the I/O port `port`, accessed `access` wide. */
static void check_gas_io(uint64_t gpa, uint16_t port, uint8_t bits, uint8_t access)
{
	cr_assert_eq(rd8(gpa), ACPI_GAS_SPACE_SYSTEM_IO);
	cr_assert_eq(rd8(gpa + 1), bits, "bit width");
	cr_assert_eq(rd8(gpa + 2), 0, "bit offset");
	cr_assert_eq(rd8(gpa + 3), access);
	cr_assert_eq(rd64(gpa + 4), port);
}

/* The 32-bit block address at `legacy`, its length at `len_off` and its X_ GAS at `x` agree. */
static void check_block(const struct tables *t, unsigned int legacy, unsigned int len_off,
			unsigned int x, uint16_t port, uint8_t len, uint8_t access)
{
	cr_assert_eq(rd32(t->fadt + legacy), port, "block at FADT offset %u", legacy);
	cr_assert_eq(rd8(t->fadt + len_off), len, "length at FADT offset %u", len_off);
	check_gas_io(t->fadt + x, port, (uint8_t)(8 * len), access);
}

static void check_fadt(const struct tables *t)
{
	uint32_t flags = rd32(t->fadt + ACPI_FADT_FLAGS);
	uint16_t boot = rd16(t->fadt + ACPI_FADT_IAPC_BOOT_ARCH);

	cr_assert_eq(t->fadt_len, ACPI_FADT_LEN);
	cr_assert_eq(rd8(t->fadt + ACPI_HDR_REVISION), 6);
	/* A full platform: Linux keeps its 8259 and ISA IRQs only without HW_REDUCED_ACPI. */
	cr_assert_not(flags & ACPI_FADT_F_HW_REDUCED_ACPI, "not HW_REDUCED_ACPI");
	cr_assert(flags & ACPI_FADT_F_RESET_REG_SUP, "RESET_REG_SUP");
	cr_assert(flags & ACPI_FADT_F_PWR_BUTTON, "no fixed power button");
	cr_assert(flags & ACPI_FADT_F_SLP_BUTTON, "no fixed sleep button");
	cr_assert(boot & ACPI_IAPC_LEGACY_DEVICES, "ISA devices");
	cr_assert(boot & ACPI_IAPC_8042, "8042 present");
	cr_assert(boot & ACPI_IAPC_VGA_NOT_PRESENT, "VGA not present");
	cr_assert_not(boot & ACPI_IAPC_CMOS_RTC_NOT_PRESENT, "the DSDT describes an RTC");
	cr_assert_eq(rd16(t->fadt + ACPI_FADT_SCI_INT), plat.sci_irq, "SCI_INT");
	/* No SMM: always in ACPI mode, so SMI_CMD, ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ and
	 * PSTATE_CNT are 0. */
	for (uint64_t off = ACPI_FADT_SMI_CMD; off < ACPI_FADT_PM1A_EVT_BLK; off++)
		cr_assert_eq(rd8(t->fadt + off), 0, "SMI field at %llu", (unsigned long long)off);
	check_block(t, ACPI_FADT_PM1A_EVT_BLK, ACPI_FADT_PM1_EVT_LEN, ACPI_FADT_X_PM1A_EVT_BLK,
		    plat.pm1a_evt_port, 4, ACPI_GAS_ACCESS_WORD);
	check_block(t, ACPI_FADT_PM1A_CNT_BLK, ACPI_FADT_PM1_CNT_LEN, ACPI_FADT_X_PM1A_CNT_BLK,
		    plat.pm1a_cnt_port, 2, ACPI_GAS_ACCESS_WORD);
	if (plat.pm_timer_port) {
		check_block(t, ACPI_FADT_PM_TMR_BLK, ACPI_FADT_PM_TMR_LEN, ACPI_FADT_X_PM_TMR_BLK,
			    plat.pm_timer_port, 4, ACPI_GAS_ACCESS_DWORD);
		cr_assert(flags & ACPI_FADT_F_TMR_VAL_EXT, "a 32-bit PM timer");
	} else {
		cr_assert_eq(rd32(t->fadt + ACPI_FADT_PM_TMR_BLK), 0, "no PM_TMR_BLK");
		cr_assert_eq(rd8(t->fadt + ACPI_FADT_PM_TMR_LEN), 0, "no PM_TMR_LEN");
		for (unsigned int i = 0; i < ACPI_GAS_LEN; i++)
			cr_assert_eq(rd8(t->fadt + ACPI_FADT_X_PM_TMR_BLK + i), 0, "no X_PM_TMR_BLK");
	}
	/* No PM1b, PM2 or GPE blocks: their addresses (60-71 but PM1a_CNT, 72, 80, 84) and
	 * lengths (90, 92-94) are 0, and so are their X_ GASes (160-171, 184-207, 220-243). */
	for (uint64_t off = 60; off < 96; off++)
		if ((off < ACPI_FADT_PM1A_CNT_BLK || off >= ACPI_FADT_PM1A_CNT_BLK + 4) &&
		    (off < ACPI_FADT_PM_TMR_BLK || off >= ACPI_FADT_PM_TMR_BLK + 4) &&
		    off != ACPI_FADT_PM1_EVT_LEN && off != ACPI_FADT_PM1_CNT_LEN &&
		    off != ACPI_FADT_PM_TMR_LEN)
			cr_assert_eq(rd8(t->fadt + off), 0, "PM field at %llu",
				     (unsigned long long)off);
	for (uint64_t off = 160; off < 244; off++)
		if ((off < ACPI_FADT_X_PM1A_CNT_BLK || off >= ACPI_FADT_X_PM1A_CNT_BLK + 12) &&
		    (off < ACPI_FADT_X_PM_TMR_BLK || off >= ACPI_FADT_X_PM_TMR_BLK + 12))
			cr_assert_eq(rd8(t->fadt + off), 0, "X_ block field at %llu",
				     (unsigned long long)off);
	cr_assert_gt(rd16(t->fadt + ACPI_FADT_P_LVL2_LAT), 100, "no C2");
	cr_assert_gt(rd16(t->fadt + ACPI_FADT_P_LVL3_LAT), 1000, "no C3");
	check_gas_io(t->fadt + ACPI_FADT_RESET_REG, plat.reset_port, 8, ACPI_GAS_ACCESS_BYTE);
	cr_assert_eq(rd8(t->fadt + ACPI_FADT_RESET_VALUE), X86_ACPI_RESET_VALUE);
	/* The HW-reduced sleep registers are not there. */
	for (uint64_t off = ACPI_FADT_SLEEP_CONTROL_REG; off < ACPI_FADT_HYPERVISOR_ID; off++)
		cr_assert_eq(rd8(t->fadt + off), 0, "sleep register field at %llu",
			     (unsigned long long)off);
	cr_assert_eq(rd64(t->fadt + ACPI_FADT_X_DSDT), t->dsdt);
}

/* MADT entries: nr_vcpus local APICs with ids 0..n-1 and UIDs equal to them, the IOAPIC, the
 * IRQ 0 and SCI overrides and the LINT1 NMI, and nothing else. */
static void check_madt(const struct tables *t)
{
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0, entries = 0;
	uint64_t off = t->madt + ACPI_MADT_ENTRIES_OFF, end = t->madt + t->madt_len;

	cr_assert_eq(rd8(t->madt + ACPI_HDR_REVISION), 5);
	cr_assert_eq(rd32(t->madt + 36), plat.lapic_addr);
	cr_assert_eq(rd32(t->madt + 40), ACPI_MADT_PCAT_COMPAT);
	while (off < end) {
		uint8_t type = rd8(off), len = rd8(off + 1);

		cr_assert_geq(len, 2);
		cr_assert_leq(off + len, end, "MADT entry runs past the table");
		switch (type) {
		case ACPI_MADT_LOCAL_APIC:
			cr_assert_eq(len, 8);
			cr_assert_eq(rd8(off + 2), lapics, "processor UID");
			cr_assert_eq(rd8(off + 3), lapics, "APIC ids in order 0..n-1");
			cr_assert_eq(rd32(off + 4), ACPI_MADT_LAPIC_ENABLED);
			lapics++;
			break;
		case ACPI_MADT_IO_APIC:
			cr_assert_eq(len, 12);
			cr_assert_eq(rd8(off + 2), X86_IOAPIC_ID, "IOAPIC id");
			cr_assert_lt(X86_IOAPIC_ID, 16, "fits the ID register's bits 27:24");
			cr_assert_eq(rd32(off + 4), plat.ioapic_addr);
			cr_assert_eq(rd32(off + 8), 0, "GSI base");
			ioapics++;
			break;
		case ACPI_MADT_INT_SRC_OVERRIDE:
			cr_assert_eq(len, 10);
			cr_assert_eq(rd8(off + 2), 0, "ISA");
			if (isos == 0) {
				cr_assert_eq(rd8(off + 3), 0, "IRQ 0");
				cr_assert_eq(rd32(off + 4), 2, "to GSI 2");
				cr_assert_eq(rd16(off + 8), ACPI_MPS_INTI_POLARITY_HIGH |
								    ACPI_MPS_INTI_TRIGGER_EDGE);
			} else {
				/* The SCI: the FADT's SCI_INT to itself, level, active high. */
				cr_assert_eq(rd8(off + 3), plat.sci_irq, "the SCI's IRQ");
				cr_assert_eq(rd32(off + 4), plat.sci_irq, "to the same GSI");
				cr_assert_eq(rd16(off + 8), ACPI_MPS_INTI_POLARITY_HIGH |
								    ACPI_MPS_INTI_TRIGGER_LEVEL);
			}
			isos++;
			break;
		case ACPI_MADT_LOCAL_APIC_NMI:
			cr_assert_eq(len, 6);
			cr_assert_eq(rd8(off + 2), ACPI_MADT_ALL_PROCESSORS);
			cr_assert_eq(rd8(off + 5), 1, "LINT1");
			nmis++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", type);
		}
		off += len;
		entries++;
	}
	cr_assert_eq(off, end);
	cr_assert_eq(lapics, plat.nr_vcpus);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(isos, 2);
	cr_assert_eq(nmis, 1);
	cr_assert_eq(entries, plat.nr_vcpus + 4);
}

/* The DSDT's AML holds \_S5, the ISA devices' EISA ids, one processor device per vCPU and one
 * LNRO0005 per virtio-mmio device, each with its resources. */
static void check_dsdt(const struct tables *t)
{
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12 };
	static const uint8_t s0[] = { 0x08, '\\', '_', 'S', '0', '_', 0x12 };
	static const uint8_t pnp0501[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t pnp0303[] = { 0x0c, 0x41, 0xd0, 0x03, 0x03 };
	static const uint8_t pnp0b00[] = { 0x0c, 0x41, 0xd0, 0x0b, 0x00 };
	uint8_t io_uart[8] = { 0x47, 0x01 }, irq_uart[3] = { 0x22 };
	uint64_t body = t->dsdt + ACPI_HEADER_LEN, len = t->dsdt_len - ACPI_HEADER_LEN;

	cr_assert_eq(rd8(t->dsdt + ACPI_HDR_REVISION), 2, "64-bit integers");
	cr_assert_eq(count_bytes(body, len, s5, sizeof(s5)), 1, "Name(\\_S5_, Package)");
	cr_assert_eq(count_bytes(body, len, s0, sizeof(s0)), 1, "Name(\\_S0_, Package)");
	cr_assert_eq(count_bytes(body, len, pnp0501, sizeof(pnp0501)), 1, "PNP0501");
	cr_assert_eq(count_bytes(body, len, pnp0303, sizeof(pnp0303)), 1, "PNP0303");
	cr_assert_eq(count_bytes(body, len, pnp0b00, sizeof(pnp0b00)), 1, "PNP0B00");
	cr_assert_eq(count_bytes(body, len, "ACPI0007", 9), plat.nr_vcpus, "processor devices");
	cr_assert_eq(count_bytes(body, len, "LNRO0005", 9), plat.nr_mmio_devs, "virtio-mmio");
	io_uart[2] = io_uart[4] = (uint8_t)plat.uart_port;
	io_uart[3] = io_uart[5] = (uint8_t)(plat.uart_port >> 8);
	io_uart[6] = 1;
	io_uart[7] = 8;
	irq_uart[1] = (uint8_t)(1u << plat.uart_irq);
	irq_uart[2] = (uint8_t)((1u << plat.uart_irq) >> 8);
	cr_assert_eq(count_bytes(body, len, io_uart, sizeof(io_uart)), 1, "IO(0x3f8, 8)");
	cr_assert_eq(count_bytes(body, len, irq_uart, sizeof(irq_uart)), 1, "IRQNoFlags(){4}");
	for (unsigned int i = 0; i < plat.nr_mmio_devs; i++) {
		const struct x86_acpi_mmio_dev *d = &plat.mmio_devs[i];
		uint8_t irq[9] = { 0x89, 6, 0, 0x03 /* consumer, edge, high, exclusive */, 1 };
		uint8_t mem[12] = { 0x86, 9, 0, 1 };
		uint8_t qword[46] = { 0x8a, 43, 0, 0, 0x0d, 0x01 };

		for (int b = 0; b < 4; b++)
			irq[5 + b] = (uint8_t)(d->irq >> (8 * b));
		cr_assert_eq(count_bytes(body, len, irq, sizeof(irq)), 1, "device %u interrupt", i);
		if (d->addr + d->size <= 4 * GIB) {
			for (int b = 0; b < 4; b++) {
				mem[4 + b] = (uint8_t)(d->addr >> (8 * b));
				mem[8 + b] = (uint8_t)(d->size >> (8 * b));
			}
			cr_assert_eq(count_bytes(body, len, mem, sizeof(mem)), 1,
				     "device %u Memory32Fixed", i);
		} else {
			for (int b = 0; b < 8; b++) {
				qword[14 + b] = (uint8_t)(d->addr >> (8 * b));
				qword[22 + b] = (uint8_t)((d->addr + d->size - 1) >> (8 * b));
				qword[38 + b] = (uint8_t)(d->size >> (8 * b));
			}
			cr_assert_eq(count_bytes(body, len, qword, sizeof(qword)), 1,
				     "device %u QWordMemory", i);
		}
	}
}

/* Builds the tables for `plat` at the usual place and checks all of them. */
static struct tables build_and_check(void)
{
	uint64_t rsdp = 0;
	struct tables t;

	cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE, X86_ACPI_SIZE, &plat, &rsdp), 0);
	cr_assert_eq(rsdp, X86_ACPI_BASE);
	t = read_tables(rsdp, X86_ACPI_BASE, X86_ACPI_BASE + X86_ACPI_SIZE);
	check_fadt(&t);
	check_madt(&t);
	check_dsdt(&t);
	cr_assert(untouched(0, X86_ACPI_BASE), "RAM below the range was written");
	cr_assert(untouched(X86_ACPI_BASE + X86_ACPI_SIZE, RAM_SIZE),
		  "RAM above the range was written");
	cr_assert(high_untouched());
	return t;
}

/* ---- ACPI tests -------------------------------------------------------------------------- */

Test(acpi, layout_constants)
{
	/* Both lie in the BIOS area Linux scans, below 1 MiB, apart. */
	cr_assert_geq(X86_ACPI_BASE, 0xe0000);
	cr_assert_leq(X86_ACPI_BASE + X86_ACPI_SIZE, X86_MPTABLE_BASE);
	cr_assert_leq(X86_MPTABLE_BASE + X86_MPTABLE_SIZE, 0x100000);
	cr_assert_eq(X86_ACPI_BASE % 16, 0);
	cr_assert_eq(X86_MPTABLE_BASE % 16, 0);
}

Test(acpi, one_vcpu) { build_and_check(); }

/* What kiln's board has: q35's PM1a blocks and PM timer, the SCI on ISA IRQ 3, IOAPIC ID 0. */
Test(acpi, default_platform)
{
	cr_assert_eq(plat.pm1a_evt_port, X86_ACPI_PM1A_EVT_PORT);
	cr_assert_eq(plat.pm1a_cnt_port, X86_ACPI_PM1A_CNT_PORT);
	cr_assert_eq(plat.pm_timer_port, X86_ACPI_PM_TIMER_PORT);
	cr_assert_eq(X86_ACPI_PM1A_EVT_PORT, 0x600);
	cr_assert_eq(X86_ACPI_PM1A_CNT_PORT, 0x604);
	cr_assert_eq(X86_ACPI_PM_TIMER_PORT, 0x608);
	cr_assert_eq(plat.sci_irq, X86_ACPI_SCI_IRQ);
	cr_assert_eq(X86_ACPI_SCI_IRQ, 3);
	cr_assert_eq(X86_IOAPIC_ID, 0);
	build_and_check();
}

Test(acpi, two_vcpus)
{
	x86_platform_default(&plat, 2);
	build_and_check();
}

Test(acpi, sixty_four_vcpus)
{
	x86_platform_default(&plat, 64);
	build_and_check();
}

Test(acpi, max_vcpus_and_devices_fit)
{
	x86_platform_default(&plat, X86_ACPI_MAX_VCPUS);
	add_max_mmio();
	build_and_check();
}

Test(acpi, three_virtio_mmio_devices)
{
	x86_platform_default(&plat, 2);
	add_mmio(0xd0000000, 0x1000, 5);
	add_mmio(0xd0001000, 0x200, 6);
	add_mmio(0x1000000000ull, 0x1000, 17); /* above 4 GiB: QWordMemory */
	build_and_check();
}

Test(acpi, device_ending_at_4gib_uses_memory32)
{
	add_mmio(4 * GIB - 0x1000, 0x1000, 5);
	build_and_check();
}

Test(acpi, pm1_reset_and_sci_follow_the_platform)
{
	plat.pm1a_evt_port = 0xb000;
	plat.pm1a_cnt_port = 0xb004;
	plat.reset_port = 0xcf9;
	plat.sci_irq = 9;
	build_and_check();
}

Test(acpi, no_pm_timer)
{
	struct tables t;

	plat.pm_timer_port = 0;
	t = build_and_check();
	cr_assert_not(rd32(t.fadt + ACPI_FADT_FLAGS) & ACPI_FADT_F_TMR_VAL_EXT);
}

Test(acpi, unaligned_base_rounds_rsdp_up)
{
	uint64_t rsdp = 0;

	cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE + 3, X86_ACPI_SIZE - 3, &plat, &rsdp), 0);
	cr_assert_eq(rsdp, X86_ACPI_BASE + 16);
	read_tables(rsdp, X86_ACPI_BASE + 3, X86_ACPI_BASE + X86_ACPI_SIZE);
	cr_assert(untouched(0, X86_ACPI_BASE + 3));
}

Test(acpi, exact_size_fits_one_byte_less_does_not)
{
	uint64_t rsdp = 0, need;
	struct tables t;

	x86_platform_default(&plat, 3);
	add_mmio(0xd0000000, 0x1000, 5);
	t = build_and_check();
	need = t.dsdt + t.dsdt_len - X86_ACPI_BASE;
	memset(ram, POISON, RAM_SIZE);
	cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE, need, &plat, &rsdp), 0);
	read_tables(rsdp, X86_ACPI_BASE, X86_ACPI_BASE + need);
	cr_assert(untouched(X86_ACPI_BASE + need, RAM_SIZE));
	memset(ram, POISON, RAM_SIZE);
	cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE, need - 1, &plat, &rsdp), -ENOSPC);
	cr_assert(untouched(0, X86_ACPI_BASE));
	cr_assert(untouched(X86_ACPI_BASE + need - 1, RAM_SIZE));
	cr_assert_eq(count_bytes(X86_ACPI_BASE, need - 1, ACPI_RSDP_SIG, 8), 0,
		     "a failed build leaves no RSDP behind");
}

Test(acpi, too_small_range_is_enospc_and_writes_nothing)
{
	uint64_t rsdp = 0x1234;

	cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE, 64, &plat, &rsdp), -ENOSPC);
	cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE, 0, &plat, &rsdp), -ENOSPC);
	cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE + 1, 15, &plat, &rsdp), -ENOSPC);
	cr_assert(untouched(0, RAM_SIZE));
	cr_assert_eq(rsdp, 0x1234);
}

Test(acpi, range_not_ram_is_efault)
{
	uint64_t rsdp = 0;

	cr_assert_eq(x86_acpi_build(gm, RAM_SIZE, 0x1000, &plat, &rsdp), -EFAULT);
	cr_assert_eq(x86_acpi_build(gm, RAM_SIZE - 0x800, 0x1000, &plat, &rsdp), -EFAULT);
	cr_assert_eq(x86_acpi_build(gm, 3 * GIB, 0x1000, &plat, &rsdp), -EFAULT);
	cr_assert_eq(x86_acpi_build(gm, UINT64_MAX - 8, 0x1000, &plat, &rsdp), -EFAULT);
	cr_assert_eq(x86_acpi_build(gm, UINT64_MAX - 8, 8, &plat, &rsdp), -EFAULT);
	cr_assert(untouched(0, RAM_SIZE));
	cr_assert(high_untouched());
}

Test(acpi, tables_above_4gib)
{
	uint64_t rsdp = 0, xsdt, fadt, dsdt;

	/* Nothing needs 32-bit addresses but the 32-bit DSDT field, which is then left 0. */
	cr_assert_eq(x86_acpi_build(gm, HIGH_GPA, HIGH_SIZE, &plat, &rsdp), 0);
	cr_assert_eq(rsdp, HIGH_GPA);
	cr_assert_arr_eq(high, ACPI_RSDP_SIG, 8);
	memcpy(&xsdt, high + ACPI_RSDP_XSDT, 8);
	memcpy(&fadt, high + (xsdt - HIGH_GPA) + ACPI_HEADER_LEN, 8);
	memcpy(&dsdt, high + (fadt - HIGH_GPA) + ACPI_FADT_X_DSDT, 8);
	cr_assert_geq(dsdt, HIGH_GPA);
	cr_assert_eq(high[fadt - HIGH_GPA + ACPI_FADT_DSDT], 0);
	cr_assert_eq(aml_checksum(high + (fadt - HIGH_GPA), ACPI_FADT_LEN), 0);
	cr_assert(untouched(0, RAM_SIZE));
}

Test(acpi, bad_platforms_are_einval)
{
	struct x86_platform good;
	uint64_t rsdp = 0;

	x86_platform_default(&good, 2);
#define REJECT(field_change)                                                                    \
	do {                                                                                    \
		plat = good;                                                                    \
		field_change;                                                                   \
		cr_assert_eq(x86_acpi_build(gm, X86_ACPI_BASE, X86_ACPI_SIZE, &plat, &rsdp),     \
			     -EINVAL, "%s", #field_change);                                     \
		cr_assert_eq(x86_mptable_build(gm, X86_MPTABLE_BASE, X86_MPTABLE_SIZE, &plat),   \
			     -EINVAL, "%s", #field_change);                                     \
	} while (0)
	REJECT(plat.nr_vcpus = 0);
	REJECT(plat.nr_vcpus = 255);
	REJECT(plat.nr_vcpus = 100000);
	REJECT(plat.ioapic_pins = 15);
	REJECT(plat.ioapic_pins = 241);
	REJECT(plat.ioapic_addr = 0);
	REJECT(plat.ioapic_addr = 4 * GIB);
	REJECT(plat.lapic_addr = 4 * GIB + 0xfee00000);
	REJECT(plat.uart_port = 0);
	REJECT(plat.uart_port = 0xfffa);
	REJECT(plat.uart_irq = 16);
	REJECT(plat.uart_irq = 2);
	REJECT(plat.uart_irq = 1);
	REJECT(plat.pm1a_evt_port = 0);
	REJECT(plat.pm1a_evt_port = 0xfffd);
	REJECT(plat.pm1a_cnt_port = 0);
	REJECT(plat.pm1a_cnt_port = 0xffff);
	REJECT(plat.pm_timer_port = 0xfffd);
	REJECT(plat.reset_port = 0);
	REJECT(plat.sci_irq = 16);
	REJECT(plat.sci_irq = 0);
	REJECT(plat.sci_irq = 2);
	REJECT(plat.sci_irq = 8);
	REJECT(plat.sci_irq = plat.uart_irq);
	REJECT(add_mmio(0xd0000000, 0x1000, X86_ACPI_SCI_IRQ)); /* the SCI's */
	REJECT(plat.nr_mmio_devs = X86_ACPI_MAX_MMIO_DEVS + 1);
	REJECT(add_mmio(0xd0000000, 0, 5));
	REJECT(add_mmio(UINT64_MAX - 0xfff, 0x2000, 5));
	REJECT(add_mmio(0xd0000000, 0x1000, 24));
	REJECT(add_mmio(0xd0000000, 0x1000, 0));
	REJECT(add_mmio(0xd0000000, 0x1000, 2));
	REJECT(add_mmio(0xd0000000, 0x1000, 8));
	REJECT(add_mmio(0xd0000000, 0x1000, 4)); /* the UART's */
	REJECT(add_mmio(0xd0000000, 0x1000, 5); add_mmio(0xd0001000, 0x1000, 5));
#undef REJECT
	cr_assert(untouched(0, RAM_SIZE));
	plat = good;
	cr_assert_eq(x86_platform_check(&plat), 0);
}

/* ---- AML encoder (src/acpi/aml.c) -------------------------------------------------------- */

static uint8_t abuf[8192];

/* Emits through `emit` into abuf and returns the byte count (or the error). */
static long emit(void (*fn)(struct aml *a, const void *arg), const void *arg, size_t cap)
{
	struct aml a;

	memset(abuf, 0xee, sizeof(abuf));
	aml_init(&a, abuf, cap);
	fn(&a, arg);
	return aml_finish(&a);
}

static void emit_integer(struct aml *a, const void *arg) { aml_integer(a, *(const uint64_t *)arg); }

Test(aml, integers_use_the_shortest_encoding)
{
	static const struct {
		uint64_t v;
		uint8_t enc[9];
		long len;
	} cases[] = {
		{ 0, { 0x00 }, 1 },
		{ 1, { 0x01 }, 1 },
		{ 2, { 0x0a, 2 }, 2 },
		{ 0xff, { 0x0a, 0xff }, 2 },
		{ 0x100, { 0x0b, 0x00, 0x01 }, 3 },
		{ 0xffff, { 0x0b, 0xff, 0xff }, 3 },
		{ 0x10000, { 0x0c, 0x00, 0x00, 0x01, 0x00 }, 5 },
		{ 0xffffffff, { 0x0c, 0xff, 0xff, 0xff, 0xff }, 5 },
		{ 0x100000000ull, { 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 }, 9 },
		{ UINT64_MAX, { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		cr_assert_eq(emit(emit_integer, &cases[i].v, sizeof(abuf)), cases[i].len);
		cr_assert_arr_eq(abuf, cases[i].enc, (size_t)cases[i].len, "0x%llx",
				 (unsigned long long)cases[i].v);
	}
}

static void emit_name(struct aml *a, const void *arg) { aml_namestring(a, arg); }

Test(aml, namestrings)
{
	static const struct {
		const char *path;
		const char *enc;
		long len;
	} cases[] = {
		{ "_HID", "_HID", 4 },
		{ "RTC", "RTC_", 4 },
		{ "\\_SB_", "\\_SB_", 5 },
		{ "\\_SB", "\\_SB_", 5 },
		{ "^^PCI0", "^^PCI0", 6 },
		{ "_SB.COM1", "\x2e_SB_COM1", 9 },
		{ "\\_SB.PCI0.ISA", "\\\x2f\x03_SB_PCI0ISA_", 15 },
		{ "\\", "\\\x00", 2 },
		{ "", "\x00", 1 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		cr_assert_eq(emit(emit_name, cases[i].path, sizeof(abuf)), cases[i].len, "%s",
			     cases[i].path);
		cr_assert_arr_eq(abuf, cases[i].enc, (size_t)cases[i].len, "%s", cases[i].path);
	}
}

Test(aml, bad_names_are_einval)
{
	static const char *const bad[] = { "com1", "TOOLONG", "1ABC", "A..B", "A.", ".A", "\\^A",
					   "A-B", "^\\A", "A.B.C.D.E.F.G.H.I.J.K.L.M.N.O.P.Q" };

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++)
		cr_assert_eq(emit(emit_name, bad[i], sizeof(abuf)), -EINVAL, "%s", bad[i]);
}

static void emit_eisaid(struct aml *a, const void *arg) { aml_eisaid(a, arg); }

Test(aml, eisaid)
{
	static const uint8_t pnp0a03[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t qem0001[] = { 0x0c, 0x44, 0xad, 0x00, 0x01 }; /* as iasl encodes it */

	cr_assert_eq(emit(emit_eisaid, "PNP0A03", sizeof(abuf)), 5);
	cr_assert_arr_eq(abuf, pnp0a03, 5);
	cr_assert_eq(emit(emit_eisaid, "QEM0001", sizeof(abuf)), 5);
	cr_assert_arr_eq(abuf, qem0001, 5);
	cr_assert_eq(emit(emit_eisaid, "PNP050", sizeof(abuf)), -EINVAL);
	cr_assert_eq(emit(emit_eisaid, "pnp0501", sizeof(abuf)), -EINVAL);
	cr_assert_eq(emit(emit_eisaid, "PNP05G1", sizeof(abuf)), -EINVAL);
	cr_assert_eq(emit(emit_eisaid, "PNP05011", sizeof(abuf)), -EINVAL);
}

/* A Buffer of *arg bytes of 0x5a. */
static void emit_buffer(struct aml *a, const void *arg)
{
	size_t n = *(const size_t *)arg;

	aml_buffer_begin(a);
	for (size_t i = 0; i < n; i++)
		aml_bytes(a, "\x5a", 1);
	aml_end(a);
}

/* Decodes a PkgLength at p; returns the value and sets *n to its size. */
static size_t pkglength(const uint8_t *p, size_t *n)
{
	size_t v;

	*n = 1 + (p[0] >> 6);
	if (*n == 1)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (size_t i = 1; i < *n; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

Test(aml, buffer_pkglength_at_each_size_boundary)
{
	/* BufferSize 0..0xff takes 2 bytes (ByteConst) and the PkgLength covers it too. */
	static const size_t sizes[] = { 0,   1,    59,   60,   61,   62,   63,  64,
					255, 256, 4000, 4091, 4092, 4093, 8000 };

	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t body = sizes[i], n, pl, sizelen;
		long len = emit(emit_buffer, &body, sizeof(abuf));

		cr_assert_gt(len, 0, "buffer of %zu", body);
		cr_assert_eq(abuf[0], 0x11);
		pl = pkglength(abuf + 1, &n);
		cr_assert_eq(pl, (size_t)len - 1, "PkgLength of a %zu-byte buffer", body);
		/* The shortest PkgLength: 1 byte up to 63, 2 up to 4095. */
		cr_assert_eq(n, pl <= 63 ? 1 : pl <= 0xfff ? 2 : 3, "%zu-byte buffer", body);
		sizelen = body <= 1 ? 1 : body <= 0xff ? 2 : 3;
		if (body <= 1)
			cr_assert_eq(abuf[1 + n], body);
		else
			cr_assert_eq(abuf[1 + n], body <= 0xff ? 0x0a : 0x0b);
		cr_assert_eq((size_t)len, 1 + n + sizelen + body);
		if (body)
			cr_assert_eq(abuf[len - 1], 0x5a);
		cr_assert_eq(abuf[len], 0xee, "nothing written past the buffer");
	}
}

static void emit_package(struct aml *a, const void *arg)
{
	(void)arg;
	aml_name(a, "\\_S5_");
	aml_package_begin(a);
	aml_integer(a, 5);
	aml_string(a, "x");
	aml_package_begin(a);
	aml_integer(a, 0x1234);
	aml_end(a);
	aml_eisaid(a, "PNP0501");
	aml_end(a);
}

Test(aml, package_counts_its_elements)
{
	static const uint8_t want[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x12, 0x04,
					0x0a, 0x05, 0x0d, 'x', 0x00, 0x12, 0x05, 0x01,
					0x0b, 0x34, 0x12, 0x0c, 0x41, 0xd0, 0x05, 0x01 };

	cr_assert_eq(emit(emit_package, NULL, sizeof(abuf)), sizeof(want));
	cr_assert_arr_eq(abuf, want, sizeof(want));
}

static void emit_big_package(struct aml *a, const void *arg)
{
	unsigned int n = *(const unsigned int *)arg;

	aml_package_begin(a);
	for (unsigned int i = 0; i < n; i++)
		aml_integer(a, 0);
	aml_end(a);
}

Test(aml, package_holds_at_most_255_elements)
{
	unsigned int n = 255;

	cr_assert_gt(emit(emit_big_package, &n, sizeof(abuf)), 0);
	cr_assert_eq(abuf[1 + 2], 255, "NumElements after a 2-byte PkgLength");
	n = 256;
	cr_assert_eq(emit(emit_big_package, &n, sizeof(abuf)), -EINVAL);
}

static void emit_device(struct aml *a, const void *arg)
{
	(void)arg;
	aml_scope_begin(a, "\\_SB_");
	aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_CRS");
	aml_resources_begin(a);
	aml_res_io(a, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq(a, 4);
	aml_resources_end(a);
	aml_end(a);
	aml_end(a);
}

Test(aml, scope_device_and_resource_template)
{
	static const uint8_t want[] = {
		0x10, 0x2d, '\\', '_', 'S', 'B', '_',             /* Scope(\_SB) */
		0x5b, 0x82, 0x25, 'C', 'O', 'M', '1',             /* Device(COM1) */
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01, /* Name(_HID, EisaId) */
		0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,  /* Name(_CRS, Buffer(13)) */
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,   /* IO */
		0x22, 0x10, 0x00,                                 /* IRQNoFlags(){4} */
		0x79, 0x00,                                       /* EndTag */
	};

	cr_assert_eq(emit(emit_device, NULL, sizeof(abuf)), sizeof(want));
	cr_assert_arr_eq(abuf, want, sizeof(want));
}

Test(aml, full_buffer_is_enospc_at_every_size)
{
	long full = emit(emit_device, NULL, sizeof(abuf));

	cr_assert_gt(full, 0);
	for (long cap = 0; cap < full; cap++) {
		cr_assert_eq(emit(emit_device, NULL, (size_t)cap), -ENOSPC, "cap %ld", cap);
		for (size_t i = (size_t)cap; i < sizeof(abuf); i++)
			cr_assert_eq(abuf[i], 0xee, "cap %ld: wrote byte %zu", cap, i);
	}
	cr_assert_eq(emit(emit_device, NULL, (size_t)full), full);
}

static void emit_unbalanced(struct aml *a, const void *arg)
{
	int which = *(const int *)arg;

	if (which == 0) {
		aml_device_begin(a, "DEV0"); /* never closed */
	} else if (which == 1) {
		aml_end(a); /* nothing open */
	} else if (which == 2) {
		for (int i = 0; i <= AML_MAX_DEPTH; i++)
			aml_scope_begin(a, "S");
	} else {
		aml_device_begin(a, "DEV0");
		aml_resources_end(a); /* not a buffer */
	}
}

Test(aml, unbalanced_objects_are_einval)
{
	for (int which = 0; which < 4; which++)
		cr_assert_eq(emit(emit_unbalanced, &which, sizeof(abuf)), -EINVAL, "case %d",
			     which);
}

static void emit_resources(struct aml *a, const void *arg)
{
	(void)arg;
	aml_resources_begin(a);
	aml_res_memory(a, 0xfeb00000, 0x1000);
	aml_res_memory(a, 0x100000000ull, 0x1000);
	aml_res_interrupt(a, 33, AML_IRQ_LEVEL | AML_IRQ_ACTIVE_LOW);
	aml_resources_end(a);
}

Test(aml, memory_and_interrupt_descriptors)
{
	static const uint8_t mem32[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xb0, 0xfe,
					 0x00, 0x10, 0x00, 0x00 };
	static const uint8_t qword_head[] = { 0x8a, 0x2b, 0x00, 0x00, 0x0d, 0x01 };
	static const uint8_t irq[] = { 0x89, 0x06, 0x00, 0x05, 0x01, 33, 0, 0, 0 };
	const uint8_t *p;
	long len = emit(emit_resources, NULL, sizeof(abuf));

	/* Buffer: 0x11, PkgLength (2 bytes), ByteConst size, then the descriptors. */
	cr_assert_eq(len, 1 + 2 + 2 + 12 + 46 + 9 + 2);
	cr_assert_eq(abuf[4], 12 + 46 + 9 + 2);
	p = abuf + 5;
	cr_assert_arr_eq(p, mem32, sizeof(mem32));
	p += sizeof(mem32);
	cr_assert_arr_eq(p, qword_head, sizeof(qword_head));
	cr_assert_eq(p[14], 0x00);
	cr_assert_eq(p[18], 0x01, "minimum 0x1_0000_0000");
	cr_assert_eq(p[22], 0xff);
	cr_assert_eq(p[23], 0x0f);
	cr_assert_eq(p[26], 0x01, "maximum 0x1_0000_0fff");
	cr_assert_eq(p[38], 0x00);
	cr_assert_eq(p[39], 0x10, "length 0x1000");
	p += 46;
	cr_assert_arr_eq(p, irq, sizeof(irq));
	cr_assert_eq(p[9], 0x79);
}

/* ---- MP table ---------------------------------------------------------------------------- */

/* Reads the MP table back from the floating pointer at `fps`: checksums, the header, entries in
 * type order, counts, exactly one BSP with APIC id 0. */
static void check_mptable(uint64_t fps, uint64_t lo, uint64_t hi)
{
	unsigned int cpus = 0, bsps = 0, buses = 0, ioapics = 0, lints = 0, entries = 0, count;
	unsigned int isa_to_pin[X86_ISA_IRQS], high_irqs = 0, want_high = 0;
	uint8_t last_type = 0;
	uint64_t mpc, off, end;
	uint16_t len;

	memset(isa_to_pin, 0xff, sizeof(isa_to_pin));
	cr_assert_eq(fps % 16, 0);
	cr_assert(fps >= lo && fps + MP_FPS_LEN <= hi);
	cr_assert_arr_eq(at(fps, 4), MP_FPS_SIG, 4);
	cr_assert_eq(aml_checksum(at(fps, MP_FPS_LEN), MP_FPS_LEN), 0, "floating pointer sum");
	cr_assert_eq(rd8(fps + MP_FPS_LENGTH), 1);
	cr_assert_eq(rd8(fps + MP_FPS_SPEC_REV), 4);
	cr_assert_eq(rd8(fps + MP_FPS_FEATURE1), 0, "configuration table present");
	cr_assert_eq(rd8(fps + MP_FPS_FEATURE2), 0, "virtual wire mode");

	mpc = rd32(fps + MP_FPS_PHYSPTR);
	cr_assert(mpc >= lo && mpc + MPC_HEADER_LEN <= hi);
	cr_assert_arr_eq(at(mpc, 4), MPC_SIG, 4);
	len = rd16(mpc + MPC_BASE_LENGTH);
	cr_assert_leq(mpc + len, hi);
	cr_assert_eq(aml_checksum(at(mpc, len), len), 0, "configuration table checksum");
	cr_assert_eq(rd8(mpc + MPC_SPEC_REV), 4);
	cr_assert_eq(rd32(mpc + MPC_LAPIC_ADDR), plat.lapic_addr);
	count = rd16(mpc + MPC_ENTRY_COUNT);

	for (off = mpc + MPC_HEADER_LEN, end = mpc + len; off < end; entries++) {
		uint8_t type = rd8(off);

		cr_assert_geq(type, last_type, "entries sorted by type");
		last_type = type;
		switch (type) {
		case MPC_PROCESSOR:
			cr_assert_eq(rd8(off + 1), cpus, "APIC ids 0..n-1");
			cr_assert(rd8(off + 3) & MPC_CPU_ENABLED);
			if (rd8(off + 3) & MPC_CPU_BSP) {
				bsps++;
				cr_assert_eq(rd8(off + 1), 0, "the BSP is APIC id 0");
			}
			cpus++;
			off += MPC_PROCESSOR_LEN;
			continue;
		case MPC_BUS:
			cr_assert_eq(rd8(off + 1), MP_ISA_BUS_ID);
			cr_assert_arr_eq(at(off + 2, 6), "ISA   ", 6);
			buses++;
			break;
		case MPC_IOAPIC:
			cr_assert_eq(rd8(off + 1), X86_IOAPIC_ID, "IOAPIC id as in the MADT");
			cr_assert(rd8(off + 3) & MPC_IOAPIC_ENABLED);
			cr_assert_eq(rd32(off + 4), plat.ioapic_addr);
			ioapics++;
			break;
		case MPC_IOINT: {
			uint8_t irq = rd8(off + 5), pin = rd8(off + 7);

			cr_assert_eq(rd8(off + 1), MP_INT);
			cr_assert_eq(rd8(off + 4), MP_ISA_BUS_ID);
			cr_assert_eq(rd8(off + 6), X86_IOAPIC_ID, "to the IOAPIC");
			cr_assert_lt(pin, plat.ioapic_pins);
			if (irq < X86_ISA_IRQS) {
				cr_assert_eq(isa_to_pin[irq], 0xffffffffu, "IRQ %u twice", irq);
				isa_to_pin[irq] = pin;
			} else {
				cr_assert_eq(pin, irq);
				cr_assert_eq(rd16(off + 2), 0x5, "edge, active high");
				high_irqs++;
			}
			break;
		}
		case MPC_LINT:
			cr_assert_eq(rd8(off + 6), MP_APIC_ALL);
			cr_assert_eq(rd8(off + 1), lints == 0 ? MP_EXTINT : MP_NMI);
			cr_assert_eq(rd8(off + 7), lints, "LINT%u", lints);
			lints++;
			break;
		default:
			cr_assert_fail("unexpected MP entry type %u", type);
		}
		off += MPC_ENTRY_LEN;
	}
	cr_assert_eq(off, end, "entries fill the base table exactly");
	cr_assert_eq(entries, count);
	cr_assert_eq(cpus, plat.nr_vcpus);
	cr_assert_eq(bsps, 1);
	cr_assert_eq(buses, 1);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(lints, 2);
	for (unsigned int irq = 0; irq < X86_ISA_IRQS; irq++) {
		unsigned int want = irq == 0 ? 2 : irq == 2 ? 0xffffffffu : irq;

		cr_assert_eq(isa_to_pin[irq], want, "ISA IRQ %u -> pin %u", irq, isa_to_pin[irq]);
	}
	for (unsigned int i = 0; i < plat.nr_mmio_devs; i++)
		want_high += plat.mmio_devs[i].irq >= X86_ISA_IRQS;
	cr_assert_eq(high_irqs, want_high);
}

static void mp_build_and_check(void)
{
	cr_assert_eq(x86_mptable_build(gm, X86_MPTABLE_BASE, X86_MPTABLE_SIZE, &plat), 0);
	check_mptable(X86_MPTABLE_BASE, X86_MPTABLE_BASE, X86_MPTABLE_BASE + X86_MPTABLE_SIZE);
	cr_assert(untouched(0, X86_MPTABLE_BASE));
	cr_assert(untouched(X86_MPTABLE_BASE + X86_MPTABLE_SIZE, RAM_SIZE));
	cr_assert(high_untouched());
}

Test(mptable, one_vcpu) { mp_build_and_check(); }

Test(mptable, two_vcpus)
{
	x86_platform_default(&plat, 2);
	mp_build_and_check();
}

Test(mptable, sixty_four_vcpus)
{
	x86_platform_default(&plat, 64);
	mp_build_and_check();
}

Test(mptable, max_vcpus_fit)
{
	x86_platform_default(&plat, X86_ACPI_MAX_VCPUS);
	add_max_mmio(); /* 6 of them above pin 15 */
	mp_build_and_check();
}

Test(mptable, three_virtio_mmio_devices)
{
	x86_platform_default(&plat, 2);
	add_mmio(0xd0000000, 0x1000, 5);
	add_mmio(0xd0001000, 0x1000, 16);
	add_mmio(0xd0002000, 0x1000, 23);
	mp_build_and_check();
}

Test(mptable, unaligned_base)
{
	x86_platform_default(&plat, 4);
	cr_assert_eq(x86_mptable_build(gm, X86_MPTABLE_BASE + 1, X86_MPTABLE_SIZE - 1, &plat), 0);
	check_mptable(X86_MPTABLE_BASE + 16, X86_MPTABLE_BASE + 1,
		      X86_MPTABLE_BASE + X86_MPTABLE_SIZE);
	cr_assert(untouched(0, X86_MPTABLE_BASE + 1));
}

Test(mptable, too_small_is_enospc_and_writes_nothing)
{
	x86_platform_default(&plat, 64);
	/* The old EBDA spot has 1 KiB: too little for 64 processors. */
	cr_assert_eq(x86_mptable_build(gm, 0x9fc00, 0x400, &plat), -ENOSPC);
	cr_assert_eq(x86_mptable_build(gm, X86_MPTABLE_BASE, 16, &plat), -ENOSPC);
	cr_assert_eq(x86_mptable_build(gm, X86_MPTABLE_BASE + 1, 15, &plat), -ENOSPC);
	cr_assert(untouched(0, RAM_SIZE));
}

Test(mptable, exact_size_fits_one_byte_less_does_not)
{
	size_t need;

	x86_platform_default(&plat, 5);
	add_mmio(0xd0000000, 0x1000, 20);
	/* 5 processors; bus, IOAPIC, 15 ISA IRQs, the device on pin 20, 2 local interrupts. */
	need = MP_FPS_LEN + MPC_HEADER_LEN + 5 * MPC_PROCESSOR_LEN +
	       (1 + 1 + 15 + 1 + 2) * MPC_ENTRY_LEN;
	cr_assert_eq(x86_mptable_build(gm, X86_MPTABLE_BASE, need - 1, &plat), -ENOSPC);
	cr_assert(untouched(0, RAM_SIZE));
	cr_assert_eq(x86_mptable_build(gm, X86_MPTABLE_BASE, need, &plat), 0);
	check_mptable(X86_MPTABLE_BASE, X86_MPTABLE_BASE, X86_MPTABLE_BASE + need);
	cr_assert(untouched(X86_MPTABLE_BASE + need, RAM_SIZE));
}

Test(mptable, range_not_ram_or_above_4gib_is_efault)
{
	cr_assert_eq(x86_mptable_build(gm, RAM_SIZE - 0x100, 0x2000, &plat), -EFAULT);
	cr_assert_eq(x86_mptable_build(gm, 3 * GIB, 0x2000, &plat), -EFAULT);
	cr_assert_eq(x86_mptable_build(gm, HIGH_GPA, 0x2000, &plat), -EFAULT, "above 4 GiB");
	cr_assert_eq(x86_mptable_build(gm, UINT64_MAX - 8, 0x2000, &plat), -EFAULT);
	cr_assert(untouched(0, RAM_SIZE));
	cr_assert(high_untouched());
}

/* ---- in-kernel irqchip routes ----------------------------------------------------------- */

/* The same wiring check_mptable() and check_madt() require: ISA IRQ 0 on pin 2, IRQ 2 (the
 * cascade) on no pin, every other GSI on the pin of its number. */
Test(irq, kernel_routes_match_the_tables)
{
	struct vm_irqchip_route r[X86_KERNEL_IRQ_MAX_ROUTES];
	unsigned int n = x86_kernel_irq_routes(r), pic[X86_ISA_IRQS] = { 0 };
	unsigned int ioapic_gsi[KVM_IOAPIC_NUM_PINS];

	memset(ioapic_gsi, 0xff, sizeof(ioapic_gsi));
	cr_assert_eq(n, 15 + 23, "15 PIC routes (no cascade), 23 IOAPIC routes (no GSI 2)");
	for (unsigned int i = 0; i < n; i++) {
		switch (r[i].chip) {
		case KVM_IRQCHIP_PIC_MASTER:
		case KVM_IRQCHIP_PIC_SLAVE:
			cr_assert_lt(r[i].gsi, X86_ISA_IRQS);
			cr_assert_eq(r[i].chip, r[i].gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							     : KVM_IRQCHIP_PIC_SLAVE, "GSI %u", r[i].gsi);
			cr_assert_eq(r[i].pin, r[i].gsi % 8, "GSI %u: 8259 pin", r[i].gsi);
			pic[r[i].gsi]++;
			break;
		case KVM_IRQCHIP_IOAPIC:
			cr_assert_lt(r[i].pin, KVM_IOAPIC_NUM_PINS);
			cr_assert_eq(ioapic_gsi[r[i].pin], 0xffffffffu, "pin %u driven twice", r[i].pin);
			ioapic_gsi[r[i].pin] = r[i].gsi;
			break;
		default:
			cr_assert_fail("route %u: unknown irqchip %u", i, r[i].chip);
		}
	}
	for (unsigned int irq = 0; irq < X86_ISA_IRQS; irq++)
		cr_assert_eq(pic[irq], irq == X86_ISA_IRQ_CASCADE ? 0 : 1, "PIC route of IRQ %u", irq);
	cr_assert_eq(ioapic_gsi[X86_TIMER_GSI], X86_ISA_IRQ_TIMER, "the PIT (GSI 0) on pin 2");
	cr_assert_eq(ioapic_gsi[0], 0xffffffffu, "nothing on pin 0");
	for (unsigned int pin = 3; pin < KVM_IOAPIC_NUM_PINS; pin++)
		cr_assert_eq(ioapic_gsi[pin], pin, "GSI %u on pin %u", pin, pin);
	cr_assert_eq(ioapic_gsi[1], 1);
}

/* ---- the Linux command line's virtio_mmio.device= (board.c, --virtio-discovery) ------------ */

/* arch_guest_cmdline() for two disks and the rng under `mode`: the line it gives, or NULL when
 * the guest gets `cmdline` itself. */
static char *guest_cmdline(enum virtio_discovery mode, const char *cmdline)
{
	static struct vmm_config cfg;
	struct arch_vm *a = NULL;
	char err[CONFIG_ERR_MAX], *out = (char *)"unset";

	config_init(&cfg);
	cfg.nr_disks = 2;
	cfg.disks[0].path = cfg.disks[1].path = "/dev/null";
	cfg.rng = true;
	cfg.virtio_discovery = mode;
	cr_assert_eq(arch_vm_create(&a, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(arch_guest_cmdline(a, cmdline, &out), 0);
	arch_vm_destroy(a);
	return out;
}

static const char devices[] = " virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6"
			      " virtio_mmio.device=4K@0xd0002000:7";

Test(guest_cmdline, both_describes_every_device)
{
	char want[256];
	char *line = guest_cmdline(VIRTIO_DISCOVERY_BOTH, "console=ttyS0");

	snprintf(want, sizeof(want), "console=ttyS0%s", devices);
	cr_assert_not_null(line);
	cr_assert_str_eq(line, want);
	free(line);
	/* No -p at all: the parameters alone. */
	line = guest_cmdline(VIRTIO_DISCOVERY_BOTH, NULL);
	cr_assert_not_null(line);
	cr_assert_str_eq(line, devices);
	free(line);
}

Test(guest_cmdline, acpi_only_with_acpi_off)
{
	char *line = guest_cmdline(VIRTIO_DISCOVERY_ACPI, "console=ttyS0");

	cr_assert_null(line, "the DSDT only: the command line is the user's");
	cr_assert_null(guest_cmdline(VIRTIO_DISCOVERY_ACPI, "xacpi=off acpi=offx"));
	line = guest_cmdline(VIRTIO_DISCOVERY_ACPI, "acpi=off");
	cr_assert_not_null(line, "acpi=off: the DSDT is not read");
	cr_assert_eq(strncmp(line, "acpi=off virtio_mmio.device=", 28), 0, "%s", line);
	free(line);
}

Test(guest_cmdline, no_devices_no_parameters)
{
	struct vmm_config cfg;
	struct arch_vm *a = NULL;
	char err[CONFIG_ERR_MAX], *out = (char *)"unset";

	config_init(&cfg);
	cr_assert_eq(arch_vm_create(&a, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(arch_guest_cmdline(a, "console=ttyS0", &out), 0);
	cr_assert_null(out);
	arch_vm_destroy(a);
}
