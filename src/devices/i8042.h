/* i8042.h: the PS/2 controller, reduced to what a microVM needs: the reset line, a sane status,
 * and a keyboard that can press Ctrl-Alt-Del. */
#ifndef KILN_DEVICES_I8042_H
#define KILN_DEVICES_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "devices/device.h"
#include "util/checked.h"

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_CMD_READ_CTR 0x20
#define I8042_CMD_WRITE_CTR 0x60
#define I8042_CMD_PULSE_RESET 0xfe
#define I8042_CTR_KBD_INT 0x01 /* configuration byte: keyboard interrupt enabled */
#define I8042_BUF_SIZE 16

/* Plain data: saved and restored as is by snapshots. */
struct i8042_state {
	uint8_t ctr;         /* controller configuration byte */
	uint8_t pending_cmd; /* command waiting for its data byte, 0 if none */
	uint8_t buf[I8042_BUF_SIZE]; /* output buffer: bytes for the guest to read from port 0x60 */
	uint8_t head, count;
};

struct i8042 {
	pthread_mutex_t lock; /* vCPUs and the owner thread touch it concurrently */
	struct i8042_state st;
	const struct vm_control *ctl;
	struct irq_line kbd_irq;
};

void i8042_init(struct i8042 *dev, const struct vm_control *ctl, struct irq_line kbd_irq);
void i8042_destroy(struct i8042 *dev);

/* Bus handlers for two one-byte ranges, the data port 0x60 and the command/status port 0x64
 * (0x61-0x63 belong to other chips). Writing 0xfe to 0x64 requests a reset (STOP_RESET). */
void i8042_data_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void i8042_data_write(void *opaque, uint64_t offset, const void *data, unsigned int size);
void i8042_cmd_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void i8042_cmd_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* Queues the scancode-set-2 make codes of Ctrl, Alt and Del (0x14, 0x11, 0xe0 0x71), as
 * Firecracker's SendCtrlAltDel does, and raises IRQ 1 if the guest enabled the keyboard
 * interrupt. Any thread. */
void i8042_ctrl_alt_del(struct i8042 *dev);

/* Snapshot hooks: copy the state out / in. Loading checks the buffer's indices (-EINVAL). */
void i8042_save(struct i8042 *dev, struct i8042_state *st);
int __must_check i8042_load(struct i8042 *dev, const struct i8042_state *st);

#endif
