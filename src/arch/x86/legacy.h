/* legacy.h: PC I/O ports that guests probe on every boot where kiln deliberately has no device. */
#ifndef KILN_ARCH_X86_LEGACY_H
#define KILN_ARCH_X86_LEGACY_H

#include <stdint.h>

/* The name of the PC device a port I/O access [port, port+size) would reach, when it is one kiln
 * leaves absent on purpose and a stock kernel probes anyway: the Super I/O configuration pairs
 * 0x2e-0x2f and 0x4e-0x4f, and the 8237 DMA page registers 0x81-0x8f (0x80 is the POST port,
 * which kiln claims). NULL for any other access, and for one straddling the end of a range.
 * For vcpu_env.absent_port: unclaimed like any other port, but logged at debug level only. */
const char *x86_absent_port(uint16_t port, unsigned int size);

#endif
