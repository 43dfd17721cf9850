/* test_spec.c: Firecracker configuration sections (src/control/spec.c, json.c): field checks,
 * messages that name the field, and rejected bodies that change nothing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/spec.h"

static struct vm_spec spec;
static char err[JSON_ERR_MAX];
static char kernel[] = "/tmp/kiln-test-kernel-XXXXXX"; /* a readable regular file */

static void setup(void)
{
	int fd;

	spec_init(&spec, NULL);
	err[0] = '\0';
	strcpy(kernel, "/tmp/kiln-test-kernel-XXXXXX");
	fd = mkstemp(kernel);
	cr_assert(fd >= 0);
	/* A drive image too (PUT /drives wants at least one sector). */
	cr_assert_eq(ftruncate(fd, 4096), 0);
	close(fd);
}

static void teardown(void)
{
	spec_free(&spec);
	unlink(kernel);
}

/* JSON text with every "KERNEL" replaced by the temporary kernel's path. */
static json_t *JK(const char *text)
{
	char buf[1024], *out = buf;
	const char *p;

	while ((p = strstr(text, "KERNEL"))) {
		out += sprintf(out, "%.*s%s", (int)(p - text), text, kernel);
		text = p + 6;
	}
	strcpy(out, text);
	return json_loads(buf, 0, NULL);
}

TestSuite(spec, .init = setup, .fini = teardown);

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	cr_assert_not_null(v, "bad test JSON: %s", e.text);
	return v;
}

/* Applies a machine-config body and frees it; returns the parser's result. */
static int machine(const char *text, bool patch)
{
	json_t *v = J(text);
	int r = spec_machine_config(&spec, v, patch, err, sizeof(err));

	json_decref(v);
	return r;
}

Test(spec, machine_config_put_sets_fields)
{
	cr_assert_eq(machine("{\"vcpu_count\": 4, \"mem_size_mib\": 512, \"smt\": false, "
			     "\"track_dirty_pages\": true}", false), 0, "%s", err);
	cr_assert_eq(spec.cfg.nr_vcpus, 4);
	cr_assert_eq(spec.cfg.mem_size, 512ull << 20);
	cr_assert(spec.track_dirty_pages);
}

Test(spec, machine_config_errors_name_the_field_and_change_nothing)
{
	static const struct {
		const char *body, *msg;
	} cases[] = {
		{ "{\"vcpu_count\": \"2\", \"mem_size_mib\": 256}", "field 'vcpu_count' must be an integer" },
		{ "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"foo\": 1}", "unknown field 'foo'" },
		{ "{\"mem_size_mib\": 256}", "missing field 'vcpu_count'" },
		{ "{\"vcpu_count\": 0, \"mem_size_mib\": 256}", "vcpu_count 0 is out of range" },
		{ "{\"vcpu_count\": 255, \"mem_size_mib\": 256}", "vcpu_count 255 is out of range" },
		{ "{\"vcpu_count\": 2, \"mem_size_mib\": 0}", "mem_size_mib 0 is out of range" },
		{ "{\"vcpu_count\": 3, \"mem_size_mib\": 64, \"smt\": true}", "must be 1 or even" },
		{ "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"cpu_template\": \"T2S\"}", "cpu_template 'T2S' is not a CPU template (None, T2, C3)" },
		{ "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": 1}", "field 'smt' must be a boolean" },
		{ "[1, 2]", "expected a JSON object" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(machine(cases[i].body, false), -EINVAL, "%s accepted", cases[i].body);
		cr_assert(strstr(err, cases[i].msg), "%s: message '%s' lacks '%s'", cases[i].body, err,
			  cases[i].msg);
		cr_assert_eq(spec.cfg.nr_vcpus, 1, "rejected body changed vcpu_count");
		cr_assert_eq(spec.cfg.mem_size, 128ull << 20, "rejected body changed memory");
	}
}

Test(spec, machine_config_patch_merges)
{
	cr_assert_eq(machine("{\"vcpu_count\": 2, \"mem_size_mib\": 256}", false), 0);
	cr_assert_eq(machine("{\"mem_size_mib\": 64}", true), 0, "%s", err);
	cr_assert_eq(spec.cfg.nr_vcpus, 2, "PATCH kept vcpu_count");
	cr_assert_eq(spec.cfg.mem_size, 64ull << 20);
	cr_assert_eq(machine("{\"vcpu_count\": 3, \"smt\": true}", true), -EINVAL,
		     "the merged result is validated");
	cr_assert_eq(spec.cfg.nr_vcpus, 2);
}

Test(spec, boot_source_checks_the_kernel_file)
{
	json_t *v = J("{\"kernel_image_path\": \"/nonexistent/vmlinux\"}");

	cr_assert_eq(spec_boot_source(&spec, v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "cannot open kernel_image_path '/nonexistent/vmlinux'"), "%s", err);
	cr_assert_not(spec.has_boot_source);
	json_decref(v);

	v = J("{\"kernel_image_path\": \"/tmp\"}");
	cr_assert_eq(spec_boot_source(&spec, v, err, sizeof(err)), -EINVAL,
		     "a directory is not a kernel");
	cr_assert(strstr(err, "'/tmp' is a directory, not a regular file"), "%s", err);
	json_decref(v);

	v = JK("{\"kernel_image_path\": \"KERNEL\", \"boot_args\": \"console=ttyS0\"}");
	cr_assert_eq(spec_boot_source(&spec, v, err, sizeof(err)), 0, "%s", err);
	cr_assert(spec.has_boot_source);
	cr_assert_str_eq(spec.cfg.kernel_path, kernel);
	cr_assert_str_eq(spec.cfg.cmdline, "console=ttyS0");
	json_decref(v);
}

Test(spec, logger_level_and_unsupported_sections)
{
	json_t *v = J("{\"level\": \"Loud\"}");

	cr_assert_eq(spec_logger(&spec, v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "level 'Loud'"), "%s", err);
	cr_assert_not(spec.logger.set);
	json_decref(v);

	v = J("{\"amount_mib\": 0, \"deflate_on_oom\": false}");
	cr_assert_eq(spec_unsupported("balloon", v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no virtio-balloon device"), "%s", err);
	json_decref(v);
	v = J("{\"amount_mib\": 0, \"deflate_on_oom\": false, \"bogus\": 1}");
	cr_assert_eq(spec_unsupported("balloon", v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "unknown field 'bogus'"), "the body is checked first: %s", err);
	json_decref(v);
}

/* Drives from a config file: the root drive becomes disk 0 (/dev/vda) wherever it is listed,
 * root= is appended to boot_args, drive_id is the GET_ID serial, and entropy turns on the rng. */
Test(spec, drives_root_first_and_cmdline)
{
	json_t *doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\", \"boot_args\": "
			 "\"console=ttyS0\"}, \"drives\": [{\"drive_id\": \"data\", \"path_on_host\": "
			 "\"KERNEL\", \"is_root_device\": false, \"io_engine\": \"Sync\"}, {\"drive_id\": "
			 "\"root\", \"path_on_host\": \"KERNEL\", \"is_root_device\": true, "
			 "\"is_read_only\": true}], \"entropy\": {}}");

	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(spec.cfg.nr_disks, 2);
	cr_assert_str_eq(spec.cfg.disks[0].id, "root");
	cr_assert(spec.cfg.disks[0].ro);
	cr_assert_str_eq(spec.cfg.disks[1].id, "data");
	cr_assert_eq(spec.cfg.disks[1].io, DISK_IO_SYNC);
	cr_assert_str_eq(spec.cfg.cmdline, "console=ttyS0 root=/dev/vda ro");
	cr_assert(spec.cfg.rng);
	json_decref(doc);

	doc = JK("{\"drive_id\": \"data\", \"path_on_host\": \"KERNEL\", \"is_root_device\": true}");
	cr_assert_eq(spec_drive(&spec, "data", doc, err, sizeof(err)), -EINVAL,
		     "a second root drive");
	cr_assert(strstr(err, "'root' is already the root device"), "%s", err);
	cr_assert_str_eq(spec.cfg.disks[1].id, "data", "the refused PUT changed nothing");
	json_decref(doc);
}

Test(spec, drive_errors_name_the_field)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "{\"drive_id\": \"d\", \"is_root_device\": false}", "path_on_host" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\"}", "is_root_device" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"/nonexistent/x\", \"is_root_device\": "
		  "false}", "/nonexistent/x" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\", \"is_root_device\": false, "
		  "\"cache_type\": \"None\"}", "cache_type" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\", \"is_root_device\": false, "
		  "\"io_engine\": \"Fast\"}", "io_engine" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\", \"is_root_device\": false, "
		  "\"rate_limiter\": {\"bandwidth\": {\"size\": -1, \"refill_time\": 100}}}",
		  "drives: rate_limiter.bandwidth: size -1 must not be negative" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\", \"is_root_device\": false, "
		  "\"rate_limiter\": {\"ops\": {\"size\": 10}}}",
		  "drives: rate_limiter.ops: missing field 'refill_time'" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\", \"is_root_device\": false, "
		  "\"rate_limiter\": {\"iops\": {}}}", "drives: rate_limiter: unknown field 'iops'" },
		{ "{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\", \"is_root_device\": false, "
		  "\"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": \"1s\"}}}",
		  "drives: rate_limiter.ops: field 'refill_time'" },
		{ "{\"drive_id\": \"d\", \"is_root_device\": false, \"socket\": \"/s\"}", "socket" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = JK(cases[i].body);

		err[0] = '\0';
		cr_assert_eq(spec_drive(&spec, "d", v, err, sizeof(err)), -EINVAL, "case %zu", i);
		cr_assert(strstr(err, cases[i].want), "case %zu: %s", i, err);
		json_decref(v);
	}
	cr_assert_eq(spec.nr_drives, 0, "no refused drive was added");
}

/* ---- rate limiters ------------------------------------------------------------------------ */

Test(spec, drive_rate_limiter_put_patch_and_report)
{
	json_t *v = JK("{\"drive_id\": \"d\", \"path_on_host\": \"KERNEL\", \"is_root_device\": true, "
		       "\"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, \"one_time_burst\": 4096, "
		       "\"refill_time\": 1000}}}");
	struct spec_drive_patch patch;
	json_t *out, *rl;

	cr_assert_eq(spec_drive(&spec, "d", v, err, sizeof(err)), 0, "%s", err);
	json_decref(v);
	cr_assert_eq(spec.cfg.disks[0].rate_limiter.bandwidth.size, 1048576);
	cr_assert_eq(spec.cfg.disks[0].rate_limiter.bandwidth.one_time_burst, 4096);
	cr_assert_eq(spec.cfg.disks[0].rate_limiter.bandwidth.refill_ms, 1000);
	cr_assert_eq(spec.cfg.disks[0].rate_limiter.ops.size, 0, "no ops bucket given: none");

	/* PATCH the ops bucket alone: the bandwidth bucket stays. */
	v = J("{\"drive_id\": \"d\", \"rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 10}}}");
	cr_assert_eq(spec_drive_patch(&spec, "d", v, &patch, err, sizeof(err)), 0, "%s", err);
	json_decref(v);
	cr_assert(patch.set_ops && !patch.set_bandwidth && !patch.path);
	cr_assert_eq(patch.index, 0);
	cr_assert_eq(patch.rate_limiter.ops.size, 100);
	cr_assert_eq(patch.rate_limiter.bandwidth.size, 1048576);
	cr_assert_eq(spec.cfg.disks[0].rate_limiter.ops.refill_ms, 10);

	/* A refused PATCH changes nothing. */
	v = J("{\"drive_id\": \"d\", \"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": -1}}}");
	cr_assert_eq(spec_drive_patch(&spec, "d", v, &patch, err, sizeof(err)), -EINVAL);
	json_decref(v);
	cr_assert(strstr(err, "rate_limiter.ops: refill_time -1 must not be negative"), "%s", err);
	cr_assert_eq(spec.cfg.disks[0].rate_limiter.ops.size, 100);

	out = spec_to_json(&spec);
	rl = json_object_get(json_array_get(json_object_get(out, "drives"), 0), "rate_limiter");
	cr_assert_eq(jint(json_object_get(rl, "bandwidth"), "size", 0), 1048576);
	cr_assert_eq(jint(json_object_get(rl, "bandwidth"), "one_time_burst", 0), 4096);
	cr_assert_eq(jint(json_object_get(rl, "ops"), "refill_time", 0), 10);
	json_decref(out);
}

Test(spec, entropy_rate_limiter)
{
	json_t *v = J("{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}, "
		      "\"ops\": {\"size\": 5, \"refill_time\": 1000}}}"), *out;

	cr_assert_eq(spec_entropy(&spec, v, err, sizeof(err)), 0, "%s", err);
	json_decref(v);
	cr_assert(spec.cfg.rng);
	cr_assert_eq(spec.cfg.rng_rate_limiter.bandwidth.size, 1000);
	cr_assert_eq(spec.cfg.rng_rate_limiter.ops.refill_ms, 1000);
	out = spec_to_json(&spec);
	cr_assert_eq(jint(json_object_get(json_object_get(json_object_get(out, "entropy"), "rate_limiter"),
					 "ops"), "size", 0), 5);
	json_decref(out);
	v = J("{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000}}}");
	cr_assert_eq(spec_entropy(&spec, v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "entropy: rate_limiter.bandwidth: missing field 'refill_time'"), "%s", err);
	json_decref(v);
}

Test(spec, document_round_trip)
{
	json_t *doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, "
			 "\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64}, \"drives\": []}");
	json_t *out;

	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), 0, "%s", err);
	out = spec_to_json(&spec);
	cr_assert_str_eq(jstr(json_object_get(out, "boot-source"), "kernel_image_path"), kernel);
	cr_assert_eq(jint(json_object_get(out, "machine-config"), "vcpu_count", 0), 2);
	cr_assert_eq(json_array_size(json_object_get(out, "drives")), 0);
	json_decref(out);
	json_decref(doc);

	doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, \"bogus\": {}}");
	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "unknown section 'bogus'"), "%s", err);
	json_decref(doc);
	doc = J("{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}}");
	spec_free(&spec);
	spec_init(&spec, NULL);
	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "boot-source: missing"), "%s", err);
	json_decref(doc);
}

/* ---- network interfaces ------------------------------------------------------------------ */

/* PUT /network-interfaces/{path_id} with `text`; returns the parser's result. */
static int put_net(const char *path_id, const char *text)
{
	json_t *v = J(text);
	int r;

	err[0] = '\0';
	r = spec_net(&spec, path_id, v, err, sizeof(err));
	json_decref(v);
	return r;
}

static struct spec_net_patch net_patch;

static int patch_net(const char *path_id, const char *text)
{
	json_t *v = J(text);
	int r;

	err[0] = '\0';
	r = spec_net_patch(&spec, path_id, v, &net_patch, err, sizeof(err));
	json_decref(v);
	return r;
}

Test(spec, net_put_appends_and_replaces)
{
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"guest_mac\": \"AA:FC:00:00:00:01\", "
				     "\"host_dev_name\": \"tap0\"}"), 0, "%s", err);
	cr_assert_eq(spec.cfg.nr_nets, 1);
	cr_assert_str_eq(spec.cfg.nets[0].id, "eth0");
	cr_assert_eq(spec.cfg.nets[0].backend, NET_BACKEND_TAP);
	cr_assert_str_eq(spec.cfg.nets[0].tap, "tap0");
	cr_assert(spec.cfg.nets[0].has_mac);
	cr_assert_eq(memcmp(spec.cfg.nets[0].mac, (uint8_t[]){ 0xaa, 0xfc, 0, 0, 0, 1 }, 6), 0);
	cr_assert_eq(spec.cfg.nets[0].mtu, 0);

	cr_assert_eq(put_net("net_b", "{\"iface_id\": \"net_b\", \"host_dev_name\": \"tap1\", "
				      "\"mtu\": 9000, \"rx_rate_limiter\": null, "
				      "\"tx_rate_limiter\": null}"), 0, "null limiters: %s", err);
	cr_assert_eq(spec.cfg.nr_nets, 2);
	cr_assert_str_eq(spec.cfg.nets[1].id, "net_b");
	cr_assert_eq(spec.cfg.nets[1].mtu, 9000);

	/* A known id is replaced where it stands: eth0 stays first, without its MAC now. */
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap2\"}"), 0,
		     "%s", err);
	cr_assert_eq(spec.cfg.nr_nets, 2);
	cr_assert_str_eq(spec.cfg.nets[0].id, "eth0");
	cr_assert_str_eq(spec.cfg.nets[0].tap, "tap2");
	cr_assert_not(spec.cfg.nets[0].has_mac);
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
				     "\"guest_mac\": \"06:00:00:00:00:01\"}"), 0, "%s", err);
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
				     "\"guest_mac\": \"06:00:00:00:00:01\"}"), 0,
		     "its own TAP and MAC do not clash with themselves: %s", err);
	cr_assert_eq(config_nr_virtio(&spec.cfg), 2);
}

Test(spec, net_errors_name_the_field_and_change_nothing)
{
	static const struct {
		const char *path, *body, *want;
	} cases[] = {
		{ "eth1", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\"}",
		  "iface_id 'eth0' does not match the path's 'eth1'" },
		{ "eth1", "{\"iface_id\": \"eth1\"}", "missing field 'host_dev_name'" },
		{ "eth1", "{\"host_dev_name\": \"tap1\"}", "missing field 'iface_id'" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": null}",
		  "field 'host_dev_name' must be a string" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"\"}", "host_dev_name '' is empty" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"0123456789abcdef\"}",
		  "host_dev_name '0123456789abcdef' is longer than 15 bytes" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"a/b\"}", "host_dev_name 'a/b'" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": 7}",
		  "field 'host_dev_name' must be a string" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": \"zz\"}",
		  "guest_mac 'zz' is not a MAC address" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": "
			  "\"ff:ff:ff:ff:ff:ff\"}", "guest_mac 'ff:ff:ff:ff:ff:ff' is a multicast address" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"mtu\": 67}",
		  "mtu 67 is out of range (68 to 65535)" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"mtu\": 65536}",
		  "mtu 65536" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"rx_rate_limiter\": "
			  "{\"burst\": {}}}",
		  "network-interfaces: rx_rate_limiter: unknown field 'burst'" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"tx_rate_limiter\": "
			  "{\"bandwidth\": {\"size\": 1000, \"refill_time\": -100}}}",
		  "network-interfaces: tx_rate_limiter.bandwidth: refill_time -100 must not be negative" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"rx_rate_limiter\": 5}",
		  "field 'rx_rate_limiter' must be an object" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
			  "\"allow_mmds_requests\": true}", "unknown field 'allow_mmds_requests'" },
		{ NULL, "{\"iface_id\": \"\", \"host_dev_name\": \"tap1\"}", "iface_id '' must be 1 to 64" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}",
		  "host_dev_name 'tap0' is already used by 'eth0'" },
		{ "eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"guest_mac\": "
			  "\"06:00:00:00:00:01\"}", "guest_mac '06:00:00:00:00:01' is already used by 'eth0'" },
		{ "eth1", "[]", "network-interfaces: expected a JSON object" },
	};

	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
				     "\"guest_mac\": \"06:00:00:00:00:01\"}"), 0, "%s", err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(put_net(cases[i].path, cases[i].body), -EINVAL, "case %zu accepted", i);
		cr_assert(strstr(err, cases[i].want), "case %zu: message '%s' lacks '%s'", i, err,
			  cases[i].want);
		cr_assert(strncmp(err, "network-interfaces: ", 20) == 0, "case %zu: %s", i, err);
		cr_assert_eq(spec.nr_nets, 1, "case %zu added an interface", i);
		cr_assert_str_eq(spec.cfg.nets[0].tap, "tap0", "case %zu changed eth0", i);
	}
}

Test(spec, net_long_id_and_limits)
{
	char body[256], id[CONFIG_NET_ID_MAX + 2];

	memset(id, 'n', CONFIG_NET_ID_MAX);
	id[CONFIG_NET_ID_MAX] = '\0';
	snprintf(body, sizeof(body), "{\"iface_id\": \"%s\", \"host_dev_name\": \"t\"}", id);
	cr_assert_eq(put_net(id, body), 0, "a 64-byte iface_id: %s", err);
	strcat(id, "n");
	snprintf(body, sizeof(body), "{\"iface_id\": \"%s\", \"host_dev_name\": \"u\"}", id);
	cr_assert_eq(put_net(id, body), -EINVAL, "a 65-byte iface_id");
	cr_assert(strstr(err, "must be 1 to 64 bytes"), "%s", err);

	for (unsigned int i = 1; i < CONFIG_MAX_NETS; i++) {
		snprintf(body, sizeof(body), "{\"iface_id\": \"if%u\", \"host_dev_name\": \"tap%u\"}",
			 i, i);
		snprintf(id, sizeof(id), "if%u", i);
		cr_assert_eq(put_net(id, body), 0, "interface %u: %s", i, err);
	}
	cr_assert_eq(put_net("if9", "{\"iface_id\": \"if9\", \"host_dev_name\": \"tap9\"}"), -EINVAL);
	cr_assert_str_eq(err, "network-interfaces: at most 8 interfaces");
	cr_assert_eq(put_net("if3", "{\"iface_id\": \"if3\", \"host_dev_name\": \"tap33\"}"), 0,
		     "a full set still takes replacements: %s", err);
	cr_assert_eq(spec.cfg.nr_nets, CONFIG_MAX_NETS);
}

Test(spec, net_counts_in_the_virtio_total)
{
	spec.cfg.nr_disks = CONFIG_MAX_VIRTIO - 1;
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}"), 0,
		     "%s", err);
	cr_assert_eq(put_net("eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}"), -EINVAL);
	cr_assert_str_eq(err, "network-interfaces: at most 16 virtio devices");
	spec.cfg.nr_disks = 0;
}

Test(spec, net_patch)
{
	cr_assert_eq(put_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}"), 0);
	cr_assert_eq(patch_net("eth0", "{\"iface_id\": \"eth0\"}"), 0, "%s", err);
	cr_assert_eq(patch_net("eth0", "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": null, "
				       "\"tx_rate_limiter\": null}"), 0, "%s", err);
	cr_assert_eq(patch_net("eth9", "{\"iface_id\": \"eth9\"}"), -EINVAL);
	cr_assert_str_eq(err, "network-interfaces: no interface 'eth9'");
	cr_assert_eq(patch_net("eth0", "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": "
				       "{\"size\": 7, \"refill_time\": 1}}}"), 0, "%s", err);
	cr_assert(net_patch.tx_ops && !net_patch.tx_bandwidth && !net_patch.rx_ops);
	cr_assert_eq(net_patch.index, 0);
	cr_assert_eq(spec.cfg.nets[0].tx_rate_limiter.ops.size, 7);
	cr_assert_eq(patch_net("eth0", "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": "
				       "{\"size\": 1}}}"), -EINVAL);
	cr_assert_str_eq(err, "network-interfaces: tx_rate_limiter.ops: missing field 'refill_time'");
	cr_assert_eq(spec.cfg.nets[0].tx_rate_limiter.ops.size, 7, "a refused PATCH changes nothing");
	cr_assert_eq(patch_net("eth0", "{\"iface_id\": \"eth1\"}"), -EINVAL);
	cr_assert(strstr(err, "does not match the path's 'eth0'"), "%s", err);
	cr_assert_eq(patch_net("eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\"}"),
		     -EINVAL, "PartialNetworkInterface has no host_dev_name");
	cr_assert(strstr(err, "unknown field 'host_dev_name'"), "%s", err);
	cr_assert_eq(patch_net("eth0", "{}"), -EINVAL);
	cr_assert(strstr(err, "missing field 'iface_id'"), "%s", err);
	cr_assert_str_eq(spec.cfg.nets[0].tap, "tap0", "no PATCH changed the interface");
	cr_assert_eq(spec.cfg.nr_nets, 1);
}

Test(spec, net_document_and_vm_config)
{
	json_t *doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, "
			 "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"guest_mac\": "
			 "\"AA:FC:00:00:00:01\", \"host_dev_name\": \"tap0\"}, {\"iface_id\": "
			 "\"eth1\", \"host_dev_name\": \"tap1\", \"mtu\": 1400}]}");
	json_t *out, *nets, *want;

	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), 0, "%s", err);
	json_decref(doc);
	cr_assert_eq(spec.cfg.nr_nets, 2);
	cr_assert_str_eq(spec.cfg.nets[1].tap, "tap1");
	out = spec_to_json(&spec);
	nets = json_object_get(out, "network-interfaces");
	want = J("[{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
		 "\"aa:fc:00:00:00:01\"}, {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
		 "\"mtu\": 1400}]");
	cr_assert(json_equal(nets, want), "GET /vm/config lists the interfaces as Firecracker does");
	json_decref(want);
	json_decref(out);
}

Test(spec, net_document_errors)
{
	json_t *doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, "
			 "\"network-interfaces\": {\"iface_id\": \"eth0\"}}");

	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "network-interfaces: expected an array");
	json_decref(doc);
	doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, \"network-interfaces\": "
		 "[{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"rx_rate_limiter\": "
		 "{\"bandwidth\": {\"size\": 1, \"refill_time\": \"x\"}}}]}");
	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "network-interfaces: rx_rate_limiter.bandwidth: field 'refill_time'"),
		  "%s", err);
	json_decref(doc);
	doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, \"network-interfaces\": []}");
	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(spec.cfg.nr_nets, 0);
	json_decref(doc);
}

/* kiln run --net ... --api-sock: the command line's interfaces become the API's. */
Test(spec, net_adopted_from_the_command_line)
{
	struct vmm_config cli;
	char *storage[2] = { NULL, NULL };
	json_t *out, *nets;

	config_init(&cli);
	cli.kernel_path = kernel;
	cr_assert_eq(config_parse_net("tap=tap0,mac=06:00:00:00:00:07", 0, &cli.nets[0], &storage[0],
				      err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_parse_net("user,hostfwd=tcp::2222-:22", 1, &cli.nets[1], &storage[1],
				      err, sizeof(err)), 0, "%s", err);
	cli.nr_nets = 2;
	spec_free(&spec);
	spec_init(&spec, &cli);
	spec_adopt_cli(&spec);
	free(storage[0]);
	free(storage[1]); /* the spec has its own copies now */
	cr_assert_eq(spec.cfg.nr_nets, 2);
	cr_assert_str_eq(spec.cfg.nets[0].tap, "tap0");
	cr_assert_str_eq(spec.cfg.nets[1].id, "eth1");
	cr_assert_eq(spec.cfg.nets[1].backend, NET_BACKEND_USER);
	cr_assert_eq(spec.cfg.nets[1].hostfwd[0].host_port, 2222);
	cr_assert_eq(patch_net("eth1", "{\"iface_id\": \"eth1\"}"), 0, "%s", err);
	out = spec_to_json(&spec);
	nets = json_object_get(out, "network-interfaces");
	cr_assert_eq(json_array_size(nets), 2);
	cr_assert_str_eq(jstr(json_array_get(nets, 0), "guest_mac"), "06:00:00:00:00:07");
	cr_assert_null(json_object_get(json_array_get(nets, 1), "host_dev_name"));
	cr_assert_str_eq(jstr(json_array_get(nets, 1), "kiln_net"),
			 "user,net=10.0.2.0/24,hostfwd=tcp::2222-:22",
			 "a user-mode interface is kiln_net, in --net's syntax");
	json_decref(out);
}

/* kiln_net: a user-mode interface through the API (and so in a snapshot's configuration
 * document): it reads back as it was given, and a bad one names the field. */
Test(spec, net_user_mode_through_kiln_net)
{
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "{\"iface_id\": \"eth1\", \"host_dev_name\": \"t1\", \"kiln_net\": \"user\"}",
		  "host_dev_name (a TAP device) and kiln_net (a user-mode backend) exclude each other" },
		{ "{\"iface_id\": \"eth1\", \"kiln_net\": \"tap=t1\"}",
		  "kiln_net 'tap=t1' is not a user-mode backend" },
		{ "{\"iface_id\": \"eth1\", \"kiln_net\": \"username\"}",
		  "kiln_net 'username' is not a user-mode backend" },
		{ "{\"iface_id\": \"eth1\", \"kiln_net\": \"user,mtu=1400\"}",
		  "kiln_net 'user,mtu=1400': give the MAC and MTU in guest_mac and mtu" },
		{ "{\"iface_id\": \"eth1\", \"kiln_net\": \"user,hostfwd=tcp::0-:22\"}",
		  "kiln_net: user: hostfwd 'tcp::0-:22': host port '0' is not a port" },
		{ "{\"iface_id\": \"eth1\", \"kiln_net\": 5}", "field 'kiln_net' must be a string" },
	};
	const char *text = "user,net=192.168.7.0/24,hostfwd=udp:127.0.0.1:5353-:53,"
			   "hostfwd=tcp::8080-192.168.7.15:80";
	char body[256];
	json_t *out, *o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(put_net("eth1", bad[i].body), -EINVAL, "case %zu accepted", i);
		cr_assert(strstr(err, bad[i].want), "case %zu: message '%s' lacks '%s'", i, err,
			  bad[i].want);
		cr_assert_eq(spec.nr_nets, 0, "case %zu added an interface", i);
	}
	snprintf(body, sizeof(body), "{\"iface_id\": \"eth1\", \"kiln_net\": \"%s\", \"mtu\": 1400}",
		 text);
	cr_assert_eq(put_net("eth1", body), 0, "%s", err);
	cr_assert_eq(spec.cfg.nr_nets, 1);
	cr_assert_eq(spec.cfg.nets[0].backend, NET_BACKEND_USER);
	cr_assert_null(spec.cfg.nets[0].tap);
	cr_assert_eq(spec.cfg.nets[0].user_net, 0xc0a80700u);
	cr_assert_eq(spec.cfg.nets[0].nr_hostfwd, 2);
	cr_assert(spec.cfg.nets[0].hostfwd[0].udp);
	cr_assert_eq(spec.cfg.nets[0].hostfwd[0].host_addr, 0x7f000001u);
	cr_assert_eq(spec.cfg.nets[0].hostfwd[1].guest_port, 80);
	cr_assert_eq(spec.cfg.nets[0].mtu, 1400);
	out = spec_to_json(&spec);
	o = json_array_get(json_object_get(out, "network-interfaces"), 0);
	/* The guest address is stored nowhere (every forward goes to the DHCP address): omitted. */
	cr_assert_str_eq(jstr(o, "kiln_net"), "user,net=192.168.7.0/24,hostfwd=udp:127.0.0.1:5353-:53,"
					      "hostfwd=tcp::8080-:80");
	cr_assert_eq(json_integer_value(json_object_get(o, "mtu")), 1400);
	/* And what it wrote reads back the same: what a snapshot's restore relies on. */
	cr_assert_eq(spec_net(&spec, "eth1", o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(spec.cfg.nets[0].nr_hostfwd, 2);
	cr_assert_eq(spec.cfg.nets[0].hostfwd[1].host_port, 8080);
	json_decref(out);
}

/* ---- the vsock device ------------------------------------------------------------------------ */

/* PUT /vsock with `text`; returns the parser's result. */
static int put_vsock(const char *text)
{
	json_t *v = J(text);
	int r;

	err[0] = '\0';
	r = spec_vsock(&spec, v, err, sizeof(err));
	json_decref(v);
	return r;
}

/* GET /vm/config's "vsock" equals the JSON `want` ("null" for none). */
static void vm_config_vsock_is(const char *want)
{
	json_t *out = spec_to_json(&spec), *w = json_loads(want, JSON_DECODE_ANY, NULL);
	char *got = json_dumps(json_object_get(out, "vsock"), JSON_COMPACT | JSON_ENCODE_ANY);

	cr_assert_not_null(w, "bad test JSON: %s", want);
	cr_assert_not_null(got, "GET /vm/config always has a vsock key");
	cr_assert(json_equal(json_object_get(out, "vsock"), w), "vsock is %s, want %s", got, want);
	free(got);
	json_decref(w);
	json_decref(out);
}

Test(spec, vsock_put_and_replace)
{
	vm_config_vsock_is("null");
	cr_assert_not(spec.cfg.has_vsock);
	cr_assert_eq(put_vsock("{\"guest_cid\": 3, \"uds_path\": \"./v.sock\"}"), 0, "%s", err);
	cr_assert(spec.cfg.has_vsock);
	cr_assert_str_eq(spec.cfg.vsock.id, "vsock0");
	cr_assert_eq(spec.cfg.vsock.guest_cid, 3);
	cr_assert_str_eq(spec.cfg.vsock.uds_path, "./v.sock");
	vm_config_vsock_is("{\"guest_cid\": 3, \"uds_path\": \"./v.sock\"}");
	/* A second PUT replaces the device whole, as Firecracker's; vsock_id is never reported. */
	cr_assert_eq(put_vsock("{\"vsock_id\": \"agent\", \"guest_cid\": 4294967294, "
			       "\"uds_path\": \"/run/v.sock\"}"), 0, "%s", err);
	cr_assert_str_eq(spec.cfg.vsock.id, "agent");
	cr_assert_eq(spec.cfg.vsock.guest_cid, 0xfffffffe);
	cr_assert_str_eq(spec.cfg.vsock.uds_path, "/run/v.sock");
	vm_config_vsock_is("{\"guest_cid\": 4294967294, \"uds_path\": \"/run/v.sock\"}");
	cr_assert_eq(put_vsock("{\"vsock_id\": null, \"guest_cid\": 52, \"uds_path\": \"v\"}"), 0,
		     "%s", err);
	cr_assert_str_eq(spec.cfg.vsock.id, "vsock0", "the replacement's own id, not the old one");
	cr_assert_eq(config_validate(&spec.cfg, err, sizeof(err)), -EINVAL, "no kernel yet");
	spec.cfg.kernel_path = kernel;
	cr_assert_eq(config_validate(&spec.cfg, err, sizeof(err)), 0, "%s", err);
}

Test(spec, vsock_errors_name_the_field_and_change_nothing)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "{\"uds_path\": \"v\"}", "vsock: missing field 'guest_cid'" },
		{ "{\"guest_cid\": 3}", "vsock: missing field 'uds_path'" },
		{ "{\"guest_cid\": null, \"uds_path\": \"v\"}",
		  "vsock: field 'guest_cid' must be an integer" },
		{ "{\"guest_cid\": \"3\", \"uds_path\": \"v\"}",
		  "vsock: field 'guest_cid' must be an integer" },
		{ "{\"guest_cid\": 3.0, \"uds_path\": \"v\"}",
		  "vsock: field 'guest_cid' must be an integer" },
		{ "{\"guest_cid\": 3, \"uds_path\": 7}",
		  "vsock: field 'uds_path' must be a string" },
		{ "{\"guest_cid\": 3, \"uds_path\": \"v\", \"vsock_id\": 1}",
		  "vsock: field 'vsock_id' must be a string" },
		{ "{\"guest_cid\": 0, \"uds_path\": \"v\"}", "vsock: guest_cid 0 is reserved (0: "
		  "hypervisor, 1: local, 2: host; a guest has 3 to 4294967294)" },
		{ "{\"guest_cid\": 2, \"uds_path\": \"v\"}", "vsock: guest_cid 2 is reserved (0: "
		  "hypervisor, 1: local, 2: host; a guest has 3 to 4294967294)" },
		{ "{\"guest_cid\": -1, \"uds_path\": \"v\"}",
		  "vsock: guest_cid -1 is out of range (3 to 4294967294)" },
		{ "{\"guest_cid\": 4294967295, \"uds_path\": \"v\"}",
		  "vsock: guest_cid 4294967295 is out of range (3 to 4294967294)" },
		{ "{\"guest_cid\": 4294967299, \"uds_path\": \"v\"}",
		  "vsock: guest_cid 4294967299 is out of range (3 to 4294967294)" },
		{ "{\"guest_cid\": 3, \"uds_path\": \"\"}", "vsock: uds_path '' is empty" },
		{ "{\"guest_cid\": 3, \"uds_path\": \"v\", \"vsock_id\": \"\"}",
		  "vsock: vsock_id '' must be 1 to 64 bytes" },
		{ "{\"guest_cid\": 3, \"uds_path\": \"v\", \"bogus\": 1}",
		  "vsock: unknown field 'bogus'" },
		{ "[]", "vsock: expected a JSON object" },
		{ "3", "vsock: expected a JSON object" },
	};

	cr_assert_eq(put_vsock("{\"guest_cid\": 7, \"uds_path\": \"/first\"}"), 0, "%s", err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].body, JSON_DECODE_ANY, NULL);

		cr_assert_not_null(v, "case %zu: bad test JSON", i);
		err[0] = '\0';
		cr_assert_eq(spec_vsock(&spec, v, err, sizeof(err)), -EINVAL, "case %zu accepted", i);
		json_decref(v);
		cr_assert_str_eq(err, cases[i].want, "case %zu", i);
		cr_assert(spec.cfg.has_vsock);
		cr_assert_eq(spec.cfg.vsock.guest_cid, 7, "case %zu changed the device", i);
		cr_assert_str_eq(spec.cfg.vsock.uds_path, "/first", "case %zu changed the device", i);
	}
}

Test(spec, vsock_lengths)
{
	char body[512], path[CONFIG_VSOCK_UDS_MAX + 2], id[CONFIG_VSOCK_ID_MAX + 2];

	memset(path, 'p', CONFIG_VSOCK_UDS_MAX);
	path[CONFIG_VSOCK_UDS_MAX] = '\0';
	memset(id, 'i', CONFIG_VSOCK_ID_MAX);
	id[CONFIG_VSOCK_ID_MAX] = '\0';
	snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\", \"vsock_id\": \"%s\"}",
		 path, id);
	cr_assert_eq(put_vsock(body), 0, "a 96-byte uds_path and a 64-byte vsock_id: %s", err);
	strcat(path, "p");
	snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\"}", path);
	cr_assert_eq(put_vsock(body), -EINVAL, "a 97-byte uds_path");
	cr_assert(strncmp(err, "vsock: uds_path 'ppp", 20) == 0, "%s", err);
	cr_assert(strstr(err, "' is longer than 96 bytes (the guest's connections go to "
			      "<uds>_<port>, which must fit a Unix socket address)"), "%s", err);
	path[CONFIG_VSOCK_UDS_MAX] = '\0';
	strcat(id, "i");
	snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\", \"vsock_id\": \"%s\"}",
		 path, id);
	cr_assert_eq(put_vsock(body), -EINVAL, "a 65-byte vsock_id");
	cr_assert(strstr(err, "vsock: vsock_id 'iii"), "%s", err);
	cr_assert(strstr(err, "' must be 1 to 64 bytes"), "%s", err);
}

Test(spec, vsock_needs_a_virtio_slot)
{
	spec.cfg.nr_disks = CONFIG_MAX_VIRTIO;
	cr_assert_eq(put_vsock("{\"guest_cid\": 3, \"uds_path\": \"v\"}"), -EINVAL);
	cr_assert_str_eq(err, "vsock: at most 16 virtio devices");
	cr_assert_not(spec.cfg.has_vsock);
	spec.cfg.nr_disks = 0;
}

Test(spec, vsock_document)
{
	json_t *doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, "
			 "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}}");

	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), 0, "%s", err);
	json_decref(doc);
	cr_assert(spec.cfg.has_vsock);
	cr_assert_eq(spec.cfg.vsock.guest_cid, 3);
	vm_config_vsock_is("{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}");

	spec_free(&spec);
	spec_init(&spec, NULL);
	cr_assert_not(spec.cfg.has_vsock, "spec_free() forgets the device");
	doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, \"vsock\": null}");
	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), 0, "%s", err);
	json_decref(doc);
	cr_assert_not(spec.cfg.has_vsock, "null: no vsock device, as Firecracker");
	vm_config_vsock_is("null");

	doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, "
		 "\"vsock\": {\"guest_cid\": 1, \"uds_path\": \"/tmp/v.sock\"}}");
	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "vsock: guest_cid 1 is reserved"), "%s", err);
	json_decref(doc);
	doc = JK("{\"boot-source\": {\"kernel_image_path\": \"KERNEL\"}, "
		 "\"vsock\": [{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}]}");
	cr_assert_eq(spec_from_document(&spec, doc, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vsock: expected a JSON object");
	json_decref(doc);
}

/* kiln run --vsock ... --api-sock: the command line's device becomes the API's. */
Test(spec, vsock_adopted_from_the_command_line)
{
	struct vmm_config cli;
	char *storage = NULL;

	config_init(&cli);
	cli.kernel_path = kernel;
	cr_assert_eq(config_parse_vsock("cid=42,uds=/tmp/cli.sock", &cli.vsock, &storage, err,
					sizeof(err)), 0, "%s", err);
	cli.has_vsock = true;
	spec_free(&spec);
	spec_init(&spec, &cli);
	spec_adopt_cli(&spec);
	free(storage); /* the spec has its own copies now */
	cr_assert(spec.cfg.has_vsock);
	cr_assert_str_eq(spec.cfg.vsock.id, "vsock0");
	cr_assert_str_eq(spec.cfg.vsock.uds_path, "/tmp/cli.sock");
	vm_config_vsock_is("{\"guest_cid\": 42, \"uds_path\": \"/tmp/cli.sock\"}");
}
