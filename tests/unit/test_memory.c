/* test_memory.c: guest RAM layout and the gpa -> hva choke point (src/kvm/memory.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/memory.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define HOLE (3 * GIB)

/* ---- gmem_layout ------------------------------------------------------------------------- */

Test(gmem_layout, rejects_zero_size)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(0, HOLE, r), -EINVAL);
}

Test(gmem_layout, rejects_unaligned_size)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(4097, HOLE, r), -EINVAL);
	cr_assert_eq(gmem_layout(128 * MIB + 1, HOLE, r), -EINVAL);
	cr_assert_eq(gmem_layout(4095, HOLE, r), -EINVAL);
}

Test(gmem_layout, rejects_bad_hole)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(128 * MIB, 0, r), -EINVAL);
	cr_assert_eq(gmem_layout(128 * MIB, HOLE + 1, r), -EINVAL);
	cr_assert_eq(gmem_layout(128 * MIB, 4 * GIB + 4096, r), -EINVAL);
}

Test(gmem_layout, below_hole_is_one_region)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(128 * MIB, HOLE, r), 1);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, 128 * MIB);
}

Test(gmem_layout, exactly_up_to_hole_is_one_region)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(HOLE, HOLE, r), 1);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, HOLE);
}

Test(gmem_layout, above_hole_splits_at_4g)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(5 * GIB, HOLE, r), 2);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, 3 * GIB);
	cr_assert_eq(r[1].gpa, 4 * GIB);
	cr_assert_eq(r[1].size, 2 * GIB, "[4 GiB, 6 GiB) expected, size 0x%llx",
		     (unsigned long long)r[1].size);
}

Test(gmem_layout, one_page_above_hole)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(HOLE + 4096, HOLE, r), 2);
	cr_assert_eq(r[1].gpa, 4 * GIB);
	cr_assert_eq(r[1].size, 4096);
}

Test(gmem_layout, top_overflowing_64_bits_is_erange)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	cr_assert_eq(gmem_layout(UINT64_MAX & ~0xfffull, HOLE, r), -ERANGE);
}

/* ---- gmem_create_from and the choke point ------------------------------------------------- */

/* Two regions with a gap: [0, 64K) and [128K, 192K). */
#define R0_GPA 0x0ull
#define R0_SIZE 0x10000ull
#define R1_GPA 0x20000ull
#define R1_SIZE 0x10000ull

static uint8_t *ram0, *ram1;
static struct gmem *gm;

static void two_regions_setup(void)
{
	struct gmem_region regions[2];

	ram0 = malloc(R0_SIZE);
	ram1 = malloc(R1_SIZE);
	cr_assert(ram0 && ram1);
	memset(ram0, 0x11, R0_SIZE);
	memset(ram1, 0x22, R1_SIZE);
	regions[0] = (struct gmem_region){ .gpa = R0_GPA, .size = R0_SIZE, .hva = ram0 };
	regions[1] = (struct gmem_region){ .gpa = R1_GPA, .size = R1_SIZE, .hva = ram1 };
	cr_assert_eq(gmem_create_from(&gm, regions, 2), 0);
}

static void two_regions_teardown(void)
{
	gmem_destroy(gm);
	free(ram0);
	free(ram1);
}

TestSuite(gmem, .init = two_regions_setup, .fini = two_regions_teardown);

Test(gmem, accessors_describe_the_regions)
{
	cr_assert_eq(gmem_nr_regions(gm), 2);
	cr_assert_eq(gmem_region(gm, 0)->gpa, R0_GPA);
	cr_assert_eq(gmem_region(gm, 1)->gpa, R1_GPA);
	cr_assert_eq(gmem_region(gm, 1)->hva, (void *)ram1);
	cr_assert_null(gmem_region(gm, 2));
	cr_assert_eq(gmem_size(gm), R0_SIZE + R1_SIZE);
	cr_assert_eq(gmem_low_end(gm), R1_GPA + R1_SIZE);
}

Test(gmem, start_of_each_region)
{
	cr_assert_eq(gmem_ptr(gm, R0_GPA, 1), (void *)ram0);
	cr_assert_eq(gmem_ptr(gm, R1_GPA, 1), (void *)ram1);
	cr_assert_eq(gmem_ptr(gm, R1_GPA, R1_SIZE), (void *)ram1, "a whole region is one range");
}

Test(gmem, last_byte_of_region)
{
	cr_assert_eq(gmem_ptr(gm, R0_GPA + R0_SIZE - 1, 1), (void *)(ram0 + R0_SIZE - 1));
	cr_assert_eq(gmem_ptr(gm, R1_GPA + R1_SIZE - 1, 1), (void *)(ram1 + R1_SIZE - 1));
	cr_assert_eq(gmem_ptr(gm, R1_GPA + R1_SIZE - 8, 8), (void *)(ram1 + R1_SIZE - 8));
}

Test(gmem, exactly_end_len0_allowed_len1_refused)
{
	cr_assert_eq(gmem_ptr(gm, R0_GPA + R0_SIZE, 0), (void *)(ram0 + R0_SIZE),
		     "len 0 at the end of a region is allowed");
	cr_assert_null(gmem_ptr(gm, R0_GPA + R0_SIZE, 1));
	cr_assert_eq(gmem_ptr(gm, R1_GPA + R1_SIZE, 0), (void *)(ram1 + R1_SIZE));
	cr_assert_null(gmem_ptr(gm, R1_GPA + R1_SIZE, 1));
}

Test(gmem, len0_inside_gap_refused)
{
	cr_assert_null(gmem_ptr(gm, R0_SIZE + 0x8000, 0));
}

Test(gmem, one_byte_past_end_refused)
{
	cr_assert_null(gmem_ptr(gm, R0_GPA + R0_SIZE - 1, 2), "range running one byte past the end");
	cr_assert_null(gmem_ptr(gm, R1_GPA + R1_SIZE - 4, 8));
}

Test(gmem, range_straddling_gap_refused)
{
	/* From the last byte of region 0 to the first byte of region 1, across the hole. */
	cr_assert_null(gmem_ptr(gm, R0_GPA + R0_SIZE - 1, R1_GPA - R0_SIZE + 2));
	cr_assert_null(gmem_ptr(gm, R0_GPA, R1_GPA + R1_SIZE), "all of RAM is not one region");
	cr_assert_null(gmem_ptr(gm, R1_GPA - 1, 2), "starting in the gap");
}

Test(gmem, inside_gap_refused)
{
	cr_assert_null(gmem_ptr(gm, R0_SIZE, 1));
	cr_assert_null(gmem_ptr(gm, R1_GPA - 1, 1));
}

Test(gmem, wrapping_range_refused)
{
	cr_assert_null(gmem_ptr(gm, UINT64_MAX, 2));
	cr_assert_null(gmem_ptr(gm, 0x10, UINT64_MAX), "gpa + len wraps past 2^64");
	cr_assert_null(gmem_ptr(gm, 1, UINT64_MAX), "gpa + len wraps to exactly 0");
	cr_assert_null(gmem_ptr(gm, R1_GPA, UINT64_MAX - R1_GPA + 1), "end wraps to 0");
	cr_assert_null(gmem_ptr(gm, UINT64_MAX - 0xf, 0x20));
}

Test(gmem, beyond_ram_refused)
{
	cr_assert_null(gmem_ptr(gm, R1_GPA + R1_SIZE + 1, 0));
	cr_assert_null(gmem_ptr(gm, 4 * GIB, 1));
	cr_assert_null(gmem_ptr(gm, UINT64_MAX, 0));
	cr_assert_null(gmem_ptr(gm, UINT64_MAX, 1));
}

Test(gmem, huge_len_refused)
{
	cr_assert_null(gmem_ptr(gm, 0, 1ull << 40));
	cr_assert_null(gmem_ptr(gm, 0, R0_SIZE + 1));
	cr_assert_null(gmem_ptr(gm, R1_GPA, 1ull << 63));
}

Test(gmem, is_ram)
{
	cr_assert(gmem_is_ram(gm, 0));
	cr_assert(gmem_is_ram(gm, R0_SIZE - 1));
	cr_assert_not(gmem_is_ram(gm, R0_SIZE));
	cr_assert_not(gmem_is_ram(gm, R1_GPA - 1));
	cr_assert(gmem_is_ram(gm, R1_GPA));
	cr_assert(gmem_is_ram(gm, R1_GPA + R1_SIZE - 1));
	cr_assert_not(gmem_is_ram(gm, R1_GPA + R1_SIZE));
	cr_assert_not(gmem_is_ram(gm, UINT64_MAX));
}

Test(gmem, write_then_read_round_trip)
{
	const char msg[] = "kiln guest memory";
	char back[sizeof(msg)] = { 0 };

	cr_assert_eq(gmem_write(gm, R1_GPA + 0x100, msg, sizeof(msg)), 0);
	cr_assert_eq(memcmp(ram1 + 0x100, msg, sizeof(msg)), 0, "bytes land in the right region");
	cr_assert_eq(gmem_read(gm, back, R1_GPA + 0x100, sizeof(back)), 0);
	cr_assert_str_eq(back, msg);
}

Test(gmem, write_efault_leaves_ram_untouched)
{
	uint8_t buf[16];

	memset(buf, 0xee, sizeof(buf));
	cr_assert_eq(gmem_write(gm, R0_SIZE - 8, buf, sizeof(buf)), -EFAULT, "straddles the end");
	for (unsigned int i = 0; i < 8; i++)
		cr_assert_eq(ram0[R0_SIZE - 8 + i], 0x11, "no partial write at byte %u", i);
	cr_assert_eq(gmem_write(gm, R1_GPA + R1_SIZE, buf, 1), -EFAULT, "beyond RAM");
	cr_assert_eq(gmem_write(gm, UINT64_MAX - 3, buf, sizeof(buf)), -EFAULT, "wraps around");
	cr_assert_eq(gmem_write(gm, R0_SIZE, buf, 1), -EFAULT, "in the gap");
}

Test(gmem, read_efault_leaves_buffer_untouched)
{
	uint8_t buf[16];

	memset(buf, 0xee, sizeof(buf));
	cr_assert_eq(gmem_read(gm, buf, R1_GPA + R1_SIZE - 8, sizeof(buf)), -EFAULT);
	cr_assert_eq(gmem_read(gm, buf, R0_SIZE + 4, 4), -EFAULT);
	cr_assert_eq(gmem_read(gm, buf, UINT64_MAX, 2), -EFAULT);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xee);
}

Test(gmem, zero_length_copies_succeed)
{
	uint8_t b = 0x5a;

	cr_assert_eq(gmem_write(gm, R0_SIZE, &b, 0), 0, "empty write at the end of a region");
	cr_assert_eq(gmem_read(gm, &b, R1_GPA, 0), 0);
	cr_assert_eq(b, 0x5a);
}

/* ---- gmem_create_from argument checks ---------------------------------------------------- */

static uint8_t dummy_ram[8192];

Test(gmem_create_from, rejects_bad_region_lists)
{
	struct gmem *g = NULL;
	struct gmem_region r[GMEM_MAX_REGIONS + 1];

	for (unsigned int i = 0; i < ARRAY_SIZE(r); i++)
		r[i] = (struct gmem_region){ .gpa = i * 0x1000ull, .size = 0x1000, .hva = dummy_ram };
	cr_assert_eq(gmem_create_from(&g, r, 0), -EINVAL, "no regions");
	cr_assert_eq(gmem_create_from(&g, r, GMEM_MAX_REGIONS + 1), -EINVAL, "too many regions");

	r[1].hva = NULL;
	cr_assert_eq(gmem_create_from(&g, r, 2), -EINVAL, "NULL host pointer");
	r[1].hva = dummy_ram;

	r[1].size = 0;
	cr_assert_eq(gmem_create_from(&g, r, 2), -EINVAL, "empty region");
	r[1].size = 0x1000;

	r[0].size = 0x1001;
	cr_assert_eq(gmem_create_from(&g, r, 2), -EINVAL, "overlapping regions");
	r[0].size = 0x1000;

	r[0].gpa = 0x5000;
	cr_assert_eq(gmem_create_from(&g, r, 2), -EINVAL, "unsorted regions");
	r[0].gpa = 0;

	r[1].gpa = UINT64_MAX - 0xfff;
	r[1].size = 0x2000;
	cr_assert_eq(gmem_create_from(&g, r, 2), -EINVAL, "wrapping region");
	cr_assert_null(g, "nothing was created");

	r[1].gpa = 0x1000;
	r[1].size = 0x1000;
	cr_assert_eq(gmem_create_from(&g, r, GMEM_MAX_REGIONS), 0, "adjacent regions are fine");
	cr_assert_eq(gmem_nr_regions(g), GMEM_MAX_REGIONS);
	gmem_destroy(g);
}

/* ---- gmem_create: real anonymous memory -------------------------------------------------- */

Test(gmem_create, small_anonymous_ram)
{
	struct gmem *g;
	uint8_t *p;

	cr_assert_eq(gmem_create(&g, 2 * MIB, HOLE, MEM_BACKING_ANON), 0);
	cr_assert_eq(gmem_nr_regions(g), 1);
	cr_assert_eq(gmem_size(g), 2 * MIB);
	cr_assert_eq(gmem_low_end(g), 2 * MIB);
	p = gmem_ptr(g, 0, 2 * MIB);
	cr_assert_not_null(p);
	cr_assert_eq(p[0], 0, "anonymous memory starts zeroed");
	cr_assert_eq(p[2 * MIB - 1], 0);
	p[2 * MIB - 1] = 0x7e; /* must be mapped writable to the last byte */
	cr_assert_eq(*(uint8_t *)gmem_ptr(g, 2 * MIB - 1, 1), 0x7e);
	cr_assert_null(gmem_ptr(g, 2 * MIB, 1));
	gmem_destroy(g);
}

Test(gmem_create, memfd_backs_every_region_in_file_order)
{
	struct gmem *g;
	uint8_t v = 0x5a, back = 0;
	struct stat st;
	int fd;

	/* 1 MiB below a 1 MiB "hole start", 1 MiB from 4 GiB: the file's second MiB. */
	cr_assert_eq(gmem_create(&g, 2 * MIB, 1 * MIB, MEM_BACKING_MEMFD), 0);
	fd = gmem_memfd(g);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq((uint64_t)st.st_size, 2 * MIB);
	cr_expect_eq(st.st_blocks, 0, "nothing is allocated before the guest touches it");
	cr_expect_eq(*(uint8_t *)gmem_ptr(g, 4 * GIB, 1), 0);
	cr_assert_eq(gmem_write(g, 4 * GIB + 4096, &v, 1), 0);
	cr_assert_eq(pread(fd, &back, 1, (off_t)(MIB + 4096)), 1);
	cr_expect_eq(back, 0x5a, "a write through the mapping is in the memfd (shared)");
	v = 0x33;
	cr_assert_eq(pwrite(fd, &v, 1, 17), 1);
	cr_expect_eq(*(uint8_t *)gmem_ptr(g, 17, 1), 0x33, "and the other way round");
	cr_expect_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	gmem_destroy(g);
	cr_expect_eq(fcntl(fd, F_GETFD), -1, "gmem_destroy() closed the memfd");
}

Test(gmem_create, anonymous_ram_has_no_memfd)
{
	struct gmem *g;

	cr_assert_eq(gmem_create(&g, 2 * MIB, HOLE, MEM_BACKING_ANON), 0);
	cr_expect_eq(gmem_memfd(g), -1);
	gmem_destroy(g);
}

/* Whether the mapping holding `addr` carries `flag` in /proc/self/smaps's VmFlags (adjacent
 * anonymous mappings with the same flags are one VMA there). */
static bool smaps_vmflag(const void *addr, const char *flag)
{
	char line[512];
	bool in = false, found = false;
	unsigned long a = (unsigned long)addr, lo, hi;
	FILE *f = fopen("/proc/self/smaps", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!in && sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && lo <= a && a < hi)
			in = true;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			char *tok = strtok(line + 8, " \n");

			for (; tok && !found; tok = strtok(NULL, " \n"))
				found = !strcmp(tok, flag);
			break;
		}
	}
	fclose(f);
	return found;
}

Test(gmem_create, thp_ram_is_anonymous_and_asks_for_huge_pages)
{
	struct gmem *g;
	uint8_t v = 0x42, back = 0;

	cr_assert_eq(gmem_create(&g, 4 * MIB, 1 * MIB, MEM_BACKING_ANON_THP), 0);
	cr_expect_eq(gmem_memfd(g), -1, "THP RAM is anonymous: no memfd");
	cr_assert_eq(gmem_nr_regions(g), 2);
	for (unsigned int i = 0; i < 2; i++) {
		cr_expect(smaps_vmflag(gmem_region(g, i)->hva, "hg"),
			  "region %u is madvise(MADV_HUGEPAGE)d (VmFlags hg)", i);
		/* The guest-physical regions start 2 MiB-aligned (0 and 4 GiB): so must the host's
		 * for KVM to map a huge page as one. The 1 MiB region is too small to matter. */
		if (gmem_region(g, i)->size >= 2 * MIB)
			cr_expect_eq((uintptr_t)gmem_region(g, i)->hva % (2 * MIB), 0,
				     "region %u's host address is 2 MiB-aligned", i);
	}
	cr_assert_eq(gmem_write(g, gmem_region(g, 1)->gpa + MIB, &v, 1), 0);
	cr_assert_eq(gmem_read(g, &back, gmem_region(g, 1)->gpa + MIB, 1), 0);
	cr_expect_eq(back, 0x42);
	gmem_destroy(g);
}

Test(gmem_create, default_ram_does_not_ask_for_huge_pages)
{
	struct gmem *g;

	cr_assert_eq(gmem_create(&g, 2 * MIB, HOLE, MEM_BACKING_MEMFD), 0);
	cr_expect_not(smaps_vmflag(gmem_region(g, 0)->hva, "hg"));
	gmem_destroy(g);
	cr_assert_eq(gmem_create(&g, 2 * MIB, HOLE, MEM_BACKING_ANON), 0);
	cr_expect_not(smaps_vmflag(gmem_region(g, 0)->hva, "hg"));
	gmem_destroy(g);
}

Test(gmem_create, memfd_refuses_what_the_host_cannot_commit)
{
	struct gmem *g = NULL;

	/* The memfd's shared mapping is not accounted: the overcommit check is made up front. */
	cr_expect_eq(gmem_create(&g, 1ull << 50, HOLE, MEM_BACKING_MEMFD), -ENOMEM);
	cr_expect_null(g);
	cr_expect_eq(gmem_create(&g, 4097, HOLE, MEM_BACKING_MEMFD), -EINVAL);
}

Test(gmem_create, splits_around_a_small_hole)
{
	struct gmem *g;
	uint8_t v = 0x42, back = 0;

	/* A 1 MiB "hole start" so that the 4 GiB region is exercised with little memory. */
	cr_assert_eq(gmem_create(&g, 2 * MIB, 1 * MIB, MEM_BACKING_ANON), 0);
	cr_assert_eq(gmem_nr_regions(g), 2);
	cr_assert_eq(gmem_low_end(g), 1 * MIB);
	cr_assert_null(gmem_ptr(g, 1 * MIB, 1), "the hole is not RAM");
	cr_assert_eq(gmem_write(g, 4 * GIB + MIB - 1, &v, 1), 0);
	cr_assert_eq(gmem_read(g, &back, 4 * GIB + MIB - 1, 1), 0);
	cr_assert_eq(back, 0x42);
	cr_assert_null(gmem_ptr(g, 4 * GIB + MIB, 1));
	gmem_destroy(g);
}

/* ---- gmem_create_uffd: RAM whose pages another thread serves -------------------------------- */

struct server {
	int uffd;
	unsigned int served;
};

/* Serves `want` faults: each page gets its own host address's low byte pattern, so a read shows
 * that this page, and no other, was filled by the server. */
static void *serve_faults(void *p)
{
	struct server *s = p;
	static uint8_t page[4096] __attribute__((aligned(4096)));

	while (s->served < 2) {
		struct pollfd pfd = { .fd = s->uffd, .events = POLLIN };
		struct uffd_msg m;

		if (poll(&pfd, 1, 5000) <= 0)
			return NULL;
		if (read(s->uffd, &m, sizeof(m)) != sizeof(m) || m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t addr = m.arg.pagefault.address & ~4095ull;

		memset(page, (int)(addr >> 12 & 0xff) | 1, sizeof(page));
		struct uffdio_copy c = { .dst = addr, .src = (uintptr_t)page, .len = sizeof(page) };

		if (ioctl(s->uffd, UFFDIO_COPY, &c) == 0)
			s->served++;
	}
	return NULL;
}

Test(gmem_create_uffd, both_regions_fault_to_the_handler)
{
	struct gmem *g = NULL;
	struct server s = { .uffd = -1 };
	pthread_t t;
	uint8_t low, high;
	int e;

	/* A 1 MiB "hole start": two regions, as a guest above the MMIO hole has. */
	e = gmem_create_uffd(&g, 2 * MIB, 1 * MIB, &s.uffd);
	if (e == -EPERM || e == -ENOSYS)
		cr_skip_test("userfaultfd for kernel faults is not allowed here: %s", strerror(-e));
	cr_assert_eq(e, 0, "%s", strerror(-e));
	cr_assert_eq(gmem_nr_regions(g), 2);
	cr_assert_geq(s.uffd, 0);
	cr_expect(fcntl(s.uffd, F_GETFD) & FD_CLOEXEC, "close-on-exec: no child inherits guest RAM");
	cr_expect(fcntl(s.uffd, F_GETFL) & O_NONBLOCK, "non-blocking, as Firecracker's");
	cr_assert_eq(pthread_create(&t, NULL, serve_faults, &s), 0);
	/* Each first touch waits for the server: the value is the server's, not a zero page. */
	low = *(volatile uint8_t *)gmem_ptr(g, 0x5000, 1);
	high = *(volatile uint8_t *)gmem_ptr(g, 4 * GIB + 0x3000, 1);
	pthread_join(t, NULL);
	cr_expect_eq(s.served, 2);
	cr_expect_eq(low, (uint8_t)(((uintptr_t)gmem_ptr(g, 0x5000, 1) >> 12 & 0xff) | 1));
	cr_expect_eq(high, (uint8_t)(((uintptr_t)gmem_ptr(g, 4 * GIB + 0x3000, 1) >> 12 & 0xff) | 1));
	gmem_destroy(g);
	close(s.uffd);
}

Test(gmem_create_uffd, rejects_a_bad_size)
{
	struct gmem *g = NULL;
	int uffd = 7;

	cr_expect_eq(gmem_create_uffd(&g, 4097, HOLE, &uffd), -EINVAL);
	cr_expect_null(g);
	cr_expect_eq(uffd, -1, "no userfaultfd left open on failure");
}

Test(gmem_create, rejects_bad_size_and_backing)
{
	struct gmem *g = NULL;

	cr_assert_eq(gmem_create(&g, 0, HOLE, MEM_BACKING_ANON), -EINVAL);
	cr_assert_eq(gmem_create(&g, 4097, HOLE, MEM_BACKING_ANON), -EINVAL);
	cr_assert_eq(gmem_create(&g, 2 * MIB, HOLE, (enum mem_backing)7), -EINVAL);
	cr_assert_null(g);
	gmem_destroy(NULL); /* documented as safe */
}
