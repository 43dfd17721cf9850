/* test_arm64_fdt.c: the arm64 guest's device tree (src/arch/arm64/fdt.c). Each tree is built from
 * a description shaped like QEMU's -M virt board, read back with libfdt (nodes, properties,
 * phandles, interrupt cells), and sent round trip through Debian's dtc (`dtc -I dtb -O dts`, then
 * back to a blob and to source again), which must accept it without a warning and print the
 * properties in the forms QEMU's own tree has. Without dtc those cases SKIP with the reason. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/arm64/fdt.h"

#define MIB (1024ull * 1024)
#define FDT_SIZE (64 * 1024)

static char err[256];
static uint8_t fdt[FDT_SIZE];

/* QEMU virt's addresses: GIC at 128 MiB, PL011 at 144 MiB, virtio-mmio from 160 MiB, RAM at 1 GiB. */
static struct arm64_fdt_desc board(unsigned cpus, int gic, bool initrd)
{
	struct arm64_fdt_desc d = {
		.mem_base = 0x40000000, .mem_size = 256 * MIB, .nr_cpus = cpus, .gic_version = gic,
		.gic_dist_base = 0x08000000, .gic_dist_size = 0x10000,
		.gic_redist_base = 0x080a0000, .gic_redist_size = 0xf60000,
		.gic_cpu_base = 0x08010000, .gic_cpu_size = 0x10000,
		.timer_ppis = { ARM64_TIMER_PPI_SECURE, ARM64_TIMER_PPI_NONSECURE,
				ARM64_TIMER_PPI_VIRT, ARM64_TIMER_PPI_HYP },
		.uart_base = 0x09000000, .uart_size = 0x1000, .uart_spi = 1,
		.virtio = { { 0x0a000000, 0x200, 16 }, { 0x0a000200, 0x200, 17 } },
		.nr_virtio = 2,
		.bootargs = "console=ttyAMA0 panic=-1",
	};

	if (initrd) {
		d.initrd_start = 0x4f600000;
		d.initrd_end = 0x4f600000 + 5 * MIB + 3;
	}
	return d;
}

static void build(const struct arm64_fdt_desc *d)
{
	memset(err, 0, sizeof(err));
	cr_assert_eq(arm64_fdt_build(fdt, sizeof(fdt), d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fdt_check_header(fdt), 0);
	cr_assert_leq(fdt_totalsize(fdt), sizeof(fdt));
}

static int node(const char *path)
{
	int off = fdt_path_offset(fdt, path);

	cr_assert_geq(off, 0, "%s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(fdt, node(path), name, len);

	cr_assert_not_null(p, "%s %s: %s", path, name, fdt_strerror(*len));
	return p;
}

static bool has_prop(const char *path, const char *name)
{
	return fdt_getprop(fdt, node(path), name, NULL) != NULL;
}

static const char *prop_str(const char *path, const char *name)
{
	int len;
	const char *s = prop(path, name, &len);

	cr_assert_gt(len, 0);
	cr_assert_eq(s[len - 1], '\0', "%s %s is a string", path, name);
	return s;
}

static uint32_t prop_u32(const char *path, const char *name)
{
	int len;
	const fdt32_t *p = prop(path, name, &len);

	cr_assert_eq(len, 4, "%s %s", path, name);
	return fdt32_to_cpu(*p);
}

static uint64_t prop_u64(const char *path, const char *name)
{
	int len;
	const void *p = prop(path, name, &len);
	fdt64_t v;

	cr_assert_eq(len, 8, "%s %s", path, name);
	memcpy(&v, p, sizeof(v)); /* properties are only 4-byte aligned */
	return fdt64_to_cpu(v);
}

/* Cell i of a property of cells. */
static uint32_t cell(const char *path, const char *name, int i, int want_cells)
{
	int len;
	const fdt32_t *p = prop(path, name, &len);

	cr_assert_eq(len, 4 * want_cells, "%s %s: %d bytes", path, name, len);
	return fdt32_to_cpu(p[i]);
}

/* A reg of 2+2 cells: range i's base and size. */
static void reg(const char *path, int i, int ranges, uint64_t base, uint64_t size)
{
	uint64_t b = (uint64_t)cell(path, "reg", 4 * i, 4 * ranges) << 32 |
		     cell(path, "reg", 4 * i + 1, 4 * ranges);
	uint64_t s = (uint64_t)cell(path, "reg", 4 * i + 2, 4 * ranges) << 32 |
		     cell(path, "reg", 4 * i + 3, 4 * ranges);

	cr_expect_eq(b, base, "%s reg[%d] base 0x%llx", path, i, (unsigned long long)b);
	cr_expect_eq(s, size, "%s reg[%d] size 0x%llx", path, i, (unsigned long long)s);
}

static bool compatible(const char *path, const char *want)
{
	return fdt_node_check_compatible(fdt, node(path), want) == 0;
}

static int count_subnodes(const char *path, const char *prefix)
{
	int n = 0, off;

	fdt_for_each_subnode(off, fdt, node(path)) {
		if (!strncmp(fdt_get_name(fdt, off, NULL), prefix, strlen(prefix)))
			n++;
	}
	return n;
}

/* ---- libfdt reads ---------------------------------------------------------------------------- */

Test(fdt, root_memory_psci)
{
	struct arm64_fdt_desc d = board(1, 3, false);

	build(&d);
	cr_expect_eq(prop_u32("/", "#address-cells"), 2);
	cr_expect_eq(prop_u32("/", "#size-cells"), 2);
	cr_expect(compatible("/", "linux,dummy-virt"));
	reg("/memory@40000000", 0, 1, 0x40000000, 256 * MIB);
	cr_expect_str_eq(prop_str("/memory@40000000", "device_type"), "memory");
	cr_expect(compatible("/psci", "arm,psci-1.0"));
	cr_expect(compatible("/psci", "arm,psci-0.2"));
	cr_expect_str_eq(prop_str("/psci", "method"), "hvc");
	/* interrupt-parent names the GIC. */
	cr_expect_eq(fdt_node_offset_by_phandle(fdt, prop_u32("/", "interrupt-parent")),
		     node("/intc@8000000"));
}

Test(fdt, one_cpu)
{
	struct arm64_fdt_desc d = board(1, 3, false);

	build(&d);
	cr_expect_eq(prop_u32("/cpus", "#address-cells"), 1);
	cr_expect_eq(prop_u32("/cpus", "#size-cells"), 0);
	cr_expect_eq(count_subnodes("/cpus", "cpu@"), 1);
	cr_expect_eq(prop_u32("/cpus/cpu@0", "reg"), 0);
	cr_expect_str_eq(prop_str("/cpus/cpu@0", "device_type"), "cpu");
	cr_expect(compatible("/cpus/cpu@0", "arm,arm-v8"));
	cr_expect_str_eq(prop_str("/cpus/cpu@0", "enable-method"), "psci");
}

Test(fdt, many_cpus_use_kvm_mpidrs)
{
	struct arm64_fdt_desc d = board(20, 3, false);

	build(&d);
	cr_expect_eq(count_subnodes("/cpus", "cpu@"), 20);
	cr_expect_eq(prop_u32("/cpus/cpu@1", "reg"), 1);
	cr_expect_eq(prop_u32("/cpus/cpu@f", "reg"), 15);
	/* KVM's reset MPIDR: vCPU 16 is Aff1 1, Aff0 0. */
	cr_expect_eq(prop_u32("/cpus/cpu@100", "reg"), 0x100);
	cr_expect_eq(prop_u32("/cpus/cpu@103", "reg"), 0x103);
	cr_expect_str_eq(prop_str("/cpus/cpu@103", "enable-method"), "psci");
	cr_expect_eq(arm64_fdt_cpu_mpidr(4097), 0x10001);
}

Test(fdt, gicv3)
{
	struct arm64_fdt_desc d = board(2, 3, false);

	build(&d);
	cr_expect(compatible("/intc@8000000", "arm,gic-v3"));
	reg("/intc@8000000", 0, 2, 0x08000000, 0x10000);
	reg("/intc@8000000", 1, 2, 0x080a0000, 0xf60000);
	cr_expect_eq(prop_u32("/intc@8000000", "#redistributor-regions"), 1);
	cr_expect_eq(prop_u32("/intc@8000000", "#interrupt-cells"), 3);
	cr_expect(has_prop("/intc@8000000", "interrupt-controller"));
	cr_expect_eq(prop_u32("/intc@8000000", "phandle"), ARM64_FDT_PHANDLE_GIC);
	/* The timer: four PPIs, level-high, no CPU mask on v3. */
	cr_expect(compatible("/timer", "arm,armv8-timer"));
	cr_expect(has_prop("/timer", "always-on"));
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(cell("/timer", "interrupts", 3 * i, 12), 1, "PPI");
		cr_expect_eq(cell("/timer", "interrupts", 3 * i + 1, 12), d.timer_ppis[i]);
		cr_expect_eq(cell("/timer", "interrupts", 3 * i + 2, 12), 4);
	}
}

Test(fdt, gicv2)
{
	struct arm64_fdt_desc d = board(2, 2, false);

	build(&d);
	cr_expect(compatible("/intc@8000000", "arm,cortex-a15-gic"));
	cr_expect_not(compatible("/intc@8000000", "arm,gic-v3"));
	reg("/intc@8000000", 0, 2, 0x08000000, 0x10000);
	reg("/intc@8000000", 1, 2, 0x08010000, 0x10000);
	cr_expect_not(has_prop("/intc@8000000", "#redistributor-regions"));
	cr_expect_eq(prop_u32("/intc@8000000", "#interrupt-cells"), 3);
	/* GICv2 PPIs name their CPUs: two CPUs, mask 0b11 in bits 8-15. */
	for (int i = 0; i < 4; i++)
		cr_expect_eq(cell("/timer", "interrupts", 3 * i + 2, 12), 0x304);
	d = board(8, 2, false);
	build(&d);
	cr_expect_eq(cell("/timer", "interrupts", 2, 12), 0xff04);
}

Test(fdt, uart_and_clock)
{
	struct arm64_fdt_desc d = board(1, 3, false);
	int len;
	const fdt32_t *clocks;

	build(&d);
	cr_expect(compatible("/pl011@9000000", "arm,pl011"));
	cr_expect(compatible("/pl011@9000000", "arm,primecell"));
	reg("/pl011@9000000", 0, 1, 0x09000000, 0x1000);
	cr_expect_eq(cell("/pl011@9000000", "interrupts", 0, 3), 0, "SPI");
	cr_expect_eq(cell("/pl011@9000000", "interrupts", 1, 3), 1);
	cr_expect_eq(cell("/pl011@9000000", "interrupts", 2, 3), 4, "level-high");
	clocks = prop("/pl011@9000000", "clocks", &len);
	cr_assert_eq(len, 8);
	for (int i = 0; i < 2; i++)
		cr_expect_eq(fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(clocks[i])),
			     node("/apb-pclk"));
	cr_expect_eq(fdt_stringlist_search(fdt, node("/pl011@9000000"), "clock-names", "apb_pclk"),
		     1);
	cr_expect(compatible("/apb-pclk", "fixed-clock"));
	cr_expect_eq(prop_u32("/apb-pclk", "#clock-cells"), 0);
	cr_expect_eq(prop_u32("/apb-pclk", "clock-frequency"), 24000000);
	/* stdout-path resolves to the UART. */
	cr_expect_eq(fdt_path_offset(fdt, prop_str("/chosen", "stdout-path")),
		     node("/pl011@9000000"));
}

Test(fdt, virtio_nodes)
{
	struct arm64_fdt_desc d = board(1, 3, false);

	build(&d);
	cr_expect_eq(count_subnodes("/", "virtio_mmio@"), 2);
	cr_expect(compatible("/virtio_mmio@a000200", "virtio,mmio"));
	reg("/virtio_mmio@a000200", 0, 1, 0x0a000200, 0x200);
	cr_expect_eq(cell("/virtio_mmio@a000200", "interrupts", 0, 3), 0, "SPI");
	cr_expect_eq(cell("/virtio_mmio@a000200", "interrupts", 1, 3), 17);
	cr_expect_eq(cell("/virtio_mmio@a000200", "interrupts", 2, 3), 1, "edge-rising");
	cr_expect(has_prop("/virtio_mmio@a000200", "dma-coherent"));
	d.nr_virtio = 0;
	build(&d);
	cr_expect_eq(count_subnodes("/", "virtio_mmio@"), 0);
}

Test(fdt, chosen_with_and_without_initrd)
{
	struct arm64_fdt_desc d = board(1, 3, true);

	build(&d);
	cr_expect_str_eq(prop_str("/chosen", "bootargs"), "console=ttyAMA0 panic=-1");
	cr_expect_eq(prop_u64("/chosen", "linux,initrd-start"), 0x4f600000);
	cr_expect_eq(prop_u64("/chosen", "linux,initrd-end"), 0x4f600000 + 5 * MIB + 3);
	cr_expect_str_eq(prop_str("/chosen", "stdout-path"), "/pl011@9000000");
	cr_expect_not(has_prop("/chosen", "kaslr-seed"));

	d = board(1, 3, false);
	d.kaslr_seed = 0x0123456789abcdefull;
	d.bootargs = NULL;
	build(&d);
	cr_expect_not(has_prop("/chosen", "linux,initrd-start"));
	cr_expect_not(has_prop("/chosen", "linux,initrd-end"));
	cr_expect_not(has_prop("/chosen", "bootargs"));
	cr_expect_eq(prop_u64("/chosen", "kaslr-seed"), 0x0123456789abcdefull);
}

Test(fdt, no_uart)
{
	struct arm64_fdt_desc d = board(1, 3, false);

	d.uart_size = 0;
	build(&d);
	cr_expect_lt(fdt_path_offset(fdt, "/pl011@9000000"), 0);
	cr_expect_lt(fdt_path_offset(fdt, "/apb-pclk"), 0);
	cr_expect_not(has_prop("/chosen", "stdout-path"));
}

Test(fdt, largest_board_fits)
{
	struct arm64_fdt_desc d = board(ARM64_FDT_MAX_CPUS, 3, true);

	d.gic_redist_size = ARM64_FDT_MAX_CPUS * ARM64_GICV3_REDIST_STRIDE;
	d.nr_virtio = ARM64_FDT_MAX_VIRTIO;
	for (unsigned i = 0; i < d.nr_virtio; i++)
		d.virtio[i] = (struct arm64_fdt_virtio){ 0x0a000000 + 0x200 * i, 0x200, 16 + i };
	build(&d);
	cr_expect_eq(count_subnodes("/cpus", "cpu@"), ARM64_FDT_MAX_CPUS);
	cr_expect_eq(count_subnodes("/", "virtio_mmio@"), ARM64_FDT_MAX_VIRTIO);
}

/* ---- refusals -------------------------------------------------------------------------------- */

static int build_err(const struct arm64_fdt_desc *d, size_t size)
{
	memset(err, 0, sizeof(err));
	return arm64_fdt_build(fdt, size, d, err, sizeof(err));
}

Test(fdt, refusals)
{
	struct arm64_fdt_desc d;

	d = board(1, 4, false);
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: gic_version 4 (want 2 or 3)");
	d = board(0, 3, false);
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: 0 CPUs (GICv3: 1 to 512)");
	d = board(9, 2, false);
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: 9 CPUs (GICv2: 1 to 8)");
	d = board(2, 3, false);
	d.gic_redist_size = 0x20000;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: GICv3 redistributor region of 0x20000 bytes holds 1 of 2 "
			 "CPUs (128 KiB each)");
	d = board(1, 2, false);
	d.gic_cpu_size = 0;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect(strstr(err, "GICv2 CPU interface") != NULL, "%s", err);
	d = board(1, 3, false);
	d.mem_base = UINT64_MAX - 4095;
	d.mem_size = 8192;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: memory at 0xfffffffffffff000 of 0x2000 bytes is not a "
			 "valid range");
	d = board(1, 3, false);
	d.timer_ppis[2] = 16;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: timer_ppis[2] = 16 (PPIs are 0 to 15)");
	d = board(1, 3, false);
	d.uart_spi = 988;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: UART SPI 988 (SPIs are 0 to 987)");
	d = board(1, 3, false);
	d.virtio[1].spi = 1000;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: virtio[1] SPI 1000 (SPIs are 0 to 987)");
	d = board(1, 3, false);
	d.virtio[1].addr = 0x0a000100;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: virtio[1] at 0xa000100 overlaps virtio[0] at 0xa000000");
	d = board(1, 3, false);
	d.nr_virtio = ARM64_FDT_MAX_VIRTIO + 1;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: 33 virtio devices (at most 32)");
	d = board(1, 3, true);
	d.initrd_end = d.initrd_start - 1;
	cr_expect_eq(build_err(&d, FDT_SIZE), -EINVAL);
	cr_expect_str_eq(err, "device tree: initrd ends at 0x4f5fffff, before its start 0x4f600000");
	/* A buffer too small for the tree. */
	d = board(1, 3, true);
	cr_expect_eq(build_err(&d, 512), -ENOSPC);
	cr_expect_str_eq(err, "device tree does not fit in 512 bytes");
	cr_expect_eq(build_err(&d, 0), -ENOSPC);
}

/* ---- dtc round trip -------------------------------------------------------------------------- */

static char dir[] = "/tmp/kiln-arm64-fdt-XXXXXX";

static bool have_dtc(void)
{
	return system("command -v dtc >/dev/null 2>&1") == 0;
}

/* Runs `dtc ARGS` (inputs and outputs in dir); returns its stderr, asserting it exited 0. */
static char *dtc(const char *args)
{
	char cmd[512], *out;
	FILE *f;
	long n;
	int st;

	snprintf(cmd, sizeof(cmd), "cd %s && dtc %s 2>dtc.err", dir, args);
	st = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s/dtc.err", dir);
	f = fopen(cmd, "r");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dtc %s failed: %s", args, out);
	return out;
}

static char *slurp(const char *name)
{
	char path[256], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void no_warning(char *out)
{
	cr_expect_str_empty(out, "dtc warns: %s", out);
	free(out);
}

/* Builds d, writes it out, decompiles it (no warning allowed), recompiles the source and
 * decompiles that: both sources must match. Returns the source. */
static char *round_trip(const struct arm64_fdt_desc *d)
{
	char path[256], *dts, *again;
	FILE *f;

	if (!have_dtc())
		cr_skip_test("dtc not installed (Debian device-tree-compiler): no round trip");
	build(d);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kiln.dtb", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(fdt, 1, fdt_totalsize(fdt), f), fdt_totalsize(fdt));
	cr_assert_eq(fclose(f), 0);
	no_warning(dtc("-I dtb -O dts -o kiln.dts kiln.dtb"));
	/* Decompiled source holds phandles as plain numbers, which dtc's clocks check (unlike its
	 * interrupt-parent check) cannot tell from a missing reference; the blob's clocks were
	 * checked by the first pass. */
	no_warning(dtc("-W no-clocks_property -I dts -O dtb -o again.dtb kiln.dts"));
	no_warning(dtc("-I dtb -O dts -o again.dts again.dtb"));
	dts = slurp("kiln.dts");
	again = slurp("again.dts");
	cr_expect_str_eq(dts, again, "the source survives dtb -> dts -> dtb -> dts");
	free(again);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_expect_eq(system(path), 0);
	return dts;
}

static void has(const char *dts, const char *line)
{
	cr_expect(strstr(dts, line) != NULL, "dts lacks: %s\n%s", line, dts);
}

static void lacks(const char *dts, const char *line)
{
	cr_expect(strstr(dts, line) == NULL, "dts has: %s", line);
}

Test(dtc, gicv3_two_cpus_initrd)
{
	struct arm64_fdt_desc d = board(2, 3, true);
	char *dts = round_trip(&d);

	has(dts, "compatible = \"linux,dummy-virt\";");
	has(dts, "memory@40000000 {");
	has(dts, "reg = <0x00 0x40000000 0x00 0x10000000>;");
	has(dts, "cpu@0 {");
	has(dts, "cpu@1 {");
	has(dts, "reg = <0x01>;");
	has(dts, "enable-method = \"psci\";");
	has(dts, "compatible = \"arm,psci-1.0\\0arm,psci-0.2\";");
	has(dts, "method = \"hvc\";");
	has(dts, "intc@8000000 {");
	has(dts, "compatible = \"arm,gic-v3\";");
	/* The same forms QEMU's -M virt,gic-version=3 tree has. */
	has(dts, "reg = <0x00 0x8000000 0x00 0x10000 0x00 0x80a0000 0x00 0xf60000>;");
	has(dts, "#interrupt-cells = <0x03>;");
	has(dts, "interrupt-controller;");
	has(dts, "interrupts = <0x01 0x0d 0x04 0x01 0x0e 0x04 0x01 0x0b 0x04 0x01 0x0a 0x04>;");
	has(dts, "always-on;");
	has(dts, "compatible = \"arm,pl011\\0arm,primecell\";");
	has(dts, "clock-names = \"uartclk\\0apb_pclk\";");
	has(dts, "interrupts = <0x00 0x01 0x04>;");
	has(dts, "virtio_mmio@a000000 {");
	has(dts, "interrupts = <0x00 0x10 0x01>;");
	has(dts, "interrupts = <0x00 0x11 0x01>;");
	has(dts, "dma-coherent;");
	has(dts, "bootargs = \"console=ttyAMA0 panic=-1\";");
	has(dts, "linux,initrd-start = <0x00 0x4f600000>;");
	has(dts, "linux,initrd-end = <0x00 0x4fb00003>;");
	has(dts, "stdout-path = \"/pl011@9000000\";");
	free(dts);
}

Test(dtc, gicv2_one_cpu_no_initrd)
{
	struct arm64_fdt_desc d = board(1, 2, false);
	char *dts = round_trip(&d);

	has(dts, "cpu@0 {");
	lacks(dts, "cpu@1 {");
	has(dts, "compatible = \"arm,cortex-a15-gic\";");
	has(dts, "reg = <0x00 0x8000000 0x00 0x10000 0x00 0x8010000 0x00 0x10000>;");
	lacks(dts, "#redistributor-regions");
	/* QEMU's -M virt,gic-version=2 -smp 1 timer, cell for cell. */
	has(dts, "interrupts = <0x01 0x0d 0x104 0x01 0x0e 0x104 0x01 0x0b 0x104 0x01 0x0a 0x104>;");
	lacks(dts, "linux,initrd-start");
	lacks(dts, "linux,initrd-end");
	has(dts, "stdout-path = \"/pl011@9000000\";");
	free(dts);
}

Test(dtc, many_cpus_and_devices)
{
	struct arm64_fdt_desc d = board(20, 3, true);
	char *dts;

	d.nr_virtio = 8;
	for (unsigned i = 0; i < d.nr_virtio; i++)
		d.virtio[i] = (struct arm64_fdt_virtio){ 0x0a000000 + 0x200 * i, 0x200, 16 + i };
	d.kaslr_seed = 0x1122334455667788ull;
	dts = round_trip(&d);
	has(dts, "cpu@103 {"); /* vCPU 19: Aff1 1, Aff0 3 */
	has(dts, "reg = <0x103>;");
	has(dts, "virtio_mmio@a000e00 {");
	has(dts, "interrupts = <0x00 0x17 0x01>;");
	has(dts, "kaslr-seed = <0x11223344 0x55667788>;");
	free(dts);
}
