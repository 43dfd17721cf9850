/* board.c: the arm64 board: where its devices live, the device tree, the PL011 console and the
 * interrupt lines (arch.h). */
#include "arch/arm64/board.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/layout.h"
#include "util/log.h"

const char arch_guest_formats_help[] =
	"This is kiln for arm64: the guest is a Linux arm64 Image (its header checked,\n"
	"loaded 2 MiB-aligned), entered with x0 = the device tree kiln builds (PSCI,\n"
	"GICv3 or v2, timer, PL011 console, virtio-mmio). --flat, --cpu-template,\n"
	"--cpuid-mask, --debug-exit and --gdb are x86 only and refused; --irqchip and\n"
	"--virtio-discovery change nothing; snapshots need a GICv3 (docs/arm64.md).\n";

uint64_t arch_ram_hole_start(void)
{
	return ARM64_MMIO_HOLE_START;
}

/* What the arm64 board does not have: refused with one line naming the option (exit 2). */
static int refuse_unsupported(const struct vmm_config *cfg, char *err, size_t err_size)
{
	const char *what = NULL;

	if (cfg->cpu_template || cfg->has_cpu_custom)
		what = "--cpu-template/cpu-config: CPU templates are x86 CPUID and MSR sets";
	else if (cfg->cpu_masks.nr_cpuid || cfg->cpu_masks.nr_msr)
		what = "--cpuid-mask: CPUID is x86";
	else if (cfg->debug_exit)
		what = "--debug-exit: the isa-debug-exit port is x86 port I/O";
	else if (cfg->gdb)
		what = "--gdb: the gdb stub has an x86-64 target only";
	else if (cfg->mem_size > ARM64_MAX_RAM)
		what = "-m/--memory: the arm64 board takes at most 3072 MiB so far";
	else if (cfg->nr_vcpus > (ARM64_UART_BASE - ARM64_GIC_REDIST_BASE) / ARM64_GIC_REDIST_STRIDE)
		what = "-c/--cpus: more vCPUs than the board's GICv3 redistributor region holds";
	if (!what)
		return 0;
	snprintf(err, err_size, "%s, not on arm64 (docs/arm64.md)", what);
	return -EINVAL;
}

int arch_vm_create(struct arch_vm **out, const struct vmm_config *cfg, char *err, size_t err_size)
{
	unsigned int n = config_nr_virtio(cfg);
	struct arch_vm *a;
	int e;

	if (n > CONFIG_MAX_VIRTIO) {
		snprintf(err, err_size, "%u virtio devices: at most %u", n, CONFIG_MAX_VIRTIO);
		return -EINVAL;
	}
	if ((e = refuse_unsupported(cfg, err, err_size)))
		return e;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->mpidr = calloc(cfg->nr_vcpus ? cfg->nr_vcpus : 1, sizeof(a->mpidr[0]));
	if (!a->mpidr) {
		free(a);
		return -ENOMEM;
	}
	a->cfg = cfg;
	a->nr_virtio = n;
	a->gic_fd = -1;
	*out = a;
	return 0;
}

void arch_vm_destroy(struct arch_vm *a)
{
	if (!a)
		return;
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	pl011_destroy(a->uart);
	free(a->mpidr);
	free(a);
}

struct arch_virtio_slot arch_virtio_slot(const struct arch_vm *a, unsigned int i)
{
	(void)a;
	return (struct arch_virtio_slot){ .addr = ARM64_VIRTIO_MMIO_BASE + i * ARM64_VIRTIO_MMIO_STRIDE,
					  .size = ARM64_VIRTIO_MMIO_STRIDE,
					  .gsi = ARM64_VIRTIO_SPI_BASE + i };
}

/* The device tree tells Linux everything: the command line stays the user's. */
int arch_guest_cmdline(const struct arch_vm *a, const char *cmdline, char **out)
{
	(void)a;
	(void)cmdline;
	*out = NULL;
	return 0;
}

/* Nothing goes into RAM before the image: the device tree needs to know where the initrd went,
 * so arch_prepare_boot() writes it. */
int arch_write_firmware(struct arch_vm *a, const struct gmem *mem, uint64_t *table_addr, char *err,
			size_t err_size)
{
	(void)a;
	(void)mem;
	(void)err;
	(void)err_size;
	*table_addr = 0;
	return 0;
}

int arm64_write_dtb(struct arch_vm *a, char *err, size_t err_size)
{
	return arm64_fdt_build(a->dtb_hva, a->dtb_max, &a->fdt, err, err_size);
}

/* The device tree, built into the room the loader left for it (entry->dtb_addr). */
int arch_prepare_boot(struct arch_vm *a, const struct gmem *mem, const struct boot_entry *entry,
		      char *err, size_t err_size)
{
	struct arm64_fdt_desc *d = &a->fdt;
	int e;

	if (!entry->dtb_addr || !entry->dtb_max) {
		snprintf(err, err_size, "the image left no room for the device tree");
		return -EINVAL;
	}
	a->dtb_hva = gmem_ptr(mem, entry->dtb_addr, entry->dtb_max);
	if (!a->dtb_hva) {
		snprintf(err, err_size, "device tree at 0x%llx: not in RAM",
			 (unsigned long long)entry->dtb_addr);
		return -EINVAL;
	}
	a->dtb_max = entry->dtb_max;
	memset(d, 0, sizeof(*d));
	/* RAM is one range below the hole (arch_vm_create() refuses more). */
	d->mem_base = 0;
	d->mem_size = gmem_size(mem);
	d->nr_cpus = a->cfg->nr_vcpus;
	/* Which GIC KVM has is known only in arch_vm_setup(), after this: the tree says v3, and
	 * arch_vm_setup() rewrites it where KVM has only v2. */
	d->gic_version = 3;
	d->gic_dist_base = ARM64_GIC_DIST_BASE;
	d->gic_dist_size = ARM64_GIC_DIST_SIZE;
	d->gic_redist_base = ARM64_GIC_REDIST_BASE;
	d->gic_redist_size = (uint64_t)a->cfg->nr_vcpus * ARM64_GIC_REDIST_STRIDE;
	d->gic_cpu_base = ARM64_GIC_CPU_BASE;
	d->gic_cpu_size = ARM64_GIC_CPU_SIZE;
	d->timer_ppis[0] = ARM64_TIMER_PPI_SECURE;
	d->timer_ppis[1] = ARM64_TIMER_PPI_NONSECURE;
	d->timer_ppis[2] = ARM64_TIMER_PPI_VIRT;
	d->timer_ppis[3] = ARM64_TIMER_PPI_HYP;
	d->uart_base = ARM64_UART_BASE;
	d->uart_size = ARM64_UART_SIZE;
	d->uart_spi = ARM64_UART_SPI;
	for (unsigned int i = 0; i < a->nr_virtio && i < ARM64_FDT_MAX_VIRTIO; i++) {
		struct arch_virtio_slot s = arch_virtio_slot(a, i);

		d->virtio[i] = (struct arm64_fdt_virtio){ s.addr, s.size, s.gsi };
	}
	d->nr_virtio = a->nr_virtio;
	d->bootargs = entry->cmdline;
	d->initrd_start = entry->initrd_start;
	d->initrd_end = entry->initrd_end;
	if ((e = arm64_write_dtb(a, err, err_size)))
		return e;
	a->dtb_addr = entry->dtb_addr;
	return 0;
}

/* Device interrupt lines are GIC SPIs, numbered as the device tree numbers them (INTID - 32):
 * KVM_IRQ_LINE wants the type and the INTID (Documentation/virt/kvm/api.rst, 4.25). The
 * callbacks get the arch_vm: devices are attached before the VM exists, and nothing is raised
 * until the vCPUs run. */
static void spi_set_level(void *opaque, unsigned int spi, int level)
{
	static struct ratelimit rl = RATELIMIT_INIT(1000, 5);
	unsigned int irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (spi + 32);
	int e = vm_irq_line(((struct arch_vm *)opaque)->vm, irq, level);

	if (e)
		pr_warn_ratelimited(&rl, "irq: KVM_IRQ_LINE SPI %u failed: %s", spi, strerror(-e));
}

int arch_attach_devices(struct arch_vm *a, const struct arch_board_io *io, char *err,
			size_t err_size)
{
	int e;

	a->irq_sink = (struct irq_sink){ spi_set_level, a };
	e = pl011_create(&a->uart, io->serial_fd,
			 (struct irq_line){ .sink = &a->irq_sink, .gsi = ARM64_UART_SPI }, io->wake,
			 io->wake_opaque);
	if (e)
		return e;
	return bus_attach(io->mmio, ARM64_UART_BASE, ARM64_UART_SIZE, "pl011", pl011_mmio_read,
			  pl011_mmio_write, a->uart, err, err_size);
}

const struct irq_sink *arch_irq_sink(const struct arch_vm *a)
{
	return &a->irq_sink;
}

size_t arch_console_rx_space(const struct arch_vm *a)
{
	return pl011_rx_space(a->uart);
}

size_t arch_console_rx_push(const struct arch_vm *a, const uint8_t *buf, size_t len)
{
	return pl011_rx_push(a->uart, buf, len);
}

void arch_console_counters(const struct arch_vm *a, struct serial_counters *out)
{
	pl011_get_counters(a->uart, out);
}

/* No keyboard controller: the reset button is for x86's Ctrl-Alt-Del. */
void arch_ctrl_alt_del(struct arch_vm *a)
{
	(void)a;
	pr_warn("Ctrl-Alt-Del: the arm64 board has no reset button for the guest to listen to");
}

const char *arch_absent_port(uint16_t port, unsigned int size)
{
	(void)port;
	(void)size;
	return NULL; /* no port I/O on arm64 */
}
