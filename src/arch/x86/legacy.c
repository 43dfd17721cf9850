/* legacy.c: PC I/O ports that guests probe on every boot where kiln deliberately has no device. */
#include "arch/x86/legacy.h"

#include <stddef.h>

#include "arch/x86/layout.h"
#include "util/checked.h"

/* Keep this list short: every port here hides a guest's accesses from the user's console. */
static const struct {
	uint16_t base, len;
	const char *name;
} absent_ports[] = {
	/* Super I/O chips answer at one of two index/data pairs; Linux probes both (watchdog,
	 * hardware monitor and parallel port drivers). */
	{ X86_SUPERIO_PORT, 2, "Super I/O configuration" },
	{ X86_SUPERIO_ALT_PORT, 2, "Super I/O configuration" },
	/* The DMA page registers of ISA DMA (the floppy's, among others). */
	{ X86_DMA_PAGE_PORT, X86_DMA_PAGE_PORTS, "DMA page register" },
};

const char *x86_absent_port(uint16_t port, unsigned int size)
{
	for (size_t i = 0; i < ARRAY_SIZE(absent_ports); i++) {
		unsigned int base = absent_ports[i].base, end = base + absent_ports[i].len;

		if (port >= base && (unsigned int)port + size <= end)
			return absent_ports[i].name;
	}
	return NULL;
}
