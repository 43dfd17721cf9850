/* acpi_pm.c: ACPI power-off and reset for HW-reduced platforms (ACPI 6.x, 4.8.3.7 and 4.8.3.6),
 * and the PM timer (4.8.3.3). */
#include "devices/acpi_pm.h"

#include <time.h>

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

uint32_t acpi_pm_timer_count(uint64_t sec, uint32_t nsec)
{
	/* sec * HZ is a whole number of ticks, so flooring the fraction alone keeps the count
	 * monotonic; nsec < 1e9 keeps the product below 2^62. Only the low 32 bits matter. */
	return (uint32_t)(sec * ACPI_PM_TIMER_HZ +
			  (uint64_t)nsec * ACPI_PM_TIMER_HZ / 1000000000u);
}

void acpi_pm_timer_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct timespec ts;
	uint32_t count;

	(void)opaque;
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return; /* cannot happen with a valid clock; the bus zeroed the buffer */
	count = acpi_pm_timer_count((uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
	/* Little-endian bytes from `offset`; bytes past the register stay as the bus set them. */
	for (unsigned int i = 0; i < size && offset + i < 4; i++)
		((uint8_t *)data)[i] = (uint8_t)(count >> (8 * (offset + i)));
}
