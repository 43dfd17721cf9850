/* kind.h: one kind of virtio device as the builder's device table lists it (builder.c): how many a
 * configuration asks for, how one is made from it and torn down, its counters for the metrics
 * line and its snapshot hooks. Each device file defines its own `virtio_<kind>_kind`. */
#ifndef KILN_DEVICES_VIRTIO_KIND_H
#define KILN_DEVICES_VIRTIO_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "devices/device.h"
#include "devices/virtio/mmio.h"
#include "kvm/memory.h"
#include "util/io_thread.h"

/* What the builder gives a device it creates. */
struct virtio_dev_env {
	const struct vmm_config *cfg;
	unsigned int index;         /* which one of its kind: 0 for the first --disk */
	const char *name;           /* "virtio-blk0": virtio-<kind><index> */
	const struct gmem *mem;
	struct io_thread *io;       /* where a device watches fds of its own (NULL in unit tests) */
	uint64_t base;              /* its register page (VIRTIO_MMIO_SIZE bytes) */
	unsigned int gsi;
	struct irq_line line;       /* its interrupt, without KVM's irqfd */
	int out_fd;                 /* where a console writes */
	void (*wake)(void *opaque); /* a console's input buffer has room again */
	void *wake_opaque;
};

/* One named counter of a device, for the metrics line. */
struct virtio_counter {
	const char *name;
	uint64_t value;
};

#define VIRTIO_MAX_COUNTERS 16

struct virtio_kind {
	const char *kind;        /* "blk": devices are named virtio-<kind><index> */
	const char *metrics_key; /* its member of the metrics line: "block" */
	/* The metrics value: a list of objects, each with "device" (its name) first, or else one
	 * object for the only device of the kind (null without one). */
	bool metrics_list;
	size_t size;             /* bytes of its device struct, allocated zeroed by the builder */
	size_t state_size;       /* bytes of its saved state (save/load) */

	/* How many of this kind `cfg` asks for. */
	unsigned int (*count)(const struct vmm_config *cfg);
	/* Makes device env->index of `cfg` in `dev` (size bytes, zeroed). Returns 0, or -errno
	 * with a one-line reason in err; -EINVAL means bad input (the user's file or option). A
	 * failed init leaves nothing to destroy. */
	int (*init)(void *dev, const struct virtio_dev_env *env, char *err, size_t err_size);
	/* Undoes init: after the I/O thread has stopped, before guest memory goes away. */
	void (*destroy)(void *dev);
	/* Its transport, which the builder registers on the MMIO bus and whose queue kicks the I/O
	 * thread serves. */
	struct virtio_mmio *(*transport)(void *dev);
	/* NULL, or another fd the I/O thread serves for it (e.g. I/O completions): returns the fd
	 * (or -1: none) and sets *fn, whose opaque is `dev`. */
	int (*io_fd)(void *dev, io_handler_fn *fn);
	/* Fills `out` (VIRTIO_MAX_COUNTERS) in a fixed order; returns how many. Any thread. */
	unsigned int (*counters)(void *dev, struct virtio_counter *out);
	/* Snapshot hooks: copies the device's state (state_size bytes) out, finishing or giving
	 * back what it holds first (requests in flight, chains it took but has not served), or
	 * checks and loads it (0 or -EINVAL, the device unchanged on a refusal). Called with the
	 * vCPUs parked and the I/O thread paused (io_thread_pause()). */
	void (*save)(void *dev, void *state);
	int (*load)(void *dev, const void *state);
};

#endif
