/* acpi_dump.c: builds kiln's ACPI tables for 2 vCPUs and 2 virtio-mmio devices (one above 4 GiB)
 * in fake guest RAM, follows the pointers from the RSDP as an OS would, and writes each table to
 * DIR/{rsdp,xsdt,facp,facs,apic,dsdt}.dat for tests/unit/acpi-iasl.sh. Exit status 0, or 1 with a
 * message naming what was wrong. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"

#define RAM_SIZE (2ull << 20)

static uint8_t *ram;

static uint32_t rd32(uint64_t gpa)
{
	return ram[gpa] | ram[gpa + 1] << 8 | ram[gpa + 2] << 16 | (uint32_t)ram[gpa + 3] << 24;
}

static uint64_t rd64(uint64_t gpa) { return rd32(gpa) | (uint64_t)rd32(gpa + 4) << 32; }

/* Writes `len` bytes of guest RAM at `gpa` to DIR/NAME. */
static int dump(const char *dir, const char *name, uint64_t gpa, uint64_t len)
{
	char path[4096];
	FILE *f;

	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa) {
		fprintf(stderr, "acpi_dump: %s at 0x%llx+0x%llx is outside RAM\n", name,
			(unsigned long long)gpa, (unsigned long long)len);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(ram + gpa, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "acpi_dump: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A table's length field, checked to lie in RAM. */
static uint64_t table_len(uint64_t gpa)
{
	if (gpa >= RAM_SIZE || RAM_SIZE - gpa < ACPI_HEADER_LEN)
		return 0;
	return rd32(gpa + ACPI_HDR_LENGTH);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct gmem_region r = { .gpa = 0, .size = RAM_SIZE };
	uint64_t rsdp, xsdt, fadt = 0, madt = 0, dsdt, facs;
	struct x86_platform p;
	struct gmem *gm;
	int err, rc = 1;

	ram = calloc(1, RAM_SIZE);
	r.hva = ram;
	if (!ram || gmem_create_from(&gm, &r, 1)) {
		fprintf(stderr, "acpi_dump: cannot set up fake guest RAM\n");
		return 1;
	}
	x86_platform_default(&p, 2);
	p.mmio_devs[0] = (struct x86_acpi_mmio_dev){ .addr = 0xd0000000, .size = 0x1000, .irq = 5 };
	p.mmio_devs[1] = (struct x86_acpi_mmio_dev){ .addr = 0x400000000ull, .size = 0x1000,
						     .irq = 16 };
	p.nr_mmio_devs = 2;
	err = x86_acpi_build(gm, X86_ACPI_BASE, X86_ACPI_SIZE, &p, &rsdp);
	if (err) {
		fprintf(stderr, "acpi_dump: x86_acpi_build: %s\n", strerror(-err));
		goto out;
	}
	xsdt = rd64(rsdp + ACPI_RSDP_XSDT);
	for (uint64_t e = xsdt + ACPI_HEADER_LEN; e + 8 <= xsdt + table_len(xsdt); e += 8) {
		uint64_t t = rd64(e);

		if (t < RAM_SIZE - 4 && !memcmp(ram + t, "FACP", 4))
			fadt = t;
		else if (t < RAM_SIZE - 4 && !memcmp(ram + t, "APIC", 4))
			madt = t;
	}
	if (!fadt || !madt) {
		fprintf(stderr, "acpi_dump: the XSDT at 0x%llx lacks the FADT or the MADT\n",
			(unsigned long long)xsdt);
		goto out;
	}
	dsdt = rd64(fadt + ACPI_FADT_X_DSDT);
	facs = rd32(fadt + ACPI_FADT_FIRMWARE_CTRL);
	printf("RSDP 0x%llx XSDT 0x%llx FADT 0x%llx MADT 0x%llx DSDT 0x%llx FACS 0x%llx\n",
	       (unsigned long long)rsdp, (unsigned long long)xsdt, (unsigned long long)fadt,
	       (unsigned long long)madt, (unsigned long long)dsdt, (unsigned long long)facs);
	if (dump(dir, "rsdp.dat", rsdp, rd32(rsdp + ACPI_RSDP_LENGTH)) ||
	    dump(dir, "xsdt.dat", xsdt, table_len(xsdt)) ||
	    dump(dir, "facp.dat", fadt, table_len(fadt)) ||
	    dump(dir, "facs.dat", facs, ACPI_FACS_LEN) ||
	    dump(dir, "apic.dat", madt, table_len(madt)) ||
	    dump(dir, "dsdt.dat", dsdt, table_len(dsdt)))
		goto out;
	rc = 0;
out:
	gmem_destroy(gm);
	free(ram);
	return rc;
}
