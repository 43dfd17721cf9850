/* fuzz_config.c: libFuzzer target for what a user or an API client sends as configuration: the
 * input is JSON text, parsed by jansson as the API and --config-file do, then applied as a whole
 * Firecracker config file (spec_from_document) and, section by section, as the API's PUT and
 * PATCH bodies (machine-config, boot-source, drives, network-interfaces, vsock, entropy). The
 * logger, metrics and serial sections are removed first: they create the files they name, and a
 * fuzzer must not write wherever its input says. Refusals must be clean (one message, nothing
 * half-applied that crashes a later call), never a crash or a leak. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "control/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[JSON_ERR_MAX];
	struct vm_spec spec;
	struct spec_drive_patch dp;
	struct spec_net_patch np;
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	const char *key;
	json_t *val;

	if (!doc)
		return 0;
	if (json_is_object(doc)) {
		json_object_del(doc, "logger");
		json_object_del(doc, "metrics");
		json_object_del(doc, "serial");
	}
	spec_init(&spec, NULL);
	(void)spec_from_document(&spec, doc, err, sizeof(err));
	spec_free(&spec);

	/* The same object's members as API bodies, on a fresh spec. */
	spec_init(&spec, NULL);
	if (json_is_object(doc)) {
		json_object_foreach(doc, key, val) {
			(void)spec_machine_config(&spec, val, false, err, sizeof(err));
			(void)spec_machine_config(&spec, val, true, err, sizeof(err));
			(void)spec_drive(&spec, "d0", val, err, sizeof(err));
			(void)spec_drive_patch(&spec, "d0", val, &dp, err, sizeof(err));
			(void)spec_net(&spec, "eth0", val, err, sizeof(err));
			(void)spec_net_patch(&spec, "eth0", val, &np, err, sizeof(err));
			(void)spec_vsock(&spec, val, err, sizeof(err));
			(void)spec_entropy(&spec, val, err, sizeof(err));
			(void)spec_boot_source(&spec, val, err, sizeof(err));
		}
		json_decref(spec_to_json(&spec));
	}
	spec_free(&spec);
	json_decref(doc);
	return 0;
}
