/* stats.h: per-vCPU VM-exit statistics (--stats): counts and userspace handling time by reason,
 * port-I/O by port and MMIO by device. */
#ifndef KILN_KVM_STATS_H
#define KILN_KVM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define STATS_MAX_REASONS 64
#define STATS_MAX_KEYS 48
/* Exits whose guest RIP a watched vCPU remembers (kiln top, GET /vm/exits): a power of two. */
#define STATS_RIP_RING 256

struct exit_stat {
	uint64_t count;
	uint64_t ns;
};

enum stats_access { STATS_IO_IN, STATS_IO_OUT, STATS_MMIO_READ, STATS_MMIO_WRITE };

struct stats_key {
	enum stats_access kind;
	uint64_t addr;    /* port for I/O; device base (or the address, unclaimed) for MMIO */
	const char *name; /* device name, or "unclaimed" */
	struct exit_stat s;
};

/* One guest RIP sampled at an exit to kiln, with the exit's reason. */
struct rip_sample {
	uint64_t rip;
	uint32_t reason;
};

/* One per vCPU, written only by its own thread, with relaxed atomic stores, so that other threads
 * may read it with stats_load() while the vCPU runs. The exit counts by reason and the unclaimed
 * counters are always kept; handling times and the per-port/device table are kept with --stats
 * (`enabled`) or while the live view watches (exits.h); the RIP ring only while it watches.
 * nr_keys is stored with release semantics after its key is filled in (stats_load_keys()). */
struct vcpu_stats {
	bool enabled;
	uint64_t runs;
	uint64_t unclaimed_pio, unclaimed_mmio;
	uint64_t completed_insns; /* emulation failures kiln completed itself (arch/x86/emulate.c) */
	struct exit_stat reason[STATS_MAX_REASONS];
	struct stats_key keys[STATS_MAX_KEYS];
	unsigned int nr_keys;
	struct exit_stat other_io, other_mmio; /* accesses past STATS_MAX_KEYS distinct keys */
	/* The last STATS_RIP_RING sampled exits: sample n is rips[n % STATS_RIP_RING]; rip_seq
	 * counts the samples ever taken. */
	uint64_t rip_seq;
	struct rip_sample rips[STATS_RIP_RING];
};

/* Single-writer counter bump, readable concurrently with stats_load(). */
static inline void stats_inc(uint64_t *counter)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static inline void stats_add(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline uint64_t stats_load(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* How many entries of st->keys are filled in, for a reader on another thread. */
static inline unsigned int stats_load_keys(const struct vcpu_stats *st)
{
	return __atomic_load_n(&st->nr_keys, __ATOMIC_ACQUIRE);
}

/* Remembers the guest RIP of one exit (the vCPU's own thread; no syscall, a few stores). */
static inline void stats_sample_rip(struct vcpu_stats *st, uint64_t rip, unsigned int reason)
{
	uint64_t n = st->rip_seq;
	struct rip_sample *s = &st->rips[n & (STATS_RIP_RING - 1)];

	__atomic_store_n(&s->rip, rip, __ATOMIC_RELAXED);
	__atomic_store_n(&s->reason, reason, __ATOMIC_RELAXED);
	__atomic_store_n(&st->rip_seq, n + 1, __ATOMIC_RELEASE);
}

/* Copies up to STATS_RIP_RING of the newest samples into `out` (newest last), returns how many;
 * `seq` gets rip_seq as read first. Samples being overwritten meanwhile may be torn (a RIP with
 * the reason of the next exit): a sample, not a record. */
unsigned int stats_read_rips(const struct vcpu_stats *st, struct rip_sample *out, uint64_t *seq);

void stats_account_reason(struct vcpu_stats *st, unsigned int reason, uint64_t ns);
void stats_account_access(struct vcpu_stats *st, enum stats_access kind, uint64_t addr,
			  const char *name, uint64_t ns);

/* Prints the table for each vCPU, then a total line, to `f`. */
void stats_print(FILE *f, const struct vcpu_stats *const *per_vcpu, unsigned int nr);

#endif
