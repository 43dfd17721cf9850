/* aml.c: the AML encoder (ACPI 6.5, chapter 20), resource templates and the ACPI checksum. */
#include "acpi/aml.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/log.h"

#define FOUR_GIB 0x100000000ull
/* IRQNoFlags holds a 16-bit mask of ISA IRQs (6.4.2.1). */
#define AML_ISA_IRQS 16

/* ---- checksum -------------------------------------------------------------------------------- */

uint8_t aml_checksum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return sum;
}

/* ---- AML encoder ----------------------------------------------------------------------------- */

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

	aml_put16(d, 2, min);
	aml_put16(d, 4, max);
	aml_put8(d, 6, align);
	aml_put8(d, 7, len);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_irq(struct aml *a, unsigned int irq)
{
	uint8_t d[3] = { AML_RES_IRQ_NOFLAGS };

	if (irq >= AML_ISA_IRQS) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_put16(d, 1, (uint16_t)(1u << irq));
	aml_bytes(a, d, sizeof(d));
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { AML_RES_MEM32_FIXED };

	aml_put16(d, 1, sizeof(d) - 3);
	aml_put8(d, 3, AML_RES_MEM_RW);
	aml_put32(d, 4, base);
	aml_put32(d, 8, len);
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
	aml_put16(d, 1, sizeof(d) - 3);
	aml_put8(d, 3, AML_RES_ADDR_MEMORY);
	/* General flags: fixed min and max, positive decode; bit 0 set: this device consumes it. */
	aml_put8(d, 4, AML_RES_ADDR_MAX_FIXED | AML_RES_ADDR_MIN_FIXED | 1);
	aml_put8(d, 5, AML_RES_MEM_RW); /* type-specific: read/write, non-cacheable */
	aml_put64(d, 6, 0);             /* granularity */
	aml_put64(d, 14, base);
	aml_put64(d, 22, end);
	aml_put64(d, 30, 0); /* translation offset */
	aml_put64(d, 38, len);
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
	aml_put16(d, 1, sizeof(d) - 3);
	aml_put8(d, 3, f);
	aml_put8(d, 4, 1); /* one interrupt, no resource source */
	aml_put32(d, 5, gsi);
	aml_bytes(a, d, sizeof(d));
}

void aml_res_memory(struct aml *a, uint64_t base, uint64_t len)
{
	if (len && base < FOUR_GIB && len <= FOUR_GIB - base)
		aml_res_mem32_fixed(a, (uint32_t)base, (uint32_t)len);
	else
		aml_res_qword_memory(a, base, len);
}

