/* checked.h: overflow-checked arithmetic and small helpers shared by every module. */
#ifndef KILN_UTIL_CHECKED_H
#define KILN_UTIL_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __must_check __attribute__((warn_unused_result))

/* True when a + b overflows its type; the (possibly wrapped) sum is stored in *res. */
#define add_overflow(a, b, res) __builtin_add_overflow((a), (b), (res))
#define mul_overflow(a, b, res) __builtin_mul_overflow((a), (b), (res))

/* [a, a+alen) and [b, b+blen) overlap. Computed from differences, never from ends, so a range
 * that ends exactly at 2^64 is handled too. */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && (a >= b ? a - b < blen : b - a < alen);
}

static inline uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

#endif
