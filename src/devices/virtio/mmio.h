/* mmio.h: the virtio-mmio transport, version 2 (virtio 1.2, 4.2.2), shared by every virtio device. */
#ifndef KILN_DEVICES_VIRTIO_MMIO_H
#define KILN_DEVICES_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/virtio/queue.h"
#include "kvm/memory.h"
#include "util/checked.h"
#include "util/log.h"

#define VIRTIO_MMIO_SIZE 0x1000
/* Queues one device may have: vsock needs 3 (rx, tx, event); virtio-net 2 per queue pair plus a
 * control queue, so 8 leaves room for 3 pairs. */
#define VIRTIO_MMIO_MAX_QUEUES 8

/* Register offsets (4.2.2, table "MMIO Device Register Layout"). */
#define VIRTIO_MMIO_MAGIC 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_QUEUE_RESET 0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR_KILN 0x4e4c494b /* "KILN" */

/* What a device tells the transport. Every callback runs with the transport's lock held. */
struct virtio_device_ops {
	const char *kind;      /* "blk", "console", "rng": device names are virtio-<kind><n> */
	uint32_t device_id;
	unsigned int nr_queues; /* 1..VIRTIO_MMIO_MAX_QUEUES */
	uint32_t config_size;   /* bytes of device configuration space */
	/* Reads `size` bytes at `off` of the configuration space; off + size <= config_size. */
	void (*config_read)(void *dev, uint32_t off, void *data, unsigned int size);
	/* The driver notified queue `q` (I/O thread), once the device is DRIVER_OK. */
	void (*queue_notify)(void *dev, unsigned int q);
	/* The driver set DRIVER_OK. May be NULL. */
	void (*activate)(void *dev);
	/* The driver reset the device: forget requests in flight. May be NULL. */
	void (*reset)(void *dev);
};

/* The transport's guest-visible state: plain data, what a snapshot saves with each device. */
struct virtio_mmio_state {
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct virtq_state queues[VIRTIO_MMIO_MAX_QUEUES];
};

struct virtio_mmio;

/* One queue's notification source for the I/O thread. */
struct virtio_kick {
	struct virtio_mmio *t;
	unsigned int queue;
};

struct virtio_mmio {
	char name[24]; /* "virtio-blk0" */
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *dev;
	const struct gmem *gm;
	uint64_t base;
	unsigned int gsi;
	uint64_t device_features; /* what the device offers, transport features included */

	/* The guest-visible state, queues' included: the one copy, which snapshots save as is. */
	struct virtio_mmio_state st;
	/* queues[q].st points at st.queues[q]: the transport must not move once initialised. */
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];

	/* Interrupt: an eventfd bound to the GSI with KVM_IRQFD; without it (no VM: unit tests, or
	 * KVM refused) the edge is sent through `line`. */
	int irq_fd;
	bool irqfd_bound;
	struct irq_line line;
	/* Kicks: one eventfd per queue, bound to QueueNotify with KVM_IOEVENTFD when KVM allows;
	 * otherwise the MMIO write handler signals it. */
	int kick_fd[VIRTIO_MMIO_MAX_QUEUES];
	bool ioeventfd_bound;
	struct virtio_kick kicks[VIRTIO_MMIO_MAX_QUEUES];
	struct ratelimit rl;
	uint64_t faults; /* guest errors seen (queue faults, bad requests) */
};

/* Sets up the transport for device `dev` at guest-physical `base` with interrupt `gsi`.
 * `device_features` are the device's own bits; the transport adds VERSION_1, EVENT_IDX and
 * INDIRECT_DESC. Returns 0 or -errno (eventfds). */
int __must_check virtio_mmio_init(struct virtio_mmio *t, const char *name,
				  const struct virtio_device_ops *ops, void *dev,
				  uint64_t device_features, const struct gmem *gm, uint64_t base,
				  unsigned int gsi, struct irq_line line);
/* Closes the eventfds (after the I/O thread stopped and KVM let go of them). Safe twice. */
void virtio_mmio_destroy(struct virtio_mmio *t);

struct vm;
/* Binds the interrupt (KVM_IRQFD) and the queue notifications (KVM_IOEVENTFD). Failures are
 * not fatal: the transport falls back to userspace paths. */
void virtio_mmio_connect(struct virtio_mmio *t, struct vm *vm);

/* Bus handlers for [base, base + VIRTIO_MMIO_SIZE). */
void virtio_mmio_read(void *opaque, uint64_t off, void *data, unsigned int size);
void virtio_mmio_write(void *opaque, uint64_t off, const void *data, unsigned int size);

/* I/O thread handler for a kick eventfd: `opaque` is a struct virtio_kick. */
void virtio_mmio_kick(void *opaque, uint32_t events);

/* For devices, lock held: the queue's used ring changed; interrupts the driver if it wants. */
void virtio_mmio_used(struct virtio_mmio *t, unsigned int q);
/* For devices, lock held: the driver broke queue `q` (fault): log it (rate-limited), set
 * DEVICE_NEEDS_RESET and send a configuration-change interrupt. Nothing more is processed. */
void virtio_mmio_queue_fault(struct virtio_mmio *t, unsigned int q, const struct virtq_fault *f);
/* For devices, lock held: log a guest error in one request (rate-limited), counted in faults. */
void virtio_mmio_guest_error(struct virtio_mmio *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For devices, lock held: the configuration space changed: bump ConfigGeneration and send a
 * configuration-change interrupt once the driver runs (4.2.2, 2.5.1). */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* Whether the driver has set DRIVER_OK and the device does not need a reset. */
bool virtio_mmio_running(const struct virtio_mmio *t);

/* Snapshot shape: copies the transport's state out, or checks and restores it (queues are
 * re-validated against guest memory). load returns 0 or -EINVAL. */
void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *out);
int __must_check virtio_mmio_load(struct virtio_mmio *t, const struct virtio_mmio_state *in);
/* After a restore loaded every device, connected (virtio_mmio_connect()) and before the vCPUs
 * run: looks at each ready queue once (a kick the saved process had not served yet is not in
 * the snapshot) and sends the interrupt again when InterruptStatus has bits the driver has not
 * acknowledged (its edge may have been in flight; a spurious one is harmless, a lost one hangs
 * the driver). */
void virtio_mmio_restored(struct virtio_mmio *t);

#endif
