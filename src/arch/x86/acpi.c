/* acpi.c: the guest's ACPI tables (ACPI 6.4, HW-reduced) and the AML emitter behind the DSDT. */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "util/log.h"

/* Identification every table carries (5.2.6). */
#define ACPI_OEM_ID "KILN  "       /* 6 characters */
#define ACPI_OEM_TABLE_ID "KILNVM  " /* 8 characters */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "KILN"
#define ACPI_CREATOR_REVISION 1
#define ACPI_HYPERVISOR_ID "KILNVM  " /* FADT Hypervisor Vendor Identity (ACPI 6.0+) */

/* Table revisions: ACPI 6.4 (RSDP 2, XSDT 1, FADT 6.4, MADT 5, DSDT 2 = 64-bit integers). */
#define ACPI_RSDP_REV 2
#define ACPI_XSDT_REV 1
#define ACPI_FADT_REV 6
#define ACPI_FADT_MINOR 4
#define ACPI_MADT_REV 5
#define ACPI_DSDT_REV 2

#define ACPI_MADT_LAPIC_LEN 8
#define ACPI_MADT_IOAPIC_LEN 12
#define ACPI_MADT_ISO_LEN 10
#define ACPI_MADT_NMI_LEN 6
#define ACPI_TABLE_ALIGN 16
#define FOUR_GIB 0x100000000ull

/* ---- little-endian stores ------------------------------------------------------------------ */

static void put8(uint8_t *p, size_t off, uint8_t v) { p[off] = v; }

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void putstr(uint8_t *p, size_t off, const char *s, size_t len)
{
	memcpy(p + off, s, len);
}

uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return sum;
}

/* ---- platform ------------------------------------------------------------------------------ */

void x86_platform_default(struct x86_platform *p, unsigned int nr_vcpus)
{
	*p = (struct x86_platform){
		.nr_vcpus = nr_vcpus,
		.ioapic_addr = X86_IOAPIC_ADDR,
		.ioapic_pins = 24,
		.lapic_addr = X86_LAPIC_ADDR,
		.uart_port = 0x3f8,
		.uart_irq = 4,
		.sleep_control_port = X86_ACPI_SLEEP_CONTROL_PORT,
		.sleep_status_port = X86_ACPI_SLEEP_STATUS_PORT,
		.reset_port = X86_ACPI_RESET_PORT,
	};
}

/* An ISA line the tables give to a fixed device (or none: 2 is the cascade). */
static bool isa_irq_reserved(unsigned int irq)
{
	return irq == X86_ISA_IRQ_TIMER || irq == X86_ISA_IRQ_KBD || irq == X86_ISA_IRQ_CASCADE ||
	       irq == X86_ISA_IRQ_RTC;
}

int x86_platform_check(const struct x86_platform *p)
{
	uint64_t end;

	if (p->nr_vcpus == 0 || p->nr_vcpus > X86_ACPI_MAX_VCPUS) {
		pr_debug("x86 tables: %u vCPUs, want 1 to %u", p->nr_vcpus, X86_ACPI_MAX_VCPUS);
		return -EINVAL;
	}
	if (p->ioapic_pins < X86_ACPI_MIN_IOAPIC_PINS ||
	    p->ioapic_pins > X86_ACPI_MAX_IOAPIC_PINS) {
		pr_debug("x86 tables: %u IOAPIC pins, want %u to %u", p->ioapic_pins,
			 X86_ACPI_MIN_IOAPIC_PINS, X86_ACPI_MAX_IOAPIC_PINS);
		return -EINVAL;
	}
	/* MADT and MP table hold 32-bit APIC addresses. */
	if (!p->ioapic_addr || p->ioapic_addr >= FOUR_GIB || !p->lapic_addr ||
	    p->lapic_addr >= FOUR_GIB) {
		pr_debug("x86 tables: IOAPIC 0x%llx or local APIC 0x%llx not a 32-bit address",
			 (unsigned long long)p->ioapic_addr, (unsigned long long)p->lapic_addr);
		return -EINVAL;
	}
	if (!p->uart_port || p->uart_port > 0xffff - 7 || p->uart_irq >= X86_ISA_IRQS ||
	    isa_irq_reserved(p->uart_irq)) {
		pr_debug("x86 tables: UART at port 0x%x IRQ %u", p->uart_port, p->uart_irq);
		return -EINVAL;
	}
	/* A zero GAS address means "not implemented"; Linux then neither powers off nor resets. */
	if (!p->sleep_control_port || !p->sleep_status_port || !p->reset_port) {
		pr_debug("x86 tables: sleep control 0x%x, sleep status 0x%x, reset 0x%x: port 0",
			 p->sleep_control_port, p->sleep_status_port, p->reset_port);
		return -EINVAL;
	}
	if (p->nr_mmio_devs > X86_ACPI_MAX_MMIO_DEVS) {
		pr_debug("x86 tables: %u virtio-mmio devices, at most %u", p->nr_mmio_devs,
			 X86_ACPI_MAX_MMIO_DEVS);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->nr_mmio_devs; i++) {
		const struct x86_acpi_mmio_dev *d = &p->mmio_devs[i];

		if (!d->size || add_overflow(d->addr, d->size, &end)) {
			pr_debug("x86 tables: mmio device %u at 0x%llx size 0x%llx", i,
				 (unsigned long long)d->addr, (unsigned long long)d->size);
			return -EINVAL;
		}
		/* Edge-triggered lines cannot be shared: a GSI each, none of the fixed ones. */
		if (d->irq >= p->ioapic_pins || isa_irq_reserved(d->irq) || d->irq == p->uart_irq) {
			pr_debug("x86 tables: mmio device %u IRQ %u is taken or no IOAPIC pin",
				 i, d->irq);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (p->mmio_devs[j].irq == d->irq) {
				pr_debug("x86 tables: mmio devices %u and %u share IRQ %u", j, i,
					 d->irq);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* ---- AML emitter --------------------------------------------------------------------------- */

/* Opcodes (20.2). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR '\\'
#define AML_PARENT_PREFIX '^'
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_NULL_NAME 0x00
#define AML_NAME_SEG_LEN 4
#define AML_MAX_NAME_SEGS 16
#define AML_MAX_PARENT_PREFIXES 16

/* What kind of object an aml_*_begin() opened. */
enum { AML_OBJ_PKGLEN, AML_OBJ_PACKAGE, AML_OBJ_BUFFER };

/* Resource descriptors (6.4). */
#define AML_RES_IRQ_NOFLAGS 0x22 /* small item 0x04, length 2 */
#define AML_RES_IO 0x47          /* small item 0x08, length 7 */
#define AML_RES_END_TAG 0x79     /* small item 0x0f, length 1 */
#define AML_RES_MEM32_FIXED 0x86
#define AML_RES_EXT_IRQ 0x89
#define AML_RES_QWORD_ADDR 0x8a
#define AML_RES_IO_DECODE16 0x01
#define AML_RES_MEM_RW 0x01
#define AML_RES_ADDR_MEMORY 0
#define AML_RES_ADDR_MIN_FIXED (1u << 2)
#define AML_RES_ADDR_MAX_FIXED (1u << 3)
#define AML_RES_EXT_IRQ_CONSUMER (1u << 0)
#define AML_RES_EXT_IRQ_EDGE (1u << 1)
#define AML_RES_EXT_IRQ_ACTIVE_LOW (1u << 2)

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	*a = (struct aml){ .buf = buf, .cap = cap };
}

long aml_finish(struct aml *a)
{
	if (!a->err && a->depth)
		a->err = -EINVAL;
	return a->err ? a->err : (long)a->len;
}

static bool aml_room(struct aml *a, size_t n)
{
	if (a->err)
		return false;
	if (n > a->cap - a->len) {
		a->err = -ENOSPC;
		return false;
	}
	return true;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!aml_room(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b) { aml_bytes(a, &b, 1); }

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

/* PkgLength (20.2.4) for `inner` bytes that follow it; the encoded value counts itself too.
 * Returns its size (1-4), or 0 when the object is too large (2^28 bytes). */
static size_t aml_pkglength(uint8_t out[4], size_t inner)
{
	if (inner + 1 <= 0x3f) {
		out[0] = (uint8_t)(inner + 1);
		return 1;
	}
	for (size_t n = 2; n <= 4; n++) {
		size_t total = inner + n;

		if (total < (1ul << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
			for (size_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

/* Shortest integer encoding (20.2.3): ZeroOp, OneOp, or a prefix and 1, 2, 4 or 8 bytes. */
static size_t aml_encode_integer(uint8_t out[9], uint64_t v)
{
	size_t n;

	if (v == 0 || v == 1) {
		out[0] = v ? AML_ONE_OP : AML_ZERO_OP;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

/* Counts a data object in the innermost open Package's NumElements (one byte: 255 at most). */
static void aml_item(struct aml *a)
{
	uint8_t *count;

	if (a->err || !a->depth || a->kind[a->depth - 1] != AML_OBJ_PACKAGE)
		return;
	count = &a->buf[a->open[a->depth - 1]];
	if (*count == 0xff)
		aml_fail(a, -EINVAL);
	else
		(*count)++;
}

static bool aml_lead_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }

static bool aml_name_char(char c) { return aml_lead_char(c) || (c >= '0' && c <= '9'); }

void aml_namestring(struct aml *a, const char *path)
{
	uint8_t out[2 + AML_MAX_PARENT_PREFIXES + 2 + AML_MAX_NAME_SEGS * AML_NAME_SEG_LEN];
	uint8_t segs[AML_MAX_NAME_SEGS][AML_NAME_SEG_LEN];
	unsigned int nseg = 0, prefixes = 0;
	const char *s = path;
	size_t n = 0;

	if (*s == AML_ROOT_CHAR) {
		out[n++] = AML_ROOT_CHAR;
		s++;
	} else {
		while (*s == AML_PARENT_PREFIX && prefixes < AML_MAX_PARENT_PREFIXES) {
			out[n++] = AML_PARENT_PREFIX;
			prefixes++;
			s++;
		}
	}
	while (*s) {
		size_t len = 0;

		if (nseg == AML_MAX_NAME_SEGS || !aml_lead_char(*s))
			goto bad;
		while (s[len] && s[len] != '.') {
			if (len == AML_NAME_SEG_LEN || !aml_name_char(s[len]))
				goto bad;
			len++;
		}
		memset(segs[nseg], '_', AML_NAME_SEG_LEN);
		memcpy(segs[nseg], s, len);
		nseg++;
		s += len;
		if (*s == '.' && !*++s)
			goto bad;
	}
	if (nseg == 0) {
		out[n++] = AML_NULL_NAME;
	} else if (nseg == 2) {
		out[n++] = AML_DUAL_NAME_PREFIX;
	} else if (nseg > 2) {
		out[n++] = AML_MULTI_NAME_PREFIX;
		out[n++] = (uint8_t)nseg;
	}
	for (unsigned int i = 0; i < nseg; i++, n += AML_NAME_SEG_LEN)
		memcpy(out + n, segs[i], AML_NAME_SEG_LEN);
	aml_bytes(a, out, n);
	return;
bad:
	pr_debug("AML: bad name \"%s\"", path);
	aml_fail(a, -EINVAL);
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t enc[9];

	aml_item(a);
	aml_bytes(a, enc, aml_encode_integer(enc, v));
}

void aml_string(struct aml *a, const char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		/* AsciiCharList: 0x01-0x7f. */
		if ((unsigned char)s[i] > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_item(a);
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, len + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* EISA id (ASL EisaId(), 19.6.35): three letters in 5 bits each, then four hex digits, stored
 * as the big-endian bytes of a 32-bit value: "PNP0501" is bytes 41 d0 05 01. */
void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t enc[5] = { AML_DWORD_PREFIX };
	uint16_t letters = 0;

	if (strlen(id) != 7)
		goto bad;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			goto bad;
		letters = (uint16_t)(letters << 5 | (id[i] - 0x40));
	}
	for (int i = 3; i < 7; i++)
		if (hex_digit(id[i]) < 0)
			goto bad;
	enc[1] = (uint8_t)(letters >> 8);
	enc[2] = (uint8_t)letters;
	enc[3] = (uint8_t)(hex_digit(id[3]) << 4 | hex_digit(id[4]));
	enc[4] = (uint8_t)(hex_digit(id[5]) << 4 | hex_digit(id[6]));
	aml_item(a);
	aml_bytes(a, enc, sizeof(enc));
	return;
bad:
	pr_debug("AML: bad EISA id \"%s\"", id);
	aml_fail(a, -EINVAL);
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, path);
}

void aml_name_integer(struct aml *a, const char *path, uint64_t v)
{
	aml_name(a, path);
	aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *path, const char *s)
{
	aml_name(a, path);
	aml_string(a, s);
}

static void aml_open(struct aml *a, uint8_t kind)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		aml_fail(a, -EINVAL);
		return;
	}
	a->kind[a->depth] = kind;
	a->open[a->depth++] = a->len;
}

void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, AML_OBJ_PKGLEN);
	aml_namestring(a, path);
}

void aml_device_begin(struct aml *a, const char *path)
{
	const uint8_t op[2] = { AML_EXT_OP_PREFIX, AML_DEVICE_OP };

	aml_bytes(a, op, sizeof(op));
	aml_open(a, AML_OBJ_PKGLEN);
	aml_namestring(a, path);
}

void aml_package_begin(struct aml *a)
{
	aml_item(a);
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, AML_OBJ_PACKAGE);
	aml_byte(a, 0); /* NumElements, counted by aml_item() */
}

void aml_buffer_begin(struct aml *a)
{
	aml_item(a);
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, AML_OBJ_BUFFER);
}

/* Closes the innermost object: inserts its PkgLength (and a Buffer's BufferSize) before the
 * body, moving the body up. */
void aml_end(struct aml *a)
{
	uint8_t prefix[4 + 9];
	size_t start, body, n = 0, m;
	uint8_t kind;

	if (a->err)
		return;
	if (!a->depth) {
		aml_fail(a, -EINVAL);
		return;
	}
	kind = a->kind[--a->depth];
	start = a->open[a->depth];
	body = a->len - start;
	if (kind == AML_OBJ_BUFFER) {
		uint8_t size[9];

		m = aml_encode_integer(size, body);
		n = aml_pkglength(prefix, m + body);
		memcpy(prefix + n, size, m);
		n += m;
	} else {
		n = aml_pkglength(prefix, body);
	}
	if (!n) {
		aml_fail(a, -ENOSPC);
		return;
	}
	if (!aml_room(a, n))
		return;
	memmove(a->buf + start + n, a->buf + start, body);
	memcpy(a->buf + start, prefix, n);
	a->len += n;
}

void aml_resources_begin(struct aml *a) { aml_buffer_begin(a); }

void aml_resources_end(struct aml *a)
{
	/* End Tag; a checksum of 0 means "treat as valid" (6.4.2.9). */
	const uint8_t end[2] = { AML_RES_END_TAG, 0 };

	if (!a->err && (!a->depth || a->kind[a->depth - 1] != AML_OBJ_BUFFER)) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_bytes(a, end, sizeof(end));
	aml_end(a);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	uint8_t d[8] = { AML_RES_IO, AML_RES_IO_DECODE16 };

	put16(d, 2, min);
	put16(d, 4, max);
	put8(d, 6, align);
	put8(d, 7, len);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_irq(struct aml *a, unsigned int irq)
{
	uint8_t d[3] = { AML_RES_IRQ_NOFLAGS };

	if (irq >= X86_ISA_IRQS) {
		aml_fail(a, -EINVAL);
		return;
	}
	put16(d, 1, (uint16_t)(1u << irq));
	aml_bytes(a, d, sizeof(d));
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { AML_RES_MEM32_FIXED };

	put16(d, 1, sizeof(d) - 3);
	put8(d, 3, AML_RES_MEM_RW);
	put32(d, 4, base);
	put32(d, 8, len);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_qword_memory(struct aml *a, uint64_t base, uint64_t len)
{
	uint8_t d[46] = { AML_RES_QWORD_ADDR };
	uint64_t end;

	if (!len || add_overflow(base, len - 1, &end)) {
		aml_fail(a, -EINVAL);
		return;
	}
	put16(d, 1, sizeof(d) - 3);
	put8(d, 3, AML_RES_ADDR_MEMORY);
	/* General flags: fixed min and max, positive decode; bit 0 set: this device consumes it. */
	put8(d, 4, AML_RES_ADDR_MAX_FIXED | AML_RES_ADDR_MIN_FIXED | 1);
	put8(d, 5, AML_RES_MEM_RW); /* type-specific: read/write, non-cacheable */
	put64(d, 6, 0);             /* granularity */
	put64(d, 14, base);
	put64(d, 22, end);
	put64(d, 30, 0); /* translation offset */
	put64(d, 38, len);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_interrupt(struct aml *a, uint32_t gsi, unsigned int flags)
{
	uint8_t d[9] = { AML_RES_EXT_IRQ };
	uint8_t f = AML_RES_EXT_IRQ_CONSUMER;

	if (!(flags & AML_IRQ_LEVEL))
		f |= AML_RES_EXT_IRQ_EDGE;
	if (flags & AML_IRQ_ACTIVE_LOW)
		f |= AML_RES_EXT_IRQ_ACTIVE_LOW;
	put16(d, 1, sizeof(d) - 3);
	put8(d, 3, f);
	put8(d, 4, 1); /* one interrupt, no resource source */
	put32(d, 5, gsi);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_memory(struct aml *a, uint64_t base, uint64_t len)
{
	if (len && base < FOUR_GIB && len <= FOUR_GIB - base)
		aml_res_mem32_fixed(a, (uint32_t)base, (uint32_t)len);
	else
		aml_res_qword_memory(a, base, len);
}

/* ---- tables -------------------------------------------------------------------------------- */

static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	putstr(t, ACPI_HDR_SIGNATURE, sig, 4);
	put32(t, ACPI_HDR_LENGTH, len);
	put8(t, ACPI_HDR_REVISION, rev);
	put8(t, ACPI_HDR_CHECKSUM, 0);
	putstr(t, ACPI_HDR_OEM_ID, ACPI_OEM_ID, 6);
	putstr(t, ACPI_HDR_OEM_TABLE_ID, ACPI_OEM_TABLE_ID, 8);
	put32(t, 24, ACPI_OEM_REVISION);
	putstr(t, 28, ACPI_CREATOR_ID, 4);
	put32(t, 32, ACPI_CREATOR_REVISION);
}

static void table_checksum(uint8_t *t, uint32_t len)
{
	put8(t, ACPI_HDR_CHECKSUM, (uint8_t)-acpi_checksum(t, len));
}

/* Generic Address Structure for a 1-byte I/O port (5.2.3.2). */
static void gas_io8(uint8_t *t, size_t off, uint16_t port)
{
	put8(t, off, ACPI_GAS_SPACE_SYSTEM_IO);
	put8(t, off + 1, 8); /* register bit width */
	put8(t, off + 2, 0); /* bit offset */
	put8(t, off + 3, ACPI_GAS_ACCESS_BYTE);
	put64(t, off + 4, port);
}

/* Device(name) { _HID EisaId(hid), _UID uid, _CRS { IO ports..., IRQNoFlags(irq) } } for an ISA
 * device: `ports` pairs of (first port, count). */
static void dsdt_isa_device(struct aml *a, const char *name, const char *hid, unsigned int uid,
			    const uint16_t (*ports)[2], unsigned int nr_ports, unsigned int irq)
{
	aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_eisaid(a, hid);
	aml_name_integer(a, "_UID", uid);
	aml_name(a, "_CRS");
	aml_resources_begin(a);
	for (unsigned int i = 0; i < nr_ports; i++)
		aml_res_io(a, ports[i][0], ports[i][0], 1, (uint8_t)ports[i][1]);
	aml_res_irq(a, irq);
	aml_resources_end(a);
	aml_end(a);
}

/* The DSDT's definition block (after its header). */
static void dsdt_body(struct aml *a, const struct x86_platform *p)
{
	const uint16_t uart_ports[][2] = { { p->uart_port, 8 } };
	const uint16_t kbd_ports[][2] = { { 0x60, 1 }, { 0x64, 1 } };
	const uint16_t rtc_ports[][2] = { { 0x70, 2 } };
	char name[16]; /* "C%03X", "V%03X": nr_vcpus and nr_mmio_devs were checked */

	/* \_S5: {SLP_TYPa, SLP_TYPb, reserved, reserved} (7.4.2.6). A HW-reduced OSPM writes
	 * SLP_TYPa to SLEEP_CONTROL_REG; Linux offers power-off only when \_S5 evaluates. */
	aml_name(a, "\\_S5_");
	aml_package_begin(a);
	aml_integer(a, X86_ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a);

	aml_scope_begin(a, "\\_SB_");
	/* Processor devices whose _UID matches the MADT's ACPI Processor UID (5.2.12.2, 8.4). */
	for (unsigned int i = 0; i < p->nr_vcpus; i++) {
		snprintf(name, sizeof(name), "C%03X", i & 0xfff);
		aml_device_begin(a, name);
		aml_name_string(a, "_HID", "ACPI0007");
		aml_name_integer(a, "_UID", i);
		aml_end(a);
	}
	/* The ISA devices. Under HW-reduced ACPI Linux maps no ISA IRQ by itself (legacy_pic is
	 * null, nr_legacy_irqs() is 0): these _CRS IRQs are how ttyS0 and the i8042 get theirs. */
	dsdt_isa_device(a, "COM1", "PNP0501", 1, uart_ports, 1, p->uart_irq);
	dsdt_isa_device(a, "PS2K", "PNP0303", 0, kbd_ports, 2, X86_ISA_IRQ_KBD);
	dsdt_isa_device(a, "RTC_", "PNP0B00", 0, rtc_ports, 1, X86_ISA_IRQ_RTC);
	/* virtio-mmio: Linux's virtio_mmio driver matches LNRO0005 and takes the first memory
	 * resource and the first IRQ. Edge-triggered, like Firecracker and cloud-hypervisor: kiln
	 * raises the GSI once per notification (later through an irqfd), and the driver reads and
	 * acknowledges InterruptStatus in its handler. */
	for (unsigned int i = 0; i < p->nr_mmio_devs; i++) {
		const struct x86_acpi_mmio_dev *d = &p->mmio_devs[i];

		snprintf(name, sizeof(name), "V%03X", i & 0xfff);
		aml_device_begin(a, name);
		aml_name_string(a, "_HID", "LNRO0005");
		aml_name_integer(a, "_UID", i);
		aml_name_integer(a, "_CCA", 1); /* cache-coherent DMA */
		aml_name(a, "_CRS");
		aml_resources_begin(a);
		aml_res_memory(a, d->addr, d->size);
		aml_res_interrupt(a, d->irq, 0);
		aml_resources_end(a);
		aml_end(a);
	}
	aml_end(a);
}

static uint32_t madt_len(const struct x86_platform *p)
{
	return ACPI_MADT_ENTRIES_OFF + p->nr_vcpus * ACPI_MADT_LAPIC_LEN + ACPI_MADT_IOAPIC_LEN +
	       ACPI_MADT_ISO_LEN + ACPI_MADT_NMI_LEN;
}

static void build_madt(uint8_t *t, const struct x86_platform *p)
{
	uint32_t len = madt_len(p);
	size_t off = ACPI_MADT_ENTRIES_OFF;

	table_header(t, "APIC", len, ACPI_MADT_REV);
	put32(t, 36, (uint32_t)p->lapic_addr);
	/* PCAT_COMPAT: kiln has the 8259 pair (masked, never interrupting), so an OS that uses
	 * the IOAPIC must mask it. Linux ignores the flag: it probes the PIC, and in HW-reduced
	 * mode replaces it with a null PIC anyway. */
	put32(t, 40, ACPI_MADT_PCAT_COMPAT);
	for (unsigned int i = 0; i < p->nr_vcpus; i++, off += ACPI_MADT_LAPIC_LEN) {
		put8(t, off, ACPI_MADT_LOCAL_APIC);
		put8(t, off + 1, ACPI_MADT_LAPIC_LEN);
		put8(t, off + 2, (uint8_t)i); /* ACPI Processor UID = _UID of \_SB.Cxxx */
		put8(t, off + 3, (uint8_t)i); /* APIC id */
		put32(t, off + 4, ACPI_MADT_LAPIC_ENABLED);
	}
	put8(t, off, ACPI_MADT_IO_APIC);
	put8(t, off + 1, ACPI_MADT_IOAPIC_LEN);
	put8(t, off + 2, (uint8_t)p->nr_vcpus); /* IOAPIC id: after the processors' */
	put8(t, off + 3, 0);
	put32(t, off + 4, (uint32_t)p->ioapic_addr);
	put32(t, off + 8, 0); /* GSI base */
	off += ACPI_MADT_IOAPIC_LEN;
	/* ISA IRQ 0 (PIT) is wired to pin 2, as on every PC since the IOAPIC (MP 1.4, 5.1). */
	put8(t, off, ACPI_MADT_INT_SRC_OVERRIDE);
	put8(t, off + 1, ACPI_MADT_ISO_LEN);
	put8(t, off + 2, 0); /* bus: ISA */
	put8(t, off + 3, X86_ISA_IRQ_TIMER);
	put32(t, off + 4, X86_TIMER_GSI);
	put16(t, off + 8, ACPI_MPS_INTI_POLARITY_HIGH | ACPI_MPS_INTI_TRIGGER_EDGE);
	off += ACPI_MADT_ISO_LEN;
	/* NMI on LINT1 of every processor. */
	put8(t, off, ACPI_MADT_LOCAL_APIC_NMI);
	put8(t, off + 1, ACPI_MADT_NMI_LEN);
	put8(t, off + 2, ACPI_MADT_ALL_PROCESSORS);
	put16(t, off + 3, ACPI_MPS_INTI_POLARITY_HIGH | ACPI_MPS_INTI_TRIGGER_EDGE);
	put8(t, off + 5, 1); /* LINT1 */
	table_checksum(t, len);
}

static void build_fadt(uint8_t *t, const struct x86_platform *p, uint64_t dsdt)
{
	table_header(t, "FACP", ACPI_FADT_LEN, ACPI_FADT_REV);
	/* FIRMWARE_CTRL 0: a HW-reduced platform has no FACS (5.2.10). The 32-bit DSDT field
	 * repeats X_DSDT where it fits, for OSes older than ACPI 2.0 (equal values are allowed). */
	if (dsdt < FOUR_GIB)
		put32(t, ACPI_FADT_DSDT, (uint32_t)dsdt);
	put8(t, ACPI_FADT_PM_PROFILE, ACPI_PM_PROFILE_ENTERPRISE_SERVER);
	/* SCI_INT, SMI_CMD, the PM1/PM2/PM timer/GPE blocks and their lengths stay 0: under
	 * HW_REDUCED_ACPI they are ignored (4.1, 5.2.9), so kiln emulates none of them. */
	/* IAPC_BOOT_ARCH (5.2.9.3): ISA devices described in the DSDT (COM1, RTC), an i8042 at
	 * 0x60/0x64 (Linux otherwise marks the i8042 "firmware absent"), no VGA to probe. CMOS
	 * RTC Not Present stays clear: the DSDT describes the RTC at 0x70. */
	put16(t, ACPI_FADT_IAPC_BOOT_ARCH,
	      ACPI_IAPC_LEGACY_DEVICES | ACPI_IAPC_8042 | ACPI_IAPC_VGA_NOT_PRESENT);
	put32(t, ACPI_FADT_FLAGS,
	      ACPI_FADT_F_WBINVD | ACPI_FADT_F_PWR_BUTTON | ACPI_FADT_F_SLP_BUTTON |
		      ACPI_FADT_F_RESET_REG_SUP | ACPI_FADT_F_HW_REDUCED_ACPI);
	gas_io8(t, ACPI_FADT_RESET_REG, p->reset_port);
	put8(t, ACPI_FADT_RESET_VALUE, X86_ACPI_RESET_VALUE);
	put8(t, ACPI_FADT_MINOR_REVISION, ACPI_FADT_MINOR);
	put64(t, ACPI_FADT_X_DSDT, dsdt);
	gas_io8(t, ACPI_FADT_SLEEP_CONTROL_REG, p->sleep_control_port);
	gas_io8(t, ACPI_FADT_SLEEP_STATUS_REG, p->sleep_status_port);
	putstr(t, ACPI_FADT_HYPERVISOR_ID, ACPI_HYPERVISOR_ID, 8);
	table_checksum(t, ACPI_FADT_LEN);
}

static void build_xsdt(uint8_t *t, const uint64_t *entries, unsigned int n)
{
	uint32_t len = ACPI_HEADER_LEN + 8 * n;

	table_header(t, "XSDT", len, ACPI_XSDT_REV);
	for (unsigned int i = 0; i < n; i++)
		put64(t, ACPI_HEADER_LEN + 8 * i, entries[i]);
	table_checksum(t, len);
}

static void build_rsdp(uint8_t *t, uint64_t xsdt)
{
	putstr(t, 0, ACPI_RSDP_SIG, 8);
	putstr(t, 9, ACPI_OEM_ID, 6);
	put8(t, ACPI_RSDP_REVISION, ACPI_RSDP_REV);
	put32(t, ACPI_RSDP_RSDT, 0); /* no RSDT: revision 2 OSes use the XSDT */
	put32(t, ACPI_RSDP_LENGTH, ACPI_RSDP_LEN);
	put64(t, ACPI_RSDP_XSDT, xsdt);
	put8(t, ACPI_RSDP_CHECKSUM, (uint8_t)-acpi_checksum(t, ACPI_RSDP_V1_LEN));
	put8(t, ACPI_RSDP_EXT_CHECKSUM, (uint8_t)-acpi_checksum(t, ACPI_RSDP_LEN));
}

int x86_acpi_build(const struct gmem *gm, uint64_t base, uint64_t size,
		   const struct x86_platform *p, uint64_t *rsdp_addr)
{
	size_t xsdt_off, fadt_off, madt_off, dsdt_off;
	uint64_t start, skip, avail, entries[2];
	uint8_t *host, *t;
	struct aml a;
	long dsdt_len;
	int err;

	err = x86_platform_check(p);
	if (err)
		return err;
	host = gmem_ptr(gm, base, size);
	if (!host || add_overflow(base, (uint64_t)ACPI_TABLE_ALIGN - 1, &start)) {
		pr_debug("ACPI: tables at 0x%llx+0x%llx: not guest RAM", (unsigned long long)base,
			 (unsigned long long)size);
		return -EFAULT;
	}
	/* RSDP first, 16-byte aligned (5.2.5.1), then the others, each 16-byte aligned. */
	start &= ~(uint64_t)(ACPI_TABLE_ALIGN - 1);
	skip = start - base;
	xsdt_off = align_up(ACPI_RSDP_LEN, ACPI_TABLE_ALIGN);
	fadt_off = align_up(xsdt_off + ACPI_HEADER_LEN + 8 * ARRAY_SIZE(entries), ACPI_TABLE_ALIGN);
	madt_off = align_up(fadt_off + ACPI_FADT_LEN, ACPI_TABLE_ALIGN);
	dsdt_off = align_up(madt_off + madt_len(p), ACPI_TABLE_ALIGN);
	if (skip > size || size - skip < dsdt_off + ACPI_HEADER_LEN) {
		pr_debug("ACPI: 0x%llx bytes at 0x%llx is too small", (unsigned long long)size,
			 (unsigned long long)base);
		return -ENOSPC;
	}
	avail = size - skip;
	t = host + skip;

	/* The DSDT first, as it is the part whose size is only known once written. */
	aml_init(&a, t + dsdt_off + ACPI_HEADER_LEN, avail - dsdt_off - ACPI_HEADER_LEN);
	dsdt_body(&a, p);
	dsdt_len = aml_finish(&a);
	if (dsdt_len < 0 || (uint64_t)dsdt_len > UINT32_MAX - ACPI_HEADER_LEN) {
		/* Leave nothing half-built behind. */
		memset(a.buf, 0, a.len);
		pr_debug("ACPI: DSDT does not fit in 0x%llx bytes at 0x%llx",
			 (unsigned long long)size, (unsigned long long)base);
		return dsdt_len < 0 ? (int)dsdt_len : -ENOSPC;
	}
	memset(t, 0, dsdt_off + ACPI_HEADER_LEN);
	table_header(t + dsdt_off, "DSDT", (uint32_t)(ACPI_HEADER_LEN + dsdt_len), ACPI_DSDT_REV);
	table_checksum(t + dsdt_off, (uint32_t)(ACPI_HEADER_LEN + dsdt_len));

	build_madt(t + madt_off, p);
	build_fadt(t + fadt_off, p, start + dsdt_off);
	entries[0] = start + fadt_off;
	entries[1] = start + madt_off;
	build_xsdt(t + xsdt_off, entries, ARRAY_SIZE(entries));
	build_rsdp(t, start + xsdt_off);
	*rsdp_addr = start;
	return 0;
}
