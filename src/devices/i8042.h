/* i8042.h: the PS/2 controller, reduced to what a microVM needs: the reset line and a sane status. */
#ifndef KILN_DEVICES_I8042_H
#define KILN_DEVICES_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "devices/device.h"

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_CMD_READ_CTR 0x20
#define I8042_CMD_WRITE_CTR 0x60
#define I8042_CMD_PULSE_RESET 0xfe

/* Plain data: saved and restored as is by snapshots. */
struct i8042_state {
	uint8_t ctr;         /* controller configuration byte */
	uint8_t pending_cmd; /* command waiting for its data byte, 0 if none */
	uint8_t out;         /* output buffer */
	uint8_t out_full;
};

struct i8042 {
	pthread_mutex_t lock; /* vCPUs may touch the ports concurrently */
	struct i8042_state st;
	const struct vm_control *ctl;
};

void i8042_init(struct i8042 *dev, const struct vm_control *ctl);
void i8042_destroy(struct i8042 *dev);

/* Bus handlers for two one-byte ranges, the data port 0x60 and the command/status port 0x64
 * (0x61-0x63 belong to other chips). Writing 0xfe to 0x64 requests a reset (STOP_RESET). */
void i8042_data_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void i8042_data_write(void *opaque, uint64_t offset, const void *data, unsigned int size);
void i8042_cmd_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void i8042_cmd_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

#endif
