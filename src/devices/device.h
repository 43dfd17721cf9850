/* device.h: what every emulated device may use: interrupt lines and machine-level requests. */
#ifndef KILN_DEVICES_DEVICE_H
#define KILN_DEVICES_DEVICE_H

#include <stdint.h>

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

/* Why the machine stops; see the exit-status table in README.md. */
enum stop_reason {
	STOP_NONE = 0,
	STOP_POWEROFF,   /* guest asked to power off: status 0 */
	STOP_RESET,      /* guest asked to reset/reboot: status 0 */
	STOP_DEBUG_EXIT, /* isa-debug-exit write: status (v << 1) | 1 */
	STOP_CRASH,      /* triple fault, internal error, failed entry, unhandled exit: status 4 */
	STOP_HOST_ERROR, /* a KVM call failed or the host ran out of something: status 6 */
	STOP_SIGNAL,     /* SIGINT/SIGTERM/SIGHUP or the console escape: status 128 + signal */
};

/* How a device asks the VM to stop. The first request wins; later ones are ignored. Safe to call
 * from any thread, including a vCPU thread inside an exit handler. */
struct vm_control {
	void (*request_stop)(void *opaque, enum stop_reason reason, int code);
	void *opaque;
};

static inline void vm_request_stop(const struct vm_control *ctl, enum stop_reason reason, int code)
{
	if (ctl && ctl->request_stop)
		ctl->request_stop(ctl->opaque, reason, code);
}

#endif
