/* builder.c: turns a vmm_config into a VM, in an explicit order, unwinding on any failure. */
#include "builder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/irq.h"
#include "arch/x86/legacy.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "util/log.h"

#define fail(status_, ...)                                   \
	do {                                                 \
		snprintf(err, BUILD_ERR_MAX, __VA_ARGS__);   \
		status = (status_);                          \
		goto out_fail;                               \
	} while (0)

/* The interrupt callbacks get the vmm, not the KVM VM: devices are attached before the VM exists
 * (builder_build() step 2), and no interrupt is raised until the vCPUs run. */
static void kernel_irq_set_level(void *opaque, unsigned int gsi, int level)
{
	static struct ratelimit rl = RATELIMIT_INIT(1000, 5);
	int e = vm_irq_line(((struct vmm *)opaque)->vm, gsi, level);

	if (e)
		pr_warn_ratelimited(&rl, "irq: KVM_IRQ_LINE %u failed: %s", gsi, strerror(-e));
}

static int ioapic_set_route(void *opaque, unsigned int pin, bool valid, uint64_t addr, uint32_t data)
{
	return vm_set_msi_route(((struct vmm *)opaque)->vm, pin, valid, addr, data);
}

static int ioapic_trigger(void *opaque, unsigned int pin)
{
	return vm_irq_line(((struct vmm *)opaque)->vm, pin, 1);
}

static void ioapic_eoi_cb(void *opaque, uint8_t vector)
{
	ioapic_eoi(opaque, vector);
}

/* Registers one device range; an overlap is a configuration error (a user-chosen port). */
static int attach(struct bus *bus, uint64_t base, uint64_t len, const char *name, bus_read_fn rd,
		  bus_write_fn wr, void *opaque, char *err)
{
	int e = bus_register(bus, base, len, name, rd, wr, opaque);

	if (e == -EEXIST)
		snprintf(err, BUILD_ERR_MAX, "%s: %s range 0x%llx-0x%llx overlaps another device", name,
			 bus_name(bus), (unsigned long long)base, (unsigned long long)(base + len - 1));
	else if (e)
		snprintf(err, BUILD_ERR_MAX, "%s: cannot register %s range 0x%llx: %s", name,
			 bus_name(bus), (unsigned long long)base, strerror(-e));
	return e;
}

/* The GSIs of virtio-mmio devices 0, 1, ...: free ISA lines (edge, active high as ISA lines
 * are), then pins above the ISA range. IRQ 8 belongs to the RTC. See docs/virtio.md. */
static const unsigned int virtio_gsis[CONFIG_MAX_VIRTIO] = { 5,  6,  7,  9,  10, 11, 12, 13,
							     14, 15, 16, 17, 18, 19, 20, 21 };

/* Where virtio device `i` lives: its registers and interrupt, as the tables describe them. */
static void plan_virtio(struct vmm *vmm)
{
	unsigned int n = config_nr_virtio(&vmm->cfg);

	for (unsigned int i = 0; i < n; i++)
		vmm->platform.mmio_devs[i] = (struct x86_acpi_mmio_dev){
			.addr = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_STRIDE,
			.size = X86_VIRTIO_MMIO_STRIDE,
			.irq = virtio_gsis[i],
		};
	vmm->platform.nr_mmio_devs = n;
}

/* With acpi=off a Linux guest learns of virtio-mmio devices only from its command line. */
static int cmdline_with_devices(struct vmm *vmm, const char **out)
{
	const char *base = vmm->cfg.cmdline ? vmm->cfg.cmdline : "";
	size_t len = strlen(base) + 1, pos;
	bool acpi_off = false;

	*out = vmm->cfg.cmdline;
	for (const char *p = strstr(base, "acpi=off"); p; p = strstr(p + 1, "acpi=off"))
		if ((p == base || p[-1] == ' ') && (p[8] == ' ' || !p[8]))
			acpi_off = true;
	if (!acpi_off || !vmm->platform.nr_mmio_devs)
		return 0;
	len += vmm->platform.nr_mmio_devs * 48;
	vmm->cmdline = malloc(len);
	if (!vmm->cmdline)
		return -ENOMEM;
	pos = (size_t)snprintf(vmm->cmdline, len, "%s", base);
	for (unsigned int i = 0; i < vmm->platform.nr_mmio_devs; i++) {
		const struct x86_acpi_mmio_dev *d = &vmm->platform.mmio_devs[i];

		pos += (size_t)snprintf(vmm->cmdline + pos, len - pos,
					" virtio_mmio.device=%lluK@0x%llx:%u",
					(unsigned long long)(d->size >> 10),
					(unsigned long long)d->addr, d->irq);
	}
	*out = vmm->cmdline;
	return 0;
}

static int attach_one(struct vmm *vmm, struct virtio_mmio *t, char *err)
{
	int e = attach(vmm->mmio, t->base, VIRTIO_MMIO_SIZE, t->name, virtio_mmio_read,
		       virtio_mmio_write, t, err);

	if (e)
		return e;
	for (unsigned int q = 0; q < t->ops->nr_queues; q++)
		if ((e = io_thread_add(vmm->io, t->kick_fd[q], virtio_mmio_kick, &t->kicks[q])))
			return e;
	return 0;
}

/* virtio-mmio devices in the order docs/virtio.md gives: disks, console, rng. */
static int attach_virtio(struct vmm *vmm, char *err)
{
	const struct vmm_config *cfg = &vmm->cfg;
	unsigned int slot = 0;
	char name[24];
	int e;

	if (!config_nr_virtio(cfg))
		return 0;
	if ((e = io_thread_create(&vmm->io)))
		return e;
	if (cfg->nr_disks && !(vmm->disks = calloc(cfg->nr_disks, sizeof(*vmm->disks))))
		return -ENOMEM;
	for (unsigned int i = 0; i < cfg->nr_disks; i++, slot++) {
		const struct vmm_disk *d = &cfg->disks[i];
		struct virtio_blk_opts o = {
			.path = d->path, .id = d->id, .ro = d->ro, .direct = d->cache == DISK_CACHE_NONE,
			.backend = d->io == DISK_IO_URING  ? VIRTIO_BLK_BACKEND_IO_URING
				   : d->io == DISK_IO_SYNC ? VIRTIO_BLK_BACKEND_SYNC
							   : VIRTIO_BLK_BACKEND_AUTO,
		};
		const struct x86_acpi_mmio_dev *m = &vmm->platform.mmio_devs[slot];

		snprintf(name, sizeof(name), "virtio-blk%u", i);
		e = virtio_blk_init(&vmm->disks[i], name, &o, vmm->mem, m->addr, m->irq,
				    (struct irq_line){ vmm->irq_sink, m->irq }, err, BUILD_ERR_MAX);
		if (e)
			return e == -ENOMEM || e == -EMFILE || e == -ENFILE ? e : -EINVAL;
		vmm->nr_disks++;
		if ((e = attach_one(vmm, &vmm->disks[i].t, err)))
			return e;
		if (virtio_blk_completion_fd(&vmm->disks[i]) >= 0 &&
		    (e = io_thread_add(vmm->io, virtio_blk_completion_fd(&vmm->disks[i]),
				       virtio_blk_complete, &vmm->disks[i])))
			return e;
	}
	if (cfg->virtio_console) {
		const struct x86_acpi_mmio_dev *m = &vmm->platform.mmio_devs[slot++];

		/* A failed init leaves nothing to undo; vmm_destroy() frees the struct. */
		if (!(vmm->vcon = calloc(1, sizeof(*vmm->vcon))))
			return -ENOMEM;
		if ((e = virtio_console_init(vmm->vcon, "virtio-console0", vmm->mem, m->addr, m->irq,
					     (struct irq_line){ vmm->irq_sink, m->irq },
					     vmm->serial_fd, vmm_wake, vmm)) ||
		    (e = attach_one(vmm, &vmm->vcon->t, err)))
			return e;
	}
	if (cfg->rng) {
		const struct x86_acpi_mmio_dev *m = &vmm->platform.mmio_devs[slot++];

		if (!(vmm->rng = calloc(1, sizeof(*vmm->rng))))
			return -ENOMEM;
		if ((e = virtio_rng_init(vmm->rng, "virtio-rng0", vmm->mem, m->addr, m->irq,
					 (struct irq_line){ vmm->irq_sink, m->irq })) ||
		    (e = attach_one(vmm, &vmm->rng->t, err)))
			return e;
	}
	return 0;
}

/* Once the KVM VM exists: each virtio device's interrupt and queue notifications go through KVM
 * (irqfd, ioeventfd) where it can. */
static void connect_virtio(struct vmm *vmm)
{
	for (unsigned int i = 0; i < vmm->nr_disks; i++)
		virtio_mmio_connect(&vmm->disks[i].t, vmm->vm);
	if (vmm->vcon)
		virtio_mmio_connect(&vmm->vcon->t, vmm->vm);
	if (vmm->rng)
		virtio_mmio_connect(&vmm->rng->t, vmm->vm);
}

/* Platform devices, in a fixed order; see STYLE.md "Registration". */
static int attach_devices(struct vmm *vmm, char *err)
{
	const struct irq_sink *sink;
	struct irq_line com1;
	int e;

	if (vmm->cfg.irqchip == IRQCHIP_SPLIT) {
		struct ioapic_backend be = { ioapic_set_route, ioapic_trigger, vmm };

		e = ioapic_create(&vmm->ioapic, &be);
		if (e)
			return e;
		ioapic_set_id(vmm->ioapic, (uint8_t)vmm->cfg.nr_vcpus); /* as the MADT and MP table say */
		sink = ioapic_irq_sink(vmm->ioapic);
		pic_init(&vmm->pic);
		if ((e = attach(vmm->mmio, IOAPIC_BASE, IOAPIC_MMIO_SIZE, "ioapic", ioapic_mmio_read,
				ioapic_mmio_write, vmm->ioapic, err)) ||
		    (e = attach(vmm->pio, PIC_MASTER_PORT, 2, "pic-master", pic_io_read, pic_io_write,
				&vmm->pic.chip[0], err)) ||
		    (e = attach(vmm->pio, PIC_SLAVE_PORT, 2, "pic-slave", pic_io_read, pic_io_write,
				&vmm->pic.chip[1], err)) ||
		    (e = attach(vmm->pio, PIC_ELCR_PORT, 2, "pic-elcr", pic_elcr_read, pic_elcr_write,
				&vmm->pic, err)))
			return e;
		vmm->env.eoi = ioapic_eoi_cb;
		vmm->env.eoi_opaque = vmm->ioapic;
	} else {
		vmm->kernel_irq_sink = (struct irq_sink){ kernel_irq_set_level, vmm };
		sink = &vmm->kernel_irq_sink;
	}

	vmm->irq_sink = sink;
	com1 = (struct irq_line){ .sink = sink, .gsi = SERIAL_COM1_IRQ };
	e = serial_create(&vmm->serial, vmm->serial_fd, com1, vmm_wake, vmm);
	if (e)
		return e;
	if ((e = attach(vmm->pio, SERIAL_COM1_BASE, SERIAL_NR_REGS, "serial", serial_io_read,
			serial_io_write, vmm->serial, err)))
		return e;

	i8042_init(&vmm->i8042, &vmm->ctl, (struct irq_line){ .sink = sink, .gsi = I8042_KBD_IRQ });
	if ((e = attach(vmm->pio, I8042_DATA_PORT, 1, "i8042", i8042_data_read, i8042_data_write,
			&vmm->i8042, err)) ||
	    (e = attach(vmm->pio, I8042_COMMAND_PORT, 1, "i8042", i8042_cmd_read, i8042_cmd_write,
			&vmm->i8042, err)))
		return e;

	rtc_init(&vmm->rtc, NULL);
	if ((e = attach(vmm->pio, RTC_PORT, RTC_NR_PORTS, "rtc", rtc_io_read, rtc_io_write, &vmm->rtc,
			err)))
		return e;

	/* The HW-reduced ACPI sleep and reset registers the FADT describes. */
	vmm->acpi_pm = (struct acpi_pm){ .ctl = &vmm->ctl, .s5_slp_typ = X86_ACPI_S5_SLP_TYP,
					 .reset_value = X86_ACPI_RESET_VALUE };
	if ((e = attach(vmm->pio, X86_ACPI_SLEEP_CONTROL_PORT, 3, "acpi-pm", acpi_pm_io_read,
			acpi_pm_io_write, &vmm->acpi_pm, err)))
		return e;

	/* Port 0x80 (POST codes, and Linux's I/O delay) goes nowhere, as on real boards: claimed
	 * so it is neither logged nor counted as unclaimed. */
	if ((e = attach(vmm->pio, X86_POST_PORT, 1, "post", NULL, NULL, NULL, err)))
		return e;
	/* No PCI host bridge: configuration space reads all ones (no device), as on a board without
	 * one. Claimed so a kernel probing for PCI is not logged as an unclaimed access. */
	if ((e = attach(vmm->pio, X86_PCI_CONFIG_PORT, 8, "pci-config (none)", NULL, NULL, NULL,
			err)))
		return e;

	if (vmm->cfg.debug_exit) {
		vmm->debug_exit.ctl = &vmm->ctl;
		if ((e = attach(vmm->pio, vmm->cfg.debug_exit_port, DEBUG_EXIT_WIDTH, "debug-exit",
				NULL, debug_exit_io_write, &vmm->debug_exit, err)))
			return e;
	}
	return 0;
}

int builder_build(const struct vmm_config *cfg, struct vmm **out, char *err)
{
	struct loader_args la = { .cmdline = cfg->cmdline, .flat = cfg->flat };
	char why[LOADER_ERR_MAX];
	struct vmm *vmm = NULL;
	int status = KILN_EXIT_HOST_ERROR, e;

	err[0] = '\0';
	if (config_validate(cfg, err))
		return KILN_EXIT_USAGE;
	e = vmm_alloc(&vmm, cfg);
	if (e) {
		snprintf(err, BUILD_ERR_MAX, "cannot allocate the VM: %s", strerror(-e));
		return KILN_EXIT_HOST_ERROR;
	}

	/* 1. Guest memory and image: bad input is reported before KVM is even opened. */
	e = gmem_create(&vmm->mem, cfg->mem_size, X86_MMIO_HOLE_START, cfg->mem_backing);
	if (e)
		fail(KILN_EXIT_USAGE, "-m/--memory: cannot map %llu MiB of guest memory: %s",
		     (unsigned long long)(cfg->mem_size >> 20), strerror(-e));
	/* The platform's description comes before the image, which may not overlap it: an MP
	 * table (what Linux reads with acpi=off) and the ACPI tables, whose RSDP the loader hands
	 * to the guest. */
	x86_platform_default(&vmm->platform, cfg->nr_vcpus);
	plan_virtio(vmm);
	if (cmdline_with_devices(vmm, &la.cmdline))
		fail(KILN_EXIT_HOST_ERROR, "out of memory for the kernel command line");
	e = x86_mptable_build(vmm->mem, X86_MPTABLE_BASE, X86_MPTABLE_SIZE, &vmm->platform);
	if (!e)
		e = x86_acpi_build(vmm->mem, X86_ACPI_BASE, X86_ACPI_SIZE, &vmm->platform,
				   &la.acpi_rsdp);
	if (e)
		fail(KILN_EXIT_USAGE, "cannot write the MP and ACPI tables into guest memory: %s",
		     strerror(-e));
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
	if (vmm->entry.mode != BOOT_REAL16 && x86_write_reset_vector(vmm->mem))
		fail(KILN_EXIT_USAGE, "guest memory too small for the reset vector");
	if (x86_write_boot_tables(vmm->mem, vmm->entry.mode))
		fail(KILN_EXIT_USAGE, "guest memory too small for the boot tables");

	/* 2. Buses and devices, still without KVM: a bad --disk, --serial-out or port range is
	 * bad input too. Their interrupts and KVM fast paths are connected in step 3. */
	if (cfg->serial_out_path) {
		vmm->serial_fd = open(cfg->serial_out_path,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
		if (vmm->serial_fd < 0) {
			vmm->serial_fd = STDOUT_FILENO;
			fail(KILN_EXIT_USAGE, "serial: cannot open '%s' for writing: %s",
			     cfg->serial_out_path, strerror(errno));
		}
		vmm->serial_fd_owned = true;
	}
	if (bus_create(&vmm->pio, "port I/O", 0x10000) || bus_create(&vmm->mmio, "MMIO", 0))
		fail(KILN_EXIT_HOST_ERROR, "cannot allocate the buses");
	e = attach_devices(vmm, err);
	if (!e)
		e = attach_virtio(vmm, err);
	if (e) {
		/* -EEXIST: overlapping ranges; -EINVAL: a bad --disk (message already in err). */
		status = e == -EEXIST || e == -EINVAL ? KILN_EXIT_USAGE : KILN_EXIT_HOST_ERROR;
		if (!err[0])
			snprintf(err, BUILD_ERR_MAX, "cannot create devices: %s", strerror(-e));
		goto out_fail;
	}

	/* 3. KVM and the VM. */
	e = kvm_open(&vmm->kvm, cfg->kvm_path, why, sizeof(why));
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "%s", why);
	if ((int)cfg->nr_vcpus > vmm->kvm.max_vcpus)
		fail(KILN_EXIT_USAGE, "-c/--cpus: %u vCPUs is above this host's KVM limit of %d",
		     cfg->nr_vcpus, vmm->kvm.max_vcpus);
	e = vm_create(&vmm->vm, &vmm->kvm, cfg->irqchip, IOAPIC_NR_PINS);
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "cannot create the KVM VM (%s irqchip): %s",
		     cfg->irqchip == IRQCHIP_SPLIT ? "split" : "kernel", strerror(-e));
	/* KVM's default routes put its PIT on IOAPIC pin 0; the tables say pin 2. */
	if (cfg->irqchip == IRQCHIP_KERNEL && (e = x86_setup_kernel_irq_routing(vmm->vm)))
		fail(KILN_EXIT_HOST_ERROR, "cannot set the in-kernel irqchip's GSI routes: %s",
		     strerror(-e));
	e = vm_map_memory(vmm->vm, vmm->mem);
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "cannot give %llu MiB of guest memory to KVM: %s",
		     (unsigned long long)(cfg->mem_size >> 20), strerror(-e));
	connect_virtio(vmm);

	/* 4. vCPUs: all get CPUID; only the boot vCPU gets entry registers. The others stay in
	 * KVM's wait-for-SIPI state until the guest starts them, as on real hardware. */
	vmm->cpuid = x86_supported_cpuid(&vmm->kvm);
	if (!vmm->cpuid)
		fail(KILN_EXIT_HOST_ERROR, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
	vmm->vcpus = calloc(cfg->nr_vcpus, sizeof(*vmm->vcpus));
	if (!vmm->vcpus)
		fail(KILN_EXIT_HOST_ERROR, "out of memory for %u vCPUs", cfg->nr_vcpus);
	for (unsigned int i = 0; i < cfg->nr_vcpus; i++) {
		e = vcpu_create(&vmm->vcpus[i], vmm->vm, i);
		if (e)
			fail(KILN_EXIT_HOST_ERROR, "cannot create vcpu%u: %s", i, strerror(-e));
		vmm->nr_vcpus++;
		vmm->vcpus[i].stats.enabled = cfg->stats;
		e = x86_setup_cpuid(vmm->vcpus[i].fd, vmm->cpuid, i, cfg->nr_vcpus);
		if (e)
			fail(KILN_EXIT_HOST_ERROR, "vcpu%u: KVM_SET_CPUID2 failed: %s", i, strerror(-e));
		e = x86_setup_vcpu_state(vmm->vcpus[i].fd, i);
		if (e)
			fail(KILN_EXIT_HOST_ERROR, "vcpu%u: cannot set MSRs, FPU or LAPIC: %s", i,
			     strerror(-e));
	}
	e = x86_setup_boot_vcpu(vmm->vcpus[0].fd, &vmm->entry);
	if (e)
		fail(KILN_EXIT_HOST_ERROR, "vcpu0: cannot set the boot registers: %s", strerror(-e));

	vmm->env = (struct vcpu_env){
		.pio = vmm->pio,
		.mmio = vmm->mmio,
		.mem = vmm->mem,
		.ctl = &vmm->ctl,
		.eoi = vmm->env.eoi,
		.eoi_opaque = vmm->env.eoi_opaque,
		.stopping = &vmm->stopping,
		.pausing = &vmm->pausing,
		.park = vmm_park,
		.park_opaque = vmm,
		.absent_port = x86_absent_port,
	};
	pr_info("booting %s (%s) with %u vCPU%s, %llu MiB, %s irqchip", cfg->kernel_path,
		vmm->entry.format, cfg->nr_vcpus, cfg->nr_vcpus == 1 ? "" : "s",
		(unsigned long long)(cfg->mem_size >> 20),
		cfg->irqchip == IRQCHIP_SPLIT ? "split" : "kernel");
	*out = vmm;
	return 0;

out_fail:
	vmm_destroy(vmm);
	return status;
}
