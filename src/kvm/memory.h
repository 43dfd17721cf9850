/* memory.h: guest physical memory: regions of host memory and the one checked gpa -> hva choke point. */
#ifndef KILN_KVM_MEMORY_H
#define KILN_KVM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util/checked.h"

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t size; /* bytes, page multiple */
	void *hva;     /* host mapping of the whole region */
};

struct gmem;

/* Layout of RAM around an MMIO hole: RAM fills [0, min(size, hole_start)), the rest starts at
 * 4 GiB. Fills `out` (at most GMEM_MAX_REGIONS) with gpa/size only; returns the region count,
 * or -EINVAL when size is 0 or not page aligned, -ERANGE when the top would overflow. */
int __must_check gmem_layout(uint64_t size, uint64_t hole_start, struct gmem_region *out);

/* Allocates and maps guest RAM of `size` bytes laid out by gmem_layout(): anonymous memory
 * (MEM_BACKING_ANON_THP: with madvise(MADV_HUGEPAGE)), or (MEM_BACKING_MEMFD) one memfd of `size`
 * bytes mapped shared, region after region from offset 0 in guest-physical order, as a
 * snapshot's memory file lays it out (gmem_memfd()). Returns 0, -EINVAL for a bad size or
 * backing (or, with MEM_BACKING_ANON_THP, a host kernel without transparent huge pages), or the
 * mmap/memfd errno (-ENOMEM: the host cannot commit that much). */
int __must_check gmem_create(struct gmem **out, uint64_t size, uint64_t hole_start,
			     enum mem_backing backing);

/* Guest RAM laid out as gmem_create() does, restored from a snapshot's memory file `fd` (region
 * after region in guest-physical order; the caller has checked it holds exactly `size` bytes):
 * each region is mapped MAP_PRIVATE at its offset, so pages are read in on first touch and the
 * guest's writes never reach the file (docs/snapshot.md). The fd may be closed afterwards.
 * Returns 0, -EINVAL for a bad size, or the mmap errno. */
int __must_check gmem_create_from_file(struct gmem **out, uint64_t size, uint64_t hole_start,
				       int fd);

/* Guest RAM laid out as gmem_create() does, anonymous and registered with a new userfaultfd
 * (UFFDIO_REGISTER_MODE_MISSING, region by region), for a snapshot whose pages another process
 * serves (the Uffd backend, docs/snapshot.md): every first touch of a page, by the guest or by
 * kiln, waits until that process fills it. *uffd gets the userfaultfd (close-on-exec,
 * non-blocking), which the caller sends to that process and closes after gmem_destroy().
 * Returns 0, -EINVAL for a bad size, -EPERM when this process may not handle kernel faults
 * (vm.unprivileged_userfaultfd), or another syscall's errno. */
int __must_check gmem_create_uffd(struct gmem **out, uint64_t size, uint64_t hole_start,
				  int *uffd);

/* Wraps caller-owned host memory (unit tests, fuzzers): `regions` must be sorted by gpa and not
 * overlap; gmem_destroy() will not unmap them. Returns 0 or -EINVAL. */
int __must_check gmem_create_from(struct gmem **out, const struct gmem_region *regions,
				  unsigned int nr);

/* The memfd behind guest RAM (gmem_create() with MEM_BACKING_MEMFD; region i at the sum of the
 * sizes before it), or -1 for any other memory. Owned by gm: closed by gmem_destroy(). */
int gmem_memfd(const struct gmem *gm);

/* Unmaps what gmem_create() mapped, closes its memfd and frees `gm`. Safe on NULL. */
void gmem_destroy(struct gmem *gm);

unsigned int gmem_nr_regions(const struct gmem *gm);
const struct gmem_region *gmem_region(const struct gmem *gm, unsigned int i);
/* Total RAM bytes. */
uint64_t gmem_size(const struct gmem *gm);
/* One past the highest guest-physical RAM address below 4 GiB. */
uint64_t gmem_low_end(const struct gmem *gm);

/* The choke point: host pointer for guest-physical [gpa, gpa+len) when the whole range lies in
 * one RAM region (len 0 is allowed anywhere in or at the end of a region), else NULL. Checks
 * start and end with overflow builtins. Failures are logged at debug level with the caller's
 * file:line. Use the gmem_ptr() macro. */
void *__gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len, const char *file, int line);
#define gmem_ptr(gm, gpa, len) __gmem_ptr((gm), (gpa), (len), __FILE__, __LINE__)

/* True when gpa is guest RAM. */
bool gmem_is_ram(const struct gmem *gm, uint64_t gpa);

/* Copy into / out of guest memory through the choke point: 0 or -EFAULT. */
int __must_check gmem_write(const struct gmem *gm, uint64_t gpa, const void *src, uint64_t len);
int __must_check gmem_read(const struct gmem *gm, void *dst, uint64_t gpa, uint64_t len);

#endif
