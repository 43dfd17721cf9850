/* fdt.c: the arm64 guest's device tree, written with libfdt's sequential-write API. Bindings:
 * Linux Documentation/devicetree/bindings/ (arm/cpus.yaml, arm/psci.yaml,
 * interrupt-controller/arm,gic-v3.yaml and arm,gic.yaml, timer/arm,arch_timer.yaml,
 * serial/pl011.yaml, virtio/mmio.yaml, chosen.yaml). */
#include "arch/arm64/fdt.h"

#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The third interrupt cell (arm,gic.yaml): the trigger in bits 0-3, and for a PPI on GICv2 the
 * mask of CPUs it goes to in bits 8-15. */
#define GIC_FDT_IRQ_TYPE_SPI 0u
#define GIC_FDT_IRQ_TYPE_PPI 1u
#define IRQ_TYPE_EDGE_RISING 1u
#define IRQ_TYPE_LEVEL_HIGH 4u
#define GIC_FDT_IRQ_PPI_CPU_SHIFT 8

#define APB_PCLK_HZ 24000000u /* what QEMU's virt board says; the PL011 needs some clock */

/* One writer: the first libfdt error sticks and every later call does nothing, so the tree is
 * written straight through and checked once. */
struct fdtw {
	void *fdt;
	int err;
};

static void begin(struct fdtw *w, const char *name)
{
	if (!w->err)
		w->err = fdt_begin_node(w->fdt, name);
}

static void end(struct fdtw *w)
{
	if (!w->err)
		w->err = fdt_end_node(w->fdt);
}

static void prop(struct fdtw *w, const char *name, const void *val, int len)
{
	if (!w->err)
		w->err = fdt_property(w->fdt, name, val, len);
}

static void prop_u32(struct fdtw *w, const char *name, uint32_t v)
{
	if (!w->err)
		w->err = fdt_property_u32(w->fdt, name, v);
}

static void prop_u64(struct fdtw *w, const char *name, uint64_t v)
{
	if (!w->err)
		w->err = fdt_property_u64(w->fdt, name, v);
}

static void prop_str(struct fdtw *w, const char *name, const char *s)
{
	if (!w->err)
		w->err = fdt_property_string(w->fdt, name, s);
}

/* A string list: the literal's embedded NULs separate the strings, sizeof counts the last. */
#define prop_strs(w, name, lit) prop((w), (name), (lit), sizeof(lit))

static void prop_empty(struct fdtw *w, const char *name)
{
	prop(w, name, NULL, 0);
}

/* reg with 2 address and 2 size cells per range: n (base, size) pairs. */
static void prop_reg(struct fdtw *w, const uint64_t *pairs, unsigned n)
{
	fdt64_t cells[4];

	for (unsigned i = 0; i < 2 * n; i++)
		cells[i] = cpu_to_fdt64(pairs[i]);
	prop(w, "reg", cells, (int)(2 * n * sizeof(fdt64_t)));
}

static void prop_irqs(struct fdtw *w, const uint32_t *cells, unsigned n)
{
	fdt32_t be[12];

	for (unsigned i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	prop(w, "interrupts", be, (int)(n * sizeof(fdt32_t)));
}

static void node_name(char *buf, size_t size, const char *base, uint64_t addr)
{
	snprintf(buf, size, "%s@%" PRIx64, base, addr);
}

uint64_t arm64_fdt_cpu_mpidr(unsigned cpu)
{
	return (uint64_t)(cpu & 0xf) | (uint64_t)((cpu >> 4) & 0xff) << 8 |
	       (uint64_t)((cpu >> 12) & 0xff) << 16;
}

/* [base, base + size) is a real range: not empty, not past 2^64. */
static bool range_ok(uint64_t base, uint64_t size)
{
	uint64_t end;

	return size && !add_overflow(base, size - 1, &end);
}

static int check_range(const char *what, uint64_t base, uint64_t size, char *err, size_t err_size)
{
	if (range_ok(base, size))
		return 0;
	snprintf(err, err_size, "device tree: %s at 0x%" PRIx64 " of 0x%" PRIx64 " bytes is not a "
		 "valid range", what, base, size);
	return -EINVAL;
}

static int check_desc(const struct arm64_fdt_desc *d, char *err, size_t err_size)
{
	unsigned max_cpus = d->gic_version == 2 ? ARM64_FDT_MAX_CPUS_GICV2 : ARM64_FDT_MAX_CPUS;
	char what[48];

	if (d->gic_version != 2 && d->gic_version != 3) {
		snprintf(err, err_size, "device tree: gic_version %d (want 2 or 3)", d->gic_version);
		return -EINVAL;
	}
	if (d->nr_cpus == 0 || d->nr_cpus > max_cpus) {
		snprintf(err, err_size, "device tree: %u CPUs (GICv%d: 1 to %u)", d->nr_cpus,
			 d->gic_version, max_cpus);
		return -EINVAL;
	}
	if (check_range("memory", d->mem_base, d->mem_size, err, err_size) ||
	    check_range("GIC distributor", d->gic_dist_base, d->gic_dist_size, err, err_size))
		return -EINVAL;
	if (d->gic_version == 3) {
		if (check_range("GICv3 redistributors", d->gic_redist_base, d->gic_redist_size, err,
				err_size))
			return -EINVAL;
		if (d->gic_redist_size / ARM64_GICV3_REDIST_STRIDE < d->nr_cpus) {
			snprintf(err, err_size, "device tree: GICv3 redistributor region of 0x%" PRIx64
				 " bytes holds %" PRIu64 " of %u CPUs (128 KiB each)",
				 d->gic_redist_size, (uint64_t)(d->gic_redist_size / ARM64_GICV3_REDIST_STRIDE),
				 d->nr_cpus);
			return -EINVAL;
		}
	} else if (check_range("GICv2 CPU interface", d->gic_cpu_base, d->gic_cpu_size, err,
			       err_size)) {
		return -EINVAL;
	}
	for (unsigned i = 0; i < 4; i++) {
		if (d->timer_ppis[i] > ARM64_FDT_MAX_PPI) {
			snprintf(err, err_size, "device tree: timer_ppis[%u] = %u (PPIs are 0 to %u)",
				 i, d->timer_ppis[i], ARM64_FDT_MAX_PPI);
			return -EINVAL;
		}
	}
	if (d->uart_size) {
		if (check_range("UART", d->uart_base, d->uart_size, err, err_size))
			return -EINVAL;
		if (d->uart_spi > ARM64_FDT_MAX_SPI) {
			snprintf(err, err_size, "device tree: UART SPI %u (SPIs are 0 to %u)",
				 d->uart_spi, ARM64_FDT_MAX_SPI);
			return -EINVAL;
		}
	}
	if (d->nr_virtio > ARM64_FDT_MAX_VIRTIO) {
		snprintf(err, err_size, "device tree: %u virtio devices (at most %u)", d->nr_virtio,
			 ARM64_FDT_MAX_VIRTIO);
		return -EINVAL;
	}
	for (unsigned i = 0; i < d->nr_virtio; i++) {
		snprintf(what, sizeof(what), "virtio[%u]", i);
		if (check_range(what, d->virtio[i].addr, d->virtio[i].size, err, err_size))
			return -EINVAL;
		if (d->virtio[i].spi > ARM64_FDT_MAX_SPI) {
			snprintf(err, err_size, "device tree: virtio[%u] SPI %u (SPIs are 0 to %u)", i,
				 d->virtio[i].spi, ARM64_FDT_MAX_SPI);
			return -EINVAL;
		}
		/* Two nodes at one address would have one name. */
		for (unsigned j = 0; j < i; j++) {
			if (ranges_overlap(d->virtio[i].addr, d->virtio[i].size, d->virtio[j].addr,
					   d->virtio[j].size)) {
				snprintf(err, err_size, "device tree: virtio[%u] at 0x%" PRIx64
					 " overlaps virtio[%u] at 0x%" PRIx64, i, d->virtio[i].addr,
					 j, d->virtio[j].addr);
				return -EINVAL;
			}
		}
	}
	if (d->initrd_end < d->initrd_start) {
		snprintf(err, err_size, "device tree: initrd ends at 0x%" PRIx64 ", before its start "
			 "0x%" PRIx64, d->initrd_end, d->initrd_start);
		return -EINVAL;
	}
	return 0;
}

static void write_cpus(struct fdtw *w, const struct arm64_fdt_desc *d)
{
	char name[32];

	begin(w, "cpus");
	/* MPIDR affinity (Aff2..Aff0) fits one cell. */
	prop_u32(w, "#address-cells", 1);
	prop_u32(w, "#size-cells", 0);
	for (unsigned i = 0; i < d->nr_cpus; i++) {
		node_name(name, sizeof(name), "cpu", arm64_fdt_cpu_mpidr(i));
		begin(w, name);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,arm-v8");
		prop_u32(w, "reg", (uint32_t)arm64_fdt_cpu_mpidr(i));
		/* Secondaries start powered off; Linux brings them up with PSCI CPU_ON, which
		 * KVM handles in the kernel. */
		prop_str(w, "enable-method", "psci");
		end(w);
	}
	end(w);
}

static void write_gic(struct fdtw *w, const struct arm64_fdt_desc *d)
{
	char name[48];

	node_name(name, sizeof(name), "intc", d->gic_dist_base);
	begin(w, name);
	prop_u32(w, "phandle", ARM64_FDT_PHANDLE_GIC);
	if (d->gic_version == 3) {
		uint64_t reg[] = { d->gic_dist_base, d->gic_dist_size, d->gic_redist_base,
				   d->gic_redist_size };

		prop_str(w, "compatible", "arm,gic-v3");
		prop_u32(w, "#redistributor-regions", 1);
		prop_reg(w, reg, 2);
	} else {
		uint64_t reg[] = { d->gic_dist_base, d->gic_dist_size, d->gic_cpu_base,
				   d->gic_cpu_size };

		prop_str(w, "compatible", "arm,cortex-a15-gic");
		prop_reg(w, reg, 2);
	}
	prop_empty(w, "interrupt-controller");
	prop_u32(w, "#interrupt-cells", 3);
	/* An interrupt provider states its address cells (interrupt-map lookups use them); 2 and
	 * an identity ranges, as QEMU writes, leave room for ITS or v2m children. */
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	prop_empty(w, "ranges");
	end(w);
}

static void write_timer(struct fdtw *w, const struct arm64_fdt_desc *d)
{
	/* Level-high, as QEMU's virt board and Firecracker describe KVM's timers; a GICv2 PPI
	 * also names the CPUs it is wired to. */
	uint32_t flags = IRQ_TYPE_LEVEL_HIGH, cells[12];

	if (d->gic_version == 2)
		flags |= ((1u << d->nr_cpus) - 1) << GIC_FDT_IRQ_PPI_CPU_SHIFT;
	for (unsigned i = 0; i < 4; i++) {
		cells[3 * i] = GIC_FDT_IRQ_TYPE_PPI;
		cells[3 * i + 1] = d->timer_ppis[i];
		cells[3 * i + 2] = flags;
	}
	begin(w, "timer");
	prop_strs(w, "compatible", "arm,armv8-timer\0arm,armv7-timer");
	prop_irqs(w, cells, 12);
	/* The timers keep counting in every power state KVM gives a vCPU. */
	prop_empty(w, "always-on");
	end(w);
}

static void write_uart(struct fdtw *w, const struct arm64_fdt_desc *d, char *path, size_t size)
{
	uint64_t reg[] = { d->uart_base, d->uart_size };
	uint32_t irq[] = { GIC_FDT_IRQ_TYPE_SPI, d->uart_spi, IRQ_TYPE_LEVEL_HIGH };
	fdt32_t clocks[] = { cpu_to_fdt32(ARM64_FDT_PHANDLE_CLOCK),
			     cpu_to_fdt32(ARM64_FDT_PHANDLE_CLOCK) };

	/* The PL011 is an AMBA primecell: Linux's AMBA bus needs its apb_pclk to probe it. */
	begin(w, "apb-pclk");
	prop_str(w, "compatible", "fixed-clock");
	prop_u32(w, "#clock-cells", 0);
	prop_u32(w, "clock-frequency", APB_PCLK_HZ);
	prop_str(w, "clock-output-names", "clk24mhz");
	prop_u32(w, "phandle", ARM64_FDT_PHANDLE_CLOCK);
	end(w);

	node_name(path + 1, size - 1, "pl011", d->uart_base);
	path[0] = '/';
	begin(w, path + 1);
	prop_strs(w, "compatible", "arm,pl011\0arm,primecell");
	prop_reg(w, reg, 1);
	prop_irqs(w, irq, 3);
	prop(w, "clocks", clocks, sizeof(clocks));
	prop_strs(w, "clock-names", "uartclk\0apb_pclk");
	end(w);
}

static void write_virtio(struct fdtw *w, const struct arm64_fdt_virtio *v)
{
	char name[48];
	uint64_t reg[] = { v->addr, v->size };
	uint32_t irq[] = { GIC_FDT_IRQ_TYPE_SPI, v->spi, IRQ_TYPE_EDGE_RISING };

	node_name(name, sizeof(name), "virtio_mmio", v->addr);
	begin(w, name);
	prop_str(w, "compatible", "virtio,mmio");
	prop_reg(w, reg, 1);
	prop_irqs(w, irq, 3);
	/* kiln's devices read and write guest RAM coherently: no cache maintenance needed. */
	prop_empty(w, "dma-coherent");
	end(w);
}

static void write_chosen(struct fdtw *w, const struct arm64_fdt_desc *d, const char *stdout_path)
{
	begin(w, "chosen");
	if (d->bootargs)
		prop_str(w, "bootargs", d->bootargs);
	if (d->initrd_start || d->initrd_end) {
		prop_u64(w, "linux,initrd-start", d->initrd_start);
		prop_u64(w, "linux,initrd-end", d->initrd_end);
	}
	/* Linux takes its console from here: no console= needed. */
	if (stdout_path)
		prop_str(w, "stdout-path", stdout_path);
	if (d->kaslr_seed)
		prop_u64(w, "kaslr-seed", d->kaslr_seed);
	end(w);
}

int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_desc *d, char *err,
		    size_t err_size)
{
	struct fdtw w = { .fdt = buf };
	char name[48], uart_path[48];
	uint64_t mem_reg[] = { d->mem_base, d->mem_size };

	if (check_desc(d, err, err_size))
		return -EINVAL;
	if (size > INT32_MAX) /* libfdt sizes are ints */
		size = INT32_MAX;

	w.err = fdt_create(buf, (int)size);
	if (!w.err)
		w.err = fdt_finish_reservemap(buf);
	begin(&w, "");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_str(&w, "compatible", "linux,dummy-virt");
	prop_str(&w, "model", "linux,dummy-virt");
	prop_u32(&w, "interrupt-parent", ARM64_FDT_PHANDLE_GIC);

	node_name(name, sizeof(name), "memory", d->mem_base);
	begin(&w, name);
	prop_str(&w, "device_type", "memory");
	prop_reg(&w, mem_reg, 1);
	end(&w);

	write_cpus(&w, d);

	begin(&w, "psci");
	/* KVM implements PSCI 1.0 (0.2 before v4.16); 0.2+ uses the standard function IDs, so
	 * no cpu_on/cpu_off properties. */
	prop_strs(&w, "compatible", "arm,psci-1.0\0arm,psci-0.2");
	prop_str(&w, "method", "hvc");
	end(&w);

	write_gic(&w, d);
	write_timer(&w, d);
	if (d->uart_size)
		write_uart(&w, d, uart_path, sizeof(uart_path));
	for (unsigned i = 0; i < d->nr_virtio; i++)
		write_virtio(&w, &d->virtio[i]);
	write_chosen(&w, d, d->uart_size ? uart_path : NULL);

	end(&w); /* / */
	if (!w.err)
		w.err = fdt_finish(buf);
	if (w.err == -FDT_ERR_NOSPACE) {
		snprintf(err, err_size, "device tree does not fit in %zu bytes", size);
		return -ENOSPC;
	}
	if (w.err) {
		snprintf(err, err_size, "device tree: libfdt: %s", fdt_strerror(w.err));
		return -EINVAL;
	}
	return 0;
}
