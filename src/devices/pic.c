/* pic.c: 8259A register model (initialisation words, mask, ELCR) with no interrupt delivery. */
#include "devices/pic.h"

#include <errno.h>
#include <string.h>

#define ICW1_INIT 0x10
#define ICW1_IC4 0x01
#define ICW1_SINGLE 0x02
#define OCW3_SELECT 0x08
#define OCW3_RR 0x02
#define OCW3_RIS 0x01

void pic_init(struct pic_state *pic)
{
	memset(pic, 0, sizeof(*pic));
	pic->chip[0].imr = 0xff;
	pic->chip[1].imr = 0xff;
}

int pic_load(struct pic_state *pic, const struct pic_state *st)
{
	for (int i = 0; i < 2; i++)
		if (st->chip[i].init_step > 3)
			return -EINVAL;
	*pic = *st;
	return 0;
}

void pic_io_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct pic_chip *c = opaque;

	(void)size;
	/* Nothing is ever pending or in service: IRR and ISR read as zero. */
	*(uint8_t *)data = offset == 1 ? c->imr : 0;
}

void pic_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct pic_chip *c = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)size;
	if (offset == 0) {
		if (v & ICW1_INIT) {
			c->init_step = 1;
			c->icw4_needed = v & ICW1_IC4;
			c->imr = 0;
			/* In single mode there is no ICW3. */
			if (v & ICW1_SINGLE)
				c->icw4_needed |= 0x80;
		} else if (v & OCW3_SELECT) {
			if (v & OCW3_RR)
				c->read_isr = v & OCW3_RIS;
		}
		/* OCW2 (EOI and rotation commands) has nothing to act on. */
		return;
	}
	switch (c->init_step) {
	case 0:
		c->imr = v; /* OCW1 */
		break;
	case 1:
		c->vector_base = v & 0xf8;
		c->init_step = (c->icw4_needed & 0x80) ? ((c->icw4_needed & ICW1_IC4) ? 3 : 0) : 2;
		break;
	case 2: /* ICW3: cascade wiring */
		c->init_step = (c->icw4_needed & ICW1_IC4) ? 3 : 0;
		break;
	default: /* ICW4 */
		c->init_step = 0;
		break;
	}
}

void pic_elcr_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct pic_state *pic = opaque;

	(void)size;
	*(uint8_t *)data = pic->chip[offset & 1].elcr;
}

void pic_elcr_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct pic_state *pic = opaque;
	/* IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
	static const uint8_t writable[2] = { 0xf8, 0xde };

	(void)size;
	pic->chip[offset & 1].elcr = *(const uint8_t *)data & writable[offset & 1];
}
