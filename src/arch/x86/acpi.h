/* acpi.h: the x86 guest's ACPI tables (RSDP, XSDT, FADT, MADT, DSDT); the AML is acpi/aml.h's. */
#ifndef KILN_ARCH_X86_ACPI_H
#define KILN_ARCH_X86_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/memory.h"
#include "util/checked.h"

/* Where the builder puts the tables: the BIOS area 0xe0000-0xfffff that Linux scans for the RSDP
 * (ACPI 6.5, 5.2.5.1), reserved in the e820 map. The MP table sits in the 64 KiB above it, which
 * Linux also scans for the MP floating pointer (MP 1.4, 4: "the BIOS ROM address space between
 * 0F0000h and 0FFFFFh"). The EBDA (0x9fc00) has only 1 KiB before 0xa0000: room for about 40
 * processor entries, not 254, so the MP table is not put there. */
#define X86_ACPI_BASE 0xe0000ull
#define X86_ACPI_SIZE 0x10000ull
#define X86_MPTABLE_BASE 0xf0000ull
#define X86_MPTABLE_SIZE 0x2000ull

/* The ACPI fixed hardware kiln emulates (devices/acpi_pm.h), at the I/O ports QEMU's q35 board
 * uses: the PM1a event block (PM1_STS, PM1_EN), the PM1a control block, then the PM timer. A
 * guest powering off writes SLP_EN | (X86_ACPI_S5_SLP_TYP << 10) to PM1a_CNT (ACPI 6.5, 4.8.4.2,
 * 7.4.2); a guest resetting writes X86_ACPI_RESET_VALUE to the reset port (4.8.3.6). */
#define X86_ACPI_PM1A_EVT_PORT 0x600
#define X86_ACPI_PM1A_CNT_PORT 0x604
#define X86_ACPI_RESET_PORT 0x3c2
#define X86_ACPI_RESET_VALUE 0x1
#define X86_ACPI_S5_SLP_TYP 5
/* The SCI: ISA IRQ 3, level-triggered, active high (MADT interrupt source override 3 -> GSI 3).
 * Not 9, the usual line: GSI 9 is the fourth virtio device's (docs/virtio.md), and an
 * edge-triggered device cannot share a level-triggered line. IRQ 3 is COM2's, which kiln does
 * not have. kiln never raises it. */
#define X86_ACPI_SCI_IRQ 3
/* The IOAPIC's ID in the MADT and the MP table, and its ID register's reset value: 0, as QEMU,
 * Firecracker and cloud-hypervisor give, and KVM's in-kernel IOAPIC resets to. It fits the
 * register's 4 bits (27:24) for any vCPU count, and equals vCPU 0's APIC ID, which is harmless:
 * since the xAPIC (Pentium 4, and every AMD64 CPU) interrupts travel as messages on the system
 * bus, not on the 3-wire APIC bus whose arbitration needed unique IDs, so IOAPIC IDs are a name
 * space of their own (Linux: "Don't check I/O APIC IDs for xAPIC systems. They have no meaning",
 * arch/x86/kernel/apic/io_apic.c; a 64-bit Linux checks IOAPIC IDs only against each other). */
#define X86_IOAPIC_ID 0
/* The ACPI power-management timer (4.8.3.3): a free-running 32-bit count at 3.579545 MHz, read
 * with `inl` (docs/devices.md "ACPI PM timer"). Port 0x608 is where QEMU's q35 board has it. */
#define X86_ACPI_PM_TIMER_PORT 0x608
#define X86_ACPI_PM_TIMER_LEN 4

/* APIC ids 0..253 for vCPUs; 255 is the xAPIC broadcast id. */
#define X86_ACPI_MAX_VCPUS 254
#define X86_ACPI_MAX_MMIO_DEVS 16
#define X86_ACPI_MIN_IOAPIC_PINS 16 /* the ISA IRQs */
#define X86_ACPI_MAX_IOAPIC_PINS 240

/* The fixed ISA interrupts the tables describe besides the UART's and the SCI's. */
#define X86_ISA_IRQ_TIMER 0 /* PIT: IOAPIC pin X86_TIMER_GSI (interrupt source override) */
#define X86_ISA_IRQ_KBD 1   /* i8042 keyboard */
#define X86_ISA_IRQ_CASCADE 2
#define X86_ISA_IRQ_RTC 8
#define X86_ISA_IRQS 16
/* The GSI (= IOAPIC pin) of ISA IRQ 0, as on every PC since the IOAPIC (MP 1.4, 5.1): the MADT's
 * one interrupt source override, the MP table's IRQ 0 entry and the in-kernel irqchip's routes. */
#define X86_TIMER_GSI 2

/* A virtio-mmio device: described in the DSDT as LNRO0005 (Linux's virtio_mmio ACPI id) with
 * its registers and an edge-triggered, active-high interrupt. */
struct x86_acpi_mmio_dev {
	uint64_t addr, size;
	unsigned int irq; /* GSI = IOAPIC pin */
};

/* What the ACPI and MP tables describe. */
struct x86_platform {
	unsigned int nr_vcpus;       /* APIC ids 0..nr_vcpus-1, all enabled; 1..254 */
	uint64_t ioapic_addr;        /* below 4 GiB; ID X86_IOAPIC_ID in both MADT and MP table */
	unsigned int ioapic_pins;    /* 16..240, GSI base 0 */
	uint64_t lapic_addr;         /* below 4 GiB */
	uint16_t uart_port;          /* COM1: 8 ports */
	unsigned int uart_irq;       /* an ISA IRQ other than 0, 1, 2 and 8 */
	uint16_t pm1a_evt_port;      /* FADT PM1a_EVT_BLK (4 bytes: status, enable), not 0 */
	uint16_t pm1a_cnt_port;      /* FADT PM1a_CNT_BLK (2 bytes), not 0 */
	unsigned int sci_irq;        /* FADT SCI_INT: an ISA IRQ other than 0, 1, 2, 8, the UART's */
	uint16_t reset_port;         /* FADT RESET_REG (1 byte) for X86_ACPI_RESET_VALUE, not 0 */
	uint16_t pm_timer_port;      /* FADT PM_TMR_BLK/X_PM_TMR_BLK (4 bytes, 32-bit); 0: none */
	struct x86_acpi_mmio_dev mmio_devs[X86_ACPI_MAX_MMIO_DEVS];
	unsigned int nr_mmio_devs;
};

/* The platform kiln builds today: `nr_vcpus` vCPUs, the IOAPIC and local APIC at their usual
 * addresses, COM1, the PM1a blocks, reset port, PM timer and SCI, no virtio-mmio devices (the
 * caller adds them). */
void x86_platform_default(struct x86_platform *p, unsigned int nr_vcpus);

/* 0 when the tables can describe `p`, else -EINVAL: nr_vcpus 0 or above X86_ACPI_MAX_VCPUS,
 * too many mmio devices, an address the tables cannot hold, a port of 0, a device with no size,
 * a UART or SCI IRQ not on a free ISA line, or a device IRQ outside the IOAPIC, on a fixed ISA
 * line (0, 1, 2, 8), the UART's or the SCI's, or used twice. Logs the reason
 * at debug level. Both builders call it first. */
int __must_check x86_platform_check(const struct x86_platform *p);

/* Writes RSDP, XSDT, FADT, FACS, MADT and DSDT into guest RAM [base, base+size): RSDP first at base
 * rounded up to 16 bytes (so a scan of 0xe0000-0xfffff finds it when the range is there), then the
 * others. *rsdp_addr receives the RSDP's address, for boot_params.acpi_rsdp_addr. Returns 0,
 * -EINVAL for a bad platform (x86_platform_check), -EFAULT when the range is not one block of
 * RAM, -ENOSPC when the tables do not fit (nothing is left in the range that looks like an RSDP).
 * Writes nothing outside [base, base+size). */
int __must_check x86_acpi_build(const struct gmem *gm, uint64_t base, uint64_t size,
				const struct x86_platform *p, uint64_t *rsdp_addr);

/* ---- ACPI table layout (ACPI 6.5, chapter 5.2), shared with the tests ------------------------ */

#define ACPI_RSDP_SIG "RSD PTR "
#define ACPI_RSDP_V1_LEN 20 /* the part the first checksum covers */
#define ACPI_RSDP_LEN 36
#define ACPI_HEADER_LEN 36
#define ACPI_FADT_LEN 276 /* FADT revision 6 (ACPI 6.0-6.5) */
#define ACPI_FACS_LEN 64
#define ACPI_FACS_ALIGN 64 /* 5.2.10 */
#define ACPI_FACS_VERSION 2
#define ACPI_MADT_ENTRIES_OFF 44

/* System description table header offsets (5.2.6). */
#define ACPI_HDR_SIGNATURE 0
#define ACPI_HDR_LENGTH 4
#define ACPI_HDR_REVISION 8
#define ACPI_HDR_CHECKSUM 9
#define ACPI_HDR_OEM_ID 10
#define ACPI_HDR_OEM_TABLE_ID 16

/* RSDP offsets (5.2.5.3). */
#define ACPI_RSDP_CHECKSUM 8
#define ACPI_RSDP_REVISION 15
#define ACPI_RSDP_RSDT 16
#define ACPI_RSDP_LENGTH 20
#define ACPI_RSDP_XSDT 24
#define ACPI_RSDP_EXT_CHECKSUM 32

/* FADT offsets (5.2.9, table 5.9) and flag bits. The C2/C3 latencies above 100 and 1000 us
 * say the processors have no C2 and C3 (5.2.9). */
#define ACPI_FADT_NO_C2_LAT 101
#define ACPI_FADT_NO_C3_LAT 1001
#define ACPI_FADT_FIRMWARE_CTRL 36
#define ACPI_FADT_DSDT 40
#define ACPI_FADT_PM_PROFILE 45
#define ACPI_FADT_SCI_INT 46
#define ACPI_FADT_SMI_CMD 48
#define ACPI_FADT_PM1A_EVT_BLK 56
#define ACPI_FADT_PM1A_CNT_BLK 64
#define ACPI_FADT_PM_TMR_BLK 76
#define ACPI_FADT_GPE0_BLK 80
#define ACPI_FADT_PM1_EVT_LEN 88
#define ACPI_FADT_PM1_CNT_LEN 89
#define ACPI_FADT_PM_TMR_LEN 91
#define ACPI_FADT_P_LVL2_LAT 96
#define ACPI_FADT_P_LVL3_LAT 98
#define ACPI_FADT_IAPC_BOOT_ARCH 109
#define ACPI_FADT_FLAGS 112
#define ACPI_FADT_RESET_REG 116
#define ACPI_FADT_RESET_VALUE 128
#define ACPI_FADT_MINOR_REVISION 131
#define ACPI_FADT_X_FIRMWARE_CTRL 132
#define ACPI_FADT_X_DSDT 140
#define ACPI_FADT_X_PM1A_EVT_BLK 148
#define ACPI_FADT_X_PM1A_CNT_BLK 172
#define ACPI_FADT_X_PM_TMR_BLK 208
#define ACPI_FADT_SLEEP_CONTROL_REG 244
#define ACPI_FADT_SLEEP_STATUS_REG 256
#define ACPI_FADT_HYPERVISOR_ID 268

#define ACPI_FADT_F_WBINVD (1u << 0)
#define ACPI_FADT_F_PROC_C1 (1u << 2)
#define ACPI_FADT_F_PWR_BUTTON (1u << 4) /* no fixed-feature power button */
#define ACPI_FADT_F_SLP_BUTTON (1u << 5) /* no fixed-feature sleep button */
#define ACPI_FADT_F_TMR_VAL_EXT (1u << 8) /* the PM timer counts 32 bits, not 24 */
#define ACPI_FADT_F_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_F_HW_REDUCED_ACPI (1u << 20)

/* IAPC_BOOT_ARCH (5.2.9.3). */
#define ACPI_IAPC_LEGACY_DEVICES (1u << 0)
#define ACPI_IAPC_8042 (1u << 1)
#define ACPI_IAPC_VGA_NOT_PRESENT (1u << 2)
#define ACPI_IAPC_MSI_NOT_SUPPORTED (1u << 3)
#define ACPI_IAPC_PCIE_ASPM_CONTROLS (1u << 4)
#define ACPI_IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

#define ACPI_PM_PROFILE_ENTERPRISE_SERVER 4

/* Generic Address Structure (5.2.3.2): 12 bytes. */
#define ACPI_GAS_LEN 12
#define ACPI_GAS_SPACE_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2
#define ACPI_GAS_ACCESS_DWORD 3

/* MADT (5.2.12) flags and entry types. */
#define ACPI_MADT_PCAT_COMPAT (1u << 0)
#define ACPI_MADT_LOCAL_APIC 0
#define ACPI_MADT_IO_APIC 1
#define ACPI_MADT_INT_SRC_OVERRIDE 2
#define ACPI_MADT_LOCAL_APIC_NMI 4
#define ACPI_MADT_LAPIC_ENABLED (1u << 0)
#define ACPI_MADT_ALL_PROCESSORS 0xff
/* MPS INTI flags (5.2.12.5, table 5.26). */
#define ACPI_MPS_INTI_POLARITY_HIGH 0x1
#define ACPI_MPS_INTI_POLARITY_LOW 0x3
#define ACPI_MPS_INTI_TRIGGER_EDGE (0x1 << 2)
#define ACPI_MPS_INTI_TRIGGER_LEVEL (0x3 << 2)

#endif
