/* metrics.c: the metrics line: counters read lock-free from running vCPUs, others under locks. */
#include "control/metrics.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "kvm/kvm.h"
#include "kvm/stats.h"

static json_t *vcpu_json(const struct vcpu_stats *st)
{
	json_t *o = json_object();
	uint64_t total = 0, named = 0;
	unsigned int nr;
	const struct kvm_exit_reason *reasons = kvm_exit_reasons(&nr);

	for (unsigned int r = 0; r < STATS_MAX_REASONS; r++)
		total += stats_load(&st->reason[r].count);

	for (unsigned int i = 0; i < nr; i++) {
		uint64_t n;

		if (!reasons[i].metric || reasons[i].reason >= STATS_MAX_REASONS)
			continue;
		n = stats_load(&st->reason[reasons[i].reason].count);
		named += n;
		json_object_set_new(o, reasons[i].metric, json_integer((json_int_t)n));
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

/* The counters of one device, as an object ({"device": name} first for a listed kind). */
static json_t *device_json(const struct virtio_kind *kind, void *dev)
{
	struct virtio_counter c[VIRTIO_MAX_COUNTERS];
	unsigned int n = kind->counters(dev, c);
	json_t *o = json_object();

	if (kind->metrics_list)
		json_object_set_new(o, "device", json_string(kind->transport(dev)->name));
	for (unsigned int i = 0; i < n; i++)
		json_object_set_new(o, c[i].name, json_integer((json_int_t)c[i].value));
	return o;
}

/* One member per kind of virtio device in the builder's table, whether the VM has one or not:
 * a list (before boot: empty), or the only device's object (null without one). */
static void devices_json(json_t *m, struct vmm *vmm)
{
	unsigned int nr_kinds, nr = vmm ? vmm_nr_devices(vmm) : 0;
	const struct virtio_kind *const *kinds = builder_virtio_kinds(&nr_kinds);

	for (unsigned int k = 0; k < nr_kinds; k++) {
		json_t *v = kinds[k]->metrics_list ? json_array() : json_null();

		for (unsigned int i = 0; i < nr; i++) {
			const struct virtio_kind *kind;
			void *dev = vmm_device(vmm, i, &kind);

			if (kind != kinds[k])
				continue;
			if (kind->metrics_list) {
				json_array_append_new(v, device_json(kind, dev));
			} else {
				json_decref(v);
				v = device_json(kind, dev);
			}
		}
		json_object_set_new(m, kinds[k]->metrics_key, v);
	}
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

		for (unsigned int i = 0; i < vmm_nr_vcpus(vmm); i++) {
			json_t *v = vcpu_json(vmm_vcpu_stats(vmm, i));

			add_counts(total, v);
			json_array_append_new(vcpus, v);
		}
		vmm_serial_counters(vmm, &sc);
		json_object_set_new(m, "serial",
				    json_pack("{s:I, s:I, s:I, s:I}", "bytes_out",
					      (json_int_t)sc.bytes_out, "bytes_in", (json_int_t)sc.bytes_in,
					      "overruns", (json_int_t)sc.overruns,
					      "rate_limiter_dropped_bytes", (json_int_t)sc.dropped_bytes));
	} else {
		/* Before boot every counter is zero; the keys are there all the same. */
		json_object_set_new(m, "serial", json_pack("{s:i, s:i, s:i, s:i}", "bytes_out", 0,
							   "bytes_in", 0, "overruns", 0,
							   "rate_limiter_dropped_bytes", 0));
	}
	devices_json(m, vmm);
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
