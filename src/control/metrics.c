/* metrics.c: the metrics line: counters read lock-free from running vCPUs, others under locks. */
#include "control/metrics.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"

/* Named exit reasons in the metrics; everything else is counted as exits_other. */
static const struct {
	unsigned int reason;
	const char *name;
} named_exits[] = {
	{ KVM_EXIT_IO, "exits_io" },
	{ KVM_EXIT_MMIO, "exits_mmio" },
	{ KVM_EXIT_HLT, "exits_hlt" },
	{ KVM_EXIT_INTR, "exits_intr" },
	{ KVM_EXIT_IOAPIC_EOI, "exits_ioapic_eoi" },
	{ KVM_EXIT_SHUTDOWN, "exits_shutdown" },
	{ KVM_EXIT_SYSTEM_EVENT, "exits_system_event" },
	{ KVM_EXIT_INTERNAL_ERROR, "exits_internal_error" },
	{ KVM_EXIT_FAIL_ENTRY, "exits_fail_entry" },
};

static json_t *vcpu_json(const struct vcpu_stats *st)
{
	json_t *o = json_object();
	uint64_t total = 0, named = 0;

	for (unsigned int r = 0; r < STATS_MAX_REASONS; r++)
		total += stats_load(&st->reason[r].count);
	for (size_t i = 0; i < sizeof(named_exits) / sizeof(named_exits[0]); i++) {
		uint64_t n = stats_load(&st->reason[named_exits[i].reason].count);

		named += n;
		json_object_set_new(o, named_exits[i].name, json_integer((json_int_t)n));
	}
	json_object_set_new(o, "exits_other", json_integer((json_int_t)(total - named)));
	json_object_set_new(o, "exits_total", json_integer((json_int_t)total));
	json_object_set_new(o, "unclaimed_pio", json_integer((json_int_t)stats_load(&st->unclaimed_pio)));
	json_object_set_new(o, "unclaimed_mmio",
			    json_integer((json_int_t)stats_load(&st->unclaimed_mmio)));
	return o;
}

/* Adds every integer of `add` into `sum`. */
static void add_counts(json_t *sum, const json_t *add)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)add, key, v) {
		json_int_t old = json_integer_value(json_object_get(sum, key));

		json_object_set_new(sum, key, json_integer(old + json_integer_value(v)));
	}
}

/* One object per disk, in device order (before boot: none). */
static json_t *block_json(struct vmm *vmm)
{
	json_t *a = json_array();

	for (unsigned int i = 0; vmm && i < vmm->nr_disks; i++) {
		struct virtio_blk_counters n;
		uint64_t faults;

		virtio_blk_get_counters(&vmm->disks[i], &n, &faults);
		json_array_append_new(
			a, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "device",
				     vmm->disks[i].t.name, "read_count", (json_int_t)n.reads,
				     "write_count", (json_int_t)n.writes, "read_bytes",
				     (json_int_t)n.read_bytes, "write_bytes", (json_int_t)n.write_bytes,
				     "flush_count", (json_int_t)n.flushes, "discard_count",
				     (json_int_t)n.discards, "write_zeroes_count",
				     (json_int_t)n.write_zeroes, "get_id_count", (json_int_t)n.get_ids,
				     "io_errors", (json_int_t)n.io_errors, "guest_errors",
				     (json_int_t)faults));
	}
	return a;
}

static json_t *entropy_json(struct vmm *vmm)
{
	uint64_t bytes, faults;

	if (!vmm || !vmm->rng)
		return json_null();
	virtio_rng_get_counters(vmm->rng, &bytes, &faults);
	return json_pack("{s:I, s:I}", "bytes", (json_int_t)bytes, "guest_errors", (json_int_t)faults);
}

static json_t *console_json(struct vmm *vmm)
{
	uint64_t tx, rx, faults;

	if (!vmm || !vmm->vcon)
		return json_null();
	virtio_console_get_counters(vmm->vcon, &tx, &rx, &faults);
	return json_pack("{s:I, s:I, s:I}", "bytes_out", (json_int_t)tx, "bytes_in", (json_int_t)rx,
			 "guest_errors", (json_int_t)faults);
}

int metrics_write(int fd, struct vmm *vmm, const struct api_server *api)
{
	struct timespec ts;
	json_t *m = json_object(), *vcpus = json_array(), *total = json_object();
	unsigned long requests = 0, errors = 0;
	char *line;
	size_t len;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_set_new(m, "utc_timestamp_ms",
			    json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	if (api)
		api_counters(api, &requests, &errors);
	json_object_set_new(m, "api_server", json_pack("{s:I, s:I}", "requests", (json_int_t)requests,
						       "errors", (json_int_t)errors));
	if (vmm) {
		struct serial_counters sc = { 0 };

		for (unsigned int i = 0; i < vmm->nr_vcpus; i++) {
			json_t *v = vcpu_json(&vmm->vcpus[i].stats);

			add_counts(total, v);
			json_array_append_new(vcpus, v);
		}
		serial_get_counters(vmm->serial, &sc);
		json_object_set_new(m, "serial",
				    json_pack("{s:I, s:I, s:I}", "bytes_out", (json_int_t)sc.bytes_out,
					      "bytes_in", (json_int_t)sc.bytes_in, "overruns",
					      (json_int_t)sc.overruns));
	} else {
		/* Before boot every counter is zero; the keys are there all the same. */
		json_object_set_new(m, "serial", json_pack("{s:i, s:i, s:i}", "bytes_out", 0,
							   "bytes_in", 0, "overruns", 0));
	}
	json_object_set_new(m, "block", block_json(vmm));
	json_object_set_new(m, "entropy", entropy_json(vmm));
	json_object_set_new(m, "virtio_console", console_json(vmm));
	json_object_set_new(m, "vcpu", total);
	json_object_set_new(m, "vcpus", vcpus);
	line = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	line[len] = '\n'; /* json_dumps leaves room: replace the NUL, write len + 1 */
	if (write(fd, line, len + 1) != (ssize_t)(len + 1))
		err = errno ? -errno : -EIO;
	free(line);
	return err;
}
