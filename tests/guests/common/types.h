/* Fixed-width types for freestanding guests (no libc headers available). */
#ifndef GUEST_TYPES_H
#define GUEST_TYPES_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long uptr; /* pointer-sized: 32 bits in -m32 guests, 64 in -m64 */

#define NULL ((void *)0)
#define NORETURN __attribute__((noreturn))
#define PACKED __attribute__((packed))

#endif
