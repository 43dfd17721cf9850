/* stats.c: VM-exit accounting and the --stats table. */
#include "kvm/stats.h"

#include <inttypes.h>

#include "kvm/kvm.h"

void stats_account_reason(struct vcpu_stats *st, unsigned int reason, uint64_t ns)
{
	struct exit_stat *e = &st->reason[reason < STATS_MAX_REASONS ? reason : STATS_MAX_REASONS - 1];

	stats_inc(&e->count);
	if (ns)
		stats_add(&e->ns, ns);
}

void stats_account_access(struct vcpu_stats *st, enum stats_access kind, uint64_t addr,
			  const char *name, uint64_t ns)
{
	struct stats_key *k;

	for (unsigned int i = 0; i < st->nr_keys; i++) {
		k = &st->keys[i];
		if (k->kind == kind && k->addr == addr && k->name == name) {
			stats_inc(&k->s.count);
			stats_add(&k->s.ns, ns);
			return;
		}
	}
	if (st->nr_keys == STATS_MAX_KEYS) {
		struct exit_stat *o = kind == STATS_IO_IN || kind == STATS_IO_OUT ? &st->other_io
										 : &st->other_mmio;

		stats_inc(&o->count);
		stats_add(&o->ns, ns);
		return;
	}
	k = &st->keys[st->nr_keys];
	*k = (struct stats_key){ .kind = kind, .addr = addr, .name = name, .s = { 1, ns } };
	__atomic_store_n(&st->nr_keys, st->nr_keys + 1, __ATOMIC_RELEASE);
}

unsigned int stats_read_rips(const struct vcpu_stats *st, struct rip_sample *out, uint64_t *seq)
{
	uint64_t n = __atomic_load_n(&st->rip_seq, __ATOMIC_ACQUIRE);
	unsigned int count = n < STATS_RIP_RING ? (unsigned int)n : STATS_RIP_RING;

	for (unsigned int i = 0; i < count; i++) {
		const struct rip_sample *s = &st->rips[(n - count + i) & (STATS_RIP_RING - 1)];

		out[i].rip = __atomic_load_n(&s->rip, __ATOMIC_RELAXED);
		out[i].reason = __atomic_load_n(&s->reason, __ATOMIC_RELAXED);
	}
	*seq = n;
	return count;
}

static void print_row(FILE *f, const char *what, const char *detail, const struct exit_stat *s)
{
	fprintf(f, "  %-14s %-26s %10" PRIu64 " %12.1f %10.0f\n", what, detail, s->count,
		(double)s->ns / 1000.0, s->count ? (double)s->ns / (double)s->count : 0.0);
}

void stats_print(FILE *f, const struct vcpu_stats *const *per_vcpu, unsigned int nr)
{
	static const char *const kind_name[] = {
		[STATS_IO_IN] = "in", [STATS_IO_OUT] = "out",
		[STATS_MMIO_READ] = "read", [STATS_MMIO_WRITE] = "write",
	};
	struct exit_stat total = { 0, 0 };

	for (unsigned int v = 0; v < nr; v++) {
		const struct vcpu_stats *st = per_vcpu[v];
		struct exit_stat sum = { 0, 0 };
		char detail[64];

		for (unsigned int r = 0; r < STATS_MAX_REASONS; r++) {
			sum.count += st->reason[r].count;
			sum.ns += st->reason[r].ns;
		}
		fprintf(f, "vcpu%u: %" PRIu64 " exits, %.1f us handling them in kiln\n", v, sum.count,
			(double)sum.ns / 1000.0);
		fprintf(f, "  %-14s %-26s %10s %12s %10s\n", "exit", "detail", "count", "time(us)",
			"avg(ns)");
		for (unsigned int r = 0; r < STATS_MAX_REASONS; r++) {
			if (!st->reason[r].count)
				continue;
			snprintf(detail, sizeof(detail), "%s", "all");
			print_row(f, kvm_exit_reason_name(r), detail, &st->reason[r]);
			for (unsigned int i = 0; i < st->nr_keys; i++) {
				const struct stats_key *k = &st->keys[i];
				bool io = k->kind == STATS_IO_IN || k->kind == STATS_IO_OUT;

				if ((r == KVM_EXIT_IO) != io || (r == KVM_EXIT_MMIO) == io)
					continue;
				if (io)
					snprintf(detail, sizeof(detail), "0x%04" PRIx64 " %-5s %s", k->addr,
						 kind_name[k->kind], k->name);
				else
					snprintf(detail, sizeof(detail), "%s %s @0x%" PRIx64, k->name,
						 kind_name[k->kind], k->addr);
				print_row(f, "", detail, &k->s);
			}
			if (r == KVM_EXIT_IO && st->other_io.count)
				print_row(f, "", "(other ports)", &st->other_io);
			if (r == KVM_EXIT_MMIO && st->other_mmio.count)
				print_row(f, "", "(other addresses)", &st->other_mmio);
			if (r == KVM_EXIT_INTERNAL_ERROR) {
				uint64_t done = stats_load(&st->completed_insns);

				if (done)
					fprintf(f, "  %-14s %-26s %10" PRIu64 "\n", "",
						"completed by kiln", done);
			}
		}
		total.count += sum.count;
		total.ns += sum.ns;
	}
	if (nr > 1)
		fprintf(f, "all vcpus: %" PRIu64 " exits, %.1f us handling them in kiln\n", total.count,
			(double)total.ns / 1000.0);
}
