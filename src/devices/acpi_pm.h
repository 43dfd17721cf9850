/* acpi_pm.h: the ACPI fixed hardware the FADT points at (ACPI 6.5, 4.8): the PM1a event and
 * control blocks (how a guest powers off: S5), the reset register and the PM timer. */
#ifndef KILN_DEVICES_ACPI_PM_H
#define KILN_DEVICES_ACPI_PM_H

#include <pthread.h>
#include <stdint.h>

#include "devices/device.h"
#include "util/checked.h"

/* PM1 event block (4.8.4.1): PM1_STS (2 bytes) then PM1_EN (2 bytes). */
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1_STS_TMR (1u << 0)
#define ACPI_PM1_STS_BM (1u << 4)
#define ACPI_PM1_STS_GBL (1u << 5)
#define ACPI_PM1_STS_PWRBTN (1u << 8)
#define ACPI_PM1_STS_SLPBTN (1u << 9)
#define ACPI_PM1_STS_RTC (1u << 10)
#define ACPI_PM1_STS_PCIEXP_WAKE (1u << 14)
#define ACPI_PM1_STS_WAK (1u << 15)
#define ACPI_PM1_STS_MASK                                                                        \
	(ACPI_PM1_STS_TMR | ACPI_PM1_STS_BM | ACPI_PM1_STS_GBL | ACPI_PM1_STS_PWRBTN |            \
	 ACPI_PM1_STS_SLPBTN | ACPI_PM1_STS_RTC | ACPI_PM1_STS_PCIEXP_WAKE | ACPI_PM1_STS_WAK)
/* PM1_EN: TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN, PCIEXP_WAKE_DIS; the others reserved. */
#define ACPI_PM1_EN_MASK 0x4721u

/* PM1 control block (4.8.4.2): 2 bytes. */
#define ACPI_PM1_CNT_LEN 2
#define ACPI_PM1_CNT_SCI_EN (1u << 0)  /* always 1: no SMI_CMD, the platform is in ACPI mode */
#define ACPI_PM1_CNT_BM_RLD (1u << 1)
#define ACPI_PM1_CNT_GBL_RLS (1u << 2) /* write-only, reads 0 */
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10  /* SLP_TYPx, bits 12:10 */
#define ACPI_PM1_CNT_SLP_TYP_MASK (7u << 10)
#define ACPI_PM1_CNT_SLP_EN (1u << 13) /* write-only, reads 0 */

/* The registers' state, what a snapshot keeps. */
struct acpi_pm_state {
	uint16_t pm1_sts; /* only WAK_STS is ever set (a sleep other than S5 wakes at once) */
	uint16_t pm1_en;
	uint16_t pm1_cnt; /* BM_RLD and SLP_TYP as last written; SCI_EN is not stored (always 1) */
};

struct acpi_pm {
	const struct vm_control *ctl;
	uint8_t s5_slp_typ;  /* the SLP_TYP value the DSDT's \_S5 gives */
	uint8_t reset_value; /* the FADT's RESET_VALUE */
	pthread_mutex_t lock; /* vCPUs access the registers concurrently */
	struct acpi_pm_state st;
};

/* Power-on state: nothing pending, nothing enabled, SCI_EN set. Call before the first access;
 * acpi_pm_destroy() after the last. */
void acpi_pm_init(struct acpi_pm *pm, const struct vm_control *ctl, uint8_t s5_slp_typ,
		  uint8_t reset_value);
void acpi_pm_destroy(struct acpi_pm *pm);

/* The PM1a event block, ACPI_PM1_EVT_LEN ports: PM1_STS at offset 0 (write 1 to clear; kiln
 * raises no fixed event, so only a wake can be pending) and PM1_EN at 2 (reads back what was
 * written, reserved bits 0). Accesses of 1, 2 or 4 bytes at any offset; bytes past the block are
 * left as the bus set them. No status bit is ever set with its enable bit, so the SCI is never
 * raised. */
void acpi_pm_evt_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void acpi_pm_evt_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* The PM1a control block, ACPI_PM1_CNT_LEN ports. Writing SLP_EN with SLP_TYP = s5_slp_typ
 * powers off (STOP_POWEROFF), the way ACPICA's legacy sleep enters S5. SLP_EN with another type
 * sleeps for no time: WAK_STS is set at once, so an OSPM waiting for the wake returns (a VM has
 * nothing to suspend to; kiln's DSDT offers S5 only). SCI_EN reads 1 whatever is written. */
void acpi_pm_cnt_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void acpi_pm_cnt_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* The FADT's RESET_REG, one port: writing reset_value resets (STOP_RESET); reads 0. */
void acpi_pm_reset_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void acpi_pm_reset_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* Snapshot hooks: copy the register state out / in. Loading refuses (-EINVAL, nothing changed) a
 * state with bits no register holds. The PM timer has no state: it follows the host clock. */
void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *st);
int __must_check acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_state *st);

/* The ACPI power-management timer (ACPI 6.5, 4.8.3.3): a read-only, free-running count at
 * ACPI_PM_TIMER_HZ, 32 bits wide (the FADT sets TMR_VAL_EXT). kiln derives it from the host's
 * CLOCK_MONOTONIC on each read (clock_gettime() through the vDSO: no system call), so it runs
 * while the VM is paused and a guest sees it advance at the host clock's rate. TMR_STS is not
 * emulated (no guest enables TMR_EN: Linux reads the count). */
#define ACPI_PM_TIMER_HZ 3579545u

/* The count at host monotonic time sec.nsec: floor((sec + nsec / 1e9) * ACPI_PM_TIMER_HZ)
 * modulo 2^32, without overflow for any time a clock can give. */
uint32_t acpi_pm_timer_count(uint64_t sec, uint32_t nsec);

/* Four ports, opaque unused: a read of 1, 2 or 4 bytes at `offset` gives those bytes of the
 * count; writes are dropped (the register is read-only). */
void acpi_pm_timer_read(void *opaque, uint64_t offset, void *data, unsigned int size);

#endif
