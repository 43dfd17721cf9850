/* stats.h: per-vCPU VM-exit statistics (--stats): counts and userspace handling time by reason,
 * port-I/O by port and MMIO by device. */
#ifndef KILN_KVM_STATS_H
#define KILN_KVM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define STATS_MAX_REASONS 64
#define STATS_MAX_KEYS 48

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

/* One per vCPU, written only by its own thread. The exit counts by reason and the unclaimed
 * counters are always kept, with relaxed atomic stores, so metrics can read them (with
 * stats_load()) while the vCPU runs; handling times and the per-port/device table are kept only
 * with --stats (`enabled`) and read after the thread has ended. */
struct vcpu_stats {
	bool enabled;
	uint64_t runs;
	uint64_t unclaimed_pio, unclaimed_mmio;
	uint64_t completed_insns; /* emulation failures kiln completed itself (arch/x86/emulate.c) */
	struct exit_stat reason[STATS_MAX_REASONS];
	struct stats_key keys[STATS_MAX_KEYS];
	unsigned int nr_keys;
	struct exit_stat other_io, other_mmio; /* accesses past STATS_MAX_KEYS distinct keys */
};

/* Single-writer counter bump, readable concurrently with stats_load(). */
static inline void stats_inc(uint64_t *counter)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static inline uint64_t stats_load(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void stats_account_reason(struct vcpu_stats *st, unsigned int reason, uint64_t ns);
void stats_account_access(struct vcpu_stats *st, enum stats_access kind, uint64_t addr,
			  const char *name, uint64_t ns);

/* Prints the table for each vCPU, then a total line, to `f`. */
void stats_print(FILE *f, const struct vcpu_stats *const *per_vcpu, unsigned int nr);

#endif
