/* acpi_pm.c: ACPI power-off and reset for HW-reduced platforms (ACPI 6.x, 4.8.3.7 and 4.8.3.6). */
#include "devices/acpi_pm.h"

void acpi_pm_io_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	(void)size;
	*(uint8_t *)data = 0; /* sleep status: never woken, nothing pending */
}

void acpi_pm_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)size;
	if (offset == 0 && (v & ACPI_PM_SLP_EN) &&
	    ((v >> ACPI_PM_SLP_TYP_SHIFT) & 0x7) == pm->s5_slp_typ)
		vm_request_stop(pm->ctl, STOP_POWEROFF, 0);
	else if (offset == 2 && v == pm->reset_value)
		vm_request_stop(pm->ctl, STOP_RESET, 0);
}
