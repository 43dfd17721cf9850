/* exitview.h: the live VM-exit view (docs/exits.md): the snapshot GET /vm/exits serves, and what
 * `kiln top` makes of two snapshots: rates per vCPU and reason, top ports, MMIO devices and guest
 * RIPs (with symbols), and time spent in kiln per exit kind. */
#ifndef KILN_CONTROL_EXITVIEW_H
#define KILN_CONTROL_EXITVIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/symbols.h"

struct vmm;

/* How long one GET /vm/exits keeps the vCPUs watching (sampling RIPs, timing exits). */
#define EXITVIEW_WATCH_MS 3000
/* Rows of each top list. */
#define EXITVIEW_TOP 10

/* The counters of every vCPU now, as GET /vm/exits returns them (docs/exits.md has the schema):
 * cumulative, so that a reader takes two and divides by the time between. Any thread. */
json_t *exitview_snapshot(struct vmm *vmm);

/* One row of a top list: an exit reason, a port, an MMIO device or a guest RIP. */
struct exitview_row {
	char what[96];    /* "IO", "0x03f8 out serial", "virtio-blk write @0xd0000000", "0x..." */
	char symbol[96];  /* RIP rows with a symbol table: "func+0x1c", else "" */
	const char *reason; /* RIP rows: "IO", "MMIO" or "other": the first exit sampled there */
	uint64_t addr;    /* the port, MMIO base or RIP */
	double per_s;     /* exits per second */
	double avg_ns;    /* kiln's handling time per exit; < 0 when not measured */
	double busy;      /* share of one host CPU spent handling them in kiln (ns per ns) */
};

struct exitview_vcpu {
	unsigned int id;
	double per_s;   /* all exits */
	struct exitview_row reasons[EXITVIEW_TOP];
	unsigned int nr_reasons;
};

#define EXITVIEW_MAX_VCPUS 64

/* What two snapshots say about the time between them. */
struct exitview {
	double interval_s;
	bool rip_sampling;
	unsigned int nr_vcpus;
	struct exitview_vcpu vcpus[EXITVIEW_MAX_VCPUS];
	struct exitview_row ports[EXITVIEW_TOP], mmio[EXITVIEW_TOP], rips[EXITVIEW_TOP];
	unsigned int nr_ports, nr_mmio, nr_rips;
	struct exitview_row kinds[EXITVIEW_TOP]; /* time in kiln by exit reason, all vCPUs */
	unsigned int nr_kinds;
};

/* Computes `out` from snapshot `prev` taken before `cur`, naming RIPs with `syms` (may be NULL).
 * Returns 0, or -EINVAL with a one-line reason in err when a snapshot does not have the schema
 * or cur is not later than prev. Uses static scratch space: one thread at a time. */
int exitview_compute(const json_t *prev, const json_t *cur, const struct symtab *syms,
		     struct exitview *out, char *err, size_t err_size);

/* `v` as one JSON object (kiln top --json). */
json_t *exitview_json(const struct exitview *v);

/* `v` as text for a terminal `cols` wide, to `f`. */
void exitview_print(FILE *f, const struct exitview *v, unsigned int cols);

#endif
