/* arm64_dtb.c: lays out an arm64 Image and an initrd in 256 MiB of RAM at 1 GiB and writes the
 * device tree kiln would give them, for QEMU's -M virt board (whose addresses kiln's description
 * uses here: GIC at 0x08000000, PL011 at 0x09000000, 32 virtio-mmio windows from 0x0a000000).
 * Used by arm64-dt-boot.sh, which boots a real kernel on that tree.
 *
 * usage: arm64_dtb IMAGE INITRD OUT.dtb CPUS GIC_VERSION
 * Prints "initrd_addr=0x..." (where the initrd must be loaded) and "kernel_addr=0x..."; exit 2
 * with one line on a bad argument or a refused layout. */
#include <errno.h>
#include <inttypes.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/image.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (256ull << 20)
#define DTB_SIZE (64u * 1024)

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0) {
		fprintf(stderr, "arm64_dtb: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "arm64_dtb: %s: read failed\n", path);
		exit(2);
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

int main(int argc, char **argv)
{
	static uint8_t dtb[DTB_SIZE];
	struct arm64_image_info info;
	struct arm64_boot_layout l;
	struct arm64_fdt_desc d = {
		.mem_base = RAM_BASE, .mem_size = RAM_SIZE,
		.gic_dist_base = 0x08000000, .gic_dist_size = 0x10000,
		.gic_redist_base = 0x080a0000, .gic_redist_size = 0xf60000,
		.gic_cpu_base = 0x08010000, .gic_cpu_size = 0x10000,
		.timer_ppis = { ARM64_TIMER_PPI_SECURE, ARM64_TIMER_PPI_NONSECURE,
				ARM64_TIMER_PPI_VIRT, ARM64_TIMER_PPI_HYP },
		.uart_base = 0x09000000, .uart_size = 0x1000, .uart_spi = 1,
		.nr_virtio = ARM64_FDT_MAX_VIRTIO,
		/* No console=: Linux must find the PL011 through stdout-path. */
		.bootargs = "panic=-1 kiln-dt-check",
	};
	char err[256];
	size_t img_len, initrd_len;
	uint8_t *img;
	FILE *f;

	if (argc != 6) {
		fprintf(stderr, "usage: arm64_dtb IMAGE INITRD OUT.dtb CPUS GIC_VERSION\n");
		return 2;
	}
	img = slurp(argv[1], &img_len);
	free(slurp(argv[2], &initrd_len));
	d.nr_cpus = (unsigned)atoi(argv[4]);
	d.gic_version = atoi(argv[5]);
	for (unsigned i = 0; i < d.nr_virtio; i++)
		d.virtio[i] = (struct arm64_fdt_virtio){ 0x0a000000 + 0x200ull * i, 0x200, 16 + i };
	if (arm64_image_parse(img, img_len, &info, err, sizeof(err)) ||
	    arm64_image_place(&info, RAM_BASE, RAM_SIZE, DTB_SIZE, initrd_len, &l, err,
			      sizeof(err))) {
		fprintf(stderr, "arm64_dtb: %s: %s\n", argv[1], err);
		return 2;
	}
	d.initrd_start = l.initrd_addr;
	d.initrd_end = l.initrd_addr + l.initrd_size;
	if (arm64_fdt_build(dtb, sizeof(dtb), &d, err, sizeof(err))) {
		fprintf(stderr, "arm64_dtb: %s\n", err);
		return 2;
	}
	f = fopen(argv[3], "wb");
	if (!f || fwrite(dtb, 1, fdt_totalsize(dtb), f) != fdt_totalsize(dtb) || fclose(f)) {
		fprintf(stderr, "arm64_dtb: %s: write failed\n", argv[3]);
		return 2;
	}
	printf("initrd_addr=0x%" PRIx64 "\nkernel_addr=0x%" PRIx64 "\n", l.initrd_addr,
	       l.kernel_addr);
	free(img);
	return 0;
}
