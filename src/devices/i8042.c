/* i8042.c: PS/2 controller: the reset pulse Linux and bare-metal guests use to reboot. */
#include "devices/i8042.h"

#include <stdbool.h>
#include <string.h>

#define I8042_STATUS_OBF 0x01
#define I8042_STATUS_SYS 0x04 /* system flag: POST passed */
#define I8042_STATUS_CMD 0x08 /* last write was a command */

void i8042_init(struct i8042 *dev, const struct vm_control *ctl)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->ctl = ctl;
	dev->st.ctr = 0x44; /* translation on, system flag: the usual post-BIOS value */
}

void i8042_destroy(struct i8042 *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

void i8042_data_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct i8042 *dev = opaque;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&dev->lock);
	*(uint8_t *)data = dev->st.out;
	dev->st.out_full = 0;
	pthread_mutex_unlock(&dev->lock);
}

void i8042_cmd_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct i8042 *dev = opaque;
	uint8_t v = I8042_STATUS_SYS;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&dev->lock);
	if (dev->st.out_full)
		v |= I8042_STATUS_OBF;
	if (dev->st.pending_cmd)
		v |= I8042_STATUS_CMD;
	pthread_mutex_unlock(&dev->lock);
	*(uint8_t *)data = v;
}

void i8042_data_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct i8042 *dev = opaque;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&dev->lock);
	if (dev->st.pending_cmd == I8042_CMD_WRITE_CTR)
		dev->st.ctr = *(const uint8_t *)data;
	dev->st.pending_cmd = 0;
	pthread_mutex_unlock(&dev->lock);
}

void i8042_cmd_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct i8042 *dev = opaque;

	(void)offset;
	(void)size;
	bool reset = false;

	pthread_mutex_lock(&dev->lock);
	switch (*(const uint8_t *)data) {
	case I8042_CMD_READ_CTR:
		dev->st.out = dev->st.ctr;
		dev->st.out_full = 1;
		break;
	case I8042_CMD_WRITE_CTR:
		dev->st.pending_cmd = I8042_CMD_WRITE_CTR;
		break;
	case I8042_CMD_PULSE_RESET:
		reset = true;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (reset)
		vm_request_stop(dev->ctl, STOP_RESET, 0);
}
