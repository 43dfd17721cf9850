/* test_exitview.c: the live exit view's arithmetic (src/control/exitview.c): rates between two
 * snapshots, top lists, RIP samples scaled to rates; the RIP ring (src/kvm/stats.c); and symbol
 * tables from System.map text and ELF (src/control/symbols.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/exitview.h"
#include "control/symbols.h"
#include "kvm/stats.h"

static char err[512];

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	cr_assert_not_null(j, "bad test JSON: %s", je.text);
	return j;
}

/* A one-vCPU snapshot at t seconds with `io` IO exits (ns each 1000), `hlt` HLT exits, port 0x80
 * writes = io, and the RIP ring given as JSON. */
static json_t *snap(double t, long io, long hlt, long seq, const char *rips)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{\"time_ns\": %.0f, \"rip_sampling\": true, \"vcpus\": [{\"id\": 0,"
		 " \"exits\": [{\"reason\": \"IO\", \"code\": 2, \"count\": %ld, \"ns\": %ld},"
		 "             {\"reason\": \"HLT\", \"code\": 5, \"count\": %ld, \"ns\": 0}],"
		 " \"accesses\": [{\"kind\": \"out\", \"addr\": 128, \"device\": \"post\", \"count\": %ld,"
		 "                 \"ns\": %ld},"
		 "               {\"kind\": \"out\", \"addr\": 1016, \"device\": \"serial\", \"count\": 7,"
		 "                 \"ns\": 70}],"
		 " \"rip_seq\": %ld, \"rips\": %s}]}",
		 t * 1e9, io, io * 1000, hlt, io, io * 1000, seq, rips);
	return parse(text);
}

Test(exitview, rates_over_the_interval)
{
	json_t *a = snap(10.0, 1000, 50, 0, "[]"), *b = snap(12.0, 3000, 250, 0, "[]");
	static struct exitview v;

	cr_assert_eq(exitview_compute(a, b, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(v.interval_s, 2.0, 1e-9);
	cr_assert_eq(v.nr_vcpus, 1);
	cr_assert_float_eq(v.vcpus[0].per_s, 1100.0, 1e-6); /* (2000 + 200) / 2 */
	cr_assert_eq(v.vcpus[0].nr_reasons, 2);
	cr_assert_str_eq(v.vcpus[0].reasons[0].what, "IO"); /* the busier first */
	cr_assert_float_eq(v.vcpus[0].reasons[0].per_s, 1000.0, 1e-6);
	cr_assert_float_eq(v.vcpus[0].reasons[0].avg_ns, 1000.0, 1e-6);
	cr_assert_float_eq(v.vcpus[0].reasons[0].busy, 0.001, 1e-9); /* 1 ms of kiln per second */
	cr_assert_float_eq(v.vcpus[0].reasons[1].per_s, 100.0, 1e-6);
	cr_assert(v.vcpus[0].reasons[1].avg_ns < 0, "HLT took no measured time: no average");
	/* The serial port did not change: not listed. */
	cr_assert_eq(v.nr_ports, 1);
	cr_assert_eq(v.ports[0].addr, 0x80);
	cr_assert_str_eq(v.ports[0].what, "0x0080 out   post");
	cr_assert_float_eq(v.ports[0].per_s, 1000.0, 1e-6);
	cr_assert_eq(v.nr_kinds, 2);
	json_decref(a);
	json_decref(b);
}

Test(exitview, a_new_vcpu_or_key_counts_from_zero)
{
	json_t *a = parse("{\"time_ns\": 1000000000, \"vcpus\": []}");
	json_t *b = snap(2.0, 500, 0, 0, "[]");
	static struct exitview v;

	cr_assert_eq(exitview_compute(a, b, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(v.vcpus[0].per_s, 500.0, 1e-6);
	cr_assert_eq(v.nr_ports, 2);
	cr_assert_float_eq(v.ports[1].per_s, 7.0, 1e-6);
	json_decref(a);
	json_decref(b);
}

Test(exitview, top_lists_keep_the_busiest_ten_in_order)
{
	char text[8192];
	int len;
	json_t *a = parse("{\"time_ns\": 0, \"vcpus\": []}"), *b;
	static struct exitview v;

	len = snprintf(text, sizeof(text), "{\"time_ns\": 1000000000, \"vcpus\": [{\"id\": 3, "
					   "\"exits\": [], \"rips\": [], \"accesses\": [");
	for (int i = 1; i <= 15; i++)
		len += snprintf(text + len, sizeof(text) - (size_t)len,
				"%s{\"kind\": \"%s\", \"addr\": %d, \"device\": \"d%d\", \"count\": %d, "
				"\"ns\": 0}",
				i > 1 ? "," : "", i % 2 ? "in" : "write", i * 16, i, i * 10);
	snprintf(text + len, sizeof(text) - (size_t)len, "]}]}");
	b = parse(text);
	cr_assert_eq(exitview_compute(a, b, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v.vcpus[0].id, 3);
	cr_assert_eq(v.nr_ports, 8);  /* odd i: 8 ports */
	cr_assert_eq(v.nr_mmio, 7);   /* even i */
	cr_assert_float_eq(v.ports[0].per_s, 150.0, 1e-6);
	cr_assert_float_eq(v.ports[7].per_s, 10.0, 1e-6);
	cr_assert_str_eq(v.mmio[0].what, "d14 write @0xe0");
	for (unsigned int i = 1; i < v.nr_ports; i++)
		cr_assert(v.ports[i - 1].per_s >= v.ports[i].per_s);
	json_decref(a);
	json_decref(b);
}

Test(exitview, rip_samples_scale_to_the_exits_of_the_interval)
{
	/* 400 exits sampled between the snapshots, of which the ring (smaller than in real life)
	 * holds the newest 4: 3 at 0x1010, 1 at 0x2000; they stand for all 400, in 2 s. */
	json_t *a = snap(1.0, 0, 0, 100, "[]");
	json_t *b = snap(3.0, 400, 0, 500,
			 "[[\"0x1010\", \"IO\"], [\"0x2000\", \"MMIO\"],"
			 " [\"0x1010\", \"IO\"], [\"0x1010\", \"IO\"]]");
	static struct exitview v;
	struct symtab *syms;
	static const char map[] = "0000000000001000 T outer\n0000000000002000 t other\n"
				  "0000000000003000 T end\n";

	cr_assert_eq(symtab_parse_map(&syms, map, sizeof(map) - 1, "map", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(exitview_compute(a, b, syms, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v.nr_rips, 2);
	cr_assert_eq(v.rips[0].addr, 0x1010);
	cr_assert_float_eq(v.rips[0].per_s, 150.0, 1e-6);
	cr_assert_str_eq(v.rips[0].symbol, "outer+0x10");
	cr_assert_str_eq(v.rips[0].reason, "IO");
	cr_assert_float_eq(v.rips[1].per_s, 50.0, 1e-6);
	cr_assert_str_eq(v.rips[1].symbol, "other");
	cr_assert_str_eq(v.rips[1].reason, "MMIO");
	symtab_free(syms);
	json_decref(a);
	json_decref(b);
}

Test(exitview, fewer_new_samples_than_the_ring_use_only_the_new_ones)
{
	/* 2 exits sampled in the interval: only the 2 newest of the 5 in the ring count. */
	json_t *a = snap(1.0, 0, 0, 3, "[]");
	json_t *b = snap(2.0, 2, 0, 5,
			 "[[\"0x9\", \"IO\"], [\"0x9\", \"IO\"], [\"0x9\", \"IO\"],"
			 " [\"0x5\", \"IO\"], [\"0x5\", \"IO\"]]");
	static struct exitview v;

	cr_assert_eq(exitview_compute(a, b, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v.nr_rips, 1);
	cr_assert_eq(v.rips[0].addr, 5);
	cr_assert_float_eq(v.rips[0].per_s, 2.0, 1e-6);
	json_decref(a);
	json_decref(b);
}

Test(exitview, bad_snapshots_are_refused_with_a_reason)
{
	static struct exitview v;
	json_t *ok = snap(1.0, 0, 0, 0, "[]"), *same = snap(1.0, 0, 0, 0, "[]");
	json_t *no_time = parse("{\"vcpus\": []}");
	json_t *no_vcpus = parse("{\"time_ns\": 5000000000}");
	json_t *bad_vcpu = parse("{\"time_ns\": 5000000000, \"vcpus\": [{\"id\": 0}]}");
	json_t *bad_exit = parse("{\"time_ns\": 5000000000, \"vcpus\": [{\"id\": 0, \"exits\": [{\"reason\": \"IO\"}],"
				 " \"accesses\": [], \"rips\": []}]}");

	cr_assert_eq(exitview_compute(ok, same, NULL, &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "not later"), "%s", err);
	cr_assert_eq(exitview_compute(ok, no_time, NULL, &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "time_ns"), "%s", err);
	cr_assert_eq(exitview_compute(ok, no_vcpus, NULL, &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "vcpus"), "%s", err);
	cr_assert_eq(exitview_compute(ok, bad_vcpu, NULL, &v, err, sizeof(err)), -EINVAL);
	cr_assert_eq(exitview_compute(ok, bad_exit, NULL, &v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "count"), "%s", err);
	json_decref(ok);
	json_decref(same);
	json_decref(no_time);
	json_decref(no_vcpus);
	json_decref(bad_vcpu);
	json_decref(bad_exit);
}

Test(exitview, json_output_has_every_section)
{
	json_t *a = snap(0.5, 0, 0, 0, "[]"), *b = snap(1.5, 10, 0, 1, "[[\"0x10\", \"IO\"]]"), *o;
	static struct exitview v;

	cr_assert_eq(exitview_compute(a, b, NULL, &v, err, sizeof(err)), 0, "%s", err);
	o = exitview_json(&v);
	cr_assert(json_is_real(json_object_get(o, "interval_s")));
	cr_assert_eq(json_array_size(json_object_get(o, "vcpus")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(json_object_get(o, "ports"), 0),
							"port")), 0x80);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(o, "rips"), 0),
							   "rip")), "0x10");
	cr_assert(json_is_array(json_object_get(o, "mmio")));
	cr_assert(json_is_array(json_object_get(o, "kiln_time")));
	json_decref(o);
	json_decref(a);
	json_decref(b);
}

Test(stats, rip_ring_keeps_the_newest_in_order)
{
	static struct vcpu_stats st;
	static struct rip_sample out[STATS_RIP_RING];
	uint64_t seq;
	unsigned int n;

	n = stats_read_rips(&st, out, &seq);
	cr_assert_eq(n, 0);
	cr_assert_eq(seq, 0);
	for (unsigned int i = 0; i < 3; i++)
		stats_sample_rip(&st, 0x1000 + i, 2);
	n = stats_read_rips(&st, out, &seq);
	cr_assert_eq(n, 3);
	cr_assert_eq(out[0].rip, 0x1000);
	cr_assert_eq(out[2].rip, 0x1002);
	for (unsigned int i = 3; i < STATS_RIP_RING + 44; i++)
		stats_sample_rip(&st, 0x1000 + i, i % 2 ? 2 : 6);
	n = stats_read_rips(&st, out, &seq);
	cr_assert_eq(n, STATS_RIP_RING);
	cr_assert_eq(seq, STATS_RIP_RING + 44);
	cr_assert_eq(out[0].rip, 0x1000 + 44);
	cr_assert_eq(out[STATS_RIP_RING - 1].rip, 0x1000 + STATS_RIP_RING + 43);
	cr_assert_eq(out[STATS_RIP_RING - 1].reason, (STATS_RIP_RING + 43) % 2 ? 2u : 6u);
}

Test(stats, access_keys_are_published_after_they_are_filled)
{
	static struct vcpu_stats st;

	stats_account_access(&st, STATS_IO_OUT, 0x80, "post", 10);
	stats_account_access(&st, STATS_IO_OUT, 0x80, "post", 30);
	stats_account_access(&st, STATS_MMIO_WRITE, 0xd0000000, "virtio", 5);
	cr_assert_eq(stats_load_keys(&st), 2);
	cr_assert_eq(stats_load(&st.keys[0].s.count), 2);
	cr_assert_eq(stats_load(&st.keys[0].s.ns), 40);
}

Test(symbols, system_map_lookup)
{
	static const char map[] = "ffffffff81000000 T _text\n"
				  "ffffffff81000000 T startup_64\n"
				  "ffffffff81001000 t helper\r\n"
				  "0000000000000010 A an_absolute\n"
				  "\n"
				  "ffffffff82000000 D linux_banner\n";
	struct symtab *t;
	char buf[96];

	cr_assert_eq(symtab_parse_map(&t, map, sizeof(map) - 1, "System.map", err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(symtab_count(t), 4); /* not the absolute one */
	cr_assert(symtab_lookup(t, 0xffffffff81000010, buf, sizeof(buf)));
	cr_assert(strcmp(buf, "_text+0x10") == 0 || strcmp(buf, "startup_64+0x10") == 0, "%s", buf);
	cr_assert(symtab_lookup(t, 0xffffffff81001000, buf, sizeof(buf)));
	cr_assert_str_eq(buf, "helper");
	cr_assert(symtab_lookup(t, 0xffffffff82000020, buf, sizeof(buf)));
	cr_assert_str_eq(buf, "linux_banner+0x20");
	cr_assert_not(symtab_lookup(t, 0x1000, buf, sizeof(buf)), "below every symbol");
	cr_assert_str_eq(buf, "");
	cr_assert_not(symtab_lookup(t, 0xffffffff90000000, buf, sizeof(buf)),
		      "far past the last unsized symbol");
	symtab_free(t);
}

Test(symbols, bad_maps_name_the_line)
{
	struct symtab *t;
	static const char *const bad[] = { "ffffffff81000000 T\n", "zzzz T x\n",
					   "ffffffff81000000T x\n", "11112222333344445 T toolong\n" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(symtab_parse_map(&t, bad[i], strlen(bad[i]), "m", err, sizeof(err)),
			     -EINVAL, "%s", bad[i]);
		cr_assert(strstr(err, "m: line 1"), "%s", err);
	}
	cr_assert_eq(symtab_parse_map(&t, "10 A abs\n", 9, "m", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no code or data symbols"), "%s", err);
	cr_assert_eq(symtab_load(&t, "/nonexistent/System.map", err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/System.map"), "%s", err);
}

/* The ELF reader against nm's view of the same file (the test guest exit_pace.elf). */
Test(symbols, elf_symtab_agrees_with_nm)
{
	const char *dir = getenv("KILN_GUEST_DIR");
	char path[512], cmd[600], line[256];
	struct symtab *t;
	unsigned int checked = 0;
	FILE *p;

	if (!dir)
		cr_skip_test("KILN_GUEST_DIR is not set");
	snprintf(path, sizeof(path), "%s/exit_pace.elf", dir);
	cr_assert_eq(symtab_load(&t, path, err, sizeof(err)), 0, "%s", err);
	snprintf(cmd, sizeof(cmd), "nm --defined-only '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		cr_skip_test("nm cannot run");
	while (fgets(line, sizeof(line), p)) {
		unsigned long long addr;
		char type, name[128], buf[160];

		if (sscanf(line, "%llx %c %127s", &addr, &type, name) != 3 || (type != 'T' && type != 't'))
			continue;
		cr_assert(symtab_lookup(t, addr, buf, sizeof(buf)), "%s", name);
		if (strcmp(name, "pace_out") == 0) {
			cr_assert_str_eq(buf, "pace_out");
			cr_assert(symtab_lookup(t, addr + 1, buf, sizeof(buf)));
			cr_assert_str_eq(buf, "pace_out+0x1");
			checked++;
		}
	}
	if (pclose(p) != 0 && !checked)
		cr_skip_test("nm failed (binutils missing?)");
	cr_assert_eq(checked, 1, "nm lists pace_out");
	symtab_free(t);
}
