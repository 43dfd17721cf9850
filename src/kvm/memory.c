/* memory.c: guest RAM regions and checked guest-physical address translation. */
#include "kvm/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

#define PAGE_SIZE 4096ull
#define FOUR_GIB 0x100000000ull

struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned int nr;
	bool owned; /* regions were mmap'd by gmem_create() */
	int memfd;  /* MEM_BACKING_MEMFD: the memfd behind every region, else -1 */
};

int gmem_layout(uint64_t size, uint64_t hole_start, struct gmem_region *out)
{
	uint64_t low, top;

	if (size == 0 || size % PAGE_SIZE || hole_start == 0 || hole_start % PAGE_SIZE ||
	    hole_start > FOUR_GIB)
		return -EINVAL;
	low = size < hole_start ? size : hole_start;
	out[0] = (struct gmem_region){ .gpa = 0, .size = low };
	if (low == size)
		return 1;
	if (add_overflow(FOUR_GIB, size - low, &top))
		return -ERANGE;
	out[1] = (struct gmem_region){ .gpa = FOUR_GIB, .size = size - low };
	return 2;
}

#define GMEM_HUGE_ALIGN (2ull << 20)

/* Anonymous memory of `size` bytes whose start is 2 MiB-aligned when size is at least that:
 * KVM maps guest RAM in 2 MiB blocks (EPT/NPT, stage 2) only where a transparent huge page's
 * host address and the guest-physical address agree modulo 2 MiB, and the kernel (before 6.7)
 * does not align anonymous mappings itself. Over-maps by 2 MiB and trims both ends. */
static void *map_anon_aligned(size_t size)
{
	size_t pad = size >= GMEM_HUGE_ALIGN ? GMEM_HUGE_ALIGN : 0;
	uint8_t *p = mmap(NULL, size + pad, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	uintptr_t start, end;

	if (p == MAP_FAILED || !pad)
		return p;
	start = ((uintptr_t)p + pad - 1) & ~(uintptr_t)(pad - 1);
	end = (uintptr_t)p + size + pad;
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if (end > start + size)
		munmap((void *)(start + size), end - (start + size));
	return (void *)start;
}

/* Lays RAM out and maps each region, region after region from offset 0 of `fd`: anonymous
 * memory (fd < 0); `fd` privately, so the file is never written (a snapshot's memory file); or,
 * with `shared`, `fd` shared (the memfd of MEM_BACKING_MEMFD, which gm then owns). */
static int gmem_map(struct gmem **out, uint64_t size, uint64_t hole_start, int fd, bool shared)
{
	struct gmem *gm = calloc(1, sizeof(*gm));
	uint64_t off = 0;
	int nr, err;

	if (!gm)
		return -ENOMEM;
	gm->memfd = -1; /* set on success only: on failure the caller still owns `fd` */
	nr = gmem_layout(size, hole_start, gm->regions);
	if (nr < 0) {
		free(gm);
		return nr;
	}
	gm->owned = true;
	for (gm->nr = 0; gm->nr < (unsigned int)nr; gm->nr++) {
		struct gmem_region *r = &gm->regions[gm->nr];

		/* No MAP_NORESERVE: the kernel's overcommit check is what refuses a size the host
		 * cannot back, up front, rather than an OOM kill later (gmem_create() makes that
		 * check for a memfd, whose shared mapping the kernel does not account). */
		r->hva = fd < 0 ? map_anon_aligned(r->size)
			       : mmap(NULL, r->size, PROT_READ | PROT_WRITE,
				      shared ? MAP_SHARED : MAP_PRIVATE, fd, (off_t)off);
		if (r->hva == MAP_FAILED) {
			err = -errno;
			r->hva = NULL;
			gmem_destroy(gm);
			return err;
		}
		off += r->size;
		/* No MADV_HUGEPAGE by default: a transparent huge page makes the guest's first
		 * touch of each 2 MiB cost 2 MiB of host memory, which triples a small guest's
		 * footprint. MEM_BACKING_ANON_THP (enable_thp) asks for them. */
	}
	if (shared)
		gm->memfd = fd;
	*out = gm;
	return 0;
}

/* Whether the host would commit `size` bytes of private memory: a memfd's pages are charged only
 * as they are touched, so without this a size the host can never back would be accepted and
 * end, later, in an OOM kill. The probe is mapped and unmapped untouched. */
static int commit_check(uint64_t size)
{
	void *p;

	if (size > SIZE_MAX)
		return -ENOMEM;
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	munmap(p, (size_t)size);
	return 0;
}

int gmem_create(struct gmem **out, uint64_t size, uint64_t hole_start, enum mem_backing backing)
{
	struct gmem_region layout[GMEM_MAX_REGIONS];
	int fd, e;

	if (backing == MEM_BACKING_ANON)
		return gmem_map(out, size, hole_start, -1, false);
	if (backing == MEM_BACKING_ANON_THP) {
		if ((e = gmem_map(out, size, hole_start, -1, false)))
			return e;
		/* Transparent huge pages wherever the guest touches: fewer, larger stage-2 and
		 * EPT/NPT mappings, at the price of 2 MiB of host memory per touched 2 MiB. EINVAL:
		 * a kernel without THP. */
		for (unsigned int i = 0; i < (*out)->nr; i++)
			if (madvise((*out)->regions[i].hva, (*out)->regions[i].size, MADV_HUGEPAGE) < 0) {
				e = -errno;
				gmem_destroy(*out);
				*out = NULL;
				return e;
			}
		return 0;
	}
	if (backing != MEM_BACKING_MEMFD)
		return -EINVAL;
	/* The layout's checks first, so a bad size is -EINVAL before anything is created. */
	if ((e = gmem_layout(size, hole_start, layout)) < 0 ||
	    (e = commit_check(size)))
		return e;
	fd = memfd_create("kiln-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	e = gmem_map(out, size, hole_start, fd, true);
	if (e)
		close(fd);
	return e;
}

int gmem_create_from_file(struct gmem **out, uint64_t size, uint64_t hole_start, int fd)
{
	if (fd < 0)
		return -EBADF;
	return gmem_map(out, size, hole_start, fd, false);
}

int gmem_create_uffd(struct gmem **out, uint64_t size, uint64_t hole_start, int *uffd_out)
{
	/* As Firecracker: UFFD_FEATURE_EVENT_REMOVE, so that a handler written for it (which asks
	 * for remove events) works; kiln never discards guest pages itself. */
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct gmem *gm;
	int uffd, e;

	*uffd_out = -1;
	if ((e = gmem_map(&gm, size, hole_start, -1, false)))
		return e;
	/* Without UFFD_USER_MODE_ONLY: KVM touches guest pages from the kernel, and those faults
	 * must reach the handler too (which needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd). */
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
		e = -errno;
		if (uffd >= 0)
			close(uffd);
		gmem_destroy(gm);
		return e;
	}
	for (unsigned int i = 0; i < gm->nr; i++) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)gm->regions[i].hva, .len = gm->regions[i].size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			e = -errno;
			gmem_destroy(gm);
			close(uffd);
			return e;
		}
	}
	*out = gm;
	*uffd_out = uffd;
	return 0;
}

int gmem_create_from(struct gmem **out, const struct gmem_region *regions, unsigned int nr)
{
	struct gmem *gm;
	uint64_t end;

	if (nr == 0 || nr > GMEM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < nr; i++) {
		if (!regions[i].hva || !regions[i].size ||
		    add_overflow(regions[i].gpa, regions[i].size, &end))
			return -EINVAL;
		if (i + 1 < nr && end > regions[i + 1].gpa)
			return -EINVAL;
	}
	gm = calloc(1, sizeof(*gm));
	if (!gm)
		return -ENOMEM;
	gm->memfd = -1;
	memcpy(gm->regions, regions, nr * sizeof(*regions));
	gm->nr = nr;
	*out = gm;
	return 0;
}

void gmem_destroy(struct gmem *gm)
{
	if (!gm)
		return;
	if (gm->owned) {
		for (unsigned int i = 0; i < gm->nr; i++)
			if (gm->regions[i].hva)
				munmap(gm->regions[i].hva, gm->regions[i].size);
	}
	if (gm->memfd >= 0)
		close(gm->memfd);
	free(gm);
}

int gmem_memfd(const struct gmem *gm) { return gm->memfd; }

unsigned int gmem_nr_regions(const struct gmem *gm) { return gm->nr; }

const struct gmem_region *gmem_region(const struct gmem *gm, unsigned int i)
{
	return i < gm->nr ? &gm->regions[i] : NULL;
}

uint64_t gmem_size(const struct gmem *gm)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < gm->nr; i++)
		total += gm->regions[i].size;
	return total;
}

uint64_t gmem_low_end(const struct gmem *gm)
{
	uint64_t end = 0;

	for (unsigned int i = 0; i < gm->nr; i++)
		if (gm->regions[i].gpa < FOUR_GIB)
			end = gm->regions[i].gpa + gm->regions[i].size;
	return end;
}

void *__gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len, const char *file, int line)
{
	uint64_t end;

	if (add_overflow(gpa, len, &end)) {
		pr_debug("%s:%d: guest range 0x%llx+0x%llx wraps around", file, line,
			 (unsigned long long)gpa, (unsigned long long)len);
		return NULL;
	}
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return (uint8_t *)r->hva + (gpa - r->gpa);
	}
	pr_debug("%s:%d: guest range 0x%llx+0x%llx is not RAM", file, line,
		 (unsigned long long)gpa, (unsigned long long)len);
	return NULL;
}

bool gmem_is_ram(const struct gmem *gm, uint64_t gpa)
{
	for (unsigned int i = 0; i < gm->nr; i++)
		if (gpa >= gm->regions[i].gpa && gpa - gm->regions[i].gpa < gm->regions[i].size)
			return true;
	return false;
}

int gmem_write(const struct gmem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gmem_read(const struct gmem *gm, void *dst, uint64_t gpa, uint64_t len)
{
	const void *p = gmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}
