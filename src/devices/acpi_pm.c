/* acpi_pm.c: ACPI fixed hardware (ACPI 6.5, 4.8): PM1a event and control blocks, the reset
 * register (4.8.3.6) and the PM timer (4.8.3.3). */
#include "devices/acpi_pm.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

void acpi_pm_init(struct acpi_pm *pm, const struct vm_control *ctl, uint8_t s5_slp_typ,
		  uint8_t reset_value)
{
	memset(pm, 0, sizeof(*pm));
	pm->ctl = ctl;
	pm->s5_slp_typ = s5_slp_typ;
	pm->reset_value = reset_value;
	pthread_mutex_init(&pm->lock, NULL);
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (pm->ctl)
		pthread_mutex_destroy(&pm->lock);
}

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *st)
{
	pthread_mutex_lock(&pm->lock);
	*st = pm->st;
	pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_state *st)
{
	if ((st->pm1_sts & ~ACPI_PM1_STS_MASK) || (st->pm1_en & ~ACPI_PM1_EN_MASK) ||
	    (st->pm1_cnt & ~(ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP_MASK)))
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	pm->st = *st;
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

/* The little-endian bytes [offset, offset+size) of a `len`-byte register block holding `v`;
 * bytes past the block stay as the bus set them. */
static void put_bytes(void *data, uint64_t offset, unsigned int size, uint32_t v, unsigned int len)
{
	for (unsigned int i = 0; i < size && offset + i < len; i++)
		((uint8_t *)data)[i] = (uint8_t)(v >> (8 * (offset + i)));
}

/* The bytes a write brings into a `len`-byte block: the value, and a mask of the bits written. */
static uint32_t get_bytes(const void *data, uint64_t offset, unsigned int size, unsigned int len,
			  uint32_t *mask)
{
	uint32_t v = 0;

	*mask = 0;
	for (unsigned int i = 0; i < size && offset + i < len; i++) {
		v |= (uint32_t)((const uint8_t *)data)[i] << (8 * (offset + i));
		*mask |= 0xffu << (8 * (offset + i));
	}
	return v;
}

void acpi_pm_evt_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint32_t v;

	pthread_mutex_lock(&pm->lock);
	v = pm->st.pm1_sts | (uint32_t)pm->st.pm1_en << 16;
	pthread_mutex_unlock(&pm->lock);
	put_bytes(data, offset, size, v, ACPI_PM1_EVT_LEN);
}

void acpi_pm_evt_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint32_t mask, v = get_bytes(data, offset, size, ACPI_PM1_EVT_LEN, &mask);

	pthread_mutex_lock(&pm->lock);
	/* PM1_STS: a 1 clears the bit, a 0 leaves it (4.8.4.1.1). */
	pm->st.pm1_sts &= (uint16_t)~(v & mask & ACPI_PM1_STS_MASK);
	/* PM1_EN: the bytes written replace the old ones. */
	pm->st.pm1_en = (uint16_t)(((pm->st.pm1_en & ~(mask >> 16)) | (v >> 16)) & ACPI_PM1_EN_MASK);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_cnt_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint32_t v;

	pthread_mutex_lock(&pm->lock);
	v = pm->st.pm1_cnt | ACPI_PM1_CNT_SCI_EN;
	pthread_mutex_unlock(&pm->lock);
	put_bytes(data, offset, size, v, ACPI_PM1_CNT_LEN);
}

void acpi_pm_cnt_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;
	uint32_t mask, v = get_bytes(data, offset, size, ACPI_PM1_CNT_LEN, &mask);
	const uint32_t kept = ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP_MASK;
	bool poweroff = false;
	unsigned int typ;

	pthread_mutex_lock(&pm->lock);
	pm->st.pm1_cnt = (uint16_t)((pm->st.pm1_cnt & ~(mask & kept)) | (v & mask & kept));
	if (v & mask & ACPI_PM1_CNT_SLP_EN) {
		/* SLP_EN acts on SLP_TYP as it is now, written with it or before it (a byte-wide
		 * write of the high byte carries both). */
		typ = (pm->st.pm1_cnt & ACPI_PM1_CNT_SLP_TYP_MASK) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;
		if (typ == pm->s5_slp_typ)
			poweroff = true;
		else
			pm->st.pm1_sts |= ACPI_PM1_STS_WAK;
	}
	pthread_mutex_unlock(&pm->lock);
	if (poweroff)
		vm_request_stop(pm->ctl, STOP_POWEROFF, 0);
}

void acpi_pm_reset_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	(void)opaque;
	(void)offset;
	(void)size;
	*(uint8_t *)data = 0;
}

void acpi_pm_reset_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct acpi_pm *pm = opaque;

	(void)size;
	if (offset == 0 && *(const uint8_t *)data == pm->reset_value)
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

	(void)opaque;
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return; /* cannot happen with a valid clock; the bus zeroed the buffer */
	put_bytes(data, offset, size, acpi_pm_timer_count((uint64_t)ts.tv_sec,
							  (uint32_t)ts.tv_nsec), 4);
}
