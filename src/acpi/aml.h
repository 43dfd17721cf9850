/* aml.h: an architecture-neutral AML encoder (ACPI 6.5, chapter 20) and ACPI byte helpers. */
#ifndef KILN_ACPI_AML_H
#define KILN_ACPI_AML_H

#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

/* ---- ACPI byte helpers ----------------------------------------------------------------------- */

/* Little-endian stores of 1, 2, 4 and 8 bytes at p[off] (ACPI is little-endian on every
 * architecture). The caller owns the bounds. */
static inline void aml_put8(uint8_t *p, size_t off, uint8_t v) { p[off] = v; }

static inline void aml_put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static inline void aml_put32(uint8_t *p, size_t off, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static inline void aml_put64(uint8_t *p, size_t off, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* Sum of `len` bytes mod 256: 0 for a valid ACPI table or RSDP (5.2.5.3, 5.2.6), and the same
 * rule as the MP table's. A table stores the negated sum of its bytes with the checksum field
 * still 0. Never fails. */
uint8_t aml_checksum(const void *data, size_t len);

/* ---- AML encoder ----------------------------------------------------------------------------- */

/* Builds AML into a caller's buffer. Objects with a PkgLength (Scope, Device, Package, Buffer)
 * are opened with *_begin and closed with aml_end(); the length is inserted when they close.
 * Errors are sticky: the first one (-ENOSPC: buffer full, -EINVAL: bad name, value or nesting)
 * is kept in `err` and every later call does nothing, so a caller emits everything and checks
 * once with aml_finish(). After an error the buffer holds a partial, unusable encoding of up to
 * `len` bytes; nothing is written past `cap`. */
#define AML_MAX_DEPTH 8

struct aml {
	uint8_t *buf;
	size_t cap, len;
	size_t open[AML_MAX_DEPTH]; /* where each open object's body starts */
	uint8_t kind[AML_MAX_DEPTH];
	unsigned int depth;
	int err;
};

/* Starts an empty encoding into buf[0..cap); call first. Never fails. */
void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* Ends the encoding: returns the byte count, or the sticky error; -EINVAL when an object is
 * still open. Call last, once. */
long __must_check aml_finish(struct aml *a);

/* Raw bytes (opcodes, resource descriptors), copied as they are. -ENOSPC when they do not fit. */
void aml_bytes(struct aml *a, const void *p, size_t n);
/* A NameString: "\\_SB_.COM1", "_HID", "^PCI0"; segments of 1-4 characters are padded with '_'.
 * -EINVAL (logged at debug level) for an empty or over-long segment, a character outside
 * A-Z, 0-9 and '_', a leading digit, or more than 16 segments or parent prefixes. */
void aml_namestring(struct aml *a, const char *path);
/* Data objects: the shortest integer encoding, a NUL-terminated string (-EINVAL for a byte
 * above 0x7f), an EISA id ("PNP0501" compressed to a DWord, as ASL's EisaId(); -EINVAL unless
 * three capitals and four upper-case hex digits). Each counts as one element of an open
 * Package. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id);
/* Name(path, <next data object>): follow with exactly one data object. */
void aml_name(struct aml *a, const char *path);
/* Name(path, integer) and Name(path, "string"): the common cases in one call. */
void aml_name_integer(struct aml *a, const char *path, uint64_t v);
void aml_name_string(struct aml *a, const char *path, const char *s);

/* Scope(path) { ... } and Device(path) { ... }: the body follows, closed by aml_end(). At most
 * AML_MAX_DEPTH objects are open at once (-EINVAL beyond). */
void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *path);
/* Package: data objects follow (aml_integer, aml_string, aml_eisaid, nested packages and
 * buffers, at most 255, else -EINVAL); aml_end() fills in NumElements from them. */
void aml_package_begin(struct aml *a);
/* Buffer: raw bytes follow; its size is filled in by aml_end(). */
void aml_buffer_begin(struct aml *a);
/* Closes the innermost open object. -EINVAL when none is open; -ENOSPC when its PkgLength does
 * not fit in the buffer (or the object reaches 2^28 bytes). */
void aml_end(struct aml *a);

/* Resource templates (6.4): a Buffer of descriptors closed by an End Tag. aml_resources_end()
 * closes the Buffer too (-EINVAL when the innermost open object is not a Buffer). */
void aml_resources_begin(struct aml *a);
void aml_resources_end(struct aml *a);
/* IO(Decode16, min, max, align, len) (6.4.2.5). */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags(){irq}: an ISA IRQ, edge-triggered, active-high (6.4.2.1). -EINVAL for irq >= 16. */
void aml_res_irq(struct aml *a, unsigned int irq);
/* Memory32Fixed(ReadWrite, base, len) (6.4.3.4). */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
/* QWordMemory(ResourceConsumer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0,
 * base, base+len-1, 0, len) (6.4.3.5.1). -EINVAL for len 0 or a range past 2^64. */
void aml_res_qword_memory(struct aml *a, uint64_t base, uint64_t len);
/* Interrupt(ResourceConsumer, Edge|Level, ActiveHigh|ActiveLow, Exclusive){gsi} (6.4.3.6):
 * edge-triggered and active-high unless `flags` says otherwise. */
#define AML_IRQ_LEVEL (1u << 0)
#define AML_IRQ_ACTIVE_LOW (1u << 1)
void aml_res_interrupt(struct aml *a, uint32_t gsi, unsigned int flags);
/* Memory32Fixed when [base, base+len) lies below 4 GiB, else QWordMemory. */
void aml_res_memory(struct aml *a, uint64_t base, uint64_t len);

#endif
