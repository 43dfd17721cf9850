/* acpi_pm.h: the HW-reduced ACPI sleep control/status and reset registers the FADT points at:
 * how a guest powers off (S5) and resets through ACPI. */
#ifndef KILN_DEVICES_ACPI_PM_H
#define KILN_DEVICES_ACPI_PM_H

#include <stdint.h>

#include "devices/device.h"

#define ACPI_PM_SLP_EN 0x20      /* sleep control register: sleep enable */
#define ACPI_PM_SLP_TYP_SHIFT 2  /* sleep control register: sleep type, bits 4:2 */

struct acpi_pm {
	const struct vm_control *ctl;
	uint8_t s5_slp_typ; /* the SLP_TYP value the DSDT's \_S5 gives */
	uint8_t reset_value; /* the FADT's RESET_VALUE */
};

/* Three consecutive one-byte ports: sleep control, sleep status, reset. Writing SLP_EN with
 * SLP_TYP = S5 to the first powers off (STOP_POWEROFF); the reset value to the third resets
 * (STOP_RESET); other sleep states are ignored (a VM has nothing to suspend to). */
void acpi_pm_io_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void acpi_pm_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* The ACPI power-management timer (ACPI 6.5, 4.8.3.3): a read-only, free-running count at
 * ACPI_PM_TIMER_HZ, 32 bits wide (the FADT sets TMR_VAL_EXT). kiln derives it from the host's
 * CLOCK_MONOTONIC on each read (clock_gettime() through the vDSO: no system call), so it runs
 * while the VM is paused and a guest sees it advance at the host clock's rate. */
#define ACPI_PM_TIMER_HZ 3579545u

/* The count at host monotonic time sec.nsec: floor((sec + nsec / 1e9) * ACPI_PM_TIMER_HZ)
 * modulo 2^32, without overflow for any time a clock can give. */
uint32_t acpi_pm_timer_count(uint64_t sec, uint32_t nsec);

/* Four ports, opaque unused: a read of 1, 2 or 4 bytes at `offset` gives those bytes of the
 * count; writes are dropped (the register is read-only). */
void acpi_pm_timer_read(void *opaque, uint64_t offset, void *data, unsigned int size);

#endif
