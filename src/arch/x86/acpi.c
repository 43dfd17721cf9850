/* acpi.c: the x86 guest's ACPI tables (ACPI 6.4, a full PC platform: PM1 blocks, SCI, FACS); the
 * DSDT is built with acpi/aml.h. docs/linux.md "Why a full ACPI platform" says why not HW-reduced. */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acpi/aml.h"
#include "arch/x86/layout.h"
#include "devices/acpi_pm.h"
#include "util/log.h"

/* Identification every table carries (5.2.6). */
#define ACPI_OEM_ID "KILN  "       /* 6 characters */
#define ACPI_OEM_TABLE_ID "KILNVM  " /* 8 characters */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "KILN"
#define ACPI_CREATOR_REVISION 1
#define ACPI_HYPERVISOR_ID "KILNVM  " /* FADT Hypervisor Vendor Identity (ACPI 6.0+) */

/* Table revisions: ACPI 6.4 (RSDP 2, XSDT 1, FADT 6.4, MADT 5, DSDT 2 = 64-bit integers). */
#define ACPI_RSDP_REV 2
#define ACPI_XSDT_REV 1
#define ACPI_FADT_REV 6
#define ACPI_FADT_MINOR 4
#define ACPI_MADT_REV 5
#define ACPI_DSDT_REV 2

#define ACPI_MADT_LAPIC_LEN 8
#define ACPI_MADT_IOAPIC_LEN 12
#define ACPI_MADT_ISO_LEN 10
#define ACPI_MADT_NMI_LEN 6
#define ACPI_TABLE_ALIGN 16
#define FOUR_GIB 0x100000000ull

static void putstr(uint8_t *p, size_t off, const char *s, size_t len)
{
	memcpy(p + off, s, len);
}

/* ---- platform ------------------------------------------------------------------------------ */

void x86_platform_default(struct x86_platform *p, unsigned int nr_vcpus)
{
	*p = (struct x86_platform){
		.nr_vcpus = nr_vcpus,
		.ioapic_addr = X86_IOAPIC_ADDR,
		.ioapic_pins = 24,
		.lapic_addr = X86_LAPIC_ADDR,
		.uart_port = 0x3f8,
		.uart_irq = 4,
		.pm1a_evt_port = X86_ACPI_PM1A_EVT_PORT,
		.pm1a_cnt_port = X86_ACPI_PM1A_CNT_PORT,
		.sci_irq = X86_ACPI_SCI_IRQ,
		.reset_port = X86_ACPI_RESET_PORT,
		.pm_timer_port = X86_ACPI_PM_TIMER_PORT,
	};
}

/* An ISA line the tables give to a fixed device (or none: 2 is the cascade). */
static bool isa_irq_reserved(unsigned int irq)
{
	return irq == X86_ISA_IRQ_TIMER || irq == X86_ISA_IRQ_KBD || irq == X86_ISA_IRQ_CASCADE ||
	       irq == X86_ISA_IRQ_RTC;
}

int x86_platform_check(const struct x86_platform *p)
{
	uint64_t end;

	if (p->nr_vcpus == 0 || p->nr_vcpus > X86_ACPI_MAX_VCPUS) {
		pr_debug("x86 tables: %u vCPUs, want 1 to %u", p->nr_vcpus, X86_ACPI_MAX_VCPUS);
		return -EINVAL;
	}
	if (p->ioapic_pins < X86_ACPI_MIN_IOAPIC_PINS ||
	    p->ioapic_pins > X86_ACPI_MAX_IOAPIC_PINS) {
		pr_debug("x86 tables: %u IOAPIC pins, want %u to %u", p->ioapic_pins,
			 X86_ACPI_MIN_IOAPIC_PINS, X86_ACPI_MAX_IOAPIC_PINS);
		return -EINVAL;
	}
	/* MADT and MP table hold 32-bit APIC addresses. */
	if (!p->ioapic_addr || p->ioapic_addr >= FOUR_GIB || !p->lapic_addr ||
	    p->lapic_addr >= FOUR_GIB) {
		pr_debug("x86 tables: IOAPIC 0x%llx or local APIC 0x%llx not a 32-bit address",
			 (unsigned long long)p->ioapic_addr, (unsigned long long)p->lapic_addr);
		return -EINVAL;
	}
	if (!p->uart_port || p->uart_port > 0xffff - 7 || p->uart_irq >= X86_ISA_IRQS ||
	    isa_irq_reserved(p->uart_irq)) {
		pr_debug("x86 tables: UART at port 0x%x IRQ %u", p->uart_port, p->uart_irq);
		return -EINVAL;
	}
	/* The SCI is an ISA IRQ of its own (level-triggered: it shares with no edge device). */
	if (p->sci_irq >= X86_ISA_IRQS || isa_irq_reserved(p->sci_irq) ||
	    p->sci_irq == p->uart_irq) {
		pr_debug("x86 tables: SCI on IRQ %u: not a free ISA IRQ", p->sci_irq);
		return -EINVAL;
	}
	/* A PM1a block is mandatory on a platform that is not HW-reduced (4.8.1); a zero reset
	 * address means "not implemented" (Linux then cannot reset through ACPI). */
	if (!p->pm1a_evt_port || p->pm1a_evt_port > 0xffff - (ACPI_PM1_EVT_LEN - 1) ||
	    !p->pm1a_cnt_port || p->pm1a_cnt_port > 0xffff - (ACPI_PM1_CNT_LEN - 1) ||
	    !p->reset_port || p->pm_timer_port > 0xffff - (X86_ACPI_PM_TIMER_LEN - 1)) {
		pr_debug("x86 tables: PM1a event 0x%x, PM1a control 0x%x, reset 0x%x, PM timer 0x%x",
			 p->pm1a_evt_port, p->pm1a_cnt_port, p->reset_port, p->pm_timer_port);
		return -EINVAL;
	}
	if (p->nr_mmio_devs > X86_ACPI_MAX_MMIO_DEVS) {
		pr_debug("x86 tables: %u virtio-mmio devices, at most %u", p->nr_mmio_devs,
			 X86_ACPI_MAX_MMIO_DEVS);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->nr_mmio_devs; i++) {
		const struct x86_acpi_mmio_dev *d = &p->mmio_devs[i];

		if (!d->size || add_overflow(d->addr, d->size, &end)) {
			pr_debug("x86 tables: mmio device %u at 0x%llx size 0x%llx", i,
				 (unsigned long long)d->addr, (unsigned long long)d->size);
			return -EINVAL;
		}
		/* Edge-triggered lines cannot be shared: a GSI each, none of the fixed ones. */
		if (d->irq >= p->ioapic_pins || isa_irq_reserved(d->irq) || d->irq == p->uart_irq ||
		    d->irq == p->sci_irq) {
			pr_debug("x86 tables: mmio device %u IRQ %u is taken or no IOAPIC pin",
				 i, d->irq);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (p->mmio_devs[j].irq == d->irq) {
				pr_debug("x86 tables: mmio devices %u and %u share IRQ %u", j, i,
					 d->irq);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* ---- tables -------------------------------------------------------------------------------- */

static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	putstr(t, ACPI_HDR_SIGNATURE, sig, 4);
	aml_put32(t, ACPI_HDR_LENGTH, len);
	aml_put8(t, ACPI_HDR_REVISION, rev);
	aml_put8(t, ACPI_HDR_CHECKSUM, 0);
	putstr(t, ACPI_HDR_OEM_ID, ACPI_OEM_ID, 6);
	putstr(t, ACPI_HDR_OEM_TABLE_ID, ACPI_OEM_TABLE_ID, 8);
	aml_put32(t, 24, ACPI_OEM_REVISION);
	putstr(t, 28, ACPI_CREATOR_ID, 4);
	aml_put32(t, 32, ACPI_CREATOR_REVISION);
}

static void table_checksum(uint8_t *t, uint32_t len)
{
	aml_put8(t, ACPI_HDR_CHECKSUM, (uint8_t)-aml_checksum(t, len));
}

/* Device(name) { _HID EisaId(hid), _UID uid, _CRS { IO ports..., IRQNoFlags(irq) } } for an ISA
 * device: `ports` pairs of (first port, count). */
static void dsdt_isa_device(struct aml *a, const char *name, const char *hid, unsigned int uid,
			    const uint16_t (*ports)[2], unsigned int nr_ports, unsigned int irq)
{
	aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_eisaid(a, hid);
	aml_name_integer(a, "_UID", uid);
	aml_name(a, "_CRS");
	aml_resources_begin(a);
	for (unsigned int i = 0; i < nr_ports; i++)
		aml_res_io(a, ports[i][0], ports[i][0], 1, (uint8_t)ports[i][1]);
	aml_res_irq(a, irq);
	aml_resources_end(a);
	aml_end(a);
}

/* The DSDT's definition block (after its header). */
static void dsdt_body(struct aml *a, const struct x86_platform *p)
{
	const uint16_t uart_ports[][2] = { { p->uart_port, 8 } };
	const uint16_t kbd_ports[][2] = { { 0x60, 1 }, { 0x64, 1 } };
	const uint16_t rtc_ports[][2] = { { 0x70, 2 } };
	char name[16]; /* "C%03X", "V%03X": nr_vcpus and nr_mmio_devs were checked */

	/* \_S0 and \_S5: {SLP_TYPa, SLP_TYPb, reserved, reserved} (7.4.2). The OSPM writes SLP_TYPa
	 * with SLP_EN to PM1a_CNT (there is no PM1b); Linux offers power-off only when \_S5
	 * evaluates. ACPICA's legacy wake writes \_S0's SLP_TYP, and fails without it. */
	aml_name(a, "\\_S0_");
	aml_package_begin(a);
	for (int i = 0; i < 4; i++)
		aml_integer(a, 0);
	aml_end(a);
	aml_name(a, "\\_S5_");
	aml_package_begin(a);
	aml_integer(a, X86_ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a);

	aml_scope_begin(a, "\\_SB_");
	/* Processor devices whose _UID matches the MADT's ACPI Processor UID (5.2.12.2, 8.4). */
	for (unsigned int i = 0; i < p->nr_vcpus; i++) {
		snprintf(name, sizeof(name), "C%03X", i & 0xfff);
		aml_device_begin(a, name);
		aml_name_string(a, "_HID", "ACPI0007");
		aml_name_integer(a, "_UID", i);
		aml_end(a);
	}
	/* The ISA devices, for PNP ACPI (Linux's 8250_pnp, i8042 and rtc_cmos bind these; the
	 * legacy probes of the same ports find them taken or replace them in place). */
	dsdt_isa_device(a, "COM1", "PNP0501", 1, uart_ports, 1, p->uart_irq);
	dsdt_isa_device(a, "PS2K", "PNP0303", 0, kbd_ports, 2, X86_ISA_IRQ_KBD);
	dsdt_isa_device(a, "RTC_", "PNP0B00", 0, rtc_ports, 1, X86_ISA_IRQ_RTC);
	/* virtio-mmio: Linux's virtio_mmio driver matches LNRO0005 and takes the first memory
	 * resource and the first IRQ. Edge-triggered, like Firecracker and cloud-hypervisor: kiln
	 * raises the GSI once per notification (later through an irqfd), and the driver reads and
	 * acknowledges InterruptStatus in its handler. */
	for (unsigned int i = 0; i < p->nr_mmio_devs; i++) {
		const struct x86_acpi_mmio_dev *d = &p->mmio_devs[i];

		snprintf(name, sizeof(name), "V%03X", i & 0xfff);
		aml_device_begin(a, name);
		aml_name_string(a, "_HID", "LNRO0005");
		aml_name_integer(a, "_UID", i);
		aml_name_integer(a, "_CCA", 1); /* cache-coherent DMA */
		aml_name(a, "_CRS");
		aml_resources_begin(a);
		aml_res_memory(a, d->addr, d->size);
		aml_res_interrupt(a, d->irq, 0);
		aml_resources_end(a);
		aml_end(a);
	}
	aml_end(a);
}

static uint32_t madt_len(const struct x86_platform *p)
{
	return ACPI_MADT_ENTRIES_OFF + p->nr_vcpus * ACPI_MADT_LAPIC_LEN + ACPI_MADT_IOAPIC_LEN +
	       2 * ACPI_MADT_ISO_LEN + ACPI_MADT_NMI_LEN;
}

static void build_madt(uint8_t *t, const struct x86_platform *p)
{
	uint32_t len = madt_len(p);
	size_t off = ACPI_MADT_ENTRIES_OFF;

	table_header(t, "APIC", len, ACPI_MADT_REV);
	aml_put32(t, 36, (uint32_t)p->lapic_addr);
	/* PCAT_COMPAT: the board has the 8259 pair, so an OS that uses the IOAPIC masks it. Linux
	 * keeps it as its legacy PIC (nr_legacy_irqs() 16): ISA IRQs 0-15 are GSIs 0-15 but for
	 * the overrides below, whether or not its ACPI namespace loads. */
	aml_put32(t, 40, ACPI_MADT_PCAT_COMPAT);
	for (unsigned int i = 0; i < p->nr_vcpus; i++, off += ACPI_MADT_LAPIC_LEN) {
		aml_put8(t, off, ACPI_MADT_LOCAL_APIC);
		aml_put8(t, off + 1, ACPI_MADT_LAPIC_LEN);
		aml_put8(t, off + 2, (uint8_t)i); /* ACPI Processor UID = _UID of \_SB.Cxxx */
		aml_put8(t, off + 3, (uint8_t)i); /* APIC id */
		aml_put32(t, off + 4, ACPI_MADT_LAPIC_ENABLED);
	}
	aml_put8(t, off, ACPI_MADT_IO_APIC);
	aml_put8(t, off + 1, ACPI_MADT_IOAPIC_LEN);
	aml_put8(t, off + 2, X86_IOAPIC_ID);
	aml_put8(t, off + 3, 0);
	aml_put32(t, off + 4, (uint32_t)p->ioapic_addr);
	aml_put32(t, off + 8, 0); /* GSI base */
	off += ACPI_MADT_IOAPIC_LEN;
	/* ISA IRQ 0 (PIT) is wired to pin 2, as on every PC since the IOAPIC (MP 1.4, 5.1). */
	aml_put8(t, off, ACPI_MADT_INT_SRC_OVERRIDE);
	aml_put8(t, off + 1, ACPI_MADT_ISO_LEN);
	aml_put8(t, off + 2, 0); /* bus: ISA */
	aml_put8(t, off + 3, X86_ISA_IRQ_TIMER);
	aml_put32(t, off + 4, X86_TIMER_GSI);
	aml_put16(t, off + 8, ACPI_MPS_INTI_POLARITY_HIGH | ACPI_MPS_INTI_TRIGGER_EDGE);
	off += ACPI_MADT_ISO_LEN;
	/* The SCI, level-triggered and active high, as QEMU and PC firmware describe it (without
	 * an override an OSPM takes ACPI's default for the SCI, active low, 5.2.12.5). */
	aml_put8(t, off, ACPI_MADT_INT_SRC_OVERRIDE);
	aml_put8(t, off + 1, ACPI_MADT_ISO_LEN);
	aml_put8(t, off + 2, 0); /* bus: ISA */
	aml_put8(t, off + 3, (uint8_t)p->sci_irq);
	aml_put32(t, off + 4, p->sci_irq);
	aml_put16(t, off + 8, ACPI_MPS_INTI_POLARITY_HIGH | ACPI_MPS_INTI_TRIGGER_LEVEL);
	off += ACPI_MADT_ISO_LEN;
	/* NMI on LINT1 of every processor. */
	aml_put8(t, off, ACPI_MADT_LOCAL_APIC_NMI);
	aml_put8(t, off + 1, ACPI_MADT_NMI_LEN);
	aml_put8(t, off + 2, ACPI_MADT_ALL_PROCESSORS);
	aml_put16(t, off + 3, ACPI_MPS_INTI_POLARITY_HIGH | ACPI_MPS_INTI_TRIGGER_EDGE);
	aml_put8(t, off + 5, 1); /* LINT1 */
	table_checksum(t, len);
}

/* A Generic Address Structure for a block of `bits` at an I/O port, accessed `access` wide. */
static void gas_io(uint8_t *t, size_t off, uint16_t port, uint8_t bits, uint8_t access)
{
	aml_put8(t, off, ACPI_GAS_SPACE_SYSTEM_IO);
	aml_put8(t, off + 1, bits);
	aml_put8(t, off + 2, 0); /* bit offset */
	aml_put8(t, off + 3, access);
	aml_put64(t, off + 4, port);
}

static void build_fadt(uint8_t *t, const struct x86_platform *p, uint64_t dsdt, uint64_t facs)
{
	table_header(t, "FACP", ACPI_FADT_LEN, ACPI_FADT_REV);
	/* The FACS, which every platform that is not HW-reduced has (5.2.10): FIRMWARE_CTRL, or
	 * X_FIRMWARE_CTRL above 4 GiB; one of them only, the other 0 (5.2.9). The 32-bit DSDT field
	 * repeats X_DSDT where it fits, for OSes older than ACPI 2.0 (equal values are allowed). */
	if (facs < FOUR_GIB)
		aml_put32(t, ACPI_FADT_FIRMWARE_CTRL, (uint32_t)facs);
	else
		aml_put64(t, ACPI_FADT_X_FIRMWARE_CTRL, facs);
	if (dsdt < FOUR_GIB)
		aml_put32(t, ACPI_FADT_DSDT, (uint32_t)dsdt);
	aml_put8(t, ACPI_FADT_PM_PROFILE, ACPI_PM_PROFILE_ENTERPRISE_SERVER);
	/* SCI_INT: in 8259 mode the ISA IRQ, with an IOAPIC the GSI; both are sci_irq (the MADT's
	 * override maps it to itself). SMI_CMD 0: there is no SMM, the platform is always in ACPI
	 * mode (SCI_EN reads 1), so ACPI_ENABLE/ACPI_DISABLE stay 0 (5.2.9, 4.8.2.5). */
	aml_put16(t, ACPI_FADT_SCI_INT, (uint16_t)p->sci_irq);
	/* The fixed hardware (4.8): the PM1a event and control blocks and the PM timer; no PM1b,
	 * PM2 or GPE blocks (GPE0_BLK 0: no general-purpose events). Each 32-bit field and its X_
	 * GAS agree, or ACPICA warns. */
	aml_put32(t, ACPI_FADT_PM1A_EVT_BLK, p->pm1a_evt_port);
	aml_put8(t, ACPI_FADT_PM1_EVT_LEN, ACPI_PM1_EVT_LEN);
	gas_io(t, ACPI_FADT_X_PM1A_EVT_BLK, p->pm1a_evt_port, 8 * ACPI_PM1_EVT_LEN,
	       ACPI_GAS_ACCESS_WORD);
	aml_put32(t, ACPI_FADT_PM1A_CNT_BLK, p->pm1a_cnt_port);
	aml_put8(t, ACPI_FADT_PM1_CNT_LEN, ACPI_PM1_CNT_LEN);
	gas_io(t, ACPI_FADT_X_PM1A_CNT_BLK, p->pm1a_cnt_port, 8 * ACPI_PM1_CNT_LEN,
	       ACPI_GAS_ACCESS_WORD);
	/* The PM timer: Linux offers it as the acpi_pm clocksource. 32 bits (TMR_VAL_EXT). */
	if (p->pm_timer_port) {
		aml_put32(t, ACPI_FADT_PM_TMR_BLK, p->pm_timer_port);
		aml_put8(t, ACPI_FADT_PM_TMR_LEN, X86_ACPI_PM_TIMER_LEN);
		gas_io(t, ACPI_FADT_X_PM_TMR_BLK, p->pm_timer_port, 32, ACPI_GAS_ACCESS_DWORD);
	}
	/* No C2 or C3 through P_BLK (the processors have none): C1 is HLT. */
	aml_put16(t, ACPI_FADT_P_LVL2_LAT, ACPI_FADT_NO_C2_LAT);
	aml_put16(t, ACPI_FADT_P_LVL3_LAT, ACPI_FADT_NO_C3_LAT);
	/* IAPC_BOOT_ARCH (5.2.9.3): ISA devices (COM1, RTC) on the board, an i8042 at 0x60/0x64
	 * (Linux otherwise marks the i8042 "firmware absent"), no VGA to probe. CMOS RTC Not
	 * Present stays clear: the RTC is at 0x70. */
	aml_put16(t, ACPI_FADT_IAPC_BOOT_ARCH,
		  ACPI_IAPC_LEGACY_DEVICES | ACPI_IAPC_8042 | ACPI_IAPC_VGA_NOT_PRESENT);
	/* PWR_BUTTON/SLP_BUTTON: no fixed-feature buttons. Not HW_REDUCED_ACPI: a full platform,
	 * so Linux keeps the 8259 and its ISA IRQs even when its namespace does not load. */
	aml_put32(t, ACPI_FADT_FLAGS,
		  ACPI_FADT_F_WBINVD | ACPI_FADT_F_PROC_C1 | ACPI_FADT_F_PWR_BUTTON |
			  ACPI_FADT_F_SLP_BUTTON | ACPI_FADT_F_RESET_REG_SUP |
			  (p->pm_timer_port ? ACPI_FADT_F_TMR_VAL_EXT : 0));
	gas_io(t, ACPI_FADT_RESET_REG, p->reset_port, 8, ACPI_GAS_ACCESS_BYTE);
	aml_put8(t, ACPI_FADT_RESET_VALUE, X86_ACPI_RESET_VALUE);
	aml_put8(t, ACPI_FADT_MINOR_REVISION, ACPI_FADT_MINOR);
	aml_put64(t, ACPI_FADT_X_DSDT, dsdt);
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG stay 0: they are the HW-reduced platform's. */
	putstr(t, ACPI_FADT_HYPERVISOR_ID, ACPI_HYPERVISOR_ID, 8);
	table_checksum(t, ACPI_FADT_LEN);
}

/* The FACS (5.2.10): no hardware signature, no waking vector (kiln never resumes from S3), the
 * global lock free and no flags. It has no checksum. */
static void build_facs(uint8_t *t)
{
	putstr(t, 0, "FACS", 4);
	aml_put32(t, 4, ACPI_FACS_LEN);
	aml_put8(t, 32, ACPI_FACS_VERSION);
}

static void build_xsdt(uint8_t *t, const uint64_t *entries, unsigned int n)
{
	uint32_t len = ACPI_HEADER_LEN + 8 * n;

	table_header(t, "XSDT", len, ACPI_XSDT_REV);
	for (unsigned int i = 0; i < n; i++)
		aml_put64(t, ACPI_HEADER_LEN + 8 * i, entries[i]);
	table_checksum(t, len);
}

static void build_rsdp(uint8_t *t, uint64_t xsdt)
{
	putstr(t, 0, ACPI_RSDP_SIG, 8);
	putstr(t, 9, ACPI_OEM_ID, 6);
	aml_put8(t, ACPI_RSDP_REVISION, ACPI_RSDP_REV);
	aml_put32(t, ACPI_RSDP_RSDT, 0); /* no RSDT: revision 2 OSes use the XSDT */
	aml_put32(t, ACPI_RSDP_LENGTH, ACPI_RSDP_LEN);
	aml_put64(t, ACPI_RSDP_XSDT, xsdt);
	aml_put8(t, ACPI_RSDP_CHECKSUM, (uint8_t)-aml_checksum(t, ACPI_RSDP_V1_LEN));
	aml_put8(t, ACPI_RSDP_EXT_CHECKSUM, (uint8_t)-aml_checksum(t, ACPI_RSDP_LEN));
}

int x86_acpi_build(const struct gmem *gm, uint64_t base, uint64_t size,
		   const struct x86_platform *p, uint64_t *rsdp_addr)
{
	size_t xsdt_off, fadt_off, facs_off, madt_off, dsdt_off;
	uint64_t start, skip, avail, entries[2];
	uint8_t *host, *t;
	struct aml a;
	long dsdt_len;
	int err;

	err = x86_platform_check(p);
	if (err)
		return err;
	host = gmem_ptr(gm, base, size);
	if (!host || add_overflow(base, (uint64_t)ACPI_TABLE_ALIGN - 1, &start)) {
		pr_debug("ACPI: tables at 0x%llx+0x%llx: not guest RAM", (unsigned long long)base,
			 (unsigned long long)size);
		return -EFAULT;
	}
	/* RSDP first, 16-byte aligned (5.2.5.1), then the others, each 16-byte aligned but the
	 * FACS (64-byte aligned). */
	start &= ~(uint64_t)(ACPI_TABLE_ALIGN - 1);
	skip = start - base;
	xsdt_off = align_up(ACPI_RSDP_LEN, ACPI_TABLE_ALIGN);
	fadt_off = align_up(xsdt_off + ACPI_HEADER_LEN + 8 * ARRAY_SIZE(entries), ACPI_TABLE_ALIGN);
	/* The FACS's alignment is of its address: start is only 16-byte aligned. */
	facs_off = align_up(start + fadt_off + ACPI_FADT_LEN, ACPI_FACS_ALIGN) - start;
	madt_off = align_up(facs_off + ACPI_FACS_LEN, ACPI_TABLE_ALIGN);
	dsdt_off = align_up(madt_off + madt_len(p), ACPI_TABLE_ALIGN);
	if (skip > size || size - skip < dsdt_off + ACPI_HEADER_LEN) {
		pr_debug("ACPI: 0x%llx bytes at 0x%llx is too small", (unsigned long long)size,
			 (unsigned long long)base);
		return -ENOSPC;
	}
	avail = size - skip;
	t = host + skip;

	/* The DSDT first, as it is the part whose size is only known once written. */
	aml_init(&a, t + dsdt_off + ACPI_HEADER_LEN, avail - dsdt_off - ACPI_HEADER_LEN);
	dsdt_body(&a, p);
	dsdt_len = aml_finish(&a);
	if (dsdt_len < 0 || (uint64_t)dsdt_len > UINT32_MAX - ACPI_HEADER_LEN) {
		/* Leave nothing half-built behind. */
		memset(a.buf, 0, a.len);
		pr_debug("ACPI: DSDT does not fit in 0x%llx bytes at 0x%llx",
			 (unsigned long long)size, (unsigned long long)base);
		return dsdt_len < 0 ? (int)dsdt_len : -ENOSPC;
	}
	memset(t, 0, dsdt_off + ACPI_HEADER_LEN);
	table_header(t + dsdt_off, "DSDT", (uint32_t)(ACPI_HEADER_LEN + dsdt_len), ACPI_DSDT_REV);
	table_checksum(t + dsdt_off, (uint32_t)(ACPI_HEADER_LEN + dsdt_len));

	build_madt(t + madt_off, p);
	build_facs(t + facs_off);
	build_fadt(t + fadt_off, p, start + dsdt_off, start + facs_off);
	entries[0] = start + fadt_off;
	entries[1] = start + madt_off;
	build_xsdt(t + xsdt_off, entries, ARRAY_SIZE(entries));
	build_rsdp(t, start + xsdt_off);
	*rsdp_addr = start;
	return 0;
}
