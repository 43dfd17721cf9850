/* pic.h: the pair of 8259A PICs, modelled only far enough for guests that initialise and mask them. */
#ifndef KILN_DEVICES_PIC_H
#define KILN_DEVICES_PIC_H

#include <stdint.h>

#define PIC_MASTER_PORT 0x20
#define PIC_SLAVE_PORT 0xa0
#define PIC_ELCR_PORT 0x4d0

/* Plain data for snapshots. With the split irqchip kiln routes every interrupt through the
 * IOAPIC; the PICs never raise one, but they keep what the guest programs so reads are coherent. */
struct pic_chip {
	uint8_t imr;       /* interrupt mask */
	uint8_t vector_base;
	uint8_t init_step; /* 0: ready; 1..3: expecting ICW2..ICW4 */
	uint8_t icw4_needed;
	uint8_t read_isr;  /* OCW3 selected ISR for reads of the command port */
	uint8_t elcr;      /* edge/level control */
};

struct pic_state {
	struct pic_chip chip[2];
};

void pic_init(struct pic_state *pic);
/* Snapshot hook: checks a saved state (each chip's init_step 0..3) and copies it in; -EINVAL. The
 * PICs are only read and written by vCPUs, which are paused for snapshots: no lock. */
int pic_load(struct pic_state *pic, const struct pic_state *st);

/* Bus handlers: register twice, at 0x20 (len 2) and 0xa0 (len 2) with `opaque` pointing at
 * chip[0] and chip[1], and once at 0x4d0 (len 2) with the struct pic_state for ELCR. */
void pic_io_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void pic_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size);
void pic_elcr_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void pic_elcr_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

#endif
