/* spec.c: Firecracker's configuration sections, validated into the pre-boot VM description. */
#include "control/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "util/checked.h"
#include "util/file.h"
#include "util/sandbox.h"

#define MAX_MEM_MIB (1ll << 24) /* 16 TiB: far beyond any host, still no overflow in bytes */

void spec_init(struct vm_spec *s, const struct vmm_config *base)
{
	memset(s, 0, sizeof(*s));
	if (base)
		s->cfg = *base;
	else
		config_init(&s->cfg);
	s->logger.fd = -1;
	s->metrics.fd = -1;
}

static void set_str(char **dst, const char *src);
static int sync_drives(struct vm_spec *s);
static void sync_nets(struct vm_spec *s);

void spec_adopt_cli(struct vm_spec *s)
{
	/* --disk and --rng become drives and entropy, so the API reports and edits them. */
	for (unsigned int i = 0; i < s->cfg.nr_disks && i < CONFIG_MAX_DISKS; i++) {
		const struct vmm_disk *d = &s->cfg.disks[i];
		struct spec_drive *sd = &s->drives[s->nr_drives++];
		char id[16];

		snprintf(id, sizeof(id), "disk%u", i);
		set_str(&sd->id, d->id ? d->id : id);
		set_str(&sd->path, d->path);
		sd->ro = d->ro;
		sd->io = d->io;
		sd->serial = d->id != NULL;
	}
	s->entropy = s->cfg.rng;
	/* --net becomes network interfaces, so GET /vm/config reports them and PATCH finds them. */
	for (unsigned int i = 0; i < s->cfg.nr_nets && i < CONFIG_MAX_NETS; i++) {
		struct spec_net *sn = &s->nets[s->nr_nets++];

		sn->net = s->cfg.nets[i];
		set_str(&sn->id, s->cfg.nets[i].id);
		set_str(&sn->tap, s->cfg.nets[i].tap);
		if (!sn->id || (s->cfg.nets[i].tap && !sn->tap)) {
			/* cfg.nets keeps pointing to the command line's strings: the VM is the same,
			 * only the API does not see the interfaces. */
			pr_warn("out of memory for the network interfaces' names");
			for (unsigned int j = 0; j < s->nr_nets; j++) {
				free(s->nets[j].id);
				free(s->nets[j].tap);
				s->nets[j] = (struct spec_net){ 0 };
			}
			s->nr_nets = 0;
			break;
		}
	}
	if (s->nr_nets)
		sync_nets(s);
	/* --vsock becomes the vsock section, so GET /vm/config reports it. */
	if (s->cfg.has_vsock) {
		set_str(&s->vsock_id, s->cfg.vsock.id);
		set_str(&s->vsock_uds, s->cfg.vsock.uds_path);
		if (!s->vsock_id || !s->vsock_uds) {
			/* cfg.vsock keeps pointing to the command line's strings. */
			pr_warn("out of memory for the vsock device's settings");
			set_str(&s->vsock_id, NULL);
			set_str(&s->vsock_uds, NULL);
		} else {
			s->cfg.vsock.id = s->vsock_id;
			s->cfg.vsock.uds_path = s->vsock_uds;
		}
	}
	set_str(&s->kernel_path, s->cfg.kernel_path);
	set_str(&s->initrd_path, s->cfg.initrd_path);
	set_str(&s->boot_args, s->cfg.cmdline);
	s->cfg.kernel_path = s->kernel_path;
	s->cfg.initrd_path = s->initrd_path;
	s->cfg.cmdline = s->boot_args;
	s->has_boot_source = s->kernel_path != NULL;
	if (sync_drives(s))
		pr_warn("out of memory for the kernel command line");
}

void spec_free(struct vm_spec *s)
{
	free(s->kernel_path);
	free(s->initrd_path);
	free(s->boot_args);
	free(s->serial_out_path);
	free(s->logger.path);
	free(s->logger.module);
	free(s->metrics.path);
	for (unsigned int i = 0; i < s->nr_drives; i++) {
		free(s->drives[i].id);
		free(s->drives[i].path);
		free(s->drives[i].partuuid);
	}
	s->nr_drives = 0;
	for (unsigned int i = 0; i < s->nr_nets; i++) {
		free(s->nets[i].id);
		free(s->nets[i].tap);
	}
	s->nr_nets = 0;
	s->cfg.nr_nets = 0;
	free(s->vsock_id);
	free(s->vsock_uds);
	s->vsock_id = s->vsock_uds = NULL;
	s->cfg.has_vsock = false;
	s->cfg.vsock = (struct vmm_vsock){ 0 };
	free(s->cmdline);
	s->cmdline = NULL;
	if (s->logger.fd >= 0)
		close(s->logger.fd);
	if (s->metrics.fd >= 0)
		close(s->metrics.fd);
	s->logger.fd = s->metrics.fd = -1;
}

/* Replaces *dst with a copy of src (NULL clears). */
static void set_str(char **dst, const char *src)
{
	char *copy = src ? strdup(src) : NULL;

	free(*dst);
	*dst = copy;
}

int spec_machine_config(struct vm_spec *s, const json_t *body, bool patch, char *err,
			size_t err_size)
{
	const struct jfield fields[] = {
		{ "vcpu_count", JF_INT, !patch },	{ "mem_size_mib", JF_INT, !patch },
		{ "smt", JF_BOOL, false },		{ "track_dirty_pages", JF_BOOL, false },
		{ "cpu_template", JF_STRING, false },	{ "huge_pages", JF_STRING, false },
		{ "enable_thp", JF_BOOL, false },
	};
	long long vcpus = jint(body, "vcpu_count", s->cfg.nr_vcpus);
	long long mib = jint(body, "mem_size_mib", (long long)(s->cfg.mem_size >> 20));
	bool smt = jbool(body, "smt", patch ? s->smt : false);
	const char *tmpl = jstr(body, "cpu_template"), *huge = jstr(body, "huge_pages");

	if (jcheck(body, "machine-config", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	if (vcpus < 1 || vcpus > CONFIG_MAX_VCPUS) {
		snprintf(err, err_size, "machine-config: vcpu_count %lld is out of range (1 to %u)",
			 vcpus, CONFIG_MAX_VCPUS);
		return -EINVAL;
	}
	if (mib < 1 || mib > MAX_MEM_MIB) {
		snprintf(err, err_size, "machine-config: mem_size_mib %lld is out of range (1 to %lld)",
			 mib, MAX_MEM_MIB);
		return -EINVAL;
	}
	if (smt && vcpus > 1 && vcpus % 2) {
		snprintf(err, err_size,
			 "machine-config: vcpu_count must be 1 or even when smt is enabled (got %lld)",
			 vcpus);
		return -EINVAL;
	}
	if (tmpl && !config_cpu_template_name(tmpl)) {
		snprintf(err, err_size, "machine-config: cpu_template '%s' is not a CPU template (%s)",
			 tmpl, CONFIG_CPU_TEMPLATES);
		return -EINVAL;
	}
	if (huge && strcmp(huge, "None") != 0) {
		snprintf(err, err_size, "machine-config: huge_pages '%s' is not supported (only None)",
			 huge);
		return -EINVAL;
	}
	s->cfg.nr_vcpus = (unsigned int)vcpus;
	s->cfg.mem_size = (uint64_t)mib << 20;
	s->smt = smt;
	s->track_dirty_pages = jbool(body, "track_dirty_pages", patch ? s->track_dirty_pages : false);
	s->cfg.track_dirty_pages = s->track_dirty_pages;
	/* As Firecracker's enable_thp: anonymous RAM with transparent huge pages. */
	if (json_object_get(body, "enable_thp") || !patch)
		s->cfg.mem_backing = jbool(body, "enable_thp", false) ? MEM_BACKING_ANON_THP
								  : MEM_BACKING_MEMFD;
	if (tmpl) {
		/* As Firecracker: a static template replaces a custom one set before it. */
		s->cfg.cpu_template = strcmp(tmpl, "None") ? config_cpu_template_name(tmpl) : NULL;
		s->cfg.has_cpu_custom = false;
	}
	return 0;
}

/* One bitmap of a custom template, `width` bits; `where` names it in messages. */
static int parse_bitmap(const json_t *v, unsigned int width, const char *where,
			struct cpu_bitmap *out, char *err, size_t err_size)
{
	const char *str = json_string_value(v);

	if (!str || config_parse_bitmap(str, width, out)) {
		snprintf(err, err_size,
			 "cpu-config: %s '%s' is not a bitmap (0b followed by 1 to %u of 0, 1, x or _)",
			 where, str ? str : "(not a string)", width);
		return -EINVAL;
	}
	return 0;
}

/* A leaf, subleaf or address string of a custom template. */
static int parse_u32(const json_t *v, const char *where, uint32_t *out, char *err,
		     size_t err_size)
{
	const char *str = json_string_value(v);

	if (!str || config_parse_u32(str, out)) {
		snprintf(err, err_size, "cpu-config: %s '%s' is not a 32-bit number (0x... or 0b...)",
			 where, str ? str : "(not a string)");
		return -EINVAL;
	}
	return 0;
}

static int parse_cpuid_modifiers(const json_t *arr, struct cpu_mods *m, char *err, size_t err_size)
{
	static const struct jfield leaf_fields[] = {
		{ "leaf", JF_STRING, true }, { "subleaf", JF_STRING, true },
		{ "flags", JF_INT, true },   { "modifiers", JF_ANY, true },
	};
	static const struct jfield reg_fields[] = {
		{ "register", JF_STRING, true }, { "bitmap", JF_STRING, true },
	};
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	char where[112];
	size_t i, j;
	json_t *leaf, *mod;

	json_array_foreach(arr, i, leaf) {
		struct cpu_cpuid_mod base = { .has_flags = true };
		const json_t *mods = json_object_get(leaf, "modifiers");
		long long flags;

		snprintf(where, sizeof(where), "cpu-config: cpuid_modifiers[%zu]", i);
		if (jcheck(leaf, where, leaf_fields, ARRAY_SIZE(leaf_fields), err, err_size))
			return -EINVAL;
		snprintf(where, sizeof(where), "cpuid_modifiers[%zu].leaf", i);
		if (parse_u32(json_object_get(leaf, "leaf"), where, &base.leaf, err, err_size))
			return -EINVAL;
		snprintf(where, sizeof(where), "cpuid_modifiers[%zu].subleaf", i);
		if (parse_u32(json_object_get(leaf, "subleaf"), where, &base.subleaf, err, err_size))
			return -EINVAL;
		flags = jint(leaf, "flags", 0);
		/* KVM_CPUID_FLAG_SIGNIFCANT_INDEX, _STATEFUL_FUNC, _STATE_READ_NEXT */
		if (flags < 0 || flags > 7) {
			snprintf(err, err_size,
				 "cpu-config: cpuid_modifiers[%zu].flags %lld is not KVM CPUID flags (0 to 7)",
				 i, flags);
			return -EINVAL;
		}
		base.flags = (uint32_t)flags;
		if (!json_is_array(mods)) {
			snprintf(err, err_size, "cpu-config: cpuid_modifiers[%zu].modifiers: expected an array",
				 i);
			return -EINVAL;
		}
		json_array_foreach(mods, j, mod) {
			const char *reg;

			snprintf(where, sizeof(where), "cpu-config: cpuid_modifiers[%zu].modifiers[%zu]", i,
				 j);
			if (jcheck(mod, where, reg_fields, ARRAY_SIZE(reg_fields), err, err_size))
				return -EINVAL;
			if (m->nr_cpuid >= CONFIG_MAX_CPUID_MODS) {
				snprintf(err, err_size,
					 "cpu-config: cpuid_modifiers: more than %u register modifiers",
					 CONFIG_MAX_CPUID_MODS);
				return -EINVAL;
			}
			struct cpu_cpuid_mod *cm = &m->cpuid[m->nr_cpuid];

			*cm = base;
			reg = jstr(mod, "register");
			cm->reg = 4;
			for (uint8_t r = 0; r < ARRAY_SIZE(regs); r++)
				if (strcmp(reg, regs[r]) == 0)
					cm->reg = r;
			if (cm->reg == 4) {
				snprintf(err, err_size,
					 "cpu-config: cpuid_modifiers[%zu].modifiers[%zu].register '%s' is not eax, ebx, ecx or edx",
					 i, j, reg);
				return -EINVAL;
			}
			snprintf(where, sizeof(where), "cpuid_modifiers[%zu].modifiers[%zu].bitmap", i, j);
			if (parse_bitmap(json_object_get(mod, "bitmap"), 32, where, &cm->bits, err,
					 err_size))
				return -EINVAL;
			m->nr_cpuid++;
		}
	}
	return 0;
}

static int parse_msr_modifiers(const json_t *arr, struct cpu_mods *m, char *err, size_t err_size)
{
	static const struct jfield fields[] = {
		{ "addr", JF_STRING, true }, { "bitmap", JF_STRING, true },
	};
	char where[96];
	size_t i;
	json_t *mod;

	json_array_foreach(arr, i, mod) {
		struct cpu_msr_mod *mm;

		snprintf(where, sizeof(where), "cpu-config: msr_modifiers[%zu]", i);
		if (jcheck(mod, where, fields, ARRAY_SIZE(fields), err, err_size))
			return -EINVAL;
		if (m->nr_msr >= CONFIG_MAX_MSR_MODS) {
			snprintf(err, err_size, "cpu-config: msr_modifiers: more than %u modifiers",
				 CONFIG_MAX_MSR_MODS);
			return -EINVAL;
		}
		mm = &m->msr[m->nr_msr];
		snprintf(where, sizeof(where), "msr_modifiers[%zu].addr", i);
		if (parse_u32(json_object_get(mod, "addr"), where, &mm->addr, err, err_size))
			return -EINVAL;
		snprintf(where, sizeof(where), "msr_modifiers[%zu].bitmap", i);
		if (parse_bitmap(json_object_get(mod, "bitmap"), 64, where, &mm->bits, err, err_size))
			return -EINVAL;
		m->nr_msr++;
	}
	return 0;
}

int spec_parse_cpu_template(const json_t *body, struct cpu_mods *out, char *err, size_t err_size)
{
	static const struct jfield fields[] = {
		{ "kvm_capabilities", JF_ANY, false }, { "cpuid_modifiers", JF_ANY, false },
		{ "msr_modifiers", JF_ANY, false },    { "vcpu_features", JF_ANY, false },
		{ "reg_modifiers", JF_ANY, false },
	};
	static const char *const arrays[] = { "kvm_capabilities", "cpuid_modifiers", "msr_modifiers",
					      "vcpu_features", "reg_modifiers" };

	memset(out, 0, sizeof(*out));
	if (jcheck(body, "cpu-config", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(arrays); i++) {
		const json_t *a = json_object_get(body, arrays[i]);

		if (a && !json_is_null(a) && !json_is_array(a)) {
			snprintf(err, err_size, "cpu-config: %s: expected an array", arrays[i]);
			return -EINVAL;
		}
		if (i >= 3 && json_array_size(a)) {
			if (strcmp(arch_snapshot_name, "aarch64"))
				snprintf(err, err_size,
					 "cpu-config: %s: only for aarch64 (this is x86-64)", arrays[i]);
			else
				snprintf(err, err_size,
					 "cpu-config: %s: aarch64 CPU templates are not supported yet",
					 arrays[i]);
			return -EINVAL;
		}
	}
	/* kiln checks the KVM capabilities it needs itself and cannot be told to skip one. */
	if (json_array_size(json_object_get(body, "kvm_capabilities"))) {
		snprintf(err, err_size,
			 "cpu-config: kvm_capabilities: not supported by kiln (give an empty list)");
		return -EINVAL;
	}
	if (parse_cpuid_modifiers(json_object_get(body, "cpuid_modifiers"), out, err, err_size) ||
	    parse_msr_modifiers(json_object_get(body, "msr_modifiers"), out, err, err_size)) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return 0;
}

int spec_cpu_config(struct vm_spec *s, const json_t *body, char *err, size_t err_size)
{
	struct cpu_mods *m = malloc(sizeof(*m));

	if (!m) {
		snprintf(err, err_size, "cpu-config: out of memory");
		return -ENOMEM;
	}
	if (spec_parse_cpu_template(body, m, err, err_size)) {
		free(m);
		return -EINVAL;
	}
	/* As Firecracker: a custom template replaces a static one set before it. */
	s->cfg.cpu_custom = *m;
	s->cfg.has_cpu_custom = true;
	s->cfg.cpu_template = NULL;
	free(m);
	return 0;
}

/* Opens without blocking (a FIFO named as a kernel must be refused, not waited on). */
static int check_readable(const char *what, const char *field, const char *path, char *err,
			  size_t err_size)
{
	char why[128];
	int fd = file_open(path, O_RDONLY, 0, FILE_REG, why, sizeof(why));

	if (fd < 0) {
		if (fd == -EINVAL)
			snprintf(err, err_size, "%s: %s '%s' %s", what, field, path, why);
		else
			snprintf(err, err_size, "%s: cannot open %s '%s': %s", what, field, path, why);
		return -EINVAL;
	}
	close(fd);
	return 0;
}

/* Opens a file kiln writes to (logs, metrics, serial output), creating a regular file when
 * there is none. A FIFO is opened read-write and non-blocking, as Firecracker opens its log and
 * metrics FIFOs: nobody reading it must not block kiln (lines are dropped when it is full). */
static int open_output(const char *what, const char *field, const char *path, char *err,
		       size_t err_size)
{
	char why[128];
	int fd = file_open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, 0644,
			   FILE_REG | FILE_FIFO | FILE_CHR, why, sizeof(why));

	if (fd == -EINVAL)
		snprintf(err, err_size, "%s: %s '%s' %s", what, field, path, why);
	else if (fd < 0)
		snprintf(err, err_size, "%s: cannot open %s '%s' for writing: %s", what, field, path,
			 why);
	return fd;
}

int spec_boot_source(struct vm_spec *s, const json_t *body, char *err, size_t err_size)
{
	static const struct jfield fields[] = {
		{ "kernel_image_path", JF_STRING, true },
		{ "initrd_path", JF_STRING, false },
		{ "boot_args", JF_STRING, false },
	};
	const char *kernel, *initrd, *args;

	if (jcheck(body, "boot-source", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	kernel = jstr(body, "kernel_image_path");
	initrd = jstr(body, "initrd_path");
	args = jstr(body, "boot_args");
	if (check_readable("boot-source", "kernel_image_path", kernel, err, err_size) ||
	    (initrd && check_readable("boot-source", "initrd_path", initrd, err, err_size)))
		return -EINVAL;
	set_str(&s->kernel_path, kernel);
	set_str(&s->initrd_path, initrd);
	set_str(&s->boot_args, args);
	s->cfg.kernel_path = s->kernel_path;
	s->cfg.initrd_path = s->initrd_path;
	s->cfg.cmdline = s->boot_args;
	s->has_boot_source = true;
	if (sync_drives(s)) {
		snprintf(err, err_size, "boot-source: out of memory");
		return -EINVAL;
	}
	return 0;
}

/* Rebuilds cfg.disks (root drive first: it is /dev/vda, as in Firecracker), cfg.rng and the
 * command line (boot_args plus root= for the root drive). Returns 0 or -ENOMEM. */
static int sync_drives(struct vm_spec *s)
{
	const struct spec_drive *root = NULL;
	unsigned int n = 0;
	char *line = NULL;

	for (unsigned int i = 0; i < s->nr_drives; i++)
		if (s->drives[i].root)
			root = &s->drives[i];
	for (unsigned int pass = 0; pass < 2; pass++) {
		for (unsigned int i = 0; i < s->nr_drives; i++) {
			const struct spec_drive *d = &s->drives[i];

			if ((pass == 0) != (d == root))
				continue;
			s->cfg.disks[n++] = (struct vmm_disk){ .path = d->path,
							       .id = d->serial ? d->id : NULL,
							       .ro = d->ro, .io = d->io,
							       .rate_limiter = d->rate_limiter };
		}
	}
	s->cfg.nr_disks = n;
	s->cfg.rng = s->entropy;
	if (root) {
		const char *args = s->boot_args ? s->boot_args : "";
		int len = root->partuuid
				  ? asprintf(&line, "%s%sroot=PARTUUID=%s %s", args, *args ? " " : "",
					     root->partuuid, root->ro ? "ro" : "rw")
				  : asprintf(&line, "%s%sroot=/dev/vda %s", args, *args ? " " : "",
					     root->ro ? "ro" : "rw");

		if (len < 0)
			return -ENOMEM;
	}
	free(s->cmdline);
	s->cmdline = line;
	s->cfg.cmdline = line ? line : s->boot_args;
	return 0;
}

/* Firecracker's TokenBucket: size and refill_time (ms), one_time_burst optional; non-negative
 * integers. size or refill_time 0 means no limit, as in Firecracker. */
static int parse_bucket(const json_t *o, const char *what, struct token_bucket_cfg *b, char *err,
			size_t err_size)
{
	static const struct jfield fields[] = {
		{ "size", JF_INT, true },
		{ "one_time_burst", JF_INT, false },
		{ "refill_time", JF_INT, true },
	};
	long long size, burst, refill;

	if (jcheck(o, what, fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	size = jint(o, "size", 0);
	burst = jint(o, "one_time_burst", 0);
	refill = jint(o, "refill_time", 0);
	if (size < 0 || burst < 0 || refill < 0) {
		snprintf(err, err_size, "%s: %s %lld must not be negative", what,
			 size < 0 ? "size" : burst < 0 ? "one_time_burst" : "refill_time",
			 size < 0 ? size : burst < 0 ? burst : refill);
		return -EINVAL;
	}
	*b = (struct token_bucket_cfg){ .size = (uint64_t)size, .one_time_burst = (uint64_t)burst,
					.refill_ms = (uint64_t)refill };
	return 0;
}

/* Firecracker's RateLimiter {bandwidth, ops} in `body`'s member `key` (absent or null: nothing
 * changes). *set_bw and *set_ops (may be NULL) say which buckets the object gave. */
static int parse_limiter(const json_t *body, const char *section, const char *key,
			 struct rate_limiter_cfg *rl, bool *set_bw, bool *set_ops, char *err,
			 size_t err_size)
{
	static const struct jfield fields[] = {
		{ "bandwidth", JF_OBJECT, false },
		{ "ops", JF_OBJECT, false },
	};
	const json_t *o = json_object_get(body, key), *b;
	char what[96];

	if (set_bw)
		*set_bw = false;
	if (set_ops)
		*set_ops = false;
	if (!json_is_object(o))
		return 0;
	snprintf(what, sizeof(what), "%s: %s", section, key);
	if (jcheck(o, what, fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	if (json_is_object(b = json_object_get(o, "bandwidth"))) {
		snprintf(what, sizeof(what), "%s: %s.bandwidth", section, key);
		if (parse_bucket(b, what, &rl->bandwidth, err, err_size))
			return -EINVAL;
		if (set_bw)
			*set_bw = true;
	}
	if (json_is_object(b = json_object_get(o, "ops"))) {
		snprintf(what, sizeof(what), "%s: %s.ops", section, key);
		if (parse_bucket(b, what, &rl->ops, err, err_size))
			return -EINVAL;
		if (set_ops)
			*set_ops = true;
	}
	return 0;
}

static json_t *bucket_json(const struct token_bucket_cfg *b)
{
	if (!b->size && !b->refill_ms)
		return json_null();
	return json_pack("{s:I, s:I, s:I}", "size", (json_int_t)b->size, "one_time_burst",
			 (json_int_t)b->one_time_burst, "refill_time", (json_int_t)b->refill_ms);
}

/* GET /vm/config's form of a rate limiter: null when it limits nothing. */
static json_t *limiter_json(const struct rate_limiter_cfg *rl)
{
	if (!rl->bandwidth.size && !rl->bandwidth.refill_ms && !rl->ops.size && !rl->ops.refill_ms)
		return json_null();
	return json_pack("{s:o, s:o}", "bandwidth", bucket_json(&rl->bandwidth), "ops",
			 bucket_json(&rl->ops));
}

static struct spec_drive *find_drive(struct vm_spec *s, const char *id)
{
	for (unsigned int i = 0; i < s->nr_drives; i++)
		if (strcmp(s->drives[i].id, id) == 0)
			return &s->drives[i];
	return NULL;
}

/* Validates a drive's image when it is put, as Firecracker does (it opens the file at PUT):
 * openable with the access the drive needs, without blocking, a regular file or block device,
 * and at least one 512-byte sector long (this refuses /proc files, whose size is 0). */
static int check_image(const char *path, bool ro, char *err, size_t err_size)
{
	char why[128];
	struct stat st;
	uint64_t size = 0;
	int fd = file_open(path, ro ? O_RDONLY : O_RDWR, 0, FILE_REG | FILE_BLK, why, sizeof(why));

	if (fd < 0) {
		snprintf(err, err_size, "drives: path_on_host '%s'%s %s", path,
			 fd == -EINVAL ? "" : ":", why);
		return -EINVAL;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (ioctl(fd, BLKGETSIZE64, &size))
		size = 0;
	close(fd);
	if (size < 512) {
		snprintf(err, err_size,
			 "drives: path_on_host '%s' is %llu bytes, smaller than one 512-byte sector",
			 path, (unsigned long long)size);
		return -EINVAL;
	}
	return 0;
}

int spec_drive(struct vm_spec *s, const char *path_id, const json_t *body, char *err,
	       size_t err_size)
{
	static const struct jfield fields[] = {
		{ "drive_id", JF_STRING, true },	{ "path_on_host", JF_STRING, false },
		{ "is_root_device", JF_BOOL, true },	{ "is_read_only", JF_BOOL, false },
		{ "partuuid", JF_STRING, false },	{ "cache_type", JF_STRING, false },
		{ "rate_limiter", JF_OBJECT, false },	{ "io_engine", JF_STRING, false },
		{ "socket", JF_STRING, false },
	};
	const char *id, *path, *cache, *engine, *partuuid;
	struct rate_limiter_cfg limiter = { { 0 }, { 0 } };
	struct spec_drive *d;
	bool root, ro;
	enum disk_io io = DISK_IO_AUTO;

	if (jcheck(body, "drives", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	id = jstr(body, "drive_id");
	path = jstr(body, "path_on_host");
	root = jbool(body, "is_root_device", false);
	ro = jbool(body, "is_read_only", false);
	cache = jstr(body, "cache_type");
	engine = jstr(body, "io_engine");
	partuuid = jstr(body, "partuuid");
	if (path_id && strcmp(id, path_id) != 0) {
		snprintf(err, err_size, "drives: drive_id '%s' does not match the path's '%s'", id,
			 path_id);
		return -EINVAL;
	}
	if (!id[0] || strlen(id) > CONFIG_DISK_ID_MAX) {
		snprintf(err, err_size, "drives: drive_id '%s' must be 1 to %u bytes", id,
			 CONFIG_DISK_ID_MAX);
		return -EINVAL;
	}
	if (jstr(body, "socket")) {
		snprintf(err, err_size, "drives: socket: kiln has no vhost-user-blk");
		return -EINVAL;
	}
	if (parse_limiter(body, "drives", "rate_limiter", &limiter, NULL, NULL, err, err_size))
		return -EINVAL;
	if (!path) {
		snprintf(err, err_size, "drives: missing field 'path_on_host'");
		return -EINVAL;
	}
	/* Firecracker's "Unsafe" ignores flushes; kiln always honours them, which is safe for both. */
	if (cache && strcmp(cache, "Unsafe") && strcmp(cache, "Writeback")) {
		snprintf(err, err_size, "drives: cache_type '%s' is not Unsafe or Writeback", cache);
		return -EINVAL;
	}
	if (engine && strcmp(engine, "Sync") && strcmp(engine, "Async")) {
		snprintf(err, err_size, "drives: io_engine '%s' is not Sync or Async", engine);
		return -EINVAL;
	}
	if (engine)
		io = strcmp(engine, "Sync") == 0 ? DISK_IO_SYNC : DISK_IO_URING;
	if (check_image(path, ro, err, err_size))
		return -EINVAL;
	d = find_drive(s, id);
	for (unsigned int i = 0; root && i < s->nr_drives; i++) {
		if (s->drives[i].root && &s->drives[i] != d) {
			snprintf(err, err_size, "drives: '%s' is already the root device; only one "
				 "drive can be", s->drives[i].id);
			return -EINVAL;
		}
	}
	if (!d) {
		if (s->nr_drives >= CONFIG_MAX_DISKS ||
		    config_nr_virtio(&s->cfg) >= CONFIG_MAX_VIRTIO) {
			snprintf(err, err_size, "drives: at most %u virtio devices", CONFIG_MAX_VIRTIO);
			return -EINVAL;
		}
		d = &s->drives[s->nr_drives++];
		set_str(&d->id, id);
	}
	d->serial = true; /* as Firecracker: the guest reads drive_id with GET_ID */
	set_str(&d->path, path);
	set_str(&d->partuuid, partuuid);
	d->root = root;
	d->ro = ro;
	d->io = io;
	d->rate_limiter = limiter;
	if (sync_drives(s)) {
		snprintf(err, err_size, "drives: out of memory");
		return -EINVAL;
	}
	return 0;
}

/* The virtio-blk index of drive `d` in cfg.disks: the root drive first, then the others. */
static int drive_index(const struct vm_spec *s, const struct spec_drive *d)
{
	int idx = 0;

	if (d->root)
		return 0;
	for (unsigned int i = 0; i < s->nr_drives && &s->drives[i] != d; i++)
		idx++;
	for (unsigned int i = 0; i < s->nr_drives; i++)
		if (s->drives[i].root && &s->drives[i] > d)
			idx++; /* a root drive put later still comes first */
	return idx;
}

int spec_drive_patch(struct vm_spec *s, const char *path_id, const json_t *body,
		     struct spec_drive_patch *patch, char *err, size_t err_size)
{
	static const struct jfield fields[] = {
		{ "drive_id", JF_STRING, true },
		{ "path_on_host", JF_STRING, false },
		{ "rate_limiter", JF_OBJECT, false },
	};
	struct rate_limiter_cfg limiter;
	struct spec_drive *d;
	const char *path;

	memset(patch, 0, sizeof(*patch));
	patch->index = -1;
	if (jcheck(body, "drives", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	if (strcmp(jstr(body, "drive_id"), path_id) != 0) {
		snprintf(err, err_size, "drives: drive_id '%s' does not match the path's '%s'",
			 jstr(body, "drive_id"), path_id);
		return -EINVAL;
	}
	d = find_drive(s, path_id);
	if (!d) {
		snprintf(err, err_size, "drives: no drive '%s'", path_id);
		return -EINVAL;
	}
	limiter = d->rate_limiter;
	if (parse_limiter(body, "drives", "rate_limiter", &limiter, &patch->set_bandwidth,
			  &patch->set_ops, err, err_size))
		return -EINVAL;
	path = jstr(body, "path_on_host");
	if (path && check_image(path, d->ro, err, err_size))
		return -EINVAL;
	patch->index = drive_index(s, d);
	patch->path = path;
	patch->rate_limiter = limiter;
	d->rate_limiter = limiter;
	if (path)
		set_str(&d->path, path);
	return sync_drives(s) ? -EINVAL : 0;
}

int spec_entropy(struct vm_spec *s, const json_t *body, char *err, size_t err_size)
{
	static const struct jfield fields[] = { { "rate_limiter", JF_OBJECT, false } };

	if (jcheck(body, "entropy", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	struct rate_limiter_cfg limiter = { { 0 }, { 0 } };

	if (parse_limiter(body, "entropy", "rate_limiter", &limiter, NULL, NULL, err, err_size))
		return -EINVAL;
	if (!s->entropy && config_nr_virtio(&s->cfg) >= CONFIG_MAX_VIRTIO) {
		snprintf(err, err_size, "entropy: at most %u virtio devices", CONFIG_MAX_VIRTIO);
		return -EINVAL;
	}
	s->entropy = true;
	s->cfg.rng = true;
	s->cfg.rng_rate_limiter = limiter;
	return 0;
}

/* Rebuilds cfg.nets from the interfaces, in their order. */
static void sync_nets(struct vm_spec *s)
{
	for (unsigned int i = 0; i < s->nr_nets; i++) {
		s->cfg.nets[i] = s->nets[i].net;
		s->cfg.nets[i].id = s->nets[i].id;
		s->cfg.nets[i].tap = s->nets[i].tap;
	}
	s->cfg.nr_nets = s->nr_nets;
}

static struct spec_net *find_net(struct vm_spec *s, const char *id)
{
	for (unsigned int i = 0; i < s->nr_nets; i++)
		if (strcmp(s->nets[i].id, id) == 0)
			return &s->nets[i];
	return NULL;
}

/* iface_id against the path's id and its length: both bodies have it. */
static int check_net_common(const json_t *body, const char *path_id, char *err, size_t err_size)
{
	const char *id = jstr(body, "iface_id");

	if (path_id && strcmp(id, path_id) != 0) {
		snprintf(err, err_size, "network-interfaces: iface_id '%s' does not match the path's "
			 "'%s'", id, path_id);
		return -EINVAL;
	}
	if (!id[0] || strlen(id) > CONFIG_NET_ID_MAX) {
		snprintf(err, err_size, "network-interfaces: iface_id '%s' must be 1 to %u bytes", id,
			 CONFIG_NET_ID_MAX);
		return -EINVAL;
	}
	return 0;
}

/* kiln_net: a user-mode backend in --net's syntax, "user[,net=A.B.C.D/P][,hostfwd=...]...", into
 * net's backend fields (the body's guest_mac and mtu are the only way to give those). */
static int parse_kiln_net(const char *user, struct vmm_net *net, char *err, size_t err_size)
{
	char *storage, why[CONFIG_ERR_MAX];
	struct vmm_net u;

	if (strncmp(user, "user", 4) || (user[4] && user[4] != ',')) {
		snprintf(err, err_size, "network-interfaces: kiln_net '%.64s' is not a user-mode backend "
			 "(user[,net=A.B.C.D/P][,hostfwd=...]; a TAP device goes in host_dev_name)", user);
		return -EINVAL;
	}
	if (strstr(user, ",mac=") || strstr(user, ",mtu=")) {
		snprintf(err, err_size, "network-interfaces: kiln_net '%.64s': give the MAC and MTU in "
			 "guest_mac and mtu", user);
		return -EINVAL;
	}
	if (config_parse_net(user, 0, &u, &storage, why, sizeof(why))) {
		snprintf(err, err_size, "network-interfaces: kiln_net: %s",
			 strncmp(why, "--net ", 6) ? why : why + 6);
		return -EINVAL;
	}
	free(storage); /* the id it made up; nothing else of u points into it for a user backend */
	net->backend = NET_BACKEND_USER;
	net->user_net = u.user_net;
	net->user_prefix = u.user_prefix;
	memcpy(net->hostfwd, u.hostfwd, sizeof(u.hostfwd));
	net->nr_hostfwd = u.nr_hostfwd;
	return 0;
}

int spec_net(struct vm_spec *s, const char *path_id, const json_t *body, char *err,
	     size_t err_size)
{
	/* host_dev_name is required unless kiln_net (kiln's own field) names a user-mode backend. */
	static const struct jfield fields[] = {
		{ "iface_id", JF_STRING, true },	{ "host_dev_name", JF_STRING, false },
		{ "guest_mac", JF_STRING, false },	{ "mtu", JF_INT, false },
		{ "rx_rate_limiter", JF_OBJECT, false }, { "tx_rate_limiter", JF_OBJECT, false },
		{ "kiln_net", JF_STRING, false },
	};
	struct vmm_net net = { .backend = NET_BACKEND_TAP };
	const char *id, *tap, *mac, *why, *user;
	char *id_copy = NULL, *tap_copy = NULL;
	struct spec_net *n;
	long long mtu;

	if (jcheck(body, "network-interfaces", fields, ARRAY_SIZE(fields), err, err_size) ||
	    check_net_common(body, path_id, err, err_size))
		return -EINVAL;
	id = jstr(body, "iface_id");
	tap = jstr(body, "host_dev_name");
	mac = jstr(body, "guest_mac");
	mtu = jint(body, "mtu", 0);
	user = jstr(body, "kiln_net");
	if (!tap && json_object_get(body, "host_dev_name")) {
		snprintf(err, err_size, "network-interfaces: field 'host_dev_name' must be a string");
		return -EINVAL;
	}
	if (!tap == !user) {
		snprintf(err, err_size, "network-interfaces: %s", tap ? "host_dev_name (a TAP device) "
			 "and kiln_net (a user-mode backend) exclude each other" :
			 "missing field 'host_dev_name' (or kiln_net for a user-mode backend)");
		return -EINVAL;
	}
	if (tap && (why = config_bad_ifname(tap))) {
		snprintf(err, err_size, "network-interfaces: host_dev_name '%s' %s", tap, why);
		return -EINVAL;
	}
	if (user && parse_kiln_net(user, &net, err, err_size))
		return -EINVAL;
	if (user && !sandbox_allows_inet()) {
		snprintf(err, err_size, "network-interfaces: kiln_net: user-mode networking opens "
			 "AF_INET sockets, which this kiln's seccomp filters forbid: start it with "
			 "--seccomp-allow-inet");
		return -EINVAL;
	}
	if (mac && config_parse_mac(mac, net.mac)) {
		snprintf(err, err_size, "network-interfaces: guest_mac '%s' is not a MAC address "
			 "(aa:bb:cc:dd:ee:ff)", mac);
		return -EINVAL;
	}
	if (mac && (why = config_bad_mac(net.mac))) {
		snprintf(err, err_size, "network-interfaces: guest_mac '%s' %s", mac, why);
		return -EINVAL;
	}
	net.has_mac = mac != NULL;
	if (json_is_integer(json_object_get(body, "mtu")) && (mtu < CONFIG_NET_MIN_MTU || mtu > 65535)) {
		snprintf(err, err_size, "network-interfaces: mtu %lld is out of range (%u to 65535)",
			 mtu, CONFIG_NET_MIN_MTU);
		return -EINVAL;
	}
	net.mtu = (uint16_t)mtu;
	if (parse_limiter(body, "network-interfaces", "rx_rate_limiter", &net.rx_rate_limiter, NULL,
			  NULL, err, err_size) ||
	    parse_limiter(body, "network-interfaces", "tx_rate_limiter", &net.tx_rate_limiter, NULL,
			  NULL, err, err_size))
		return -EINVAL;
	n = find_net(s, id);
	for (unsigned int i = 0; i < s->nr_nets; i++) {
		const struct spec_net *m = &s->nets[i];

		if (m == n)
			continue;
		if (m->tap && tap && strcmp(m->tap, tap) == 0) {
			snprintf(err, err_size, "network-interfaces: host_dev_name '%s' is already used "
				 "by '%s'", tap, m->id);
			return -EINVAL;
		}
		if (net.has_mac && m->net.has_mac && !memcmp(m->net.mac, net.mac, sizeof(net.mac))) {
			snprintf(err, err_size, "network-interfaces: guest_mac '%s' is already used by "
				 "'%s'", mac, m->id);
			return -EINVAL;
		}
	}
	if (!n && s->nr_nets >= CONFIG_MAX_NETS) {
		snprintf(err, err_size, "network-interfaces: at most %u interfaces", CONFIG_MAX_NETS);
		return -EINVAL;
	}
	if (!n && config_nr_virtio(&s->cfg) >= CONFIG_MAX_VIRTIO) {
		snprintf(err, err_size, "network-interfaces: at most %u virtio devices",
			 CONFIG_MAX_VIRTIO);
		return -EINVAL;
	}
	if (tap)
		tap_copy = strdup(tap);
	if (!n)
		id_copy = strdup(id);
	if ((tap && !tap_copy) || (!n && !id_copy)) {
		free(tap_copy);
		free(id_copy);
		snprintf(err, err_size, "network-interfaces: out of memory");
		return -EINVAL;
	}
	if (!n) {
		n = &s->nets[s->nr_nets++];
		n->id = id_copy;
	}
	free(n->tap);
	n->tap = tap_copy;
	n->net = net;
	sync_nets(s);
	return 0;
}

int spec_net_patch(struct vm_spec *s, const char *path_id, const json_t *body,
		   struct spec_net_patch *patch, char *err, size_t err_size)
{
	static const struct jfield fields[] = {
		{ "iface_id", JF_STRING, true },
		{ "rx_rate_limiter", JF_OBJECT, false },
		{ "tx_rate_limiter", JF_OBJECT, false },
	};
	struct spec_net *n;

	memset(patch, 0, sizeof(*patch));
	patch->index = -1;
	if (jcheck(body, "network-interfaces", fields, ARRAY_SIZE(fields), err, err_size) ||
	    check_net_common(body, path_id, err, err_size))
		return -EINVAL;
	n = find_net(s, path_id);
	if (!n) {
		snprintf(err, err_size, "network-interfaces: no interface '%s'", path_id);
		return -EINVAL;
	}
	patch->rx = n->net.rx_rate_limiter;
	patch->tx = n->net.tx_rate_limiter;
	if (parse_limiter(body, "network-interfaces", "rx_rate_limiter", &patch->rx,
			  &patch->rx_bandwidth, &patch->rx_ops, err, err_size) ||
	    parse_limiter(body, "network-interfaces", "tx_rate_limiter", &patch->tx,
			  &patch->tx_bandwidth, &patch->tx_ops, err, err_size))
		return -EINVAL;
	n->net.rx_rate_limiter = patch->rx;
	n->net.tx_rate_limiter = patch->tx;
	patch->index = (int)(n - s->nets);
	sync_nets(s);
	return 0;
}

int spec_vsock(struct vm_spec *s, const json_t *body, char *err, size_t err_size)
{
	static const struct jfield fields[] = {
		{ "vsock_id", JF_STRING, false },	{ "guest_cid", JF_INT, true },
		{ "uds_path", JF_STRING, true },
	};
	const char *id, *uds, *why;
	char *id_copy, *uds_copy;
	long long cid;

	if (jcheck(body, "vsock", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	id = jstr(body, "vsock_id");
	uds = jstr(body, "uds_path");
	cid = jint(body, "guest_cid", 0);
	if ((why = config_bad_vsock_cid(cid))) {
		snprintf(err, err_size, "vsock: guest_cid %lld %s", cid, why);
		return -EINVAL;
	}
	if ((why = config_bad_vsock_uds(uds))) {
		snprintf(err, err_size, "vsock: uds_path '%.120s%s' %s", uds,
			 strlen(uds) > 120 ? "..." : "", why);
		return -EINVAL;
	}
	if (!id)
		id = CONFIG_VSOCK_DEFAULT_ID;
	if (!id[0] || strlen(id) > CONFIG_VSOCK_ID_MAX) {
		snprintf(err, err_size, "vsock: vsock_id '%.80s' must be 1 to %u bytes", id,
			 CONFIG_VSOCK_ID_MAX);
		return -EINVAL;
	}
	if (!s->cfg.has_vsock && config_nr_virtio(&s->cfg) >= CONFIG_MAX_VIRTIO) {
		snprintf(err, err_size, "vsock: at most %u virtio devices", CONFIG_MAX_VIRTIO);
		return -EINVAL;
	}
	id_copy = strdup(id);
	uds_copy = strdup(uds);
	if (!id_copy || !uds_copy) {
		free(id_copy);
		free(uds_copy);
		snprintf(err, err_size, "vsock: out of memory");
		return -EINVAL;
	}
	free(s->vsock_id);
	free(s->vsock_uds);
	s->vsock_id = id_copy;
	s->vsock_uds = uds_copy;
	s->cfg.vsock = (struct vmm_vsock){ .id = id_copy, .guest_cid = (uint32_t)cid,
					   .uds_path = uds_copy };
	s->cfg.has_vsock = true;
	return 0;
}

int spec_serial(struct vm_spec *s, const json_t *body, char *err, size_t err_size)
{
	static const struct jfield fields[] = { { "serial_out_path", JF_STRING, false },
						{ "rate_limiter", JF_OBJECT, false } };
	struct token_bucket_cfg limit = { 0 };
	const json_t *rl;
	const char *path;
	int fd;

	if (jcheck(body, "serial", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	/* Firecracker's serial rate_limiter is one TokenBucket of bytes, not a RateLimiter. */
	rl = json_object_get(body, "rate_limiter");
	if (json_is_object(rl) && parse_bucket(rl, "serial: rate_limiter", &limit, err, err_size))
		return -EINVAL;
	path = jstr(body, "serial_out_path");
	if (path) {
		fd = open_output("serial", "serial_out_path", path, err, err_size);
		if (fd < 0)
			return -EINVAL;
		close(fd);
	}
	set_str(&s->serial_out_path, path);
	s->cfg.serial_out_path = s->serial_out_path;
	s->cfg.serial_rate_limiter = limit;
	return 0;
}

static int parse_level(const char *name, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{ "Off", LOG_OFF },	   { "Error", LOG_ERROR }, { "Warning", LOG_WARN },
		{ "Info", LOG_INFO },	   { "Debug", LOG_DEBUG }, { "Trace", LOG_DEBUG },
	};

	for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
		if (strcasecmp(name, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

int spec_logger(struct vm_spec *s, const json_t *body, char *err, size_t err_size)
{
	static const struct jfield fields[] = {
		{ "log_path", JF_STRING, false },     { "level", JF_STRING, false },
		{ "show_level", JF_BOOL, false },     { "show_log_origin", JF_BOOL, false },
		{ "module", JF_STRING, false },
	};
	enum log_level level = LOG_WARN;
	const char *path, *lvl;
	int fd = -1;

	if (jcheck(body, "logger", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	lvl = jstr(body, "level");
	if (lvl && parse_level(lvl, &level)) {
		snprintf(err, err_size,
			 "logger: level '%s' is not one of Off, Error, Warning, Info, Debug, Trace", lvl);
		return -EINVAL;
	}
	path = jstr(body, "log_path");
	if (path && (fd = open_output("logger", "log_path", path, err, err_size)) < 0)
		return -EINVAL;
	if (s->logger.fd >= 0)
		close(s->logger.fd);
	s->logger.fd = fd;
	s->logger.set = true;
	set_str(&s->logger.path, path);
	set_str(&s->logger.module, jstr(body, "module"));
	s->logger.level = level;
	s->logger.show_level = jbool(body, "show_level", false);
	s->logger.show_origin = jbool(body, "show_log_origin", false);
	return 0;
}

int spec_metrics(struct vm_spec *s, const json_t *body, char *err, size_t err_size)
{
	static const struct jfield fields[] = { { "metrics_path", JF_STRING, true } };
	const char *path;
	int fd;

	if (jcheck(body, "metrics", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	path = jstr(body, "metrics_path");
	fd = open_output("metrics", "metrics_path", path, err, err_size);
	if (fd < 0)
		return -EINVAL;
	if (s->metrics.fd >= 0)
		close(s->metrics.fd);
	s->metrics.fd = fd;
	s->metrics.set = true;
	set_str(&s->metrics.path, path);
	return 0;
}

int spec_unsupported(const char *section, const json_t *body, char *err, size_t err_size)
{
	static const struct jfield balloon[] = {
		{ "amount_mib", JF_INT, true },	{ "deflate_on_oom", JF_BOOL, true },
		{ "stats_polling_interval_s", JF_INT, false },
	};
	static const struct {
		const char *section, *device;
		const struct jfield *fields;
		size_t n;
	} table[] = {
		{ "balloon", "virtio-balloon", balloon, ARRAY_SIZE(balloon) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		if (strcmp(section, table[i].section) != 0)
			continue;
		if (body && jcheck(body, section, table[i].fields, table[i].n, err, err_size))
			return -EINVAL;
		snprintf(err, err_size, "%s: kiln has no %s device yet", section, table[i].device);
		return -EINVAL;
	}
	snprintf(err, err_size, "%s: not supported by kiln yet", section);
	return -EINVAL;
}

int spec_snapshot_create(const json_t *body, struct spec_snapshot_create *out, char *err,
			 size_t err_size)
{
	static const struct jfield fields[] = {
		{ "snapshot_type", JF_STRING, false }, { "snapshot_path", JF_STRING, true },
		{ "mem_file_path", JF_STRING, true },	{ "version", JF_STRING, false },
	};
	const char *type;

	if (jcheck(body, "snapshot/create", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	type = jstr(body, "snapshot_type");
	if (type && strcmp(type, "Full") != 0 && strcmp(type, "Diff") != 0) {
		snprintf(err, err_size, "snapshot/create: snapshot_type '%s' is not Full or Diff", type);
		return -EINVAL;
	}
	*out = (struct spec_snapshot_create){ .snapshot_path = jstr(body, "snapshot_path"),
					      .mem_file_path = jstr(body, "mem_file_path"),
					      .diff = type && strcmp(type, "Diff") == 0 };
	if (!out->snapshot_path[0] || !out->mem_file_path[0]) {
		snprintf(err, err_size, "snapshot/create: %s is empty",
			 out->snapshot_path[0] ? "mem_file_path" : "snapshot_path");
		return -EINVAL;
	}
	return 0;
}

int spec_snapshot_load(const json_t *body, struct spec_snapshot_load *out, char *err,
		       size_t err_size)
{
	static const struct jfield fields[] = {
		{ "snapshot_path", JF_STRING, true },	{ "mem_file_path", JF_STRING, false },
		{ "mem_backend", JF_OBJECT, false },	{ "enable_diff_snapshots", JF_BOOL, false },
		{ "track_dirty_pages", JF_BOOL, false }, { "resume_vm", JF_BOOL, false },
		{ "network_overrides", JF_ANY, false }, { "vsock_override", JF_ANY, false },
	};
	static const struct jfield backend[] = {
		{ "backend_type", JF_STRING, true },
		{ "backend_path", JF_STRING, true },
	};
	const json_t *mb, *no, *vo;
	const char *type;

	if (jcheck(body, "snapshot/load", fields, ARRAY_SIZE(fields), err, err_size))
		return -EINVAL;
	*out = (struct spec_snapshot_load){ .snapshot_path = jstr(body, "snapshot_path"),
					    .mem_path = jstr(body, "mem_file_path"),
					    .resume_vm = jbool(body, "resume_vm", false),
					    .track_dirty_pages = jbool(body, "track_dirty_pages", false) ||
								 jbool(body, "enable_diff_snapshots", false) };
	mb = json_object_get(body, "mem_backend");
	if (json_is_object(mb)) {
		if (out->mem_path) {
			snprintf(err, err_size, "snapshot/load: give mem_backend or mem_file_path, not both");
			return -EINVAL;
		}
		if (jcheck(mb, "snapshot/load: mem_backend", backend, ARRAY_SIZE(backend), err,
			   err_size))
			return -EINVAL;
		type = jstr(mb, "backend_type");
		out->uffd = strcmp(type, "Uffd") == 0;
		if (!out->uffd && strcmp(type, "File") != 0) {
			snprintf(err, err_size, "snapshot/load: mem_backend: backend_type '%s' is not "
						"File or Uffd", type);
			return -EINVAL;
		}
		out->mem_path = jstr(mb, "backend_path");
	}
	if (!out->mem_path) {
		snprintf(err, err_size, "snapshot/load: mem_backend (or the older mem_file_path) is "
					"required");
		return -EINVAL;
	}
	if (!out->snapshot_path[0] || !out->mem_path[0]) {
		snprintf(err, err_size, "snapshot/load: %s is empty",
			 out->snapshot_path[0] ? "mem_backend.backend_path" : "snapshot_path");
		return -EINVAL;
	}
	no = json_object_get(body, "network_overrides");
	vo = json_object_get(body, "vsock_override");
	if (no && !json_is_null(no)) {
		static const struct jfield ov[] = {
			{ "iface_id", JF_STRING, true },
			{ "host_dev_name", JF_STRING, true },
		};
		size_t i;
		json_t *o;

		if (!json_is_array(no)) {
			snprintf(err, err_size, "snapshot/load: network_overrides is not an array");
			return -EINVAL;
		}
		json_array_foreach(no, i, o) {
			char what[64];

			snprintf(what, sizeof(what), "snapshot/load: network_overrides[%zu]", i);
			if (!json_is_object(o)) {
				snprintf(err, err_size, "%s is not an object", what);
				return -EINVAL;
			}
			if (jcheck(o, what, ov, ARRAY_SIZE(ov), err, err_size))
				return -EINVAL;
		}
		out->overrides.nets = no;
	}
	if (vo && !json_is_null(vo)) {
		static const struct jfield ov[] = { { "uds_path", JF_STRING, true } };

		if (!json_is_object(vo)) {
			snprintf(err, err_size, "snapshot/load: vsock_override is not an object");
			return -EINVAL;
		}
		if (jcheck(vo, "snapshot/load: vsock_override", ov, ARRAY_SIZE(ov), err, err_size))
			return -EINVAL;
		out->overrides.vsock_uds = jstr(vo, "uds_path");
	}
	return 0;
}

int spec_apply_overrides(json_t *doc, const struct spec_overrides *ov, char *err, size_t err_size)
{
	json_t *nets = json_object_get(doc, "network-interfaces"), *vsock, *o, *n;
	size_t i, j;

	json_array_foreach(ov->nets, i, o) {
		const char *id = jstr(o, "iface_id");
		bool found = false;

		for (size_t k = 0; k < i; k++)
			if (strcmp(jstr(json_array_get(ov->nets, k), "iface_id"), id) == 0) {
				snprintf(err, err_size, "snapshot/load: network_overrides: iface_id "
							"'%.64s' is given twice", id);
				return -EINVAL;
			}
		json_array_foreach(nets, j, n) {
			const char *nid = json_string_value(json_object_get(n, "iface_id"));

			if (json_is_object(n) && nid && strcmp(nid, id) == 0) {
				if (json_object_get(n, "kiln_net")) {
					snprintf(err, err_size, "snapshot/load: network_overrides: "
						 "interface '%.64s' is user-mode (kiln_net): it has no "
						 "host_dev_name to override", id);
					return -EINVAL;
				}
				json_object_set_new(n, "host_dev_name",
						    json_string(jstr(o, "host_dev_name")));
				found = true;
			}
		}
		if (!found) {
			snprintf(err, err_size, "snapshot/load: network_overrides: the snapshot has no "
						"interface with iface_id '%.64s'", id);
			return -EINVAL;
		}
	}
	if (ov->vsock_uds) {
		vsock = json_object_get(doc, "vsock");
		if (!json_is_object(vsock)) {
			snprintf(err, err_size, "snapshot/load: vsock_override: the snapshot has no vsock "
						"device");
			return -EINVAL;
		}
		json_object_set_new(vsock, "uds_path", json_string(ov->vsock_uds));
	}
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *spec_machine_config_json(const struct vm_spec *s)
{
	return json_pack("{s:i, s:I, s:b, s:b, s:s, s:b, s:s}", "vcpu_count", (int)s->cfg.nr_vcpus,
			 "mem_size_mib", (json_int_t)(s->cfg.mem_size >> 20), "smt", s->smt,
			 "track_dirty_pages", s->track_dirty_pages, "huge_pages", "None",
			 "enable_thp", s->cfg.mem_backing == MEM_BACKING_ANON_THP,
			 "cpu_template", s->cfg.cpu_template ? s->cfg.cpu_template : "None");
}

/* A bitmap as Firecracker writes it: "0b" and `width` digits of 0, 1 and x. */
static json_t *bitmap_json(const struct cpu_bitmap *b, unsigned int width)
{
	char str[2 + 64 + 1] = "0b";

	for (unsigned int i = 0; i < width; i++) {
		uint64_t bit = 1ull << (width - 1 - i);

		str[2 + i] = !(b->filter & bit) ? 'x' : (b->value & bit) ? '1' : '0';
	}
	str[2 + width] = '\0';
	return json_string(str);
}

json_t *spec_cpu_config_json(const struct vm_spec *s)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	const struct cpu_mods *m = &s->cfg.cpu_custom;
	json_t *cpuid = json_array(), *msr = json_array();
	char num[16];

	if (!s->cfg.has_cpu_custom) {
		json_decref(cpuid);
		json_decref(msr);
		return json_null();
	}
	/* One cpuid_modifiers entry per register modifier: the same template, flattened. */
	for (unsigned int i = 0; i < m->nr_cpuid && i < CONFIG_MAX_CPUID_MODS; i++) {
		const struct cpu_cpuid_mod *c = &m->cpuid[i];
		char sub[16];

		snprintf(num, sizeof(num), "0x%x", c->leaf);
		snprintf(sub, sizeof(sub), "0x%x", c->subleaf);
		json_array_append_new(cpuid, json_pack("{s:s, s:s, s:I, s:[{s:s, s:o}]}", "leaf", num,
						       "subleaf", sub, "flags", (json_int_t)c->flags,
						       "modifiers", "register", regs[c->reg & 3],
						       "bitmap", bitmap_json(&c->bits, 32)));
	}
	for (unsigned int i = 0; i < m->nr_msr && i < CONFIG_MAX_MSR_MODS; i++) {
		snprintf(num, sizeof(num), "0x%x", m->msr[i].addr);
		json_array_append_new(msr, json_pack("{s:s, s:o}", "addr", num, "bitmap",
						     bitmap_json(&m->msr[i].bits, 64)));
	}
	return json_pack("{s:o, s:o}", "cpuid_modifiers", cpuid, "msr_modifiers", msr);
}

json_t *spec_to_json(const struct vm_spec *s)
{
	static const char *const level_names[] = { "Error", "Warning", "Info", "Debug" };
	json_t *doc = json_object();

	if (s->has_boot_source)
		json_object_set_new(doc, "boot-source",
				    json_pack("{s:s, s:o, s:o}", "kernel_image_path", s->kernel_path,
					      "initrd_path", str_or_null(s->initrd_path), "boot_args",
					      str_or_null(s->boot_args)));
	else
		json_object_set_new(doc, "boot-source", json_null());
	json_t *drives = json_array();

	for (unsigned int i = 0; i < s->nr_drives; i++) {
		const struct spec_drive *d = &s->drives[i];

		json_array_append_new(drives,
				      json_pack("{s:s, s:s, s:b, s:b, s:o, s:s, s:s, s:o}", "drive_id",
						d->id, "path_on_host", d->path, "is_root_device", d->root,
						"is_read_only", d->ro, "partuuid",
						str_or_null(d->partuuid), "cache_type", "Writeback",
						"io_engine", d->io == DISK_IO_SYNC ? "Sync" : "Async",
						"rate_limiter", limiter_json(&d->rate_limiter)));
	}
	json_object_set_new(doc, "drives", drives);
	json_object_set_new(doc, "machine-config", spec_machine_config_json(s));
	json_object_set_new(doc, "cpu-config", spec_cpu_config_json(s));
	json_t *nets = json_array();

	/* Firecracker's NetworkInterface; a user-mode interface has kiln_net instead of
	 * host_dev_name. */
	for (unsigned int i = 0; i < s->nr_nets; i++) {
		const struct spec_net *n = &s->nets[i];
		char mac[CONFIG_MAC_STR], user[CONFIG_NET_USER_STR];
		json_t *o, *rl;

		if (n->net.backend == NET_BACKEND_TAP)
			o = json_pack("{s:s, s:s}", "iface_id", n->id, "host_dev_name", n->tap);
		else if (config_format_net_user(&n->net, user, sizeof(user)) == 0)
			o = json_pack("{s:s, s:s}", "iface_id", n->id, "kiln_net", user);
		else
			continue; /* cannot happen: 8 forwards fit */
		if (n->net.has_mac) {
			config_format_mac(n->net.mac, mac);
			json_object_set_new(o, "guest_mac", json_string(mac));
		}
		if (n->net.mtu)
			json_object_set_new(o, "mtu", json_integer(n->net.mtu));
		/* Only the limiters that limit, as Firecracker omits absent ones. (json_is_null() is
		 * a macro that evaluates its argument twice: call limiter_json() outside it.) */
		rl = limiter_json(&n->net.rx_rate_limiter);
		if (!json_is_null(rl))
			json_object_set_new(o, "rx_rate_limiter", rl);
		rl = limiter_json(&n->net.tx_rate_limiter);
		if (!json_is_null(rl))
			json_object_set_new(o, "tx_rate_limiter", rl);
		json_array_append_new(nets, o);
	}
	json_object_set_new(doc, "network-interfaces", nets);
	/* As Firecracker's VsockDeviceConfig: vsock_id is deprecated and never reported. */
	json_object_set_new(doc, "vsock",
			    s->cfg.has_vsock
				    ? json_pack("{s:I, s:s}", "guest_cid",
						(json_int_t)s->cfg.vsock.guest_cid, "uds_path",
						s->cfg.vsock.uds_path)
				    : json_null());
	json_object_set_new(doc, "entropy",
			    s->entropy ? json_pack("{s:o}", "rate_limiter",
						   limiter_json(&s->cfg.rng_rate_limiter))
				       : json_null());
	json_object_set_new(doc, "balloon", json_null());
	json_object_set_new(doc, "mmds-config", json_null());
	if (s->logger.set)
		json_object_set_new(doc, "logger",
				    json_pack("{s:o, s:s, s:b, s:b, s:o}", "log_path",
					      str_or_null(s->logger.path), "level",
					      s->logger.level == LOG_OFF ? "Off" : level_names[s->logger.level],
					      "show_level", s->logger.show_level, "show_log_origin",
					      s->logger.show_origin, "module", str_or_null(s->logger.module)));
	else
		json_object_set_new(doc, "logger", json_null());
	json_object_set_new(doc, "metrics",
			    s->metrics.set ? json_pack("{s:s}", "metrics_path", s->metrics.path)
					   : json_null());
	json_object_set_new(doc, "serial",
			    json_pack("{s:o, s:o}", "serial_out_path", str_or_null(s->serial_out_path),
				      "rate_limiter", bucket_json(&s->cfg.serial_rate_limiter)));
	return doc;
}

int spec_from_document(struct vm_spec *s, const json_t *doc, char *err, size_t err_size)
{
	const json_t *cpu_config = NULL;
	const char *key;
	json_t *val;

	if (!json_is_object(doc)) {
		snprintf(err, err_size, "expected a JSON object with configuration sections");
		return -EINVAL;
	}
	json_object_foreach((json_t *)doc, key, val) {
		int e = 0;

		if (json_is_null(val))
			continue;
		if (strcmp(key, "boot-source") == 0)
			e = spec_boot_source(s, val, err, err_size);
		else if (strcmp(key, "machine-config") == 0)
			e = spec_machine_config(s, val, false, err, err_size);
		else if (strcmp(key, "logger") == 0)
			e = spec_logger(s, val, err, err_size);
		else if (strcmp(key, "metrics") == 0)
			e = spec_metrics(s, val, err, err_size);
		else if (strcmp(key, "serial") == 0)
			e = spec_serial(s, val, err, err_size);
		else if (strcmp(key, "drives") == 0 || strcmp(key, "network-interfaces") == 0) {
			if (!json_is_array(val)) {
				snprintf(err, err_size, "%s: expected an array", key);
				return -EINVAL;
			}
			size_t i;
			json_t *d;

			json_array_foreach(val, i, d) {
				e = strcmp(key, "drives") == 0 ? spec_drive(s, NULL, d, err, err_size)
							       : spec_net(s, NULL, d, err, err_size);
				if (e)
					break;
			}
		} else if (strcmp(key, "entropy") == 0) {
			e = spec_entropy(s, val, err, err_size);
		} else if (strcmp(key, "vsock") == 0) {
			e = spec_vsock(s, val, err, err_size);
		} else if (strcmp(key, "cpu-config") == 0) {
			cpu_config = val; /* after machine-config, wherever it is (as Firecracker) */
		} else if (strcmp(key, "balloon") == 0 || strcmp(key, "mmds-config") == 0)
			e = spec_unsupported(key, val, err, err_size);
		else {
			snprintf(err, err_size, "unknown section '%s'", key);
			return -EINVAL;
		}
		if (e)
			return e;
	}
	if (cpu_config && json_is_string(cpu_config)) {
		/* Firecracker's config file may name the template's file instead. */
		const char *path = json_string_value(cpu_config);
		json_error_t jerr;
		json_t *tmpl = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		int e;

		if (!tmpl) {
			snprintf(err, err_size, "cpu-config: '%s': %s", path, jerr.text);
			return -EINVAL;
		}
		e = spec_cpu_config(s, tmpl, err, err_size);
		json_decref(tmpl);
		if (e)
			return e;
	} else if (cpu_config && spec_cpu_config(s, cpu_config, err, err_size)) {
		return -EINVAL;
	}
	if (!s->has_boot_source) {
		snprintf(err, err_size, "boot-source: missing (kernel_image_path is required)");
		return -EINVAL;
	}
	return 0;
}
