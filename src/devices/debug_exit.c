/* debug_exit.c: isa-debug-exit, the way test guests report a result to the monitor. */
#include "devices/debug_exit.h"

#include <string.h>

int debug_exit_status(uint32_t value)
{
	return (int)(((value << 1) | 1) & 0xff);
}

void debug_exit_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct debug_exit *dev = opaque;
	uint32_t v = 0;

	(void)offset;
	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	vm_request_stop(dev->ctl, STOP_DEBUG_EXIT, debug_exit_status(v));
}
