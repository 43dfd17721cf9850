/* stop.h: why a VM stops, and the vm_control a device or vCPU uses to ask for it. */
#ifndef KILN_STOP_H
#define KILN_STOP_H

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

/* How a device or a vCPU asks the VM to stop. The first request wins; later ones are ignored.
 * Safe to call from any thread, including a vCPU thread inside an exit handler. */
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
