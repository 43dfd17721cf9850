/* snapfile.c: the snapshot state file's container: header, named sections, CRC-32 (zlib). */
#include "util/snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Header field offsets (docs/snapshot.md, "Layout"); integers are little-endian. */
#define OFF_VERSION 8
#define OFF_HEADER_SIZE 12
#define OFF_ARCH 16
#define OFF_FILE_SIZE 32
#define OFF_NR_SECTIONS 40
#define TRAILER_MAGIC "KEND"

struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	uint32_t nr;
	char arch[SNAP_ARCH_MAX + 1];
};

struct snap_section {
	char name[SNAP_NAME_MAX + 1];
	const uint8_t *data;
	uint64_t len;
};

struct snap_reader {
	uint8_t *buf;
	size_t len;
	struct snap_section *sections;
	uint32_t nr;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* zlib's crc32() takes a uInt length: feed it in pieces. */
static uint32_t crc_of(const uint8_t *p, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)crc;
}

static int reserve(struct snap_writer *w, size_t more)
{
	size_t need, cap;
	uint8_t *b;

	if (add_overflow(w->len, more, &need) || need > SNAP_MAX_FILE)
		return -EFBIG;
	if (need <= w->cap)
		return 0;
	cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2;
	b = realloc(w->buf, cap);
	if (!b)
		return -ENOMEM;
	memset(b + w->cap, 0, cap - w->cap);
	w->buf = b;
	w->cap = cap;
	return 0;
}

int snap_writer_create(struct snap_writer **out, const char *arch)
{
	struct snap_writer *w;

	if (!arch || !arch[0] || strlen(arch) > SNAP_ARCH_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(w->arch, sizeof(w->arch), "%s", arch);
	if (reserve(w, SNAP_HEADER_SIZE)) {
		free(w);
		return -ENOMEM;
	}
	w->len = SNAP_HEADER_SIZE;
	*out = w;
	return 0;
}

static bool writer_has(const struct snap_writer *w, const char *name)
{
	size_t off = SNAP_HEADER_SIZE;

	for (uint32_t i = 0; i < w->nr; i++) {
		uint64_t len = get64(w->buf + off + SNAP_NAME_MAX + 1);

		if (strncmp((const char *)w->buf + off, name, SNAP_NAME_MAX + 1) == 0)
			return true;
		off += SNAP_SECTION_HEADER_SIZE + ((len + 7) & ~7ull);
	}
	return false;
}

int snap_add(struct snap_writer *w, const char *name, const void *data, size_t len)
{
	size_t nlen = name ? strlen(name) : 0, padded;
	int e;

	if (!nlen || nlen > SNAP_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < nlen; i++)
		if (name[i] <= 0x20 || name[i] > 0x7e)
			return -EINVAL;
	if (writer_has(w, name))
		return -EEXIST;
	if (w->nr >= SNAP_MAX_SECTIONS || len > SNAP_MAX_FILE)
		return -EFBIG;
	padded = (len + 7) & ~(size_t)7;
	if ((e = reserve(w, SNAP_SECTION_HEADER_SIZE + padded + SNAP_TRAILER_SIZE)))
		return e;
	memset(w->buf + w->len, 0, SNAP_SECTION_HEADER_SIZE + padded);
	memcpy(w->buf + w->len, name, nlen);
	put64(w->buf + w->len + SNAP_NAME_MAX + 1, len);
	if (len)
		memcpy(w->buf + w->len + SNAP_SECTION_HEADER_SIZE, data, len);
	w->len += SNAP_SECTION_HEADER_SIZE + padded;
	w->nr++;
	return 0;
}

const void *snap_writer_bytes(struct snap_writer *w, size_t *len)
{
	size_t total = w->len + SNAP_TRAILER_SIZE;

	if (reserve(w, SNAP_TRAILER_SIZE))
		return NULL;
	memset(w->buf, 0, SNAP_HEADER_SIZE);
	memcpy(w->buf, SNAP_MAGIC, 8);
	put32(w->buf + OFF_VERSION, SNAP_FORMAT_VERSION);
	put32(w->buf + OFF_HEADER_SIZE, SNAP_HEADER_SIZE);
	memcpy(w->buf + OFF_ARCH, w->arch, strlen(w->arch));
	put64(w->buf + OFF_FILE_SIZE, total);
	put32(w->buf + OFF_NR_SECTIONS, w->nr);
	put32(w->buf + w->len, crc_of(w->buf, w->len));
	memcpy(w->buf + w->len + 4, TRAILER_MAGIC, 4);
	*len = total;
	return w->buf;
}

int snap_writer_save(struct snap_writer *w, const char *path, char *err, size_t err_size)
{
	size_t len, done = 0;
	const uint8_t *p = snap_writer_bytes(w, &len);
	int fd, e = 0;

	if (!p) {
		snprintf(err, err_size, "out of memory for the state file");
		return -ENOMEM;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		e = -errno;
		snprintf(err, err_size, "cannot create '%s': %s", path, strerror(errno));
		return e;
	}
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO;
			snprintf(err, err_size, "cannot write '%s': %s", path, strerror(-e));
			break;
		}
		done += (size_t)n;
	}
	if (!e && fsync(fd) < 0 && errno != EINVAL) {
		e = -errno;
		snprintf(err, err_size, "cannot write '%s': %s", path, strerror(errno));
	}
	close(fd);
	return e;
}

void snap_writer_destroy(struct snap_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

#define refuse(...)                                       \
	do {                                              \
		snprintf(err, err_size, __VA_ARGS__);     \
		goto out_bad;                             \
	} while (0)

/* A section name: 1..SNAP_NAME_MAX printable ASCII bytes without spaces, NUL-padded (names end up
 * in one-line messages). */
static bool name_ok(const char *name)
{
	size_t n = strnlen(name, SNAP_NAME_MAX + 1);

	if (!n || n > SNAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] > 0x7e)
			return false;
	for (size_t i = n; i <= SNAP_NAME_MAX; i++)
		if (name[i])
			return false;
	return true;
}

int snap_reader_from_buffer(struct snap_reader **out, const void *buf, size_t len,
			    const char *arch, char *err, size_t err_size)
{
	const uint8_t *b = buf;
	struct snap_reader *r;
	char farch[SNAP_ARCH_MAX + 1];
	uint64_t fsize, off, end;
	uint32_t version, nr;

	if (len < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE) {
		snprintf(err, err_size, "truncated: %zu bytes, less than a header and checksum", len);
		return -EINVAL;
	}
	if (memcmp(b, SNAP_MAGIC, 8) != 0) {
		snprintf(err, err_size, "not a kiln snapshot (no %s magic)", SNAP_MAGIC);
		return -EINVAL;
	}
	version = get32(b + OFF_VERSION);
	if (version != SNAP_FORMAT_VERSION) {
		snprintf(err, err_size, "format version %u, this kiln reads version %u", version,
			 SNAP_FORMAT_VERSION);
		return -EINVAL;
	}
	fsize = get64(b + OFF_FILE_SIZE);
	if (fsize > len) {
		snprintf(err, err_size, "truncated: %zu bytes, the header says %llu", len,
			 (unsigned long long)fsize);
		return -EINVAL;
	}
	if (fsize < len) {
		snprintf(err, err_size, "corrupted: %zu bytes, the header says %llu", len,
			 (unsigned long long)fsize);
		return -EINVAL;
	}
	if (get32(b + len - SNAP_TRAILER_SIZE) != crc_of(b, len - SNAP_TRAILER_SIZE) ||
	    memcmp(b + len - 4, TRAILER_MAGIC, 4) != 0) {
		snprintf(err, err_size, "corrupted: checksum mismatch");
		return -EINVAL;
	}
	memcpy(farch, b + OFF_ARCH, SNAP_ARCH_MAX);
	farch[SNAP_ARCH_MAX] = '\0';
	for (char *c = farch; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	if (b[OFF_ARCH + SNAP_ARCH_MAX] != '\0' || strcmp(farch, arch) != 0) {
		snprintf(err, err_size, "made for architecture '%s', this kiln runs %s", farch, arch);
		return -EINVAL;
	}
	nr = get32(b + OFF_NR_SECTIONS);
	if (get32(b + OFF_HEADER_SIZE) != SNAP_HEADER_SIZE || nr > SNAP_MAX_SECTIONS) {
		snprintf(err, err_size, "corrupted: bad header size or section count");
		return -EINVAL;
	}

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->buf = malloc(len);
	r->sections = calloc(nr ? nr : 1, sizeof(*r->sections));
	if (!r->buf || !r->sections) {
		snap_reader_destroy(r);
		return -ENOMEM;
	}
	memcpy(r->buf, b, len);
	r->len = len;
	end = len - SNAP_TRAILER_SIZE;
	off = SNAP_HEADER_SIZE;
	for (uint32_t i = 0; i < nr; i++) {
		struct snap_section *s = &r->sections[i];
		uint64_t slen, padded;

		if (end - off < SNAP_SECTION_HEADER_SIZE)
			refuse("corrupted: section %u runs past the end", i);
		memcpy(s->name, r->buf + off, SNAP_NAME_MAX + 1);
		if (!name_ok(s->name))
			refuse("corrupted: section %u has no name, or one with other than printable "
			       "ASCII", i);
		slen = get64(r->buf + off + SNAP_NAME_MAX + 1);
		padded = (slen + 7) & ~7ull;
		off += SNAP_SECTION_HEADER_SIZE;
		if (slen > end - off || padded > end - off)
			refuse("corrupted: section '%s' runs past the end", s->name);
		s->data = r->buf + off;
		s->len = slen;
		off += padded;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(r->sections[j].name, s->name) == 0)
				refuse("corrupted: section '%s' appears twice", s->name);
		r->nr++;
	}
	if (off != end)
		refuse("corrupted: %llu bytes after the last section", (unsigned long long)(end - off));
	*out = r;
	return 0;

out_bad:
	snap_reader_destroy(r);
	return -EINVAL;
}

int snap_reader_open(struct snap_reader **out, const char *path, const char *arch, char *err,
		     size_t err_size)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = -errno;
		snprintf(err, err_size, "cannot open: %s", strerror(errno));
		return e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_size, "not a regular file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > SNAP_MAX_FILE) {
		close(fd);
		snprintf(err, err_size, "%llu bytes: larger than any state file (%llu MiB at most)",
			 (unsigned long long)st.st_size, SNAP_MAX_FILE >> 20);
		return -EINVAL;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	e = snap_reader_from_buffer(out, buf, done, arch, err, err_size);
	free(buf);
	return e;
}

void snap_reader_destroy(struct snap_reader *r)
{
	if (!r)
		return;
	free(r->sections);
	free(r->buf);
	free(r);
}

const void *snap_get(const struct snap_reader *r, const char *name, size_t *len)
{
	for (uint32_t i = 0; i < r->nr; i++)
		if (strcmp(r->sections[i].name, name) == 0) {
			*len = (size_t)r->sections[i].len;
			return r->sections[i].data;
		}
	return NULL;
}

int snap_get_exact(const struct snap_reader *r, const char *name, void *out, size_t len,
		   char *err, size_t err_size)
{
	size_t have;
	const void *p = snap_get(r, name, &have);

	if (!p) {
		snprintf(err, err_size, "section '%s' is missing", name);
		return -EINVAL;
	}
	if (have != len) {
		snprintf(err, err_size, "section '%s' has %zu bytes, this kiln expects %zu", name,
			 have, len);
		return -EINVAL;
	}
	memcpy(out, p, len);
	return 0;
}
