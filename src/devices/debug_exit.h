/* debug_exit.h: isa-debug-exit compatible port: a guest write of v stops kiln with status (v << 1) | 1. */
#ifndef KILN_DEVICES_DEBUG_EXIT_H
#define KILN_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

#include "devices/device.h"

#define DEBUG_EXIT_WIDTH 4

struct debug_exit {
	const struct vm_control *ctl;
};

/* Bus write handler; `opaque` is a struct debug_exit. Accepts 1, 2 and 4-byte writes; the value
 * is the written data zero-extended, as QEMU's device reads it. Reads return all ones. */
void debug_exit_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* The status kiln exits with for a written value (QEMU: (val << 1) | 1, truncated by exit()). */
int debug_exit_status(uint32_t value);

#endif
