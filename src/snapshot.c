/* snapshot.c: saving a paused VM (state file and memory file) and the state file's generic
 * sections; the architecture saves its own (arch.h), builder_restore() loads them. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/kind.h"
#include "util/log.h"
#include "vmm_priv.h"

#define PAGE 4096u

/* Section "vm": the machine, beyond the configuration document. */
struct snap_vm {
	uint32_t nr_vcpus;
	uint32_t nr_devices;
	uint64_t mem_size;
	uint32_t irqchip;          /* enum irqchip_mode */
	uint32_t debug_exit;       /* 0 or 1 */
	uint32_t debug_exit_port;
	uint32_t virtio_discovery; /* enum virtio_discovery */
};

/* Section "virtio" (with virtio devices): what the configuration document cannot say about
 * them. Each device's own state is the section named after it ("virtio-blk0"). */
struct snap_virtio {
	uint32_t console;  /* --console virtio: a virtio-console among the devices */
	uint32_t reserved; /* zero */
};

int snapshot_open(struct snap_reader **out, const char *path, char *err, size_t err_size)
{
	return snap_reader_open(out, path, arch_snapshot_name, err, err_size);
}

const char *snapshot_config(const struct snap_reader *r, size_t *len)
{
	return snap_get(r, "config", len);
}

int snapshot_apply_machine(const struct snap_reader *r, struct vmm_config *cfg, char *err,
			   size_t err_size)
{
	struct snap_vm v;

	if (snap_get_exact(r, "vm", &v, sizeof(v), err, err_size))
		return -EINVAL;
	if (v.irqchip > IRQCHIP_KERNEL || v.virtio_discovery > VIRTIO_DISCOVERY_ACPI ||
	    v.debug_exit > 1 || v.debug_exit_port > 0xffff) {
		snprintf(err, err_size, "section 'vm': settings out of range");
		return -EINVAL;
	}
	if (v.nr_devices) {
		struct snap_virtio sv;

		if (snap_get_exact(r, "virtio", &sv, sizeof(sv), err, err_size))
			return -EINVAL;
		if (sv.console > 1 || sv.reserved) {
			snprintf(err, err_size, "section 'virtio': settings out of range");
			return -EINVAL;
		}
		cfg->virtio_console = sv.console;
	}
	cfg->irqchip = (enum irqchip_mode)v.irqchip;
	cfg->debug_exit = v.debug_exit;
	cfg->debug_exit_port = (uint16_t)v.debug_exit_port;
	cfg->virtio_discovery = (enum virtio_discovery)v.virtio_discovery;
	if (v.nr_vcpus != cfg->nr_vcpus || v.mem_size != cfg->mem_size ||
	    v.nr_devices != config_nr_virtio(cfg)) {
		snprintf(err, err_size, "section 'vm' (%u vCPUs, %llu MiB, %u devices) does not match "
					"the configuration (%u vCPUs, %llu MiB, %u devices)",
			 v.nr_vcpus, (unsigned long long)(v.mem_size >> 20), v.nr_devices,
			 cfg->nr_vcpus, (unsigned long long)(cfg->mem_size >> 20),
			 config_nr_virtio(cfg));
		return -EINVAL;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)p;

	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return false;
	return true;
}

static int write_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Copies `len` bytes at `off` of the memfd behind guest RAM to the same offset of `fd`, in the
 * kernel: sendfile() splices the memfd's pages into the file, with no pass through kiln's memory
 * (copy_file_range() would refuse a memfd and a file on different file systems). */
static int copy_from_memfd(int fd, int memfd, off_t off, size_t len)
{
	if (lseek(fd, off, SEEK_SET) < 0)
		return -errno;
	while (len) {
		ssize_t n = sendfile(fd, memfd, &off, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		len -= (size_t)n;
	}
	return 0;
}

/* The next run of a memfd's data at or after region offset *pos (the region starting at file
 * offset `from`, `size` bytes): [*pos, *end) in page units, or *pos = *end = size when only holes
 * are left. The pages the guest never touched are holes, skipped unread: a read through the
 * mapping would allocate them. */
static void next_extent(int memfd, uint64_t from, uint64_t size, uint64_t *pos, uint64_t *end)
{
	off_t d = lseek(memfd, (off_t)(from + *pos), SEEK_DATA), h;

	*pos = *end = size;
	if (d < 0 || (uint64_t)d >= from + size)
		return; /* ENXIO: holes up to the end of the file */
	h = lseek(memfd, d, SEEK_HOLE);
	*pos = ((uint64_t)d - from) & ~(uint64_t)(PAGE - 1);
	if (h > d && (uint64_t)h < from + size)
		*end = ((uint64_t)h - from + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

/* Whether page `pg` of region `i` is to be written: every non-zero page for a Full snapshot,
 * every page KVM logged as written since the last snapshot for a Diff. */
static bool wanted(uint64_t *const *dirty, unsigned int i, uint64_t pg, const uint8_t *p)
{
	if (dirty)
		return dirty[i][pg / 64] >> (pg % 64) & 1;
	return !all_zero(p, PAGE);
}

/* A memfd's pages are copied by the kernel (copy_from_memfd()); other memory is written from its
 * mapping. */
int snapshot_save_memory(const struct gmem *mem, const char *path, uint64_t *const *dirty,
			 char *err, size_t err_size)
{
	uint64_t off = 0, total = gmem_size(mem);
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (dirty ? 0 : O_TRUNC);
	int fd = open(path, flags, 0600), memfd = gmem_memfd(mem), e = 0;

	if (fd < 0) {
		e = -errno;
		snprintf(err, err_size, "mem_file_path '%s': cannot create: %s", path, strerror(errno));
		return e;
	}
	if (ftruncate(fd, (off_t)total) < 0) {
		e = -errno;
		goto out;
	}
	for (unsigned int i = 0; i < gmem_nr_regions(mem) && !e; i++) {
		const struct gmem_region *r = gmem_region(mem, i);
		const uint8_t *p = r->hva;
		uint64_t pos = 0;

		while (pos < r->size && !e) {
			uint64_t end = r->size;

			if (!dirty && memfd >= 0)
				next_extent(memfd, off, r->size, &pos, &end);
			while (pos < end && !e) {
				uint64_t start, run;

				while (pos < end && !wanted(dirty, i, pos / PAGE, p + pos))
					pos += PAGE;
				start = pos;
				while (pos < end && wanted(dirty, i, pos / PAGE, p + pos))
					pos += PAGE;
				run = pos - start;
				if (run && memfd >= 0)
					e = copy_from_memfd(fd, memfd, (off_t)(off + start), run);
				else if (run)
					e = write_all(fd, p + start, run, (off_t)(off + start));
			}
		}
		off += r->size;
	}
	if (!e && fsync(fd) < 0)
		e = -errno;
out:
	if (e)
		snprintf(err, err_size, "mem_file_path '%s': cannot write: %s", path, strerror(-e));
	close(fd);
	return e;
}

/* With dirty logging on: takes KVM's dirty bitmaps (which clears them, so the next Diff counts
 * from this snapshot). *out gets one bitmap per region, or NULL without logging. */
static int take_dirty_log(struct vmm *vmm, uint64_t ***out, char *err, size_t err_size)
{
	unsigned int n = gmem_nr_regions(vmm->mem);
	uint64_t **maps;
	int e;

	*out = NULL;
	if (!vmm->cfg.track_dirty_pages)
		return 0;
	maps = calloc(n, sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t pages = gmem_region(vmm->mem, i)->size / PAGE;

		maps[i] = calloc((pages + 63) / 64, sizeof(uint64_t));
		if (!maps[i] || (e = vm_dirty_log(vmm->vm, i, maps[i]))) {
			e = maps[i] ? e : -ENOMEM;
			snprintf(err, err_size, "KVM_GET_DIRTY_LOG failed: %s", strerror(-e));
			for (unsigned int j = 0; j <= i; j++)
				free(maps[j]);
			free(maps);
			return e;
		}
	}
	*out = maps;
	return 0;
}

/* Section "virtio" and one section per device, named after it, holding its kind's state. */
static int save_devices(struct vmm *vmm, struct snap_writer *w, char *err, size_t err_size)
{
	struct snap_virtio sv = { .console = vmm->cfg.virtio_console };
	int e = 0;

	if (!vmm->nr_devices)
		return 0;
	if ((e = snap_add(w, "virtio", &sv, sizeof(sv)))) {
		snprintf(err, err_size, "cannot build the state file: %s", strerror(-e));
		return e;
	}
	for (unsigned int i = 0; i < vmm->nr_devices && !e; i++) {
		const struct vmm_device *d = &vmm->devices[i];
		void *state = calloc(1, d->kind->state_size);

		if (!state)
			e = -ENOMEM;
		else {
			d->kind->save(d->dev, state);
			e = snap_add(w, d->kind->transport(d->dev)->name, state, d->kind->state_size);
		}
		free(state);
		if (e)
			snprintf(err, err_size, "cannot build the state file: %s", strerror(-e));
	}
	return e;
}

int vmm_restore_devices(struct vmm *vmm, const struct snap_reader *r, char *err, size_t err_size)
{
	for (unsigned int i = 0; i < vmm->nr_devices; i++) {
		const struct vmm_device *d = &vmm->devices[i];
		const char *name = d->kind->transport(d->dev)->name;
		void *state = malloc(d->kind->state_size);
		int e;

		if (!state) {
			snprintf(err, err_size, "out of memory for %s's state", name);
			return -ENOMEM;
		}
		e = snap_get_exact(r, name, state, d->kind->state_size, err, err_size);
		if (!e && (e = d->kind->load(d->dev, state)))
			snprintf(err, err_size, "section '%s': a state this device cannot be in", name);
		free(state);
		if (e)
			return -EINVAL;
	}
	/* Every device is back: now each looks at its queues and re-sends a pending interrupt. */
	for (unsigned int i = 0; i < vmm->nr_devices; i++)
		virtio_mmio_restored(vmm->devices[i].kind->transport(vmm->devices[i].dev));
	return 0;
}

int vmm_snapshot_create(struct vmm *vmm, bool diff, const char *config, size_t config_len,
			const char *snapshot_path, const char *mem_path, char *err, size_t err_size)
{
	struct snap_writer *w = NULL;
	uint64_t **dirty = NULL;
	bool io_paused = false;
	struct snap_vm v;
	int e;

	if (!vmm_paused(vmm)) {
		snprintf(err, err_size, "the microVM must be paused first (PATCH /vm {\"state\": \"Paused\"})");
		return -EBUSY;
	}
	if (vmm->dbg_held) {
		snprintf(err, err_size, "a VM under the gdb stub (--gdb) cannot be saved");
		return -ENOTSUP;
	}
	if ((e = arch_snapshot_check(vmm->arch, err, err_size)))
		return e;
	if (diff && !vmm->cfg.track_dirty_pages) {
		snprintf(err, err_size, "snapshot_type Diff needs dirty-page tracking: machine-config's "
					"track_dirty_pages (or snapshot/load's enable_diff_snapshots)");
		return -EINVAL;
	}
	if (diff && vmm->dirty_lost) {
		snprintf(err, err_size, "a snapshot failed after taking KVM's dirty log: take a Full "
					"snapshot before the next Diff");
		return -EINVAL;
	}
	if (diff) {
		/* Before the dirty log is taken: a refusal must not lose it. */
		struct stat st;

		if (stat(mem_path, &st) == 0 && st.st_size && (uint64_t)st.st_size != gmem_size(vmm->mem)) {
			snprintf(err, err_size, "mem_file_path '%s' has %llu bytes: a Diff snapshot writes "
						"over a copy of the previous memory file (%llu bytes) or a new "
						"file", mem_path, (unsigned long long)st.st_size,
				 (unsigned long long)gmem_size(vmm->mem));
			return -EINVAL;
		}
	}
	/* Truncating the file this VM's memory is mapped from would pull its pages away. */
	for (int i = 0; i < 2 && vmm->mem_from_file; i++) {
		const char *p = i ? mem_path : snapshot_path;
		struct stat st;

		if (stat(p, &st) == 0 && st.st_dev == vmm->mem_dev && st.st_ino == vmm->mem_ino) {
			snprintf(err, err_size, "%s '%s' is the memory file this VM was restored from",
				 i ? "mem_file_path" : "snapshot_path", p);
			return -EINVAL;
		}
	}

	v = (struct snap_vm){
		.nr_vcpus = vmm->nr_vcpus,
		.nr_devices = vmm->nr_devices,
		.mem_size = gmem_size(vmm->mem),
		.irqchip = vmm->cfg.irqchip,
		.debug_exit = vmm->cfg.debug_exit,
		.debug_exit_port = vmm->cfg.debug_exit_port,
		.virtio_discovery = vmm->cfg.virtio_discovery,
	};
	if ((e = snap_writer_create(&w, arch_snapshot_name)) ||
	    (e = snap_add(w, "config", config, config_len)) ||
	    (e = snap_add(w, "vm", &v, sizeof(v)))) {
		snprintf(err, err_size, "cannot build the state file: %s", strerror(-e));
		goto out;
	}
	/* Nothing touches guest memory or a device from here on: the vCPUs are parked and the I/O
	 * thread waits. The devices go first: finishing their requests in flight may interrupt
	 * the guest, which the vCPUs' local APICs saved next must hold. */
	io_thread_pause(vmm->io);
	io_paused = true;
	if ((e = save_devices(vmm, w, err, err_size)))
		goto out;
	for (unsigned int i = 0; i < vmm->nr_vcpus; i++)
		if ((e = arch_vcpu_save(vmm->arch, &vmm->vcpus[i], w, err, err_size)))
			goto out;
	if ((e = arch_snapshot_save(vmm->arch, w, err, err_size)))
		goto out;
	/* Memory first: a state file that exists is one whose memory file was written. The dirty
	 * log is taken for a Full snapshot too: the next Diff counts from this one. */
	if ((e = take_dirty_log(vmm, &dirty, err, err_size)) ||
	    (e = snapshot_save_memory(vmm->mem, mem_path, diff ? dirty : NULL, err, err_size)))
		goto out;
	if ((e = snap_writer_save(w, snapshot_path, err, err_size))) {
		char why[SNAP_ERR_MAX];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_size, "snapshot_path: %s", why);
	}
out:
	if (io_paused)
		io_thread_resume(vmm->io);
	/* Once KVM's log is taken, the pages it named are only in this snapshot's files. */
	if (dirty)
		vmm->dirty_lost = e != 0;
	for (unsigned int i = 0; dirty && i < gmem_nr_regions(vmm->mem); i++)
		free(dirty[i]);
	free(dirty);
	snap_writer_destroy(w);
	if (!e)
		pr_info("snapshot: saved %u vCPU%s and %llu MiB to %s and %s", vmm->nr_vcpus,
			vmm->nr_vcpus == 1 ? "" : "s", (unsigned long long)(gmem_size(vmm->mem) >> 20),
			snapshot_path, mem_path);
	return e;
}
