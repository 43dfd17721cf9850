/* controller.c: the owner thread: start-up, the event loop, and the API's endpoints. */
#include "control/controller.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "control/api.h"
#include "control/exitview.h"
#include "control/gdbstub.h"
#include "control/metrics.h"
#include "control/spec.h"
#include "snapshot.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "version.h"
#include "kvm/vcpu.h"
#include "vmm.h"

#define METRICS_PERIOD_MS 60000 /* periodic flush, as Firecracker */

struct controller {
	const struct controller_opts *opts;
	const struct vmm_config *base; /* the command line's configuration */
	struct vm_spec spec;
	struct vmm *vmm;
	struct api_server *api;
	struct gdbstub *gdb; /* --gdb */
	bool signalled;
	int signal_status;
	uint64_t watch_until_ns; /* the live exit view watches until then (0: not watching) */
};

static const char *const not_after_boot =
	"The requested operation is not supported after starting the microVM.";
static const char *const not_before_boot =
	"The requested operation is not supported before starting the microVM.";

static void apply_logger(const struct vm_spec *s)
{
	if (!s->logger.set)
		return;
	log_set_format(s->logger.show_level, s->logger.show_origin, s->logger.module);
	log_set_level(s->logger.level);
	if (s->logger.fd >= 0)
		log_set_fd(s->logger.fd);
}

/* --log-path, --level, --show-level, --show-log-origin, --module and --metrics-path: the same
 * checks and opening as PUT /logger and PUT /metrics. Returns 0 or 2 after one line. */
static int apply_cli_logging(struct controller *c)
{
	const struct controller_opts *o = c->opts;
	char err[JSON_ERR_MAX];
	json_t *body;
	int e = 0;

	if (o->log_path || o->level || o->show_level || o->show_origin || o->module) {
		body = json_pack("{s:s?, s:s?, s:b, s:b, s:s?}", "log_path", o->log_path, "level",
				 o->level, "show_level", o->show_level, "show_log_origin",
				 o->show_origin, "module", o->module);
		e = body ? spec_logger(&c->spec, body, err, sizeof(err)) : -ENOMEM;
		json_decref(body);
		if (e) {
			pr_err("--log-path/--level: %s", e == -ENOMEM ? "out of memory" : err);
			return KILN_EXIT_USAGE;
		}
	}
	if (o->metrics_path) {
		body = json_pack("{s:s}", "metrics_path", o->metrics_path);
		e = body ? spec_metrics(&c->spec, body, err, sizeof(err)) : -ENOMEM;
		json_decref(body);
		if (e) {
			pr_err("--metrics-path: %s", e == -ENOMEM ? "out of memory" : err);
			return KILN_EXIT_USAGE;
		}
	}
	return 0;
}

/* The jailer's --start-time-us/--start-time-cpu-us/--parent-cpu-time-us: how long kiln took
 * from its launch to serving the API, logged at info level as Firecracker does. */
static void report_start_time(const struct controller_opts *o)
{
	struct timespec now, cpu;

	if (!o->has_start_time)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	uint64_t now_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
	uint64_t cpu_us = (uint64_t)cpu.tv_sec * 1000000u + (uint64_t)cpu.tv_nsec / 1000u;

	if (now_us >= o->start_time_us)
		pr_info("Process startup time is %llu us (%llu ms)",
			(unsigned long long)(now_us - o->start_time_us),
			(unsigned long long)((now_us - o->start_time_us) / 1000u));
	if (o->has_start_time_cpu) {
		uint64_t total = cpu_us + (o->has_parent_cpu_time ? o->parent_cpu_time_us : 0);

		if (total >= o->start_time_cpu_us)
			pr_info("Process startup CPU time is %llu us (%llu ms)",
				(unsigned long long)(total - o->start_time_cpu_us),
				(unsigned long long)((total - o->start_time_cpu_us) / 1000u));
	}
}

static void flush_metrics(struct controller *c)
{
	if (c->spec.metrics.fd >= 0) {
		int e = metrics_write(c->spec.metrics.fd, c->vmm, c->api);

		if (e)
			pr_warn("metrics: cannot write to %s: %s", c->spec.metrics.path, strerror(-e));
	}
}

/* Builds and starts the VM. Returns 0, or the exit status the builder chose with err set. */
static int start_vm(struct controller *c, char *err, size_t err_size)
{
	int status = builder_build(&c->spec.cfg, &c->vmm, err, err_size);

	if (status)
		return status;
	if (c->spec.cfg.gdb &&
	    gdbstub_start(&c->gdb, c->vmm, c->spec.cfg.gdb, c->spec.cfg.gdb_wait, err, err_size)) {
		vmm_destroy(c->vmm);
		c->vmm = NULL;
		return KILN_EXIT_USAGE;
	}
	if (vmm_start(c->vmm))
		snprintf(err, BUILD_ERR_MAX, "cannot start the vCPU threads");
	return 0;
}

static const char *state_name(const struct controller *c)
{
	if (!c->vmm)
		return "Not started";
	return vmm_paused(c->vmm) ? "Paused" : "Running";
}

/* ---- endpoints (owner thread) -------------------------------------------------------------- */

static void bad(struct api_request *req, const char *msg)
{
	snprintf(req->fault, sizeof(req->fault), "%s", msg);
	req->status = 400;
}

static bool need_body(struct api_request *req)
{
	if (req->body)
		return true;
	bad(req, "missing JSON request body");
	return false;
}

static bool pre_boot_only(struct controller *c, struct api_request *req)
{
	if (!c->vmm)
		return true;
	bad(req, not_after_boot);
	return false;
}

/* PATCH /drives/{id}: before boot it edits the configuration; on a running VM it also swaps
 * the device's image (the guest is told its capacity may have changed) and replaces its rate
 * limiter's buckets. */
static void patch_drive(struct controller *c, struct api_request *req, const char *id)
{
	struct spec_drive_patch patch;
	char *old_path = NULL;

	if (!need_body(req))
		return;
	for (unsigned int i = 0; i < c->spec.nr_drives; i++)
		if (strcmp(c->spec.drives[i].id, id) == 0)
			old_path = strdup(c->spec.drives[i].path);
	if (spec_drive_patch(&c->spec, id, req->body, &patch, req->fault, sizeof(req->fault))) {
		req->status = 400;
	} else if (c->vmm && patch.index >= 0) {
		char err[BUILD_ERR_MAX];

		if (patch.path && vmm_swap_disk(c->vmm, (unsigned int)patch.index, patch.path, err,
						sizeof(err))) {
			/* The VM keeps the old image; so does the configuration. */
			json_t *undo = json_pack("{s:s, s:s}", "drive_id", id, "path_on_host",
						 old_path ? old_path : "");
			struct spec_drive_patch ignored;

			if (undo && old_path && spec_drive_patch(&c->spec, id, undo, &ignored, err, sizeof(err)))
				pr_warn("drives: cannot restore '%s' in the configuration", id);
			json_decref(undo);
			snprintf(req->fault, sizeof(req->fault), "drives: %.280s", err);
			req->status = 400;
		} else if (patch.set_bandwidth || patch.set_ops) {
			vmm_set_disk_rate_limiter(c->vmm, (unsigned int)patch.index, &patch.rate_limiter,
						  patch.set_bandwidth, patch.set_ops);
		}
	}
	free(old_path);
}

static void do_actions(struct controller *c, struct api_request *req)
{
	static const struct jfield fields[] = { { "action_type", JF_STRING, true } };
	const char *action;
	char err[BUILD_ERR_MAX];
	int status;

	if (!need_body(req) || jcheck(req->body, "actions", fields, 1, req->fault, sizeof(req->fault))) {
		req->status = 400;
		return;
	}
	action = jstr(req->body, "action_type");
	if (strcmp(action, "InstanceStart") == 0) {
		if (c->vmm) {
			bad(req, "InstanceStart: the microVM is already started");
			return;
		}
		if (!c->spec.has_boot_source) {
			bad(req, "InstanceStart: cannot start the microVM without a boot-source "
				 "(PUT /boot-source first)");
			return;
		}
		err[0] = '\0';
		status = start_vm(c, err, sizeof(err));
		if (status) {
			snprintf(req->fault, sizeof(req->fault), "InstanceStart: %s", err);
			req->status = 400;
		}
	} else if (strcmp(action, "SendCtrlAltDel") == 0) {
		if (!c->vmm)
			bad(req, not_before_boot);
		else
			vmm_ctrl_alt_del(c->vmm);
	} else if (strcmp(action, "FlushMetrics") == 0) {
		if (c->spec.metrics.fd < 0)
			bad(req, "FlushMetrics: metrics are not configured (PUT /metrics first)");
		else if (metrics_write(c->spec.metrics.fd, c->vmm, c->api))
			bad(req, "FlushMetrics: cannot write the metrics file");
	} else {
		snprintf(req->fault, sizeof(req->fault),
			 "actions: action_type '%s' is not one of InstanceStart, SendCtrlAltDel, "
			 "FlushMetrics",
			 action);
		req->status = 400;
	}
}

static void do_vm_state(struct controller *c, struct api_request *req)
{
	static const struct jfield fields[] = { { "state", JF_STRING, true } };
	const char *state;

	if (!need_body(req) || jcheck(req->body, "vm", fields, 1, req->fault, sizeof(req->fault))) {
		req->status = 400;
		return;
	}
	state = jstr(req->body, "state");
	if (strcmp(state, "Paused") != 0 && strcmp(state, "Resumed") != 0) {
		snprintf(req->fault, sizeof(req->fault), "vm: state '%s' is not Paused or Resumed", state);
		req->status = 400;
		return;
	}
	if (!c->vmm) {
		bad(req, not_before_boot);
		return;
	}
	if (strcmp(state, "Paused") == 0) {
		if (vmm_pause(c->vmm))
			bad(req, "vm: the microVM stopped before it could be paused");
	} else {
		vmm_resume(c->vmm);
	}
}

/* ---- snapshots (docs/snapshot.md) ------------------------------------------------------------ */

/* PUT /snapshot/create on a paused VM: the state file holds the configuration document (less the
 * logger, metrics and serial sections, which belong to the process, not the machine). */
static void snapshot_create(struct controller *c, struct api_request *req)
{
	struct spec_snapshot_create sc;
	char err[SNAPSHOT_ERR_MAX];
	json_t *doc;
	char *text;

	if (!need_body(req))
		return;
	if (spec_snapshot_create(req->body, &sc, req->fault, sizeof(req->fault))) {
		req->status = 400;
		return;
	}
	if (!c->vmm) {
		bad(req, not_before_boot);
		return;
	}
	doc = spec_to_json(&c->spec);
	json_object_del(doc, "logger");
	json_object_del(doc, "metrics");
	json_object_del(doc, "serial");
	text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text) {
		bad(req, "snapshot/create: out of memory");
		return;
	}
	if (vmm_snapshot_create(c->vmm, sc.diff, text, strlen(text), sc.snapshot_path, sc.mem_file_path, err,
				sizeof(err))) {
		snprintf(req->fault, sizeof(req->fault), "snapshot/create: %.290s", err);
		req->status = 400;
	}
	free(text);
}

/* Moves what belongs to the process, not to the machine, from `from` to `to`: the logger, the
 * metrics file and the serial output (whose path the configuration points to). */
static void move_process_settings(struct vm_spec *to, struct vm_spec *from)
{
	to->logger = from->logger;
	to->metrics = from->metrics;
	to->serial_out_path = from->serial_out_path;
	to->cfg.serial_out_path = from->cfg.serial_out_path; /* PUT /serial's copy, or the CLI's */
	to->cfg.serial_rate_limiter = from->cfg.serial_rate_limiter;
	memset(&from->logger, 0, sizeof(from->logger));
	memset(&from->metrics, 0, sizeof(from->metrics));
	from->logger.fd = -1;
	from->metrics.fd = -1;
	from->serial_out_path = NULL;
	from->cfg.serial_out_path = NULL;
}

/* Whether the API has configured anything of a machine yet (a load needs a fresh process). */
static bool machine_configured(const struct vm_spec *s)
{
	return s->has_boot_source || s->nr_drives || s->nr_nets || s->entropy || s->cfg.has_vsock;
}

/* Restores the VM saved in `snap` (memory file `mem`) on a fresh process and starts it (paused
 * unless `resume`). Returns 0, or -EINVAL with one line, prefixed with `what`, in fault;
 * whatever refuses the load leaves the configuration as it was, so another load may follow. */
static int restore(struct controller *c, const char *what, const char *snap, const char *mem,
		   bool uffd, bool resume, bool track_dirty, const struct spec_overrides *ov,
		   char *fault, size_t fault_size)
{
	struct snap_reader *r = NULL;
	char err[SNAPSHOT_ERR_MAX];
	struct vm_spec next;
	json_error_t jerr;
	json_t *doc = NULL;
	const char *text;
	size_t len;
	int e = -EINVAL;

	if (snapshot_open(&r, snap, err, sizeof(err))) {
		snprintf(fault, fault_size, "%s: snapshot_path '%.100s': %.180s", what, snap, err);
		return -EINVAL;
	}
	text = snapshot_config(r, &len);
	if (!text || !(doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
		snprintf(fault, fault_size, "%s: snapshot_path '%.200s': section 'config' is %s", what,
			 snap, text ? "not JSON" : "missing");
		goto out;
	}
	if (ov && spec_apply_overrides(doc, ov, fault, fault_size))
		goto out;
	spec_init(&next, c->base);
	if (spec_from_document(&next, doc, err, sizeof(err)) ||
	    snapshot_apply_machine(r, &next.cfg, err, sizeof(err))) {
		snprintf(fault, fault_size, "%s: snapshot_path '%.80s': the saved configuration: %.180s",
			 what, snap, err);
		spec_free(&next);
		goto out;
	}
	/* Tracking dirty pages is the load's choice, not the saved machine's. */
	next.track_dirty_pages = next.cfg.track_dirty_pages = track_dirty;
	/* The saved machine replaces the configuration; the process keeps its own settings. */
	move_process_settings(&next, &c->spec);
	spec_free(&c->spec);
	c->spec = next;
	err[0] = '\0';
	if (builder_restore(&c->spec.cfg, r, mem, uffd ? RESTORE_UFFD : RESTORE_FILE, &c->vmm, err,
			    sizeof(err))) {
		snprintf(fault, fault_size, "%s: %.290s", what, err);
		/* Back to a fresh configuration, ready for another load. */
		spec_init(&next, c->base);
		move_process_settings(&next, &c->spec);
		spec_free(&c->spec);
		c->spec = next;
		goto out;
	}
	if (!resume)
		vmm_start_paused(c->vmm);
	if (vmm_start(c->vmm))
		pr_err("%s: cannot start the vCPU threads", what);
	e = 0;
out:
	json_decref(doc);
	snap_reader_destroy(r);
	return e;
}

/* PUT /snapshot/load on a fresh process. */
static void snapshot_load(struct controller *c, struct api_request *req)
{
	struct spec_snapshot_load sl;

	if (!need_body(req))
		return;
	if (spec_snapshot_load(req->body, &sl, req->fault, sizeof(req->fault))) {
		req->status = 400;
		return;
	}
	if (c->vmm) {
		bad(req, not_after_boot);
		return;
	}
	if (machine_configured(&c->spec)) {
		bad(req, "snapshot/load: only on a fresh kiln, before any boot-source or device is "
			 "configured");
		return;
	}
	req->status = restore(c, "snapshot/load", sl.snapshot_path, sl.mem_path, sl.uffd,
			      sl.resume_vm, sl.track_dirty_pages, &sl.overrides, req->fault,
			      sizeof(req->fault)) ? 400 : 204;
}

static bool is(const struct api_request *req, const char *method, const char *path)
{
	return strcmp(req->method, method) == 0 && strcmp(req->path, path) == 0;
}

/* "/drives/ID" style paths: returns ID or NULL. */
static const char *sub_id(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0 || !path[n] || strchr(path + n, '/'))
		return NULL;
	return path + n;
}

static void handle_request(void *ctx, struct api_request *req)
{
	struct controller *c = ctx;
	const char *p = req->path, *m = req->method;
	bool put = strcmp(m, "PUT") == 0, patch = strcmp(m, "PATCH") == 0;

	if (is(req, "GET", "/")) {
		req->status = 200;
		req->reply = json_pack("{s:s, s:s, s:s, s:s}", "id", c->opts->id, "state",
				       state_name(c), "vmm_version", KILN_VERSION, "app_name", "kiln");
	} else if (is(req, "GET", "/version")) {
		req->status = 200;
		req->reply = json_pack("{s:s}", "firecracker_version", KILN_VERSION);
	} else if (is(req, "GET", "/machine-config")) {
		req->status = 200;
		req->reply = spec_machine_config_json(&c->spec);
	} else if (is(req, "GET", "/vm/exits")) {
		if (!c->vmm) {
			snprintf(req->fault, sizeof(req->fault),
				 "vm/exits: the microVM is not running (InstanceStart it first).");
			req->status = 400;
		} else {
			/* Watching starts now and ends EXITVIEW_WATCH_MS after the last look. */
			vmm_watch_exits(c->vmm, true);
			c->watch_until_ns = now_ns() + EXITVIEW_WATCH_MS * 1000000ull;
			req->status = 200;
			req->reply = exitview_snapshot(c->vmm);
		}
	} else if (is(req, "GET", "/vm/config")) {
		req->status = 200;
		req->reply = spec_to_json(&c->spec);
	} else if ((put || patch) && strcmp(p, "/machine-config") == 0) {
		if (need_body(req) && pre_boot_only(c, req) &&
		    spec_machine_config(&c->spec, req->body, patch, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if (put && strcmp(p, "/boot-source") == 0) {
		if (need_body(req) && pre_boot_only(c, req) &&
		    spec_boot_source(&c->spec, req->body, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if (put && strcmp(p, "/serial") == 0) {
		if (need_body(req) && pre_boot_only(c, req) &&
		    spec_serial(&c->spec, req->body, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if (put && strcmp(p, "/logger") == 0) {
		if (need_body(req) && pre_boot_only(c, req)) {
			if (spec_logger(&c->spec, req->body, req->fault, sizeof(req->fault)))
				req->status = 400;
			else
				apply_logger(&c->spec);
		}
	} else if (put && strcmp(p, "/metrics") == 0) {
		if (need_body(req) && pre_boot_only(c, req) &&
		    spec_metrics(&c->spec, req->body, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if (put && strcmp(p, "/actions") == 0) {
		do_actions(c, req);
	} else if (patch && strcmp(p, "/vm") == 0) {
		do_vm_state(c, req);
	} else if ((put || patch) && sub_id(p, "/drives/")) {
		if (patch)
			patch_drive(c, req, sub_id(p, "/drives/"));
		else if (need_body(req) && pre_boot_only(c, req) &&
			 spec_drive(&c->spec, sub_id(p, "/drives/"), req->body, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if ((put || patch) && sub_id(p, "/network-interfaces/")) {
		const char *id = sub_id(p, "/network-interfaces/");

		/* PATCH only updates rate limiters, so it needs no pre-boot check. */
		if (patch) {
			struct spec_net_patch np;

			if (!need_body(req))
				;
			else if (spec_net_patch(&c->spec, id, req->body, &np, req->fault,
						sizeof(req->fault)))
				req->status = 400;
			else if (c->vmm)
				vmm_set_net_rate_limiters(c->vmm, (unsigned int)np.index, &np.rx,
							  np.rx_bandwidth, np.rx_ops, &np.tx,
							  np.tx_bandwidth, np.tx_ops);
		} else if (need_body(req) && pre_boot_only(c, req) &&
			   spec_net(&c->spec, id, req->body, req->fault, sizeof(req->fault))) {
			req->status = 400;
		}
	} else if (put && strcmp(p, "/entropy") == 0) {
		if (need_body(req) && pre_boot_only(c, req) &&
		    spec_entropy(&c->spec, req->body, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if (put && strcmp(p, "/vsock") == 0) {
		if (need_body(req) && pre_boot_only(c, req) &&
		    spec_vsock(&c->spec, req->body, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if (put && strcmp(p, "/cpu-config") == 0) {
		if (need_body(req) && pre_boot_only(c, req) &&
		    spec_cpu_config(&c->spec, req->body, req->fault, sizeof(req->fault)))
			req->status = 400;
	} else if (put && strcmp(p, "/snapshot/create") == 0) {
		snapshot_create(c, req);
	} else if (put && strcmp(p, "/snapshot/load") == 0) {
		snapshot_load(c, req);
	} else if (put && strcmp(p, "/balloon") == 0) {
		if (need_body(req)) {
			spec_unsupported(p + 1, req->body, req->fault, sizeof(req->fault));
			req->status = 400;
		}
	} else if ((put || patch || strcmp(m, "GET") == 0) &&
		   (strcmp(p, "/balloon") == 0 || strncmp(p, "/balloon/", 9) == 0 ||
		    strcmp(p, "/mmds") == 0 || strcmp(p, "/mmds/config") == 0)) {
		spec_unsupported(p + 1, NULL, req->fault, sizeof(req->fault));
		req->status = 400;
	} else {
		snprintf(req->fault, sizeof(req->fault), "Invalid request method and/or path: %s %s.",
			 m, p);
		req->status = 400;
	}
}

/* ---- start-up and the loop ----------------------------------------------------------------- */

static int load_config_file(struct controller *c, const char *path)
{
	json_error_t jerr;
	char err[JSON_ERR_MAX];
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	int e;

	if (!doc) {
		if (jerr.line < 0)
			pr_err("%s: %s", path, jerr.text);
		else
			pr_err("%s: invalid JSON: %s (line %d, column %d)", path, jerr.text, jerr.line,
			       jerr.column);
		return KILN_EXIT_USAGE;
	}
	e = spec_from_document(&c->spec, doc, err, sizeof(err));
	json_decref(doc);
	if (e) {
		pr_err("%s: %s", path, err);
		return KILN_EXIT_USAGE;
	}
	return 0;
}

/* Chooses the seccomp filters (docs/security.md): a bad --seccomp-filter file is bad input. */
static int prepare_sandbox(struct controller *c, char *err, size_t err_size)
{
	struct sandbox_opts so = { .disabled = c->opts->no_seccomp,
				   .filter_file = c->opts->seccomp_filter,
				   .inet = c->opts->seccomp_allow_inet };

	/* What the command line or config file asks for is known here; a user-mode interface that
	 * comes later (the API's kiln_net, a snapshot/load) needs --seccomp-allow-inet, and is
	 * refused without it (spec_net()). */
	for (unsigned int i = 0; i < c->spec.cfg.nr_nets; i++)
		so.inet |= c->spec.cfg.nets[i].backend == NET_BACKEND_USER;
	so.inet |= c->spec.cfg.gdb && strncmp(c->spec.cfg.gdb, "tcp:", 4) == 0;
	if (so.disabled)
		pr_warn("seccomp: filters are off (--no-seccomp): any system call is allowed");
	return sandbox_prepare(&so, err, err_size);
}

static void run_loop(struct controller *c, int sfd)
{
	for (;;) {
		struct pollfd pfd[5];
		int n = 0, i_sig, i_api = -1, i_vmm = -1, i_in = -1, i_handler = -1, timeout;
		bool in_ready = false, watch_first;

		if (c->vmm && vmm_stopping(c->vmm))
			return;
		i_sig = n;
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (c->api) {
			i_api = n;
			pfd[n++] = (struct pollfd){ .fd = api_fd(c->api), .events = POLLIN };
		}
		if (c->vmm) {
			i_vmm = n;
			pfd[n++] = (struct pollfd){ .fd = vmm_event_fd(c->vmm), .events = POLLIN };
			if (vmm_wants_input(c->vmm)) {
				i_in = n;
				pfd[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
			}
			if (vmm_handler_fd(c->vmm) >= 0) {
				i_handler = n;
				pfd[n++] = (struct pollfd){ .fd = vmm_handler_fd(c->vmm), .events = POLLIN };
			}
		}
		timeout = c->spec.metrics.fd >= 0 ? METRICS_PERIOD_MS : -1;
		watch_first = false;
		if (c->watch_until_ns) {
			uint64_t t = now_ns();
			int left = t >= c->watch_until_ns ? 0
				   : (int)((c->watch_until_ns - t) / 1000000) + 1;

			if (timeout < 0 || left < timeout) {
				timeout = left;
				watch_first = true;
			}
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("poll: %s", strerror(errno));
			if (!c->vmm) {
				c->signalled = true;
				c->signal_status = KILN_EXIT_HOST_ERROR;
				return;
			}
			vmm_request_stop(c->vmm, STOP_HOST_ERROR, 0);
			continue;
		}
		if (pfd[i_sig].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				/* Remembered here too: the VM may already be stopping for another
				 * reason (a reboot), and the signal must still end kiln. */
				c->signalled = true;
				c->signal_status = KILN_EXIT_SIGNAL_BASE + (int)si.ssi_signo;
				if (c->vmm) {
					vmm_request_stop(c->vmm, STOP_SIGNAL, (int)si.ssi_signo);
				} else {
					pr_warn("stopped by signal %s", strsignal((int)si.ssi_signo));
					c->signalled = true;
					c->signal_status = KILN_EXIT_SIGNAL_BASE + (int)si.ssi_signo;
					return;
				}
			}
		}
		if (i_handler >= 0 && pfd[i_handler].revents)
			vmm_handler_gone(c->vmm);
		if (i_api >= 0 && (pfd[i_api].revents & POLLIN))
			api_process(c->api, handle_request, c);
		if (i_in >= 0 && (pfd[i_in].revents & (POLLIN | POLLHUP | POLLERR)))
			in_ready = true;
		if (i_vmm >= 0 && ((pfd[i_vmm].revents & POLLIN) || in_ready))
			vmm_handle_events(c->vmm, in_ready);
		if (c->watch_until_ns && now_ns() >= c->watch_until_ns) {
			c->watch_until_ns = 0;
			if (c->vmm)
				vmm_watch_exits(c->vmm, false);
		}
		if (n && !(pfd[i_sig].revents & POLLIN) && c->spec.metrics.fd >= 0 && !watch_first) {
			bool any = false;

			for (int i = 0; i < n; i++)
				any |= pfd[i].revents != 0;
			if (!any)
				flush_metrics(c); /* the periodic flush: poll timed out */
		}
	}
}

int controller_run(const struct vmm_config *base, const struct controller_opts *opts)
{
	struct controller c = { .opts = opts, .base = base };
	char err[BUILD_ERR_MAX];
	sigset_t block, old;
	int sfd, status = 0;

	spec_init(&c.spec, base);
	if (base->kernel_path && opts->start_now && !opts->config_file)
		spec_adopt_cli(&c.spec);
	if ((status = apply_cli_logging(&c)))
		goto out_spec;
	if (opts->config_file && (status = load_config_file(&c, opts->config_file)))
		goto out_spec;
	apply_logger(&c.spec);
	if (opts->boot_timer)
		pr_warn("--boot-timer: kiln has no boot-timer device yet; the flag is ignored");

	/* Signals are handled by this thread through a signalfd; every thread created from here on
	 * inherits the mask (vCPU threads unblock only their kick signal). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	sigdelset(&block, SIGPIPE);
	sigdelset(&block, VCPU_KICK_SIGNAL);
	sfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		pr_err("signalfd: %s", strerror(errno));
		status = KILN_EXIT_HOST_ERROR;
		goto out_mask;
	}
	if (prepare_sandbox(&c, err, sizeof(err))) {
		pr_fatal("%s", err);
		status = KILN_EXIT_USAGE;
		goto out_sfd;
	}
	/* The owner's filter: after set-up that needs more (the logger's files, the config file),
	 * before the API's thread exists (it narrows the owner's filter to its own before it
	 * accepts a connection) and before a guest runs an instruction. */
	if (sandbox_enter(SANDBOX_OWNER)) {
		status = KILN_EXIT_HOST_ERROR;
		goto out_sfd;
	}
	if (opts->api_sock && api_open(&c.api, opts->api_sock, opts->api_sock_force,
				       opts->max_payload, err, sizeof(err))) {
		pr_fatal("%s", err);
		status = KILN_EXIT_USAGE;
		goto out_sfd;
	}
	if (c.api)
		report_start_time(opts);
	if (opts->restore_path) {
		/* kiln run --restore: what PUT /snapshot/load does, then run. */
		if (restore(&c, "--restore", opts->restore_path, opts->restore_mem,
			    opts->restore_uffd, true, false, NULL, err, sizeof(err))) {
			pr_fatal("%s", err);
			status = KILN_EXIT_USAGE;
			goto out_api;
		}
	} else if (opts->start_now) {
		err[0] = '\0';
		status = start_vm(&c, err, sizeof(err));
		if (status) {
			pr_fatal("%s", err);
			goto out_api;
		}
	}

	for (;;) {
		run_loop(&c, sfd);
		if (!c.vmm) {
			status = c.signalled ? c.signal_status : 0;
			break;
		}
		status = vmm_finish(c.vmm);
		gdbstub_stop(c.gdb, status); /* tells the debugger how the VM ended */
		c.gdb = NULL;
		if (c.signalled) {
			status = c.signal_status;
			break;
		}
		if (vmm_stop_reason(c.vmm) != STOP_RESET || !c.spec.cfg.on_reboot_restart)
			break;
		/* --on-reboot=restart: a new VM from the same configuration, as a fresh boot. */
		pr_info("guest rebooted: restarting");
		vmm_destroy(c.vmm);
		c.vmm = NULL;
		err[0] = '\0';
		status = start_vm(&c, err, sizeof(err));
		if (status) {
			pr_fatal("restart: %s", err);
			break;
		}
	}
	flush_metrics(&c);
	vmm_destroy(c.vmm);
out_api:
	api_close(c.api);
out_sfd:
	close(sfd);
out_mask:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_set_fd(STDERR_FILENO);
out_spec:
	spec_free(&c.spec);
	return status;
}
