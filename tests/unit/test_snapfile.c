/* test_snapfile.c: the snapshot state file's container (src/util/snapfile.c): a round trip, and
 * each refusal a load must make (truncated, corrupted, other version, other architecture). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util/snapfile.h"

static char err[SNAP_ERR_MAX];

/* A file with three sections: "config" (text), "empty" (0 bytes), "vcpu0" (13 bytes). */
static uint8_t *sample(size_t *len)
{
	struct snap_writer *w;
	const uint8_t odd[13] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
	const void *p;
	uint8_t *copy;

	cr_assert_eq(snap_writer_create(&w, "x86_64"), 0);
	cr_assert_eq(snap_add(w, "config", "{\"a\":1}", 7), 0);
	cr_assert_eq(snap_add(w, "empty", NULL, 0), 0);
	cr_assert_eq(snap_add(w, "vcpu0", odd, sizeof(odd)), 0);
	p = snap_writer_bytes(w, len);
	cr_assert_not_null(p);
	copy = malloc(*len);
	memcpy(copy, p, *len);
	snap_writer_destroy(w);
	return copy;
}

static int load(const uint8_t *b, size_t len)
{
	struct snap_reader *r = NULL;
	int e;

	err[0] = '\0';
	e = snap_reader_from_buffer(&r, b, len, "x86_64", err, sizeof(err));
	snap_reader_destroy(r);
	return e;
}

/* Recomputes nothing: patches a byte and says what the reader answers. */
Test(snapfile, round_trip)
{
	size_t len, n;
	uint8_t *b = sample(&len), v[13];
	struct snap_reader *r;
	const char *c;

	cr_assert_eq(len % 8, 0);
	cr_assert_eq(snap_reader_from_buffer(&r, b, len, "x86_64", err, sizeof(err)), 0, "%s", err);
	c = snap_get(r, "config", &n);
	cr_assert_not_null(c);
	cr_expect_eq(n, 7);
	cr_expect_arr_eq(c, "{\"a\":1}", 7);
	cr_expect_not_null(snap_get(r, "empty", &n));
	cr_expect_eq(n, 0);
	cr_expect_eq(snap_get_exact(r, "vcpu0", v, sizeof(v), err, sizeof(err)), 0);
	cr_expect_eq(v[12], 13);
	cr_expect_null(snap_get(r, "vcpu1", &n));
	cr_expect_eq(snap_get_exact(r, "vcpu1", v, sizeof(v), err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "section 'vcpu1' is missing");
	cr_expect_eq(snap_get_exact(r, "vcpu0", v, 12, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "section 'vcpu0' has 13 bytes, this kiln expects 12");
	snap_reader_destroy(r);
	free(b);
}

Test(snapfile, save_and_open_a_file)
{
	char path[] = "/tmp/test_snapfile.XXXXXX";
	struct snap_writer *w;
	struct snap_reader *r;
	size_t n;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(snap_writer_create(&w, "x86_64"), 0);
	cr_assert_eq(snap_add(w, "a", "xyz", 3), 0);
	cr_assert_eq(snap_writer_save(w, path, err, sizeof(err)), 0, "%s", err);
	snap_writer_destroy(w);
	cr_assert_eq(snap_reader_open(&r, path, "x86_64", err, sizeof(err)), 0, "%s", err);
	cr_expect_arr_eq(snap_get(r, "a", &n), "xyz", 3);
	snap_reader_destroy(r);
	unlink(path);
	cr_expect_eq(snap_reader_open(&r, path, "x86_64", err, sizeof(err)), -ENOENT);
	cr_expect(strstr(err, "cannot open") != NULL, "%s", err);
}

Test(snapfile, writer_refuses_bad_and_duplicate_names)
{
	struct snap_writer *w;

	cr_assert_eq(snap_writer_create(&w, "x86_64"), 0);
	cr_expect_eq(snap_add(w, "", "x", 1), -EINVAL);
	cr_expect_eq(snap_add(w, "a-name-longer-than-23-bytes", "x", 1), -EINVAL);
	cr_expect_eq(snap_add(w, "two words", "x", 1), -EINVAL);
	cr_expect_eq(snap_add(w, "line\n", "x", 1), -EINVAL);
	cr_expect_eq(snap_add(w, "dev", "x", 1), 0);
	cr_expect_eq(snap_add(w, "dev", "y", 1), -EEXIST);
	snap_writer_destroy(w);
	cr_expect_eq(snap_writer_create(&w, "an-architecture-name"), -EINVAL);
}

Test(snapfile, every_truncation_is_refused)
{
	size_t len;
	uint8_t *b = sample(&len);

	for (size_t cut = 0; cut < len; cut++) {
		cr_expect_eq(load(b, cut), -EINVAL, "cut at %zu", cut);
		cr_expect(strstr(err, "truncated") != NULL || strstr(err, "no KILNSNAP") != NULL,
			  "cut at %zu: %s", cut, err);
	}
	cr_expect_eq(load(b, len - 1), -EINVAL);
	cr_expect(strstr(err, "truncated") != NULL, "%s", err);
	free(b);
}

Test(snapfile, every_flipped_bit_is_refused)
{
	size_t len;
	uint8_t *b = sample(&len);

	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			cr_expect_eq(load(b, len), -EINVAL, "byte %zu bit %d", i, bit);
			b[i] ^= (uint8_t)(1u << bit);
		}
	b[SNAP_HEADER_SIZE + SNAP_SECTION_HEADER_SIZE] ^= 1; /* the first byte of "config" */
	cr_expect_eq(load(b, len), -EINVAL);
	cr_expect_str_eq(err, "corrupted: checksum mismatch");
	free(b);
}

Test(snapfile, trailing_bytes_are_refused)
{
	size_t len;
	uint8_t *b = sample(&len), *more = calloc(1, len + 8);

	memcpy(more, b, len);
	cr_expect_eq(load(more, len + 8), -EINVAL);
	cr_expect(strstr(err, "corrupted") != NULL, "%s", err);
	free(more);
	free(b);
}

Test(snapfile, other_format_version_is_refused_by_name)
{
	size_t len;
	uint8_t *b = sample(&len);

	b[8] = 2; /* the version field, before the checksum is looked at */
	cr_expect_eq(load(b, len), -EINVAL);
	cr_expect_str_eq(err, "format version 2, this kiln reads version 1");
	free(b);
}

Test(snapfile, other_architecture_is_refused_by_name)
{
	struct snap_writer *w;
	struct snap_reader *r = NULL;
	const void *p;
	size_t len;

	cr_assert_eq(snap_writer_create(&w, "aarch64"), 0);
	cr_assert_eq(snap_add(w, "config", "{}", 2), 0);
	p = snap_writer_bytes(w, &len);
	cr_expect_eq(snap_reader_from_buffer(&r, p, len, "x86_64", err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "made for architecture 'aarch64', this kiln runs x86_64");
	snap_writer_destroy(w);
}

Test(snapfile, not_a_snapshot)
{
	uint8_t zeros[128] = { 0 };

	cr_expect_eq(load(zeros, sizeof(zeros)), -EINVAL);
	cr_expect_str_eq(err, "not a kiln snapshot (no KILNSNAP magic)");
}

/* A name that would break a one-line message (found by fuzz_snapfile), behind a valid checksum. */
Test(snapfile, control_characters_in_a_name_are_refused)
{
	size_t len;
	uint8_t *b = sample(&len);
	uLong crc;

	b[SNAP_HEADER_SIZE + 1] = '\n'; /* "c\nnfig" */
	crc = crc32(0L, b, (uInt)(len - SNAP_TRAILER_SIZE));
	for (int i = 0; i < 4; i++)
		b[len - SNAP_TRAILER_SIZE + i] = (uint8_t)(crc >> (8 * i));
	cr_expect_eq(load(b, len), -EINVAL);
	cr_expect_str_eq(err, "corrupted: section 0 has no name, or one with other than printable ASCII");
	free(b);
}
