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
	/* QEMU's firmware configuration interface, probed by guests written for QEMU (SeaBIOS-style
	 * code selects key 0 and reads the signature "QEMU"): all ones answer "no fw_cfg". */
	{ X86_FW_CFG_PORT, X86_FW_CFG_PORTS, "fw_cfg" },
	{ X86_FW_CFG_DMA_PORT, X86_FW_CFG_DMA_PORTS, "fw_cfg DMA" },
	/* The 8254 PIT. With the split irqchip there is none (Linux uses the local APIC timer and
	 * the TSC); reads give all ones, as on a board without one. The in-kernel irqchip has KVM's
	 * PIT, which answers these ports in the kernel before they get here. */
	{ X86_PIT_PORT, X86_PIT_PORTS, "PIT" },
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
