/* i8042.c: PS/2 controller: the reset pulse guests reboot with, and Ctrl-Alt-Del key presses. */
#include "devices/i8042.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define I8042_STATUS_OBF 0x01
#define I8042_STATUS_SYS 0x04 /* system flag: POST passed */
#define I8042_STATUS_CMD 0x08 /* last write was a command */
#define I8042_STATUS_UNLOCKED 0x10 /* keyboard not inhibited by the keylock switch */

void i8042_init(struct i8042 *dev, const struct vm_control *ctl, struct irq_line kbd_irq)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->ctl = ctl;
	dev->kbd_irq = kbd_irq;
	dev->st.ctr = 0x44; /* translation on, system flag: the usual post-BIOS value */
}

void i8042_destroy(struct i8042 *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

void i8042_save(struct i8042 *dev, struct i8042_state *st)
{
	pthread_mutex_lock(&dev->lock);
	*st = dev->st;
	pthread_mutex_unlock(&dev->lock);
}

int i8042_load(struct i8042 *dev, const struct i8042_state *st)
{
	if (st->head >= I8042_BUF_SIZE || st->count > I8042_BUF_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	dev->st = *st;
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

/* Lock held. Controller replies (CTR reads) share the output buffer with key bytes. */
static void push_byte(struct i8042 *dev, uint8_t b)
{
	if (dev->st.count == I8042_BUF_SIZE)
		return; /* the real controller drops keys when its buffer is full */
	dev->st.buf[(dev->st.head + dev->st.count) % I8042_BUF_SIZE] = b;
	dev->st.count++;
}

/* Lock held: an edge on IRQ 1 for each byte the guest should come and read. */
static void kbd_notify(struct i8042 *dev)
{
	if (dev->st.count && (dev->st.ctr & I8042_CTR_KBD_INT)) {
		irq_line_set(&dev->kbd_irq, 0);
		irq_line_set(&dev->kbd_irq, 1);
	}
}

void i8042_data_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct i8042 *dev = opaque;
	uint8_t v = 0;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&dev->lock);
	if (dev->st.count) {
		v = dev->st.buf[dev->st.head];
		dev->st.head = (dev->st.head + 1) % I8042_BUF_SIZE;
		dev->st.count--;
	}
	kbd_notify(dev);
	pthread_mutex_unlock(&dev->lock);
	*(uint8_t *)data = v;
}

void i8042_cmd_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct i8042 *dev = opaque;
	uint8_t v = I8042_STATUS_SYS | I8042_STATUS_UNLOCKED;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&dev->lock);
	if (dev->st.count)
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
	if (dev->st.pending_cmd == I8042_CMD_WRITE_CTR) {
		dev->st.ctr = *(const uint8_t *)data;
		kbd_notify(dev);
	}
	dev->st.pending_cmd = 0;
	pthread_mutex_unlock(&dev->lock);
}

void i8042_cmd_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct i8042 *dev = opaque;
	bool reset = false;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&dev->lock);
	switch (*(const uint8_t *)data) {
	case I8042_CMD_READ_CTR:
		push_byte(dev, dev->st.ctr);
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

void i8042_ctrl_alt_del(struct i8042 *dev)
{
	static const uint8_t keys[] = { 0x14, 0x11, 0xe0, 0x71 };

	pthread_mutex_lock(&dev->lock);
	for (unsigned int i = 0; i < sizeof(keys); i++)
		push_byte(dev, keys[i]);
	kbd_notify(dev);
	pthread_mutex_unlock(&dev->lock);
}
