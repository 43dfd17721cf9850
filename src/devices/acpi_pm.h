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

#endif
