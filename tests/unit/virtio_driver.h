/* virtio_driver.h: a tiny virtio driver for the unit tests: fake guest RAM (with a guard page
 * after it, so a read or write past the end faults), split-ring builders that write descriptors
 * and ring entries as a guest would, and MMIO register helpers for the transport. */
#ifndef KILN_TESTS_VIRTIO_DRIVER_H
#define KILN_TESTS_VIRTIO_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "kvm/memory.h"

/* 1 MiB of guest RAM at gpa 0, followed by an inaccessible host page. */
#define FAKE_RAM_SIZE (1ull << 20)
/* Default ring placement (room for 256 entries each) and a data area. */
#define RING_DESC 0x1000
#define RING_AVAIL 0x3000
#define RING_USED 0x4000
#define DATA_BASE 0x10000

struct fake_ram {
	uint8_t *mem;
	struct gmem *gm;
};

/* Maps RAM and the guard page; fills RAM with 0xa5. Asserts on failure. */
void fake_ram_create(struct fake_ram *r);
void fake_ram_destroy(struct fake_ram *r);
/* What a virtio_kind's init needs around it (test_virtio_kinds.c, test_virtio_snapshot.c): fake
 * RAM, a 1 MiB scratch disk image made from the mkstemp() template `image` (which gets its name)
 * and /dev/null open for writing in *out_fd. Asserts on failure. kind_env_destroy() removes the
 * image and closes and unmaps the rest. */
void kind_env_create(struct fake_ram *ram, char *image, int *out_fd);
void kind_env_destroy(struct fake_ram *ram, const char *image, int out_fd);
/* Host pointer to [gpa, gpa + len), asserted to lie in RAM. */
uint8_t *ram_at(struct fake_ram *r, uint64_t gpa, uint64_t len);

/* The driver side of one split queue. */
struct drv_queue {
	struct fake_ram *ram;
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* driver's shadow of avail->idx */
	uint16_t next_desc; /* bump allocator for post_chain() */
	uint16_t used_seen; /* used entries the test has consumed with drv_next_used() */
};

/* Sets up `q` for `size` entries at the default addresses and zeroes its three parts. */
void drv_queue_init(struct drv_queue *q, struct fake_ram *ram, uint16_t size);
/* The same with the three parts at the given guest addresses. */
void drv_queue_init_at(struct drv_queue *q, struct fake_ram *ram, uint16_t size, uint64_t desc,
		       uint64_t avail, uint64_t used);

/* Writes descriptor i of the table at guest address `table`. */
void drv_write_desc(struct fake_ram *ram, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next);
/* Publishes `head` in the available ring and bumps avail->idx. */
void drv_make_avail(struct drv_queue *q, uint16_t head);
/* Writes avail->idx directly (bad-driver tests). */
void drv_set_avail_idx(struct drv_queue *q, uint16_t idx);
void drv_set_avail_flags(struct drv_queue *q, uint16_t flags);
/* used_event (the last avail-ring field) and avail_event (the last used-ring field). */
void drv_set_used_event(struct drv_queue *q, uint16_t v);
uint16_t drv_avail_event(struct drv_queue *q);
uint16_t drv_used_idx(struct drv_queue *q);
/* Used element i (modulo size). */
void drv_used_elem(struct drv_queue *q, uint16_t i, uint32_t *id, uint32_t *len);

/* One buffer of a chain. */
struct seg {
	uint64_t addr;
	uint32_t len;
	bool writable;
};
/* Writes `n` descriptors for segs (taken from the bump allocator, chained with NEXT) and makes
 * the chain available; returns its head. */
uint16_t drv_post(struct drv_queue *q, const struct seg *segs, unsigned int n);

/* Fills a struct virtq for direct virtq_* tests from the driver's queue (not activated), its
 * state kept in `st`. */
void drv_virtq_state(const struct drv_queue *dq, struct virtq *q, struct virtq_state *st,
		     bool event_idx, bool indirect);

/* ---- MMIO transport ---------------------------------------------------------------------- */

uint32_t mmio_rd(struct virtio_mmio *t, uint64_t off);
void mmio_wr(struct virtio_mmio *t, uint64_t off, uint32_t v);
/* The driver's initialisation (3.1.1) up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, write
 * `features`, FEATURES_OK. Returns the status read back afterwards. */
uint32_t drv_negotiate(struct virtio_mmio *t, uint64_t features);
/* Programs queue `qi` from `q` and sets QueueReady. */
void drv_setup_queue(struct virtio_mmio *t, unsigned int qi, const struct drv_queue *q);
/* drv_negotiate(), every queue in qs[0..n), DRIVER_OK; asserts the device accepted it. */
void drv_start(struct virtio_mmio *t, uint64_t features, struct drv_queue *qs, unsigned int n);
/* Writes QueueNotify, then runs the kick handler as kiln's I/O thread would (no ioeventfd is
 * bound without a VM, so the write signals the kick eventfd). */
void drv_notify(struct virtio_mmio *t, unsigned int qi);

/* Records interrupt edges sent through an irq_line. */
struct irq_rec {
	struct irq_sink sink;
	unsigned int edges;
	unsigned int gsi;
	int level;
};
/* An irq_line into `rec` (reset to zero). */
struct irq_line irq_rec_line(struct irq_rec *rec, unsigned int gsi);

/* Log capture: kiln's log lines go to a memfd; log_text() returns what was written since
 * log_capture() (NUL-terminated, static buffer). */
void log_capture(void);
const char *log_text(void);
void log_release(void);

#define VIRTIO_F(b) VIRTIO_BIT(b)
#define STD_FEATURES (VIRTIO_F(VIRTIO_F_VERSION_1))

#endif
