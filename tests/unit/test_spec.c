/* test_spec.c: Firecracker configuration sections (src/control/spec.c, json.c): field checks,
 * messages that name the field, and rejected bodies that change nothing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
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
		{ "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}", "cpu_template 'T2'" },
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
	cr_assert(strstr(err, "'/tmp' is not a regular file"), "%s", err);
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

	v = J("{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}");
	cr_assert_eq(spec_unsupported("vsock", v, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no virtio-vsock device"), "%s", err);
	json_decref(v);
	v = J("{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\", \"bogus\": 1}");
	cr_assert_eq(spec_unsupported("vsock", v, err, sizeof(err)), -EINVAL);
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
		  "\"rate_limiter\": {}}", "rate_limiter" },
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
