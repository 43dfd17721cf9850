/* spec.h: the VM description the control plane edits before boot (Firecracker's sections:
 * boot-source, machine-config, serial, logger, metrics, drives, entropy, network-interfaces,
 * vsock), shared by the API and the config file. */
#ifndef KILN_CONTROL_SPEC_H
#define KILN_CONTROL_SPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "control/json.h"
#include "util/log.h"

/* One Firecracker drive (PUT /drives/{id}). */
struct spec_drive {
	char *id, *path, *partuuid;
	bool root, ro;
	bool serial; /* drive_id is the GET_ID serial (API drives, --disk with id=) */
	enum disk_io io;
	struct rate_limiter_cfg rate_limiter;
};

/* One network interface (PUT /network-interfaces/{id}, or a --net adopted from the command line,
 * the only way to a user-mode one: Firecracker's API has none). */
struct spec_net {
	char *id, *tap;     /* tap: NULL for user mode */
	struct vmm_net net; /* the rest; cfg.nets gets it with id and tap pointing to the above */
};

struct vm_spec {
	struct vmm_config cfg; /* what the builder gets; its strings point into the fields below */
	bool has_boot_source;
	char *kernel_path, *initrd_path, *boot_args;
	char *serial_out_path;
	bool smt, track_dirty_pages;
	struct {
		bool set;
		char *path; /* NULL: stderr */
		int fd;     /* -1 unless path */
		enum log_level level;
		bool show_level, show_origin;
		char *module;
	} logger;
	struct {
		bool set;
		char *path;
		int fd;
	} metrics;
	/* Drives in the order they were first put; the root device becomes /dev/vda. */
	struct spec_drive drives[CONFIG_MAX_DISKS];
	unsigned int nr_drives;
	bool entropy;
	/* Network interfaces in the order they were first put: eth0, eth1, ... */
	struct spec_net nets[CONFIG_MAX_NETS];
	unsigned int nr_nets;
	/* The vsock device when cfg.has_vsock: cfg.vsock's strings point to these. */
	char *vsock_id, *vsock_uds;
	char *cmdline; /* boot_args plus root= for a root drive: what cfg.cmdline points to */
};

/* Defaults (config_init()) and no sections set. `base` may be NULL or a CLI config to start from. */
void spec_init(struct vm_spec *s, const struct vmm_config *base);
/* `kiln run ... --api-sock`: the CLI's kernel, initrd and command line become the boot-source
 * (owned copies), so GET /vm/config reports them. */
void spec_adopt_cli(struct vm_spec *s);
/* Frees strings and closes the logger and metrics files. */
void spec_free(struct vm_spec *s);

/* Section parsers. Each validates the whole body first and changes `s` only when it is valid,
 * so a rejected request changes nothing. Return 0 or -EINVAL with a message naming the field. */
int spec_machine_config(struct vm_spec *s, const json_t *body, bool patch, char *err,
			size_t err_size);
int spec_boot_source(struct vm_spec *s, const json_t *body, char *err, size_t err_size);
int spec_serial(struct vm_spec *s, const json_t *body, char *err, size_t err_size);
int spec_logger(struct vm_spec *s, const json_t *body, char *err, size_t err_size);
int spec_metrics(struct vm_spec *s, const json_t *body, char *err, size_t err_size);

/* PUT /drives/{id} (`path_id` is the id in the path; NULL from the config file) and PUT
 * /entropy. Pre-boot only; a PUT with a known drive_id replaces that drive. */
int spec_drive(struct vm_spec *s, const char *path_id, const json_t *body, char *err,
	       size_t err_size);
/* What a PATCH /drives/{id} changed, for the caller to apply to a running VM. */
struct spec_drive_patch {
	int index;        /* the drive's virtio-blk index */
	const char *path; /* a new path_on_host (points into the body), or NULL */
	struct rate_limiter_cfg rate_limiter; /* the drive's limiter after the patch */
	bool set_bandwidth, set_ops;          /* which of its buckets the body gave */
};

/* PATCH /drives/{id}: a new path_on_host and/or rate_limiter (before boot, or for a running VM,
 * to which the caller applies *patch: swaps the image, replaces the limiter's buckets). */
int spec_drive_patch(struct vm_spec *s, const char *path_id, const json_t *body,
		     struct spec_drive_patch *patch, char *err, size_t err_size);
int spec_entropy(struct vm_spec *s, const json_t *body, char *err, size_t err_size);

/* PUT /network-interfaces/{id} (`path_id` is the id in the path; NULL from the config file): a
 * TAP interface from Firecracker's NetworkInterface: iface_id (must match the path, 1 to 64
 * bytes), host_dev_name (required; the TAP is opened at boot), guest_mac, mtu; rx_rate_limiter
 * and tx_rate_limiter only absent or null (kiln has no rate limiters yet). Pre-boot only; a PUT
 * with a known iface_id replaces that interface, a new one is appended. */
int spec_net(struct vm_spec *s, const char *path_id, const json_t *body, char *err,
	     size_t err_size);
/* What a PATCH /network-interfaces/{id} changed, for the caller to apply to a running VM. */
struct spec_net_patch {
	int index;                     /* the interface's virtio-net index */
	struct rate_limiter_cfg rx, tx; /* its limiters after the patch */
	bool rx_bandwidth, rx_ops, tx_bandwidth, tx_ops; /* the buckets the body gave */
};

/* PATCH /network-interfaces/{id}: Firecracker's PartialNetworkInterface only updates rate
 * limiters (absent or null: unchanged); an unknown interface is refused. Before or after boot:
 * the caller applies *patch to a running VM. */
int spec_net_patch(struct vm_spec *s, const char *path_id, const json_t *body,
		   struct spec_net_patch *patch, char *err, size_t err_size);

/* PUT /vsock: Firecracker's Vsock: guest_cid (required, 3 to 4294967294), uds_path (required,
 * 1 to CONFIG_VSOCK_UDS_MAX bytes; the socket is created when the VM is built), vsock_id
 * (deprecated by Firecracker; 1 to 64 bytes, else "vsock0"). Pre-boot only; a second PUT
 * replaces the first whole, as Firecracker's does. */
int spec_vsock(struct vm_spec *s, const json_t *body, char *err, size_t err_size);

/* Firecracker's custom CPU template (docs/cpu-templates.md): cpuid_modifiers (leaf, subleaf,
 * flags, modifiers of register and bitmap), msr_modifiers (addr, bitmap); kvm_capabilities only
 * empty, the aarch64 vcpu_features and reg_modifiers only empty. Fills *out (cleared on failure).
 * Returns 0 or -EINVAL with a message naming the field, as cpuid_modifiers[1].modifiers[0].bitmap. */
int spec_parse_cpu_template(const json_t *body, struct cpu_mods *out, char *err, size_t err_size);
/* PUT /cpu-config and the config file's cpu-config: spec_parse_cpu_template(), then the custom
 * template replaces whatever template was set before (as machine-config's cpu_template does).
 * Pre-boot only. */
int spec_cpu_config(struct vm_spec *s, const json_t *body, char *err, size_t err_size);

/* PUT /snapshot/create (docs/snapshot.md): snapshot_path and mem_file_path (required, not empty),
 * snapshot_type "Full" (the default) or "Diff", version (ignored, as Firecracker's 1.x). The
 * strings point into `body`. */
struct spec_snapshot_create {
	const char *snapshot_path, *mem_file_path;
	bool diff;
};
int spec_snapshot_create(const json_t *body, struct spec_snapshot_create *out, char *err,
			 size_t err_size);

/* What a load changes in the saved machine (Firecracker's network_overrides and vsock_override):
 * `nets` is NULL or a checked array of {"iface_id", "host_dev_name"} objects; `vsock_uds` NULL
 * or the vsock device's new uds_path. Both point into the request's body. */
struct spec_overrides {
	const json_t *nets;
	const char *vsock_uds;
};

/* PUT /snapshot/load: snapshot_path, and the memory file as mem_backend {"backend_type": "File",
 * "backend_path"} or the older mem_file_path (one of them); resume_vm (default false);
 * track_dirty_pages or the older enable_diff_snapshots: the restored VM logs dirty pages, for
 * Diff snapshots of it; network_overrides and vsock_override (their form is checked here,
 * their values by spec_apply_overrides()). backend_type "Uffd" sets `uffd`: mem_path is then
 * the page-fault handler's socket. The strings point into `body`. */
struct spec_snapshot_load {
	const char *snapshot_path, *mem_path;
	bool resume_vm, track_dirty_pages, uffd;
	struct spec_overrides overrides;
};
int spec_snapshot_load(const json_t *body, struct spec_snapshot_load *out, char *err,
		       size_t err_size);
/* Applies `ov` to a saved configuration document `doc` (before spec_from_document(), which then
 * checks the new names as a PUT would): each override's iface_id must name one of the document's
 * network-interfaces, and a vsock_override needs its vsock device. Returns 0 or -EINVAL with one
 * line ("snapshot/load: network_overrides: ..."). */
int spec_apply_overrides(json_t *doc, const struct spec_overrides *ov, char *err, size_t err_size);

/* Sections naming devices kiln does not have yet (balloon, mmds...): the body
 * is checked against Firecracker's fields, then refused with a message saying which device is
 * missing. Always returns -EINVAL. */
int spec_unsupported(const char *section, const json_t *body, char *err, size_t err_size);

/* Firecracker's configuration document: GET /vm/config. New reference. */
json_t *spec_to_json(const struct vm_spec *s);
json_t *spec_machine_config_json(const struct vm_spec *s);
/* The custom CPU template in Firecracker's format (one cpuid_modifiers entry per register, full
 * width bitmaps), or JSON null without one. */
json_t *spec_cpu_config_json(const struct vm_spec *s);

/* Applies a whole Firecracker config-file document (top-level keys are the sections). */
int spec_from_document(struct vm_spec *s, const json_t *doc, char *err, size_t err_size);

#endif
