/* Finding the FADT as an OS does: the RSDP in 0xe0000-0xfffff, then the XSDT's entries. */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include "kstring.h"
#include "types.h"

static inline u32 acpi_rd32(const u8 *p)
{
	return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}

static inline u64 acpi_rd64(const u8 *p)
{
	return acpi_rd32(p) | (u64)acpi_rd32(p + 4) << 32;
}

/* The table with signature `sig` the XSDT lists, or 0 (no RSDP, or no such table). */
static inline const u8 *acpi_find_table(const char *sig)
{
	const u8 *rsdp = 0, *xsdt;

	for (uptr p = 0xe0000; p < 0x100000 && !rsdp; p += 16)
		if (k_strncmp((const char *)p, "RSD PTR ", 8) == 0)
			rsdp = (const u8 *)p;
	if (!rsdp)
		return 0;
	xsdt = (const u8 *)(uptr)acpi_rd64(rsdp + 24);
	for (u32 off = 36; off + 8 <= acpi_rd32(xsdt + 4); off += 8) {
		const u8 *t = (const u8 *)(uptr)acpi_rd64(xsdt + off);

		if (k_strncmp((const char *)t, sig, 4) == 0)
			return t;
	}
	return 0;
}

#endif
