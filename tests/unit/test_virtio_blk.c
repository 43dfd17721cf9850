/* test_virtio_blk.c: virtio-blk (src/devices/virtio/blk.c) request parsing and execution on a
 * temporary raw image, with the synchronous backend and with io_uring, driven through the
 * virtio-mmio registers over fake guest RAM. The image file is checked with pread. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "devices/virtio/virtio.h"
#include "util/log.h"
#include "virtio_driver.h"

#define BASE 0xd0000000ull
#define GSI 5
#define SECTOR 512
#define CAP 128 /* image sectors */
#define QSIZE 256
#define HDRS 0x20000   /* request headers, 64 bytes apart */
#define STATUS 0x28000 /* status bytes, one per request slot */
#define DATA 0x40000   /* data buffers */

static struct fake_ram ram;
static struct drv_queue dq;
static struct irq_rec irq;
static struct virtio_blk b;
static bool blk_ready;
static char path[64];
static int img = -1;
static enum disk_io backend;

static uint8_t pat(uint64_t off) { return (uint8_t)(off * 31 + (off >> 9) + 1); }

static void make_image(uint64_t size)
{
	uint8_t buf[SECTOR];

	snprintf(path, sizeof(path), "/tmp/kiln-blk-XXXXXX");
	img = mkstemp(path);
	cr_assert_geq(img, 0, "mkstemp: %s", strerror(errno));
	for (uint64_t off = 0; off < size; off += SECTOR) {
		uint64_t n = size - off < SECTOR ? size - off : SECTOR;

		for (uint64_t i = 0; i < n; i++)
			buf[i] = pat(off + i);
		cr_assert_eq(pwrite(img, buf, n, (off_t)off), (ssize_t)n);
	}
}

static int open_blk(bool ro, const char *id, bool direct, char *err, size_t err_size)
{
	struct virtio_blk_opts o = { .path = path, .id = id, .ro = ro, .direct = direct,
				     .backend = backend };

	return virtio_blk_init(&b, "virtio-blk0", &o, ram.gm, BASE, GSI, irq_rec_line(&irq, GSI),
			       err, err_size);
}

static void start_blk(bool ro, const char *id)
{
	char err[256] = "";

	cr_assert_eq(open_blk(ro, id, false, err, sizeof(err)), 0, "%s", err);
	blk_ready = true;
	cr_assert_eq(b.backend, backend, "backend %s", virtio_blk_backend_name(b.backend));
	drv_start(&b.t, STD_FEATURES, &dq, 1);
}

static void setup_common(void)
{
	fake_ram_create(&ram);
	drv_queue_init(&dq, &ram, QSIZE);
	memset(ram_at(&ram, STATUS, QSIZE), 0xff, QSIZE);
	make_image(CAP * SECTOR);
	blk_ready = false;
	log_capture();
}

static void setup_sync(void)
{
	backend = DISK_IO_SYNC;
	setup_common();
}

static void setup_uring(void)
{
	backend = DISK_IO_URING;
	setup_common();
}

static void teardown(void)
{
	log_release();
	if (blk_ready)
		virtio_blk_destroy(&b);
	if (img >= 0)
		close(img);
	img = -1;
	unlink(path);
	fake_ram_destroy(&ram);
}

TestSuite(blk_sync, .init = setup_sync, .fini = teardown);
TestSuite(blk_uring, .init = setup_uring, .fini = teardown);
TestSuite(blk_init, .init = setup_sync, .fini = teardown);

/* Every behaviour test runs on both backends. */
#define BOTH(name)                                  \
	static void name##_body(void);              \
	Test(blk_sync, name) { name##_body(); }     \
	Test(blk_uring, name) { name##_body(); }    \
	static void name##_body(void)

#define assert_log_has(needle)                                                            \
	cr_assert_not_null(strstr(log_text(), (needle)), "expected \"%s\" in the log: '%s'", \
			   (needle), log_text())

/* Waits for every io_uring request in flight and reaps it as kiln's I/O thread would. */
static void settle(void)
{
	int fd = virtio_blk_completion_fd(&b);

	if (b.backend != DISK_IO_URING) {
		cr_assert_eq(fd, -1);
		return;
	}
	for (int spins = 0; b.inflight && spins < 1000; spins++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		cr_assert_eq(poll(&p, 1, 5000), 1, "no io_uring completion within 5 s");
		virtio_blk_complete(&b, POLLIN);
	}
	cr_assert_eq(b.inflight, 0);
}

static void kick(void)
{
	drv_notify(&b.t, 0);
	settle();
}

static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t h[16] = { 0 };

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	memcpy(ram_at(&ram, gpa, 16), h, 16);
}

/* A request in slot `slot` (its own header and status byte): header, one data buffer of `len`
 * at `data` (none when len is 0), status. Returns the head. */
static uint16_t req(unsigned int slot, uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct seg s[3];
	unsigned int n = 0;

	put_hdr(HDRS + 64 * slot, type, sector);
	s[n++] = (struct seg){ HDRS + 64 * slot, 16, false };
	if (len)
		s[n++] = (struct seg){ data, len, in };
	s[n++] = (struct seg){ STATUS + slot, 1, true };
	return drv_post(&dq, s, n);
}

static uint8_t status_of(unsigned int slot) { return *ram_at(&ram, STATUS + slot, 1); }

/* Used element `i`: asserts its id and returns its len. */
static uint32_t used_len(uint16_t i, uint16_t head)
{
	uint32_t id, len;

	drv_used_elem(&dq, i, &id, &len);
	cr_assert_eq(id, head, "used[%u].id %u, expected %u", i, id, head);
	return len;
}

/* The len of the used element for `head`, wherever it is (io_uring completes out of order). */
static uint32_t len_of(uint16_t head)
{
	for (uint16_t i = 0; i != drv_used_idx(&dq); i++) {
		uint32_t id, len;

		drv_used_elem(&dq, i, &id, &len);
		if (id == head)
			return len;
	}
	cr_assert_fail("request %u is not in the used ring", head);
	return 0;
}

static void assert_file_pattern(uint64_t off, uint64_t len)
{
	uint8_t buf[SECTOR];

	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < SECTOR ? len - done : SECTOR;

		cr_assert_eq(pread(img, buf, n, (off_t)(off + done)), (ssize_t)n);
		for (uint64_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], pat(off + done + i), "file byte %llu changed",
				     (unsigned long long)(off + done + i));
		done += n;
	}
}

static void assert_file_bytes(uint64_t off, uint64_t len, uint8_t v)
{
	uint8_t buf[SECTOR];

	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < SECTOR ? len - done : SECTOR;

		cr_assert_eq(pread(img, buf, n, (off_t)(off + done)), (ssize_t)n);
		for (uint64_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], v, "file byte %llu: 0x%x, expected 0x%x",
				     (unsigned long long)(off + done + i), buf[i], v);
		done += n;
	}
}

static void assert_ram_pattern(uint64_t gpa, uint64_t file_off, uint64_t len)
{
	const uint8_t *p = ram_at(&ram, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		cr_assert_eq(p[i], pat(file_off + i), "guest byte 0x%llx", (unsigned long long)(gpa + i));
}

/* ---- reads and writes ------------------------------------------------------------------------- */

BOTH(read_round_trip)
{
	uint16_t h;

	start_blk(false, NULL);
	h = req(0, VIRTIO_BLK_T_IN, 3, DATA, 3 * SECTOR);
	kick();
	cr_assert_eq(drv_used_idx(&dq), 1);
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(used_len(0, h), 3 * SECTOR + 1, "data plus the status byte");
	assert_ram_pattern(DATA, 3 * SECTOR, 3 * SECTOR);
	cr_assert_eq(b.n.reads, 1);
	cr_assert_eq(b.n.read_bytes, 3 * SECTOR);
	cr_assert_eq(irq.edges, 1);
}

BOTH(write_round_trip)
{
	uint8_t *d = ram_at(&ram, DATA, 2 * SECTOR);
	uint16_t h;

	for (unsigned int i = 0; i < 2 * SECTOR; i++)
		d[i] = (uint8_t)(i ^ 0x3c);
	start_blk(false, NULL);
	h = req(0, VIRTIO_BLK_T_OUT, 10, DATA, 2 * SECTOR);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(used_len(0, h), 1, "a write reports only the status byte");
	for (unsigned int i = 0; i < 2 * SECTOR; i++) {
		uint8_t c;

		cr_assert_eq(pread(img, &c, 1, 10 * SECTOR + i), 1);
		cr_assert_eq(c, (uint8_t)(i ^ 0x3c), "file byte %u", 10 * SECTOR + i);
	}
	assert_file_pattern(0, 10 * SECTOR);
	assert_file_pattern(12 * SECTOR, (CAP - 12) * SECTOR);
	/* And it reads back through the device. */
	memset(ram_at(&ram, DATA + 0x10000, 2 * SECTOR), 0, 2 * SECTOR);
	req(1, VIRTIO_BLK_T_IN, 10, DATA + 0x10000, 2 * SECTOR);
	kick();
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(ram_at(&ram, DATA + 0x10000, 2 * SECTOR), d, 2 * SECTOR), 0);
	cr_assert_eq(b.n.writes, 1);
	cr_assert_eq(b.n.write_bytes, 2 * SECTOR);
}

BOTH(read_split_across_descriptors)
{
	/* Header in two pieces, data in three uneven buffers, the status byte sharing the last
	 * data buffer. */
	struct seg s[] = { { HDRS, 5, false },           { HDRS + 0x100, 11, false },
			   { DATA, 100, true },          { DATA + 0x1000, 412, true },
			   { DATA + 0x2000, 512, true }, { DATA + 0x3000, SECTOR + 1, true } };
	uint8_t h[16] = { VIRTIO_BLK_T_IN };
	uint64_t sector = 7;
	uint16_t head;

	memcpy(h + 8, &sector, 8);
	memcpy(ram_at(&ram, HDRS, 5), h, 5);
	memcpy(ram_at(&ram, HDRS + 0x100, 11), h + 5, 11);
	start_blk(false, NULL);
	head = drv_post(&dq, s, 6);
	kick();
	cr_assert_eq(*ram_at(&ram, DATA + 0x3000 + SECTOR, 1), VIRTIO_BLK_S_OK);
	cr_assert_eq(used_len(0, head), 3 * SECTOR + 1);
	assert_ram_pattern(DATA, 7 * SECTOR, 100);
	assert_ram_pattern(DATA + 0x1000, 7 * SECTOR + 100, 412);
	assert_ram_pattern(DATA + 0x2000, 8 * SECTOR, 512);
	assert_ram_pattern(DATA + 0x3000, 9 * SECTOR, 512);
}

BOTH(write_split_across_descriptors)
{
	/* The header's last 8 bytes share a buffer with the first data bytes. */
	struct seg s[] = { { HDRS, 8, false }, { DATA, 8 + 300, false },
			   { DATA + 0x1000, SECTOR - 300, false }, { STATUS, 1, true } };
	uint8_t h[16] = { VIRTIO_BLK_T_OUT };
	uint64_t sector = 20;
	uint8_t *d1 = ram_at(&ram, DATA, 308), *d2 = ram_at(&ram, DATA + 0x1000, SECTOR - 300);
	uint8_t want[SECTOR], got[SECTOR];

	memcpy(h + 8, &sector, 8);
	memcpy(ram_at(&ram, HDRS, 8), h, 8);
	memcpy(d1, h + 8, 8);
	for (unsigned int i = 0; i < SECTOR; i++)
		want[i] = (uint8_t)(0x80 + i);
	memcpy(d1 + 8, want, 300);
	memcpy(d2, want + 300, SECTOR - 300);
	start_blk(false, NULL);
	drv_post(&dq, s, 4);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(pread(img, got, SECTOR, 20 * SECTOR), SECTOR);
	cr_assert_eq(memcmp(got, want, SECTOR), 0);
	assert_file_pattern(21 * SECTOR, SECTOR);
}

BOTH(zero_length_read_and_write)
{
	start_blk(false, NULL);
	req(0, VIRTIO_BLK_T_IN, CAP, 0, 0);
	req(1, VIRTIO_BLK_T_OUT, 0, 0, 0);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK, "an empty read at the end is in range");
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_OK);
	cr_assert_eq(len_of(0), 1);
	cr_assert_eq(len_of(2), 1);
}

BOTH(out_of_range)
{
	static const struct {
		uint64_t sector;
		uint32_t len;
		uint8_t want;
	} t[] = {
		{ CAP - 1, SECTOR, VIRTIO_BLK_S_OK },
		{ CAP, SECTOR, VIRTIO_BLK_S_IOERR },
		{ CAP - 1, 2 * SECTOR, VIRTIO_BLK_S_IOERR },
		{ 1ull << 55, SECTOR, VIRTIO_BLK_S_IOERR },            /* sector * 512 = 2^64 */
		{ (1ull << 55) - 1, SECTOR, VIRTIO_BLK_S_IOERR },      /* offset + len = 2^64 */
		{ 0xffffffffffffffffull, SECTOR, VIRTIO_BLK_S_IOERR }, /* sector * 512 wraps */
		{ 0x0080000000000001ull, SECTOR, VIRTIO_BLK_S_IOERR }, /* wraps to 512 */
	};
	const unsigned int n = sizeof(t) / sizeof(t[0]);

	start_blk(false, NULL);
	for (unsigned int i = 0; i < n; i++) {
		memset(ram_at(&ram, DATA + i * 0x1000, 0x1000), 0x77, 0x1000);
		req(2 * i, VIRTIO_BLK_T_OUT, t[i].sector, DATA + i * 0x1000, t[i].len);
		req(2 * i + 1, VIRTIO_BLK_T_IN, t[i].sector, DATA + 0x10000 + i * 0x1000, t[i].len);
	}
	kick();
	cr_assert_eq(drv_used_idx(&dq), 2 * n);
	for (unsigned int i = 0; i < n; i++) {
		cr_assert_eq(status_of(2 * i), t[i].want, "write at sector %#llx",
			     (unsigned long long)t[i].sector);
		cr_assert_eq(status_of(2 * i + 1), t[i].want, "read at sector %#llx",
			     (unsigned long long)t[i].sector);
	}
	/* Only the in-range write changed the file (the last sector); nothing else did. */
	assert_file_pattern(0, (CAP - 1) * SECTOR);
	assert_file_bytes((CAP - 1) * SECTOR, SECTOR, 0x77);
	/* Failed reads report the status byte only (each request is 3 descriptors: head 3k). */
	cr_assert_eq(len_of(3), SECTOR + 1);
	for (uint16_t i = 1; i < n; i++)
		cr_assert_eq(len_of((uint16_t)(3 * (2 * i + 1))), 1);
	cr_assert_eq(b.n.io_errors, 2 * (n - 1));
	assert_log_has("virtio-blk0: request 6: write of 512 bytes at sector 128 (capacity 128 sectors)");
}

BOTH(length_not_a_sector_multiple)
{
	start_blk(false, NULL);
	memset(ram_at(&ram, DATA, 0x1000), 0x11, 0x1000);
	req(0, VIRTIO_BLK_T_IN, 0, DATA, 100);
	req(1, VIRTIO_BLK_T_OUT, 0, DATA, SECTOR + 1);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used_len(0, 0), 1);
	cr_assert_eq(*ram_at(&ram, DATA, 1), 0x11, "nothing read");
	assert_file_pattern(0, 2 * SECTOR);
}

BOTH(read_only_disk)
{
	uint8_t seg[16] = { 0 };
	uint32_t one = 1;

	start_blk(true, NULL);
	cr_assert(b.t.device_features & VIRTIO_F(VIRTIO_BLK_F_RO));
	cr_assert_not(b.t.device_features & VIRTIO_F(VIRTIO_BLK_F_DISCARD));
	cr_assert_not(b.t.device_features & VIRTIO_F(VIRTIO_BLK_F_WRITE_ZEROES));
	memset(ram_at(&ram, DATA, SECTOR), 0, SECTOR);
	memcpy(seg + 8, &one, 4);
	memcpy(ram_at(&ram, DATA + 0x1000, 16), seg, 16);
	req(0, VIRTIO_BLK_T_OUT, 0, DATA, SECTOR);
	req(1, VIRTIO_BLK_T_DISCARD, 0, DATA + 0x1000, 16);
	req(2, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA + 0x1000, 16);
	req(3, VIRTIO_BLK_T_IN, 1, DATA + 0x2000, SECTOR);
	req(4, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status_of(2), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(status_of(3), VIRTIO_BLK_S_OK, "reads work");
	cr_assert_eq(status_of(4), VIRTIO_BLK_S_OK, "flush works");
	assert_ram_pattern(DATA + 0x2000, SECTOR, SECTOR);
	assert_file_pattern(0, CAP * SECTOR);
}

BOTH(flush)
{
	uint16_t h;

	start_blk(false, NULL);
	h = req(0, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(used_len(0, h), 1);
	cr_assert_eq(b.n.flushes, 1);
}

/* ---- GET_ID --------------------------------------------------------------------------------- */

static void get_id(const char *id, uint32_t buf_len, uint32_t want_len, const char *want,
		   size_t want_bytes)
{
	start_blk(false, id);
	memset(ram_at(&ram, DATA, 64), 0xee, 64);
	req(0, VIRTIO_BLK_T_GET_ID, 0, DATA, buf_len);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(used_len(0, 0), want_len);
	cr_assert_eq(memcmp(ram_at(&ram, DATA, want_bytes), want, want_bytes), 0);
	cr_assert_eq(*ram_at(&ram, DATA + want_bytes, 1), 0xee, "nothing written past the id");
	cr_assert_eq(b.n.get_ids, 1);
}

BOTH(get_id_full_20_bytes)
{
	get_id("0123456789abcdefghij", 20, 21, "0123456789abcdefghij", 20);
}

BOTH(get_id_shorter_is_nul_padded)
{
	get_id("disk7", 20, 21, "disk7\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
}

BOTH(get_id_buffer_shorter_than_20)
{
	get_id("0123456789abcdefghij", 8, 9, "01234567", 8);
}

BOTH(get_id_buffer_longer_than_20)
{
	get_id("abc", 40, 21, "abc\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
}

BOTH(get_id_without_id)
{
	get_id(NULL, 20, 21, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
}

/* ---- DISCARD and WRITE_ZEROES ----------------------------------------------------------------- */

/* One segment at `gpa`: sector, num_sectors, flags. */
static void put_seg(uint64_t gpa, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint8_t s[16];

	memcpy(s, &sector, 8);
	memcpy(s + 8, &num, 4);
	memcpy(s + 12, &flags, 4);
	memcpy(ram_at(&ram, gpa, 16), s, 16);
}

BOTH(write_zeroes)
{
	start_blk(false, NULL);
	put_seg(DATA, 4, 3, 0);
	put_seg(DATA + 0x100, 40, 2, VIRTIO_BLK_WRITE_ZEROES_UNMAP);
	req(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 16);
	req(1, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA + 0x100, 16);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_OK);
	cr_assert_eq(used_len(0, 0), 1);
	assert_file_pattern(0, 4 * SECTOR);
	assert_file_bytes(4 * SECTOR, 3 * SECTOR, 0);
	assert_file_pattern(7 * SECTOR, 33 * SECTOR);
	assert_file_bytes(40 * SECTOR, 2 * SECTOR, 0);
	assert_file_pattern(42 * SECTOR, (CAP - 42) * SECTOR);
	/* And the device reads zeroes back. */
	memset(ram_at(&ram, DATA + 0x1000, 3 * SECTOR), 0x99, 3 * SECTOR);
	req(2, VIRTIO_BLK_T_IN, 4, DATA + 0x1000, 3 * SECTOR);
	kick();
	for (unsigned int i = 0; i < 3 * SECTOR; i++)
		cr_assert_eq(*ram_at(&ram, DATA + 0x1000 + i, 1), 0);
}

/* Makes system call `nr` fail with `err` in this test process (Criterion runs each test in its own
 * process): a file system without fallocate(), a host without io_uring. */
static void deny_syscall(long nr, int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0, "seccomp: %s",
		     strerror(errno));
}

/* As on a file system that can neither punch holes nor zero ranges. */
static void no_fallocate(void)
{
	deny_syscall(__NR_fallocate, EOPNOTSUPP);
	cr_assert_eq(fallocate(img, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, SECTOR), -1);
	cr_assert_eq(errno, EOPNOTSUPP);
}

BOTH(write_zeroes_without_fallocate)
{
	/* Zeroes must be written even where no hole can be punched, UNMAP or not. */
	start_blk(false, NULL);
	no_fallocate();
	put_seg(DATA, 4, 3, 0);
	put_seg(DATA + 0x100, 40, 2, VIRTIO_BLK_WRITE_ZEROES_UNMAP);
	put_seg(DATA + 0x200, 50, 1, 0);
	req(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 16);
	req(1, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA + 0x100, 16);
	req(2, VIRTIO_BLK_T_DISCARD, 0, DATA + 0x200, 16);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_OK);
	cr_assert_eq(status_of(2), VIRTIO_BLK_S_OK, "discard is advisory");
	assert_file_bytes(4 * SECTOR, 3 * SECTOR, 0);
	assert_file_bytes(40 * SECTOR, 2 * SECTOR, 0);
	assert_file_pattern(50 * SECTOR, SECTOR);
	assert_file_pattern(0, 4 * SECTOR);
	assert_file_pattern(42 * SECTOR, 8 * SECTOR);
	cr_assert_eq(b.n.write_zeroes, 2);
	cr_assert_eq(b.n.discards, 1);
}

BOTH(discard)
{
	start_blk(false, NULL);
	put_seg(DATA, 8, 8, 0);
	req(0, VIRTIO_BLK_T_DISCARD, 0, DATA, 16);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(b.n.discards, 1);
	/* What a discarded range reads as is unspecified; the rest must be intact. */
	assert_file_pattern(0, 8 * SECTOR);
	assert_file_pattern(16 * SECTOR, (CAP - 16) * SECTOR);
}

BOTH(segment_in_header_buffer)
{
	/* Header and segment in one 32-byte buffer: as valid as two buffers. */
	struct seg s[] = { { HDRS, 32, false }, { STATUS, 1, true } };

	start_blk(false, NULL);
	put_hdr(HDRS, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	put_seg(HDRS + 16, 2, 1, 0);
	drv_post(&dq, s, 2);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	assert_file_pattern(0, 2 * SECTOR);
	assert_file_bytes(2 * SECTOR, SECTOR, 0);
	assert_file_pattern(3 * SECTOR, (CAP - 3) * SECTOR);
}

BOTH(zero_sector_ranges)
{
	start_blk(false, NULL);
	put_seg(DATA, 5, 0, 0);
	req(0, VIRTIO_BLK_T_DISCARD, 0, DATA, 16);
	req(1, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 16);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK, "an empty discard does nothing");
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_OK, "an empty write-zeroes does nothing");
	assert_file_pattern(0, CAP * SECTOR);
}

BOTH(discard_and_write_zeroes_errors)
{
	static const struct {
		uint32_t type;
		uint64_t sector;
		uint32_t num, flags, len;
		uint8_t want;
	} t[] = {
		{ VIRTIO_BLK_T_DISCARD, 0, 1, VIRTIO_BLK_WRITE_ZEROES_UNMAP, 16, VIRTIO_BLK_S_UNSUPP },
		{ VIRTIO_BLK_T_DISCARD, 0, 1, 0x80000000u, 16, VIRTIO_BLK_S_UNSUPP },
		{ VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 2, 16, VIRTIO_BLK_S_UNSUPP },
		{ VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0, 32, VIRTIO_BLK_S_UNSUPP }, /* two segments */
		{ VIRTIO_BLK_T_DISCARD, 0, 1, 0, 32, VIRTIO_BLK_S_UNSUPP },
		{ VIRTIO_BLK_T_DISCARD, 0, 1, 0, 8, VIRTIO_BLK_S_UNSUPP }, /* half a segment */
		{ VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0, 0, VIRTIO_BLK_S_UNSUPP }, /* none */
		{ VIRTIO_BLK_T_WRITE_ZEROES, CAP - 1, 2, 0, 16, VIRTIO_BLK_S_IOERR },
		{ VIRTIO_BLK_T_DISCARD, CAP, 1, 0, 16, VIRTIO_BLK_S_IOERR },
		{ VIRTIO_BLK_T_WRITE_ZEROES, 1ull << 55, 1, 0, 16, VIRTIO_BLK_S_IOERR },
		{ VIRTIO_BLK_T_WRITE_ZEROES, 0, (1u << 21) + 1, 0, 16, VIRTIO_BLK_S_IOERR },
		{ VIRTIO_BLK_T_WRITE_ZEROES, 0, 0xffffffffu, 0, 16, VIRTIO_BLK_S_IOERR },
	};
	const unsigned int n = sizeof(t) / sizeof(t[0]);

	start_blk(false, NULL);
	for (unsigned int i = 0; i < n; i++) {
		put_seg(DATA + 64 * i, t[i].sector, t[i].num, t[i].flags);
		put_seg(DATA + 64 * i + 16, 0, 1, 0);
		req(i, t[i].type, 0, DATA + 64 * i, t[i].len);
	}
	kick();
	cr_assert_eq(drv_used_idx(&dq), n);
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(status_of(i), t[i].want, "case %u: status %u, expected %u", i,
			     status_of(i), t[i].want);
	assert_file_pattern(0, CAP * SECTOR);
}

/* ---- malformed requests ----------------------------------------------------------------------- */

BOTH(unknown_types)
{
	static const uint32_t types[] = { 2, 3, 5, 7, 9, 12, 14, 42, 0xffffffffu };
	const unsigned int n = sizeof(types) / sizeof(types[0]);

	start_blk(false, NULL);
	for (unsigned int i = 0; i < n; i++)
		req(i, types[i], 0, DATA, SECTOR);
	kick();
	for (unsigned int i = 0; i < n; i++) {
		uint32_t id, len;

		cr_assert_eq(status_of(i), VIRTIO_BLK_S_UNSUPP, "type %u", types[i]);
		drv_used_elem(&dq, (uint16_t)i, &id, &len);
		cr_assert_eq(len, 1);
	}
	assert_file_pattern(0, CAP * SECTOR);
}

BOTH(chain_without_room_for_status)
{
	struct seg no_writable[] = { { HDRS, 16, false }, { DATA, SECTOR, false } };
	struct seg short_hdr[] = { { HDRS + 64, 8, false }, { STATUS + 1, 1, true } };
	struct seg only_writable[] = { { DATA, SECTOR + 1, true } };
	uint16_t h0, h1, h2, h3;

	start_blk(false, NULL);
	put_hdr(HDRS, VIRTIO_BLK_T_OUT, 0);
	put_hdr(HDRS + 64, VIRTIO_BLK_T_IN, 0);
	h0 = drv_post(&dq, no_writable, 2);
	h1 = drv_post(&dq, short_hdr, 2);
	h2 = drv_post(&dq, only_writable, 1);
	h3 = req(3, VIRTIO_BLK_T_IN, 0, DATA + 0x1000, SECTOR);
	kick();
	cr_assert_eq(drv_used_idx(&dq), 4, "bad requests are returned, not dropped");
	cr_assert_eq(used_len(0, h0), 0);
	cr_assert_eq(used_len(1, h1), 0);
	cr_assert_eq(used_len(2, h2), 0);
	cr_assert_eq(status_of(1), 0xff, "no status written without a header");
	cr_assert_eq(used_len(3, h3), SECTOR + 1, "the device goes on");
	cr_assert_eq(status_of(3), VIRTIO_BLK_S_OK);
	assert_file_pattern(0, CAP * SECTOR);
	cr_assert_eq(b.t.st.status & VIRTIO_STATUS_NEEDS_RESET, 0, "a bad request is not a bad queue");
	assert_log_has("virtio-blk0: request 0: 528 readable and 0 writable bytes, no room for "
		       "header and status");
}

BOTH(bad_chain_breaks_queue)
{
	start_blk(false, NULL);
	drv_make_avail(&dq, QSIZE + 1);
	kick();
	cr_assert(b.t.st.status & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	cr_assert_eq(drv_used_idx(&dq), 0);
}

BOTH(many_requests_in_flight)
{
	enum { N = 40 };
	uint16_t heads[N];
	bool seen[N] = { false };

	start_blk(false, NULL);
	for (unsigned int i = 0; i < N; i++) {
		uint8_t *d = ram_at(&ram, DATA + 0x1000 * i, SECTOR);

		if (i % 2) {
			memset(d, (int)i, SECTOR);
			heads[i] = req(i, VIRTIO_BLK_T_OUT, 64 + i, DATA + 0x1000 * i, SECTOR);
		} else {
			memset(d, 0, 2 * SECTOR);
			heads[i] = req(i, VIRTIO_BLK_T_IN, i, DATA + 0x1000 * i, 2 * SECTOR);
		}
	}
	drv_notify(&b.t, 0);
	if (b.backend == DISK_IO_URING)
		cr_assert_eq(b.inflight, N, "all %u queued on the ring at once", N);
	settle();
	cr_assert_eq(drv_used_idx(&dq), N);
	for (unsigned int u = 0; u < N; u++) {
		uint32_t id, len;
		unsigned int i;

		drv_used_elem(&dq, (uint16_t)u, &id, &len);
		for (i = 0; i < N && heads[i] != id; i++)
			;
		cr_assert_lt(i, N, "used id %u is no request's head", id);
		cr_assert_not(seen[i], "request %u completed twice", i);
		seen[i] = true;
		cr_assert_eq(len, i % 2 ? 1 : 2 * SECTOR + 1, "request %u", i);
		cr_assert_eq(status_of(i), VIRTIO_BLK_S_OK, "request %u", i);
	}
	for (unsigned int i = 0; i < N; i++) {
		if (i % 2)
			assert_file_bytes((64 + i) * SECTOR, SECTOR, (uint8_t)i);
		else
			assert_ram_pattern(DATA + 0x1000 * i, i * SECTOR, 2 * SECTOR);
	}
}

BOTH(indirect_requests)
{
	uint64_t table = 0x8000, sector = 2;
	uint8_t h[16] = { VIRTIO_BLK_T_IN };

	start_blk(false, NULL);
	cr_assert_eq(drv_negotiate(&b.t, STD_FEATURES | VIRTIO_F(VIRTIO_F_RING_INDIRECT_DESC)),
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	drv_setup_queue(&b.t, 0, &dq);
	mmio_wr(&b.t, VIRTIO_MMIO_STATUS, 0xf);
	memcpy(h + 8, &sector, 8);
	memcpy(ram_at(&ram, HDRS, 16), h, 16);
	drv_write_desc(&ram, table, 0, HDRS, 16, VIRTQ_DESC_F_NEXT, 1);
	drv_write_desc(&ram, table, 1, DATA, SECTOR, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	drv_write_desc(&ram, table, 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	drv_write_desc(&ram, dq.desc, 0, table, 48, VIRTQ_DESC_F_INDIRECT, 0);
	drv_make_avail(&dq, 0);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	assert_ram_pattern(DATA, 2 * SECTOR, SECTOR);
}

/* ---- configuration space and features --------------------------------------------------------- */

Test(blk_sync, config_space)
{
	uint64_t cap = 0;
	uint32_t v;
	uint8_t byte = 0xcc;

	start_blk(false, NULL);
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	virtio_mmio_read(&b.t, VIRTIO_MMIO_CONFIG, &cap, 8);
	cr_assert_eq(cap, CAP, "capacity in sectors");
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG + 4), 0, "capacity's high half");
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG + 12), VIRTIO_BLK_SEG_MAX);
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG + 36), 1u << 21, "max_discard_sectors");
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG + 40), 1, "max_discard_seg");
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG + 48), 1u << 21, "max_write_zeroes_sectors");
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG + 52), 1, "max_write_zeroes_seg");
	virtio_mmio_read(&b.t, VIRTIO_MMIO_CONFIG + 56, &byte, 1);
	cr_assert_eq(byte, 1, "write_zeroes_may_unmap");
	v = 0xabababab;
	virtio_mmio_read(&b.t, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_SIZE - 2, &v, 4);
	cr_assert_eq(v, 0xabababab, "a read past the configuration space returns nothing");
	virtio_mmio_read(&b.t, VIRTIO_MMIO_CONFIG + 0xe00, &v, 4);
	cr_assert_eq(v, 0xabababab);
	mmio_wr(&b.t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	v = mmio_rd(&b.t, VIRTIO_MMIO_DEVICE_FEATURES);
	cr_assert_eq(v, (1u << VIRTIO_BLK_F_SEG_MAX) | (1u << VIRTIO_BLK_F_FLUSH) |
				(1u << VIRTIO_BLK_F_DISCARD) | (1u << VIRTIO_BLK_F_WRITE_ZEROES) |
				(1u << VIRTIO_F_RING_INDIRECT_DESC) | (1u << VIRTIO_F_RING_EVENT_IDX),
		     "features 0x%x", v);
}

Test(blk_uring, reset_drops_requests_in_flight)
{
	start_blk(false, NULL);
	for (unsigned int i = 0; i < 8; i++)
		req(i, VIRTIO_BLK_T_IN, i, DATA + 0x1000 * i, SECTOR);
	drv_notify(&b.t, 0);
	cr_assert_eq(b.inflight, 8);
	mmio_wr(&b.t, VIRTIO_MMIO_STATUS, 0);
	settle();
	cr_assert_eq(drv_used_idx(&dq), 0, "completions of an older generation are not returned");
	/* The slots came back: a new driver can use the device at once, 80 requests deep. */
	drv_queue_init(&dq, &ram, QSIZE);
	drv_start(&b.t, STD_FEATURES, &dq, 1);
	for (unsigned int i = 0; i < 80; i++)
		req(i, VIRTIO_BLK_T_IN, i, DATA, SECTOR);
	drv_notify(&b.t, 0);
	cr_assert_eq(b.inflight, 80);
	settle();
	cr_assert_eq(drv_used_idx(&dq), 80);
}

Test(blk_uring, save_drains_requests_in_flight)
{
	struct virtio_blk_state s;

	start_blk(false, NULL);
	for (unsigned int i = 0; i < 4; i++)
		req(i, VIRTIO_BLK_T_IN, i, DATA + 0x1000 * i, SECTOR);
	drv_notify(&b.t, 0);
	cr_assert_eq(b.inflight, 4);
	virtio_blk_save(&b, &s);
	cr_assert_eq(b.inflight, 0);
	cr_assert_eq(drv_used_idx(&dq), 4);
	cr_assert_eq(s.transport.queues[0].next_used, 4);
	cr_assert_eq(virtio_blk_load(&b, &s), 0);
}

/* ---- cache=none (O_DIRECT) -------------------------------------------------------------------- */

static void direct_round_trip(uint64_t data_gpa)
{
	char err[256] = "";
	uint8_t *d = ram_at(&ram, data_gpa, 2 * SECTOR);

	if (open_blk(false, NULL, true, err, sizeof(err))) {
		cr_assert_not_null(strstr(err, "O_DIRECT"), "%s", err);
		cr_skip_test("no O_DIRECT on this file system: %s", err);
	}
	blk_ready = true;
	drv_start(&b.t, STD_FEATURES, &dq, 1);
	memset(d, 0x42, 2 * SECTOR);
	req(0, VIRTIO_BLK_T_OUT, 6, data_gpa, 2 * SECTOR);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	assert_file_bytes(6 * SECTOR, 2 * SECTOR, 0x42);
	req(1, VIRTIO_BLK_T_IN, 20, data_gpa, 2 * SECTOR);
	kick();
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_OK);
	assert_ram_pattern(data_gpa, 20 * SECTOR, 2 * SECTOR);
}

BOTH(direct_aligned) { direct_round_trip(DATA); }

BOTH(direct_unaligned_buffer_falls_back) { direct_round_trip(DATA + 3); }

/* ---- virtio_blk_init -------------------------------------------------------------------------- */

Test(blk_init, missing_file)
{
	char err[256] = "";
	struct virtio_blk_opts o = { .path = "/nonexistent/kiln.img" };

	cr_assert_eq(virtio_blk_init(&b, "virtio-blk0", &o, ram.gm, BASE, GSI,
				     (struct irq_line){ 0 }, err, sizeof(err)),
		     -ENOENT);
	cr_assert_str_eq(err, "--disk /nonexistent/kiln.img: cannot open: No such file or directory");
}

Test(blk_init, too_small_and_odd_sizes)
{
	char err[256] = "";

	cr_assert_eq(ftruncate(img, 511), 0);
	cr_assert_eq(open_blk(false, NULL, false, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "image is smaller than one 512-byte sector"), "%s", err);
	cr_assert_not_null(strstr(err, path), "names the file: %s", err);

	cr_assert_eq(ftruncate(img, 3 * SECTOR + 100), 0);
	cr_assert_eq(open_blk(false, NULL, false, err, sizeof(err)), 0, "%s", err);
	blk_ready = true;
	cr_assert_eq(b.capacity, 3, "the partial last sector is not used");
	assert_log_has("size is not a multiple of 512; the last 100 bytes are not used");
}

Test(blk_init, not_a_file)
{
	char err[256] = "";
	struct virtio_blk_opts o = { .path = "/tmp", .ro = true };

	cr_assert_eq(virtio_blk_init(&b, "virtio-blk0", &o, ram.gm, BASE, GSI,
				     (struct irq_line){ 0 }, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "--disk /tmp: is a directory, not a regular file or block device");
}

Test(blk_init, image_locked_by_another_user)
{
	struct virtio_blk other;
	struct virtio_blk_opts o = { .path = path, .backend = DISK_IO_SYNC };
	char err[256] = "";

	start_blk(false, NULL);
	cr_assert_eq(virtio_blk_init(&other, "virtio-blk1", &o, ram.gm, BASE + 0x1000, GSI + 1,
				     (struct irq_line){ 0 }, err, sizeof(err)),
		     -EWOULDBLOCK);
	cr_assert_not_null(strstr(err, "image is in use by another process"), "%s", err);
	/* Two read-only users may share it... but not with a writer. */
	o.ro = true;
	cr_assert_eq(virtio_blk_init(&other, "virtio-blk1", &o, ram.gm, BASE + 0x1000, GSI + 1,
				     (struct irq_line){ 0 }, err, sizeof(err)),
		     -EWOULDBLOCK);
	virtio_blk_destroy(&b);
	blk_ready = false;
	cr_assert_eq(virtio_blk_init(&other, "virtio-blk1", &o, ram.gm, BASE + 0x1000, GSI + 1,
				     (struct irq_line){ 0 }, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(virtio_blk_init(&b, "virtio-blk0", &o, ram.gm, BASE, GSI,
				     (struct irq_line){ 0 }, err, sizeof(err)),
		     0, "%s", err);
	blk_ready = true;
	virtio_blk_destroy(&other);
}

Test(blk_sync, swap_image)
{
	char other[64], err[256] = "";
	int fd;
	uint64_t cap = 0;

	snprintf(other, sizeof(other), "/tmp/kiln-blk2-XXXXXX");
	fd = mkstemp(other);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 256 * SECTOR), 0);
	cr_assert_eq(pwrite(fd, "NEW!", 4, 5 * SECTOR), 4);
	start_blk(false, NULL);
	cr_assert_eq(virtio_blk_swap(&b, "/nonexistent/x.img", err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "--disk /nonexistent/x.img: cannot open: No such file or directory");
	cr_assert_eq(b.capacity, CAP, "a failed swap keeps the old image");
	cr_assert_eq(irq.edges, 0);
	cr_assert_eq(virtio_blk_swap(&b, other, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	cr_assert_eq(irq.edges, 1);
	virtio_mmio_read(&b.t, VIRTIO_MMIO_CONFIG, &cap, 8);
	cr_assert_eq(cap, 256);
	req(0, VIRTIO_BLK_T_IN, 5, DATA, SECTOR);
	req(1, VIRTIO_BLK_T_IN, 200, DATA + 0x1000, SECTOR);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK);
	cr_assert_eq(status_of(1), VIRTIO_BLK_S_OK, "the new capacity applies");
	cr_assert_eq(memcmp(ram_at(&ram, DATA, 4), "NEW!", 4), 0);
	close(fd);
	unlink(other);
}

/* PATCH /drives naming the image the disk already uses (it was resized): kiln's own lock must not
 * refuse it; the new size is taken and the driver told. */
Test(blk_sync, swap_to_the_same_resized_image)
{
	char err[256] = "";
	uint64_t cap = 0;

	start_blk(false, NULL);
	cr_assert_eq(ftruncate(img, 2 * CAP * SECTOR), 0);
	cr_assert_eq(virtio_blk_swap(&b, path, err, sizeof(err)), 0, "%s", err);
	virtio_mmio_read(&b.t, VIRTIO_MMIO_CONFIG, &cap, 8);
	cr_assert_eq(cap, 2 * CAP);
	cr_assert_eq(mmio_rd(&b.t, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	cr_assert_eq(irq.edges, 1);
	req(0, VIRTIO_BLK_T_IN, 2 * CAP - 1, DATA, SECTOR);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK, "the new last sector is readable");
}

/* The backend is chosen at run time: without io_uring, auto falls back to the synchronous one and
 * says so (at info level), and io=io_uring is refused with a line naming the disk. */
Test(blk_init, auto_falls_back_to_sync_without_io_uring)
{
	char err[256] = "";
	enum log_level old = log_get_level();

	deny_syscall(__NR_io_uring_setup, ENOSYS);
	log_set_level(LOG_INFO);
	backend = DISK_IO_AUTO;
	cr_assert_eq(open_blk(false, NULL, false, err, sizeof(err)), 0, "%s", err);
	blk_ready = true;
	log_set_level(old);
	cr_assert_eq(b.backend, DISK_IO_SYNC);
	cr_assert_eq(virtio_blk_completion_fd(&b), -1);
	cr_assert(strstr(log_text(), "virtio-blk0: io_uring unavailable"), "%s", log_text());
	cr_assert(strstr(log_text(), "sync backend"), "%s", log_text());
	drv_start(&b.t, STD_FEATURES, &dq, 1);
	req(0, VIRTIO_BLK_T_IN, 3, DATA, SECTOR);
	kick();
	cr_assert_eq(status_of(0), VIRTIO_BLK_S_OK, "the sync backend serves requests");
	assert_ram_pattern(DATA, 3 * SECTOR, SECTOR);
	virtio_blk_destroy(&b);
	blk_ready = false;

	backend = DISK_IO_URING;
	cr_assert_eq(open_blk(false, NULL, false, err, sizeof(err)), -ENOSYS);
	cr_assert(strstr(err, "io=io_uring: io_uring unavailable"), "%s", err);
}

Test(blk_init, backend_names)
{
	cr_assert_str_eq(virtio_blk_backend_name(DISK_IO_URING), "io_uring");
	cr_assert_str_eq(virtio_blk_backend_name(DISK_IO_SYNC), "sync");
	cr_assert_str_eq(virtio_blk_backend_name(DISK_IO_AUTO), "auto");
}
