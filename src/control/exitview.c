/* exitview.c: the live VM-exit view: snapshots of the vCPUs' exit counters (server side) and the
 * rates, top lists and symbols between two of them (kiln top). */
#include "control/exitview.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/kvm.h"
#include "kvm/stats.h"
#include "util/log.h"
#include "vmm.h"

static const char *const access_name[] = {
	[STATS_IO_IN] = "in", [STATS_IO_OUT] = "out",
	[STATS_MMIO_READ] = "read", [STATS_MMIO_WRITE] = "write",
};

/* ---- the snapshot (GET /vm/exits) ----------------------------------------------------------- */

static json_t *stat_json(json_t *o, const struct exit_stat *s)
{
	json_object_set_new(o, "count", json_integer((json_int_t)stats_load(&s->count)));
	json_object_set_new(o, "ns", json_integer((json_int_t)stats_load(&s->ns)));
	return o;
}

static json_t *vcpu_snapshot(unsigned int id, const struct vcpu_stats *st)
{
	json_t *v = json_object(), *exits = json_array(), *acc = json_array(), *rips = json_array();
	static struct rip_sample ring[STATS_RIP_RING]; /* the controller thread's only */
	unsigned int nk = stats_load_keys(st), nr;
	uint64_t seq;
	char hex[24];

	json_object_set_new(v, "id", json_integer(id));
	for (unsigned int r = 0; r < STATS_MAX_REASONS; r++) {
		if (!stats_load(&st->reason[r].count))
			continue;
		json_array_append_new(exits, stat_json(json_pack("{s:s, s:i}", "reason",
								  kvm_exit_reason_name(r), "code", r),
						       &st->reason[r]));
	}
	for (unsigned int i = 0; i < nk; i++) {
		const struct stats_key *k = &st->keys[i];

		json_array_append_new(acc, stat_json(json_pack("{s:s, s:I, s:s}", "kind",
							       access_name[k->kind], "addr",
							       (json_int_t)k->addr, "device", k->name),
						     &k->s));
	}
	if (stats_load(&st->other_io.count))
		json_array_append_new(acc, stat_json(json_pack("{s:s, s:I, s:s}", "kind", "out", "addr",
							       (json_int_t)-1, "device", "(other ports)"),
						     &st->other_io));
	if (stats_load(&st->other_mmio.count))
		json_array_append_new(acc, stat_json(json_pack("{s:s, s:I, s:s}", "kind", "write",
							       "addr", (json_int_t)-1, "device",
							       "(other addresses)"),
						     &st->other_mmio));
	nr = stats_read_rips(st, ring, &seq);
	for (unsigned int i = 0; i < nr; i++) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, ring[i].rip);
		json_array_append_new(rips, json_pack("[s, s]", hex, kvm_exit_reason_name(ring[i].reason)));
	}
	json_object_set_new(v, "exits", exits);
	json_object_set_new(v, "accesses", acc);
	json_object_set_new(v, "rip_seq", json_integer((json_int_t)seq));
	json_object_set_new(v, "rips", rips);
	return v;
}

json_t *exitview_snapshot(struct vmm *vmm)
{
	json_t *o = json_object(), *vcpus = json_array();
	unsigned int n = vmm_nr_vcpus(vmm);

	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(vcpus, vcpu_snapshot(i, vmm_vcpu_stats(vmm, i)));
	json_object_set_new(o, "time_ns", json_integer((json_int_t)now_ns()));
	json_object_set_new(o, "rip_sampling", json_boolean(vmm_can_sample_rips(vmm)));
	json_object_set_new(o, "vcpus", vcpus);
	return o;
}

/* ---- two snapshots -> rates ----------------------------------------------------------------- */

#define ROWS_MAX 512 /* distinct keys merged while computing; the top EXITVIEW_TOP are kept */

struct acc {
	struct exitview_row rows[ROWS_MAX];
	double ns[ROWS_MAX]; /* handling ns per second */
	unsigned int nr;
};

static struct exitview_row *acc_get(struct acc *a, const char *what, uint64_t addr)
{
	for (unsigned int i = 0; i < a->nr; i++)
		if (a->rows[i].addr == addr && strcmp(a->rows[i].what, what) == 0)
			return &a->rows[i];
	if (a->nr == ROWS_MAX)
		return NULL;
	a->rows[a->nr] = (struct exitview_row){ .addr = addr, .avg_ns = -1 };
	a->ns[a->nr] = 0;
	snprintf(a->rows[a->nr].what, sizeof(a->rows[a->nr].what), "%s", what);
	return &a->rows[a->nr++];
}

static void acc_add(struct acc *a, const char *what, uint64_t addr, double per_s, double ns_per_s)
{
	struct exitview_row *r = acc_get(a, what, addr);

	if (!r)
		return;
	r->per_s += per_s;
	a->ns[r - a->rows] += ns_per_s;
}

static int by_rate(const void *x, const void *y)
{
	const struct exitview_row *a = x, *b = y;

	if (a->per_s != b->per_s)
		return a->per_s > b->per_s ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Sorts `a` and keeps its top rows with a rate in `out`. */
static unsigned int acc_top(struct acc *a, struct exitview_row *out)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < a->nr; i++) {
		a->rows[i].busy = a->ns[i] / 1e9;
		a->rows[i].avg_ns = a->ns[i] > 0 && a->rows[i].per_s > 0 ? a->ns[i] / a->rows[i].per_s
									   : -1;
	}
	qsort(a->rows, a->nr, sizeof(a->rows[0]), by_rate);
	for (unsigned int i = 0; i < a->nr && n < EXITVIEW_TOP; i++)
		if (a->rows[i].per_s > 0)
			out[n++] = a->rows[i];
	return n;
}

static int bad(char *err, size_t err_size, const char *what)
{
	snprintf(err, err_size, "exit snapshot: %s", what);
	return -EINVAL;
}

static bool get_u64(const json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j))
		return false;
	*v = (uint64_t)json_integer_value(j);
	return true;
}

static const json_t *find_vcpu(const json_t *vcpus, json_int_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach(vcpus, i, v)
		if (json_integer_value(json_object_get(v, "id")) == id)
			return v;
	return NULL;
}

/* The entry of array `key` of `v` that matches `like` on the string field `f1` and the integer
 * field `f2`, or NULL. */
static const json_t *find_entry(const json_t *v, const char *key, const json_t *like,
				const char *f1, const char *f2, const char *f3)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(v, key), i, e) {
		if (f1 && !json_equal(json_object_get(e, f1), json_object_get(like, f1)))
			continue;
		if (f2 && !json_equal(json_object_get(e, f2), json_object_get(like, f2)))
			continue;
		if (f3 && !json_equal(json_object_get(e, f3), json_object_get(like, f3)))
			continue;
		return e;
	}
	return NULL;
}

/* count and ns of `e` less those of `old` (NULL: zero); false when a field is missing. */
static bool delta(const json_t *e, const json_t *old, double *dc, double *dns)
{
	uint64_t c, ns, oc = 0, ons = 0;

	if (!get_u64(e, "count", &c) || !get_u64(e, "ns", &ns))
		return false;
	if (old && (!get_u64(old, "count", &oc) || !get_u64(old, "ns", &ons)))
		return false;
	*dc = c >= oc ? (double)(c - oc) : 0;
	*dns = ns >= ons ? (double)(ns - ons) : 0;
	return true;
}

static void add_rips(struct acc *rips, const json_t *v, const json_t *old, double dt)
{
	const json_t *ring = json_object_get(v, "rips");
	uint64_t seq = 0, oseq = 0, k;
	size_t n = json_array_size(ring), m;

	get_u64(v, "rip_seq", &seq);
	if (old)
		get_u64(old, "rip_seq", &oseq);
	k = seq > oseq ? seq - oseq : 0;
	m = k < n ? (size_t)k : n;
	/* The newest m samples stand for the k exits sampled in the interval. */
	for (size_t i = n - m; i < n; i++) {
		const json_t *s = json_array_get(ring, i);
		const char *hex = json_string_value(json_array_get(s, 0));
		const char *reason = json_string_value(json_array_get(s, 1));
		struct exitview_row *r;
		uint64_t rip;
		char *end;

		if (!hex || !reason)
			continue;
		rip = strtoull(hex, &end, 16);
		if (*end)
			continue;
		r = acc_get(rips, hex, rip);
		if (!r)
			continue;
		r->per_s += (double)k / (double)m / dt;
		if (!r->reason)
			r->reason = strcmp(reason, "IO") == 0     ? "IO"
				    : strcmp(reason, "MMIO") == 0 ? "MMIO"
								  : "other";
	}
}

int exitview_compute(const json_t *prev, const json_t *cur, const struct symtab *syms,
		     struct exitview *out, char *err, size_t err_size)
{
	static struct acc kinds, ports, mmio, rips, reasons;
	const json_t *pv = json_object_get(prev, "vcpus"), *cv = json_object_get(cur, "vcpus");
	uint64_t t0, t1;
	double dt;
	size_t vi;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!get_u64(prev, "time_ns", &t0) || !get_u64(cur, "time_ns", &t1))
		return bad(err, err_size, "no integer \"time_ns\"");
	if (!json_is_array(pv) || !json_is_array(cv))
		return bad(err, err_size, "no \"vcpus\" array");
	if (t1 <= t0)
		return bad(err, err_size, "the second snapshot is not later than the first");
	dt = (double)(t1 - t0) / 1e9;
	out->interval_s = dt;
	out->rip_sampling = json_is_true(json_object_get(cur, "rip_sampling"));
	kinds.nr = ports.nr = mmio.nr = rips.nr = 0;
	json_array_foreach(cv, vi, v) {
		const json_t *old, *e;
		struct exitview_vcpu *ov;
		json_int_t id = json_integer_value(json_object_get(v, "id"));
		size_t i;

		if (!json_is_integer(json_object_get(v, "id")) || id < 0 ||
		    !json_is_array(json_object_get(v, "exits")) ||
		    !json_is_array(json_object_get(v, "accesses")) ||
		    !json_is_array(json_object_get(v, "rips")))
			return bad(err, err_size, "a vCPU without \"id\", \"exits\", \"accesses\" or \"rips\"");
		if (out->nr_vcpus == EXITVIEW_MAX_VCPUS)
			break;
		old = find_vcpu(pv, id);
		ov = &out->vcpus[out->nr_vcpus++];
		ov->id = (unsigned int)id;
		reasons.nr = 0;
		json_array_foreach(json_object_get(v, "exits"), i, e) {
			const char *name = json_string_value(json_object_get(e, "reason"));
			double dc, dns;

			if (!name || !delta(e, old ? find_entry(old, "exits", e, "reason", "code", NULL)
						   : NULL, &dc, &dns))
				return bad(err, err_size, "an exit without \"reason\", \"count\" or \"ns\"");
			ov->per_s += dc / dt;
			acc_add(&reasons, name, 0, dc / dt, dns / dt);
			acc_add(&kinds, name, 0, dc / dt, dns / dt);
		}
		ov->nr_reasons = acc_top(&reasons, ov->reasons);
		json_array_foreach(json_object_get(v, "accesses"), i, e) {
			const char *kind = json_string_value(json_object_get(e, "kind"));
			const char *dev = json_string_value(json_object_get(e, "device"));
			json_int_t addr = json_integer_value(json_object_get(e, "addr"));
			bool io = kind && (!strcmp(kind, "in") || !strcmp(kind, "out"));
			char what[96];
			double dc, dns;

			if (!kind || !dev || !json_is_integer(json_object_get(e, "addr")) ||
			    !delta(e, old ? find_entry(old, "accesses", e, "kind", "addr", "device") : NULL,
				   &dc, &dns))
				return bad(err, err_size,
					   "an access without \"kind\", \"addr\", \"device\", \"count\" or \"ns\"");
			if (addr < 0)
				snprintf(what, sizeof(what), "%s", dev);
			else if (io)
				snprintf(what, sizeof(what), "0x%04llx %-5s %s", (long long)addr, kind, dev);
			else
				snprintf(what, sizeof(what), "%s %s @0x%llx", dev, kind, (long long)addr);
			acc_add(io ? &ports : &mmio, what, (uint64_t)addr, dc / dt, dns / dt);
		}
		add_rips(&rips, v, old, dt);
	}
	out->nr_kinds = acc_top(&kinds, out->kinds);
	out->nr_ports = acc_top(&ports, out->ports);
	out->nr_mmio = acc_top(&mmio, out->mmio);
	out->nr_rips = acc_top(&rips, out->rips);
	for (unsigned int i = 0; i < out->nr_rips; i++) {
		out->rips[i].avg_ns = -1;
		if (syms)
			symtab_lookup(syms, out->rips[i].addr, out->rips[i].symbol,
				      sizeof(out->rips[i].symbol));
	}
	return 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

static json_t *row_json(const struct exitview_row *r, const char *key)
{
	json_t *o = json_pack("{s:s, s:f}", key, r->what, "per_s", r->per_s);

	if (r->avg_ns >= 0) {
		json_object_set_new(o, "avg_ns", json_real(r->avg_ns));
		json_object_set_new(o, "kiln_cpu", json_real(r->busy));
	}
	if (r->reason)
		json_object_set_new(o, "reason", json_string(r->reason));
	if (r->symbol[0])
		json_object_set_new(o, "symbol", json_string(r->symbol));
	return o;
}

static json_t *rows_json(const struct exitview_row *rows, unsigned int n, const char *key)
{
	json_t *a = json_array();

	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(a, row_json(&rows[i], key));
	return a;
}

json_t *exitview_json(const struct exitview *v)
{
	json_t *vcpus = json_array(), *ports = json_array(), *mmio = json_array();

	for (unsigned int i = 0; i < v->nr_vcpus; i++)
		json_array_append_new(vcpus, json_pack("{s:i, s:f, s:o}", "id", v->vcpus[i].id,
						       "per_s", v->vcpus[i].per_s, "reasons",
						       rows_json(v->vcpus[i].reasons,
								 v->vcpus[i].nr_reasons, "reason")));
	for (unsigned int i = 0; i < v->nr_ports; i++) {
		json_t *o = row_json(&v->ports[i], "what");

		if (v->ports[i].addr <= 0xffff)
			json_object_set_new(o, "port", json_integer((json_int_t)v->ports[i].addr));
		json_array_append_new(ports, o);
	}
	for (unsigned int i = 0; i < v->nr_mmio; i++) {
		json_t *o = row_json(&v->mmio[i], "what");

		json_object_set_new(o, "addr", json_integer((json_int_t)v->mmio[i].addr));
		json_array_append_new(mmio, o);
	}
	return json_pack("{s:f, s:b, s:o, s:o, s:o, s:o, s:o}", "interval_s", v->interval_s,
			 "rip_sampling", v->rip_sampling, "vcpus", vcpus, "ports", ports, "mmio",
			 mmio, "rips", rows_json(v->rips, v->nr_rips, "rip"), "kiln_time",
			 rows_json(v->kinds, v->nr_kinds, "reason"));
}

static void print_avg(FILE *f, const struct exitview_row *r)
{
	if (r->avg_ns >= 0)
		fprintf(f, " %9.0f %8.2f%%\n", r->avg_ns, r->busy * 100);
	else
		fprintf(f, " %9s %9s\n", "-", "-");
}

void exitview_print(FILE *f, const struct exitview *v, unsigned int cols)
{
	int w = cols > 60 ? (int)cols - 48 : 12; /* the name column */

	if (w > 60)
		w = 60;
	fprintf(f, "kiln top: %u vCPU%s, last %.2f s; exits to kiln (userspace); RIP sampling %s\n\n",
		v->nr_vcpus, v->nr_vcpus == 1 ? "" : "s", v->interval_s,
		v->rip_sampling ? "on" : "unavailable (no KVM_CAP_SYNC_REGS)");
	fprintf(f, "%-6s %-*s %12s %9s %9s\n", "VCPU", w - 7, "EXIT REASON", "EXITS/S", "AVG NS",
		"KILN CPU");
	for (unsigned int i = 0; i < v->nr_vcpus; i++) {
		const struct exitview_vcpu *c = &v->vcpus[i];

		fprintf(f, "%-6u %-*s %12.1f\n", c->id, w - 7, "(all)", c->per_s);
		for (unsigned int r = 0; r < c->nr_reasons; r++) {
			fprintf(f, "%-6s %-*s %12.1f", "", w - 7, c->reasons[r].what, c->reasons[r].per_s);
			print_avg(f, &c->reasons[r]);
		}
	}
	fprintf(f, "\n%-*s %12s %9s %9s\n", w, "PORT", "EXITS/S", "AVG NS", "KILN CPU");
	for (unsigned int i = 0; i < v->nr_ports; i++) {
		fprintf(f, "%-*.*s %12.1f", w, w, v->ports[i].what, v->ports[i].per_s);
		print_avg(f, &v->ports[i]);
	}
	fprintf(f, "\n%-*s %12s %9s %9s\n", w, "MMIO", "EXITS/S", "AVG NS", "KILN CPU");
	for (unsigned int i = 0; i < v->nr_mmio; i++) {
		fprintf(f, "%-*.*s %12.1f", w, w, v->mmio[i].what, v->mmio[i].per_s);
		print_avg(f, &v->mmio[i]);
	}
	fprintf(f, "\n%-18s %-6s %-*s %12s\n", "GUEST RIP", "EXIT", w - 26 > 8 ? w - 26 : 8,
		"SYMBOL", "EXITS/S");
	for (unsigned int i = 0; i < v->nr_rips; i++)
		fprintf(f, "%-18s %-6s %-*.*s %12.1f\n", v->rips[i].what,
			v->rips[i].reason ? v->rips[i].reason : "", w - 26 > 8 ? w - 26 : 8,
			w - 26 > 8 ? w - 26 : 8, v->rips[i].symbol, v->rips[i].per_s);
	fprintf(f, "\n%-*s %12s %9s %9s\n", w, "TIME IN KILN BY EXIT KIND", "EXITS/S", "AVG NS",
		"KILN CPU");
	for (unsigned int i = 0; i < v->nr_kinds; i++) {
		fprintf(f, "%-*s %12.1f", w, v->kinds[i].what, v->kinds[i].per_s);
		print_avg(f, &v->kinds[i]);
	}
}
