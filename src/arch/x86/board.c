/* board.c: the x86 PC board: its devices and their ports, where virtio devices live, the MP and
 * ACPI tables, the boot state in guest RAM, and each vCPU's CPU model (arch.h). */
#include "arch/x86/board.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/cpu.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/cputemplate.h"
#include "arch/x86/layout.h"
#include "arch/x86/legacy.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "util/log.h"

/* The GSIs of virtio-mmio devices 0, 1, ...: free ISA lines (edge, active high as ISA lines
 * are), then pins above the ISA range. IRQ 8 belongs to the RTC. See docs/virtio.md. */
static const unsigned int virtio_gsis[CONFIG_MAX_VIRTIO] = { 5,  6,  7,  9,  10, 11, 12, 13,
							     14, 15, 16, 17, 18, 19, 20, 21 };

const char arch_guest_formats_help[] =
	"The guest's format is detected from its contents: a Linux bzImage or vmlinux\n"
	"(64-bit boot protocol), a PVH ELF, a 64-bit ELF (entered in long mode), or\n"
	"multiboot v1 (ELF or a.out kludge, entered in 32-bit protected mode).\n";

uint64_t arch_ram_hole_start(void)
{
	return X86_MMIO_HOLE_START;
}

int arch_vm_create(struct arch_vm **out, const struct vmm_config *cfg, char *err, size_t err_size)
{
	unsigned int n = config_nr_virtio(cfg);
	struct arch_vm *a;

	if (n > CONFIG_MAX_VIRTIO) {
		snprintf(err, err_size, "%u virtio devices: at most %u", n, CONFIG_MAX_VIRTIO);
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = cfg;
	x86_platform_default(&a->platform, cfg->nr_vcpus);
	for (unsigned int i = 0; i < n; i++)
		a->platform.mmio_devs[i] = (struct x86_acpi_mmio_dev){
			.addr = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_STRIDE,
			.size = X86_VIRTIO_MMIO_STRIDE,
			.irq = virtio_gsis[i],
		};
	a->platform.nr_mmio_devs = n;
	*out = a;
	return 0;
}

void arch_vm_destroy(struct arch_vm *a)
{
	if (!a)
		return;
	free(a->cpuid);
	serial_destroy(a->serial);
	i8042_destroy(&a->i8042);
	rtc_destroy(&a->rtc);
	acpi_pm_destroy(&a->acpi_pm);
	ioapic_destroy(a->ioapic);
	free(a);
}

struct arch_virtio_slot arch_virtio_slot(const struct arch_vm *a, unsigned int i)
{
	const struct x86_acpi_mmio_dev *d = &a->platform.mmio_devs[i];

	return (struct arch_virtio_slot){ .addr = d->addr, .size = d->size, .gsi = d->irq };
}

/* virtio_mmio.device=<size>@<base>:<irq> for each device (docs/virtio.md), for a kernel that
 * does not use ACPI (no CONFIG_ACPI, or acpi=off: then always) or whose ACPI namespace does not
 * load (no CONFIG_PCI: the MADT still maps ISA IRQs, as the FADT is not HW-reduced), unless
 * --virtio-discovery=acpi leaves them to the DSDT. A kernel that does use ACPI registers these platform devices after
 * the ACPI scan has registered the DSDT's LNRO0005 ones; the DSDT's is bound first and requests
 * the registers, so the command line's copy fails its probe with -EBUSY and each device is found
 * once (measured: linux-kvm-vmlinux-acpi-virtio-both). */
int arch_guest_cmdline(const struct arch_vm *a, const char *cmdline, char **out)
{
	const char *base = cmdline ? cmdline : "";
	size_t len = strlen(base) + 1, pos;
	bool acpi_off = false;

	*out = NULL;
	for (const char *p = strstr(base, "acpi=off"); p; p = strstr(p + 1, "acpi=off"))
		if ((p == base || p[-1] == ' ') && (p[8] == ' ' || !p[8]))
			acpi_off = true;
	if (!a->platform.nr_mmio_devs ||
	    (!acpi_off && a->cfg->virtio_discovery == VIRTIO_DISCOVERY_ACPI))
		return 0;
	len += a->platform.nr_mmio_devs * 48;
	*out = malloc(len);
	if (!*out)
		return -ENOMEM;
	pos = (size_t)snprintf(*out, len, "%s", base);
	for (unsigned int i = 0; i < a->platform.nr_mmio_devs; i++) {
		const struct x86_acpi_mmio_dev *d = &a->platform.mmio_devs[i];

		pos += (size_t)snprintf(*out + pos, len - pos, " virtio_mmio.device=%lluK@0x%llx:%u",
					(unsigned long long)(d->size >> 10),
					(unsigned long long)d->addr, d->irq);
	}
	return 0;
}

/* An MP table (what Linux reads with acpi=off) and the ACPI tables, whose RSDP the loader hands
 * to the guest. */
int arch_write_firmware(struct arch_vm *a, const struct gmem *mem, uint64_t *table_addr, char *err,
			size_t err_size)
{
	int e = x86_mptable_build(mem, X86_MPTABLE_BASE, X86_MPTABLE_SIZE, &a->platform);

	if (!e)
		e = x86_acpi_build(mem, X86_ACPI_BASE, X86_ACPI_SIZE, &a->platform, table_addr);
	if (e)
		snprintf(err, err_size, "cannot write the MP and ACPI tables into guest memory: %s",
			 strerror(-e));
	return e;
}

int arch_prepare_boot(struct arch_vm *a, const struct gmem *mem, const struct boot_entry *entry,
		      char *err, size_t err_size)
{
	(void)a;
	if (entry->mode != BOOT_REAL16 && x86_write_reset_vector(mem)) {
		snprintf(err, err_size, "guest memory too small for the reset vector");
		return -ENOSPC;
	}
	if (x86_write_boot_tables(mem, entry->mode, entry->gdt_addr)) {
		snprintf(err, err_size, "guest memory too small for the boot tables");
		return -ENOSPC;
	}
	return 0;
}

/* The interrupt callbacks get the arch_vm, not the KVM VM: devices are attached before the VM
 * exists (builder_build() step 2), and no interrupt is raised until the vCPUs run. */
static void kernel_irq_set_level(void *opaque, unsigned int gsi, int level)
{
	static struct ratelimit rl = RATELIMIT_INIT(1000, 5);
	int e = vm_irq_line(((struct arch_vm *)opaque)->vm, gsi, level);

	if (e)
		pr_warn_ratelimited(&rl, "irq: KVM_IRQ_LINE %u failed: %s", gsi, strerror(-e));
}

static int ioapic_set_route(void *opaque, unsigned int pin, bool valid, uint64_t addr, uint32_t data,
			    bool push)
{
	return vm_set_msi_route(((struct arch_vm *)opaque)->vm, pin, valid, addr, data, push);
}

static int ioapic_trigger(void *opaque, unsigned int pin)
{
	return vm_irq_line(((struct arch_vm *)opaque)->vm, pin, 1);
}

/* The split irqchip's IOAPIC and PICs; see STYLE.md "Registration" for the fixed order. */
static int attach_irqchip(struct arch_vm *a, const struct arch_board_io *io, char *err,
			  size_t err_size)
{
	struct ioapic_backend be = { ioapic_set_route, ioapic_trigger, a };
	int e = ioapic_create(&a->ioapic, &be);

	if (e)
		return e;
	ioapic_set_id(a->ioapic, X86_IOAPIC_ID); /* as the MADT and MP table say */
	pic_init(&a->pic);
	if ((e = bus_attach(io->mmio, IOAPIC_BASE, IOAPIC_MMIO_SIZE, "ioapic", ioapic_mmio_read,
			    ioapic_mmio_write, a->ioapic, err, err_size)) ||
	    (e = bus_attach(io->pio, PIC_MASTER_PORT, 2, "pic-master", pic_io_read, pic_io_write,
			    &a->pic.chip[0], err, err_size)) ||
	    (e = bus_attach(io->pio, PIC_SLAVE_PORT, 2, "pic-slave", pic_io_read, pic_io_write,
			    &a->pic.chip[1], err, err_size)) ||
	    (e = bus_attach(io->pio, PIC_ELCR_PORT, 2, "pic-elcr", pic_elcr_read, pic_elcr_write,
			    &a->pic, err, err_size)))
		return e;
	a->irq_sink = ioapic_irq_sink(a->ioapic);
	return 0;
}

int arch_attach_devices(struct arch_vm *a, const struct arch_board_io *io, char *err,
			size_t err_size)
{
	struct bus *pio = io->pio;
	int e;

	if (a->cfg->irqchip == IRQCHIP_SPLIT) {
		if ((e = attach_irqchip(a, io, err, err_size)))
			return e;
	} else {
		a->kernel_irq_sink = (struct irq_sink){ kernel_irq_set_level, a };
		a->irq_sink = &a->kernel_irq_sink;
	}

	e = serial_create(&a->serial, io->serial_fd,
			  (struct irq_line){ .sink = a->irq_sink, .gsi = SERIAL_COM1_IRQ }, io->wake,
			  io->wake_opaque);
	if (e)
		return e;
	serial_set_output_limit(a->serial, &a->cfg->serial_rate_limiter);
	if ((e = bus_attach(pio, SERIAL_COM1_BASE, SERIAL_NR_REGS, "serial", serial_io_read,
			    serial_io_write, a->serial, err, err_size)))
		return e;

	i8042_init(&a->i8042, io->ctl, (struct irq_line){ .sink = a->irq_sink, .gsi = I8042_KBD_IRQ });
	if ((e = bus_attach(pio, I8042_DATA_PORT, 1, "i8042", i8042_data_read, i8042_data_write,
			    &a->i8042, err, err_size)) ||
	    (e = bus_attach(pio, I8042_COMMAND_PORT, 1, "i8042", i8042_cmd_read, i8042_cmd_write,
			    &a->i8042, err, err_size)))
		return e;

	rtc_init(&a->rtc, NULL);
	if ((e = bus_attach(pio, RTC_PORT, RTC_NR_PORTS, "rtc", rtc_io_read, rtc_io_write, &a->rtc,
			    err, err_size)))
		return e;

	/* The ACPI fixed hardware the FADT describes: PM1a event and control blocks, the reset
	 * register and the PM timer (read-only: no write handler). */
	acpi_pm_init(&a->acpi_pm, io->ctl, X86_ACPI_S5_SLP_TYP, X86_ACPI_RESET_VALUE);
	if ((e = bus_attach(pio, X86_ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN, "acpi-pm1a-evt",
			    acpi_pm_evt_read, acpi_pm_evt_write, &a->acpi_pm, err, err_size)) ||
	    (e = bus_attach(pio, X86_ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN, "acpi-pm1a-cnt",
			    acpi_pm_cnt_read, acpi_pm_cnt_write, &a->acpi_pm, err, err_size)) ||
	    (e = bus_attach(pio, X86_ACPI_RESET_PORT, 1, "acpi-reset", acpi_pm_reset_read,
			    acpi_pm_reset_write, &a->acpi_pm, err, err_size)) ||
	    (e = bus_attach(pio, X86_ACPI_PM_TIMER_PORT, X86_ACPI_PM_TIMER_LEN, "acpi-pm-timer",
			    acpi_pm_timer_read, NULL, NULL, err, err_size)))
		return e;

	/* Port 0x80 (POST codes, and Linux's I/O delay) goes nowhere, as on real boards: claimed
	 * so it is neither logged nor counted as unclaimed. */
	if ((e = bus_attach(pio, X86_POST_PORT, 1, "post", NULL, NULL, NULL, err, err_size)))
		return e;
	/* No PCI host bridge: configuration space reads all ones (no device), as on a board without
	 * one. Claimed so a kernel probing for PCI is not logged as an unclaimed access. */
	if ((e = bus_attach(pio, X86_PCI_CONFIG_PORT, 8, "pci-config (none)", NULL, NULL, NULL, err,
			    err_size)))
		return e;

	if (a->cfg->debug_exit) {
		a->debug_exit.ctl = io->ctl;
		if ((e = bus_attach(pio, a->cfg->debug_exit_port, DEBUG_EXIT_WIDTH, "debug-exit", NULL,
				    debug_exit_io_write, &a->debug_exit, err, err_size)))
			return e;
	}
	return 0;
}

const struct irq_sink *arch_irq_sink(const struct arch_vm *a)
{
	return a->irq_sink;
}

size_t arch_console_rx_space(const struct arch_vm *a)
{
	return serial_rx_space(a->serial);
}

size_t arch_console_rx_push(const struct arch_vm *a, const uint8_t *buf, size_t len)
{
	return serial_rx_push(a->serial, buf, len);
}

void arch_console_counters(const struct arch_vm *a, struct serial_counters *out)
{
	serial_get_counters(a->serial, out);
}

/* All vCPUs get CPUID and power-on MSRs, FPU and LAPIC state; only the boot vCPU gets entry
 * registers. The others stay in KVM's wait-for-SIPI state until the guest starts them, as on
 * real hardware. */
int arch_vcpu_setup(struct arch_vm *a, struct vcpu *vcpu, char *err, size_t err_size)
{
	int e;

	if (!a->cpuid) {
		struct kvm_cpuid2 *supported = x86_supported_cpuid(vm_kvm(a->vm));

		if (!supported) {
			snprintf(err, err_size, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
			return -errno;
		}
		/* The template's view, once for all vCPUs (-EINVAL: it does not fit this host). */
		a->cpuid = x86_cpuid_for_config(supported, a->cfg, err, err_size);
		e = a->cpuid ? 0 : -errno;
		free(supported);
		if (e)
			return e;
	}
	e = x86_setup_cpuid(vcpu->fd, a->cpuid, vcpu->id, a->cfg->nr_vcpus);
	if (e) {
		snprintf(err, err_size, "vcpu%u: KVM_SET_CPUID2 failed: %s", vcpu->id, strerror(-e));
		return e;
	}
	/* KVM_CAP_SYNC_REGS answers with the sets kvm_run->s can carry (Linux 4.16). */
	vcpu->rip_sync_ok = kvm_check_cap(vm_kvm(a->vm), KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS;
	e = x86_setup_vcpu_state(vcpu->fd, vcpu->id);
	if (e) {
		snprintf(err, err_size, "vcpu%u: cannot set MSRs, FPU or LAPIC: %s", vcpu->id,
			 strerror(-e));
		return e;
	}
	if (a->cfg->has_cpu_custom) {
		e = x86_apply_msr_mods(vcpu->fd, &a->cfg->cpu_custom, "cpu-config", err, err_size);
		if (e && e != -EINVAL)
			snprintf(err, err_size, "vcpu%u: cpu-config: cannot set the MSRs: %s",
				 vcpu->id, strerror(-e));
	}
	return e;
}

bool arch_exit_rip_sync(struct vcpu *vcpu, bool on)
{
	if (!vcpu->rip_sync_ok)
		return false;
	/* KVM's store_regs() fills run->s.regs at the end of every KVM_RUN while this bit is set;
	 * kvm_dirty_regs stays 0, so nothing flows back into the vCPU. */
	vcpu->run->kvm_valid_regs = on ? KVM_SYNC_X86_REGS : 0;
	vcpu->rip_sync = on;
	return true;
}

uint64_t arch_exit_rip(const struct vcpu *vcpu)
{
	return vcpu->run->s.regs.regs.rip;
}

int arch_boot_vcpu_setup(struct arch_vm *a, struct vcpu *vcpu, const struct boot_entry *entry)
{
	(void)a;
	return x86_setup_boot_vcpu(vcpu->fd, entry);
}

void arch_ctrl_alt_del(struct arch_vm *a)
{
	i8042_ctrl_alt_del(&a->i8042);
}

bool arch_handle_exit(struct arch_vm *a, struct vcpu *vcpu)
{
	switch (vcpu->run->exit_reason) {
	case KVM_EXIT_IOAPIC_EOI:
		/* Split irqchip: a level-triggered interrupt was acknowledged by a local APIC. */
		if (a->ioapic)
			ioapic_eoi(a->ioapic, vcpu->run->eoi.vector);
		return true;
	default:
		return false;
	}
}

const char *arch_absent_port(uint16_t port, unsigned int size)
{
	return x86_absent_port(port, size);
}
