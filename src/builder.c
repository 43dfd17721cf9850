/* builder.c: turns a vmm_config into a VM, in an explicit order, unwinding on any failure. The
 * board comes from the architecture (arch.h); the virtio devices from the table below. */
#include "builder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "devices/virtio/vsock.h"
#include "devices/virtio/rng.h"
#include "loader/loader.h"
#include "snapshot.h"
#include "util/file.h"
#include "util/log.h"
#include "util/unix_sock.h"
#include "vmm_priv.h"

#define fail(status_, ...)                                   \
	do {                                                 \
		snprintf(err, err_size, __VA_ARGS__);        \
		status = (status_);                          \
		goto out_fail;                               \
	} while (0)

/* Every kind of virtio device, in the order their devices get slots (docs/virtio.md): disks,
 * console, rng, network interfaces. A new kind is one file in devices/virtio/ and one row here
 * (docs/design.md). */
static const struct virtio_kind *const virtio_kinds[] = {
	&virtio_blk_kind,
	&virtio_console_kind,
	&virtio_rng_kind,
	&virtio_net_kind,
	&virtio_vsock_kind,
};

const struct virtio_kind *const *builder_virtio_kinds(unsigned int *nr)
{
	*nr = ARRAY_SIZE(virtio_kinds);
	return virtio_kinds;
}

/* Creates device `index` of `kind` in the next slot and hands its queues (and any other fd it
 * has) to the I/O thread. */
static int attach_one(struct vmm *vmm, const struct virtio_kind *kind, unsigned int index,
		      char *err, size_t err_size)
{
	struct arch_virtio_slot slot = arch_virtio_slot(vmm->arch, vmm->nr_devices);
	struct vmm_device *d = &vmm->devices[vmm->nr_devices];
	char name[24];
	struct virtio_dev_env env = {
		.cfg = &vmm->cfg, .index = index, .name = name, .mem = vmm->mem, .io = vmm->io,
		.base = slot.addr, .gsi = slot.gsi,
		.line = { arch_irq_sink(vmm->arch), slot.gsi },
		.out_fd = vmm->serial_fd, .wake = vmm_wake, .wake_opaque = vmm,
	};
	struct virtio_mmio *t;
	io_handler_fn fn;
	int e, fd;

	snprintf(name, sizeof(name), "virtio-%s%u", kind->kind, index);
	if (!(d->dev = calloc(1, kind->size)))
		return -ENOMEM;
	d->kind = kind;
	if ((e = kind->init(d->dev, &env, err, err_size))) {
		free(d->dev);
		d->dev = NULL;
		return e;
	}
	vmm->nr_devices++;
	t = kind->transport(d->dev);
	if ((e = bus_attach(vmm->mmio, t->base, VIRTIO_MMIO_SIZE, t->name, virtio_mmio_read,
			    virtio_mmio_write, t, err, err_size)))
		return e;
	for (unsigned int q = 0; q < t->ops->nr_queues; q++)
		if ((e = io_thread_add(vmm->io, t->kick_fd[q], virtio_mmio_kick, &t->kicks[q])))
			return e;
	if (kind->io_fd && (fd = kind->io_fd(d->dev, &fn)) >= 0 &&
	    (e = io_thread_add(vmm->io, fd, fn, d->dev)))
		return e;
	return 0;
}

/* The virtio-mmio devices, kind by kind in table order. */
static int attach_virtio(struct vmm *vmm, char *err, size_t err_size)
{
	int e;

	if (!config_nr_virtio(&vmm->cfg))
		return 0;
	if ((e = io_thread_create(&vmm->io)))
		return e;
	for (size_t k = 0; k < ARRAY_SIZE(virtio_kinds); k++) {
		unsigned int n = virtio_kinds[k]->count(&vmm->cfg);

		for (unsigned int i = 0; i < n; i++)
			if ((e = attach_one(vmm, virtio_kinds[k], i, err, err_size)))
				return e;
	}
	for (unsigned int i = 0; i < vmm->nr_devices; i++)
		if (vmm->devices[i].kind == &virtio_console_kind)
			vmm->vcon = vmm->devices[i].dev;
	return 0;
}

/* Once the KVM VM exists: each virtio device's interrupt and queue notifications go through KVM
 * (irqfd, ioeventfd) where it can. */
static void connect_virtio(struct vmm *vmm)
{
	for (unsigned int i = 0; i < vmm->nr_devices; i++)
		virtio_mmio_connect(vmm->devices[i].kind->transport(vmm->devices[i].dev), vmm->vm);
}

/* A snapshot's memory file, checked against the configuration, mapped MAP_PRIVATE. */
static int map_memory_file(struct vmm *vmm, const char *path, char *err, size_t err_size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), e;

	if (fd < 0) {
		e = -errno;
		snprintf(err, err_size, "memory file '%s': cannot open: %s", path, strerror(errno));
		return e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_size, "memory file '%s': not a regular file", path);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size != vmm->cfg.mem_size) {
		close(fd);
		snprintf(err, err_size, "memory file '%s' has %llu bytes, the snapshot's guest has "
					"%llu (%llu MiB)",
			 path, (unsigned long long)st.st_size, (unsigned long long)vmm->cfg.mem_size,
			 (unsigned long long)(vmm->cfg.mem_size >> 20));
		return -EINVAL;
	}
	e = gmem_create_from_file(&vmm->mem, vmm->cfg.mem_size, arch_ram_hole_start(), fd);
	close(fd);
	vmm->mem_from_file = true;
	vmm->mem_dev = st.st_dev;
	vmm->mem_ino = st.st_ino;
	if (e)
		snprintf(err, err_size, "memory file '%s': cannot map it: %s", path, strerror(-e));
	return e;
}

/* The Uffd backend's connection: to the page-fault handler listening at `path`. Non-blocking,
 * so a handler that does not accept (a full backlog) is refused, never waited for. Returns the
 * socket, or -EINVAL with one line in err. */
static int uffd_connect(const char *path, char *err, size_t err_size)
{
	int fd = unix_sock_connect(path, SOCK_NONBLOCK), e = -fd;

	if (fd == -ENAMETOOLONG) {
		snprintf(err, err_size, "page-fault handler socket '%s': longer than a Unix socket "
					"path can be (%zu bytes)", path, unix_sock_path_max());
		return -EINVAL;
	}
	if (fd < 0) {
		snprintf(err, err_size, "page-fault handler socket '%s': cannot connect: %s%s", path,
			 strerror(e), e == ENOENT || e == ECONNREFUSED ? " (is the handler listening?)"
				      : e == EAGAIN ? " (the handler does not accept connections)" : "");
		return -EINVAL;
	}
	return fd;
}

/* The Uffd backend's handshake, in Firecracker's format (its persist.rs, send_uffd_handshake())
 * so that a page-fault handler written for Firecracker serves kiln: one message on the stream
 * connection, whose bytes are the JSON array of GuestRegionUffdMapping, one object per region in
 * guest-physical order ({"base_host_virt_addr", "size", "offset" (in the memory file),
 * "page_size", "page_size_kib" (bytes too: Firecracker's deprecated name)}), with the
 * userfaultfd attached (SCM_RIGHTS). The message is far below a socket buffer, so it is sent
 * whole or not at all. */
static int uffd_handshake(struct vmm *vmm, const char *path, char *err, size_t err_size)
{
	char msg[GMEM_MAX_REGIONS * 160 + 8];
	uint64_t off = 0;
	size_t len = 0;
	long n;

	len += (size_t)snprintf(msg, sizeof(msg), "[");
	for (unsigned int i = 0; i < gmem_nr_regions(vmm->mem); i++) {
		const struct gmem_region *r = gmem_region(vmm->mem, i);

		len += (size_t)snprintf(msg + len, sizeof(msg) - len,
					"%s{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu,"
					"\"page_size\":4096,\"page_size_kib\":4096}",
					i ? "," : "", (unsigned long long)(uintptr_t)r->hva,
					(unsigned long long)r->size, (unsigned long long)off);
		off += r->size;
	}
	len += (size_t)snprintf(msg + len, sizeof(msg) - len, "]");
	n = unix_sock_send_fds(vmm->uffd_sock, msg, len, &vmm->uffd, 1);
	if (n != (long)len) {
		snprintf(err, err_size, "page-fault handler socket '%s': cannot send the memory layout: "
					"%s", path, n < 0 ? strerror((int)-n) : "short write");
		return -EINVAL;
	}
	return 0;
}

/* Watches the handler at the other end of the Uffd connection for its exit (vmm_handler_fd()):
 * a handler that dies leaves the guest's next faults waiting forever. Best effort: its pid is
 * 0 from another pid namespace, and a kernel before 5.3 has no pidfd_open. */
static void watch_handler(struct vmm *vmm, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	vmm->uffd_path = strdup(path);
	if (getsockopt(vmm->uffd_sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
		pr_debug("mem_backend Uffd: the handler's pid is not visible: its exit goes unnoticed");
		return;
	}
	vmm->uffd_pid = (int)cred.pid;
	vmm->uffd_pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	if (vmm->uffd_pidfd < 0)
		pr_debug("mem_backend Uffd: pidfd_open(%d): %s: the handler's exit goes unnoticed",
			 (int)cred.pid, strerror(errno));
}

/* The Uffd backend: anonymous RAM registered with a userfaultfd, whose faults the handler
 * listening at `path` serves from the memory file it has (docs/snapshot.md). The connection
 * comes first, so a missing handler is reported as such on any host. kiln keeps it open while
 * the VM lives, as Firecracker does: the handler may take kiln's pid from it (SO_PEERCRED) and
 * sees it close when kiln exits. */
static int map_memory_uffd(struct vmm *vmm, const char *path, char *err, size_t err_size)
{
	int e;

	vmm->uffd_sock = uffd_connect(path, err, err_size);
	if (vmm->uffd_sock < 0)
		return vmm->uffd_sock;
	e = gmem_create_uffd(&vmm->mem, vmm->cfg.mem_size, arch_ram_hole_start(), &vmm->uffd);
	if (e) {
		snprintf(err, err_size, "mem_backend Uffd: cannot register guest memory with a "
					"userfaultfd: %s%s", strerror(-e),
			 e == -EPERM ? " (kiln needs CAP_SYS_PTRACE or sysctl vm.unprivileged_userfaultfd=1)"
				     : "");
		return e;
	}
	if ((e = uffd_handshake(vmm, path, err, err_size)))
		return e;
	watch_handler(vmm, path);
	return 0;
}

/* What builder_restore() adds to a build. */
struct restore {
	const struct snap_reader *r;
	const char *mem_path;
	enum restore_backend backend;
};

static int build(const struct vmm_config *cfg, const struct restore *rs, struct vmm **out,
		 char *err, size_t err_size)
{
	struct loader_args la = { .cmdline = cfg->cmdline, .flat = cfg->flat };
	char why[LOADER_ERR_MAX];
	struct vmm *vmm = NULL;
	int status = KILN_EXIT_HOST_ERROR, e;

	err[0] = '\0';
	if (config_validate(cfg, err, err_size))
		return KILN_EXIT_USAGE;
	e = vmm_alloc(&vmm, cfg);
	if (e) {
		snprintf(err, err_size, "cannot allocate the VM: %s", strerror(-e));
		return KILN_EXIT_HOST_ERROR;
	}

	/* 1. Guest memory and image: bad input is reported before KVM is even opened. A restore
	 * maps the memory file instead: firmware tables and image are in it. */
	if (rs) {
		if (rs->backend == RESTORE_UFFD ? map_memory_uffd(vmm, rs->mem_path, err, err_size)
						: map_memory_file(vmm, rs->mem_path, err, err_size)) {
			status = KILN_EXIT_USAGE;
			goto out_fail;
		}
	} else {
		e = gmem_create(&vmm->mem, cfg->mem_size, arch_ram_hole_start(), cfg->mem_backing);
		if (e)
			fail(KILN_EXIT_USAGE, "-m/--memory: cannot map %llu MiB of guest memory: %s",
			     (unsigned long long)(cfg->mem_size >> 20), strerror(-e));
	}
	/* The board's description and firmware tables come before the image, which may not overlap
	 * them. */
	e = arch_vm_create(&vmm->arch, &vmm->cfg, err, err_size);
	if (e == -EINVAL) {
		status = KILN_EXIT_USAGE; /* the reason is in err */
		goto out_fail;
	}
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "out of memory for the board");
	if (rs)
		goto devices;
	if (arch_guest_cmdline(vmm->arch, cfg->cmdline, &vmm->cmdline))
		fail(KILN_EXIT_HOST_ERROR, "out of memory for the kernel command line");
	la.linux_cmdline = vmm->cmdline;
	if (arch_write_firmware(vmm->arch, vmm->mem, &la.acpi_rsdp, err, err_size)) {
		status = KILN_EXIT_USAGE;
		goto out_fail;
	}
	if (loader_map_file(&la.kernel, cfg->kernel_path, why, sizeof(why)))
		fail(KILN_EXIT_USAGE, "%s", why);
	if (cfg->initrd_path && loader_map_file(&la.initrd, cfg->initrd_path, why, sizeof(why))) {
		loader_unmap_file(&la.kernel);
		fail(KILN_EXIT_USAGE, "%s", why);
	}
	e = loader_load(vmm->mem, &la, &vmm->entry, why, sizeof(why));
	loader_unmap_file(&la.kernel);
	loader_unmap_file(&la.initrd);
	if (e)
		fail(KILN_EXIT_USAGE, "%s", why);
	if (arch_prepare_boot(vmm->arch, vmm->mem, &vmm->entry, err, err_size)) {
		status = KILN_EXIT_USAGE;
		goto out_fail;
	}

devices:
	/* 2. Buses and devices, still without KVM: a bad --disk, --serial-out or port range is
	 * bad input too. Their interrupts and KVM fast paths are connected in step 3. */
	if (cfg->serial_out_path) {
		/* A FIFO is opened read-write and non-blocking: output nobody reads is dropped
		 * once the pipe is full, it never stalls the vCPU. */
		vmm->serial_fd = file_open(cfg->serial_out_path, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY,
					   0644, FILE_REG | FILE_FIFO | FILE_CHR, why, sizeof(why));
		if (vmm->serial_fd < 0) {
			vmm->serial_fd = STDOUT_FILENO;
			fail(KILN_EXIT_USAGE, "serial: serial_out_path '%s' %s", cfg->serial_out_path,
			     why);
		}
		vmm->serial_fd_owned = true;
	}
	if (bus_create(&vmm->pio, "port I/O", 0x10000) || bus_create(&vmm->mmio, "MMIO", 0))
		fail(KILN_EXIT_HOST_ERROR, "cannot allocate the buses");
	e = arch_attach_devices(vmm->arch,
				&(struct arch_board_io){ .pio = vmm->pio, .mmio = vmm->mmio,
							 .ctl = &vmm->ctl, .serial_fd = vmm->serial_fd,
							 .wake = vmm_wake, .wake_opaque = vmm },
				err, err_size);
	if (!e)
		e = attach_virtio(vmm, err, err_size);
	if (e) {
		/* -EEXIST: overlapping ranges; -EINVAL: a bad --disk (message already in err). */
		status = e == -EEXIST || e == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST_ERROR;
		if (!err[0])
			snprintf(err, err_size, "cannot create devices: %s", strerror(-e));
		goto out_fail;
	}

	/* 3. KVM and the VM. */
	e = kvm_open(&vmm->kvm, cfg->kvm_path, why, sizeof(why));
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "%s", why);
	if ((int)cfg->nr_vcpus > vmm->kvm.max_vcpus)
		fail(KILN_EXIT_USAGE, "-c/--cpus: %u vCPUs is above this host's KVM limit of %d",
		     cfg->nr_vcpus, vmm->kvm.max_vcpus);
	if ((e = arch_check_kvm(&vmm->kvm, why, sizeof(why))))
		fail(KILN_EXIT_HOST_ERROR, "%s: %s", cfg->kvm_path ? cfg->kvm_path : "/dev/kvm", why);
	e = vm_create(&vmm->vm, &vmm->kvm);
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "cannot create the KVM VM: %s", strerror(-e));
	if (arch_vm_setup(vmm->arch, vmm->vm, err, err_size))
		goto out_fail;
	e = vm_map_memory(vmm->vm, vmm->mem);
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "cannot give %llu MiB of guest memory to KVM: %s",
		     (unsigned long long)(cfg->mem_size >> 20), strerror(-e));
	if (cfg->track_dirty_pages && (e = vm_track_dirty_pages(vmm->vm, vmm->mem)))
		fail(KILN_EXIT_HOST_ERROR, "cannot turn on KVM's dirty-page logging: %s", strerror(-e));

	/* 4. vCPUs: each gets the architecture's CPU model and power-on state; only the boot vCPU
	 * gets entry registers. */
	vmm->vcpus = calloc(cfg->nr_vcpus, sizeof(*vmm->vcpus));
	if (!vmm->vcpus)
		fail(KILN_EXIT_HOST_ERROR, "out of memory for %u vCPUs", cfg->nr_vcpus);
	for (unsigned int i = 0; i < cfg->nr_vcpus; i++) {
		e = vcpu_create(&vmm->vcpus[i], vmm->vm, i);
		if (e)
			fail(KILN_EXIT_HOST_ERROR, "cannot create vcpu%u: %s", i, strerror(-e));
		vmm->nr_vcpus++;
		vmm->vcpus[i].stats.enabled = cfg->stats;
		e = arch_vcpu_setup(vmm->arch, &vmm->vcpus[i], err, err_size);
		if (e) {
			/* -EINVAL: the CPU template does not fit this host (message in err). */
			status = e == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST_ERROR;
			goto out_fail;
		}
	}
	if (rs) {
		/* The saved state over the power-on state: each vCPU, then the board (its
		 * interrupt routes reach the vCPUs' local APICs). */
		for (unsigned int i = 0; i < cfg->nr_vcpus; i++)
			if (arch_vcpu_load(vmm->arch, &vmm->vcpus[i], rs->r, err, err_size)) {
				status = KILN_EXIT_USAGE;
				goto out_fail;
			}
		if (arch_snapshot_load(vmm->arch, rs->r, err, err_size) ||
		    vmm_restore_devices(vmm, rs->r, err, err_size)) {
			status = KILN_EXIT_USAGE;
			goto out_fail;
		}
	} else {
		e = arch_boot_vcpu_setup(vmm->arch, &vmm->vcpus[0], &vmm->entry);
		if (e)
			fail(KILN_EXIT_HOST_ERROR, "vcpu0: cannot set the boot registers: %s",
			     strerror(-e));
	}

	/* After the vCPUs: an arm64 vGIC takes irqfds only once initialized, which it can be only
	 * when every vCPU exists (arch_boot_vcpu_setup()). */
	connect_virtio(vmm);

	vmm->env = (struct exit_env){
		.pio = vmm->pio,
		.mmio = vmm->mmio,
		.mem = vmm->mem,
		.ctl = &vmm->ctl,
		.arch = vmm->arch,
		.stopping = &vmm->stopping,
		.pausing = &vmm->pausing,
		.watching = &vmm->watching,
		.park = vmm_park,
		.park_opaque = vmm,
	};
	pr_info("%s %s (%s) with %u vCPU%s, %llu MiB, %s irqchip", rs ? "restored" : "booting",
		rs ? rs->mem_path : cfg->kernel_path, rs ? "snapshot" : vmm->entry.format,
		cfg->nr_vcpus, cfg->nr_vcpus == 1 ? "" : "s",
		(unsigned long long)(cfg->mem_size >> 20),
		cfg->irqchip == IRQCHIP_SPLIT ? "split" : "kernel");
	*out = vmm;
	return 0;

out_fail:
	vmm_destroy(vmm);
	return status;
}

int builder_build(const struct vmm_config *cfg, struct vmm **out, char *err, size_t err_size)
{
	return build(cfg, NULL, out, err, err_size);
}

int builder_restore(const struct vmm_config *cfg, const struct snap_reader *r,
		    const char *mem_path, enum restore_backend backend, struct vmm **out, char *err,
		    size_t err_size)
{
	struct restore rs = { r, mem_path, backend };

	return build(cfg, &rs, out, err, err_size);
}
