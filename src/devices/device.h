/* device.h: what every emulated device may use: interrupt lines and machine-level requests
 * (stop.h). */
#ifndef KILN_DEVICES_DEVICE_H
#define KILN_DEVICES_DEVICE_H

#include <stdint.h>

#include "stop.h"

/* Something that takes interrupt-line levels by GSI: kiln's IOAPIC (split irqchip) or KVM's
 * in-kernel irqchip (KVM_IRQ_LINE). set_level() is called with the device's lock held and must
 * not call back into the device. */
struct irq_sink {
	void (*set_level)(void *opaque, unsigned int gsi, int level);
	void *opaque;
};

/* One device's interrupt output. A line with no sink is ignored (unit tests). */
struct irq_line {
	const struct irq_sink *sink;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line->sink)
		line->sink->set_level(line->sink->opaque, line->gsi, level);
}

#endif
