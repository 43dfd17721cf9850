/* rsp.h: the GDB remote serial protocol, server side: packet framing, checksums, escaping and the
 * dispatch of each packet to a target (struct gdb_target). Pure: no KVM, no sockets, no threads,
 * so the unit tests and the fuzzer drive it with a fake target. The caller owns the transport: it
 * feeds received bytes to gdb_rsp_feed() and sends what the `send` callback gets. */
#ifndef KILN_GDB_RSP_H
#define KILN_GDB_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest packet payload kiln accepts or sends (advertised as PacketSize in qSupported). */
#define GDB_PACKET_MAX 16384

/* Threads are numbered 1..nr_threads (gdb thread N = vCPU N-1). */
#define GDB_MAX_THREADS 256

/* What a thread does when the target resumes. */
enum gdb_action { GDB_STAY = 0, GDB_CONT, GDB_STEP };

/* Z/z packet types. */
enum gdb_bp_type { GDB_BP_SW = 0, GDB_BP_HW, GDB_WATCH_WRITE, GDB_WATCH_READ, GDB_WATCH_ACCESS };

/* Why the target stopped, for the stop reply. */
struct gdb_stop {
	unsigned int thread;   /* 1-based */
	unsigned int signal;   /* 5 SIGTRAP (breakpoint, step), 2 SIGINT (interrupt) */
	bool watch;            /* a watchpoint hit: watch_addr is the address gdb asked for */
	enum gdb_bp_type watch_type;
	uint64_t watch_addr;
};

/* The target. Every callback returns 0 (or a length) or -errno; the dispatcher turns a negative
 * value into an "Exx" reply, except -ENOTSUP which becomes the empty reply ("not supported").
 * Called only while the target is stopped, except resume(). */
struct gdb_target {
	unsigned int (*nr_threads)(void *opaque);
	/* The whole register file in gdb's `g` layout (target.xml order); returns its length. */
	int (*read_regs)(void *opaque, unsigned int thread, uint8_t *buf, size_t size);
	int (*write_regs)(void *opaque, unsigned int thread, const uint8_t *buf, size_t len);
	/* Where register `regno` lies in the `g` layout: 0, or -ENOENT when there is no such one. */
	int (*reg_location)(void *opaque, unsigned int regno, size_t *off, size_t *len);
	/* Guest-virtual memory as `thread` sees it. read_mem returns the bytes read (> 0), fewer
	 * than asked when the rest is not mapped, or -errno when the first is not. */
	int (*read_mem)(void *opaque, unsigned int thread, uint64_t addr, uint8_t *buf, size_t len);
	int (*write_mem)(void *opaque, unsigned int thread, uint64_t addr, const uint8_t *buf,
			 size_t len);
	int (*insert_bp)(void *opaque, enum gdb_bp_type type, uint64_t addr, uint64_t kind);
	int (*remove_bp)(void *opaque, enum gdb_bp_type type, uint64_t addr, uint64_t kind);
	/* Resumes all threads at once, actions[1..nr_threads] saying how. */
	void (*resume)(void *opaque, const enum gdb_action *actions);
	void (*detach)(void *opaque); /* breakpoints gone, everything running */
	void (*kill)(void *opaque);
	const char *target_xml;
};

/* What one gdb_rsp_feed() asks of the caller. */
enum gdb_event {
	GDB_EV_NONE = 0,
	GDB_EV_INTERRUPT, /* 0x03 while running: stop the target, then gdb_rsp_stopped() */
	GDB_EV_RESUMED,   /* the target was resumed: wait for it to stop, then gdb_rsp_stopped() */
	GDB_EV_DETACHED,  /* D: the session is over (the connection may be closed) */
	GDB_EV_KILLED,    /* k: the session is over */
};

struct gdb_rsp;

/* A protocol instance over `t`; `send` writes bytes to the debugger. Returns NULL without memory. */
struct gdb_rsp *gdb_rsp_create(const struct gdb_target *t, void *opaque,
			       void (*send)(void *sopaque, const void *buf, size_t len),
			       void *sopaque);
void gdb_rsp_destroy(struct gdb_rsp *r);

/* Feeds received bytes. Complete packets are acknowledged and answered through `send`. Returns
 * the first event that needs the caller (the remaining bytes are still consumed: packets that
 * arrive while the target runs are answered with an error, as gdb sends none then). */
enum gdb_event gdb_rsp_feed(struct gdb_rsp *r, const uint8_t *buf, size_t len);

/* The target has stopped (after an event or at attach): records the reason for `?` and, when
 * gdb is waiting on a resume or an interrupt, sends the stop reply. */
void gdb_rsp_stopped(struct gdb_rsp *r, const struct gdb_stop *stop);

/* The target has ended with `status` while gdb waited on it (or not): sends "W<status>". */
void gdb_rsp_exited(struct gdb_rsp *r, int status);

/* Whether the target is running as far as the protocol knows. */
bool gdb_rsp_running(const struct gdb_rsp *r);

/* Encodes `payload` as a packet ($...#cs, with '#', '$', '}' and '*' escaped) into out (at least
 * 2 * len + 4 bytes). Returns its length. */
size_t gdb_rsp_encode(const uint8_t *payload, size_t len, uint8_t *out);

#endif
