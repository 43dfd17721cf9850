/* snapfile.h: kiln's snapshot state file (docs/snapshot.md): a fixed header (magic, format
 * version, architecture, size), named sections of given lengths, and a CRC-32 over the whole
 * file. Only the container: what the sections hold is the snapshot code's business. */
#ifndef KILN_UTIL_SNAPFILE_H
#define KILN_UTIL_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

#define SNAP_MAGIC "KILNSNAP"
#define SNAP_FORMAT_VERSION 1u
#define SNAP_HEADER_SIZE 64u
#define SNAP_SECTION_HEADER_SIZE 32u
#define SNAP_TRAILER_SIZE 8u
#define SNAP_NAME_MAX 23u          /* bytes of a section name, without its NUL */
#define SNAP_ARCH_MAX 15u          /* bytes of the architecture's name, without its NUL */
#define SNAP_MAX_SECTIONS 4096u
#define SNAP_MAX_FILE (256ull << 20) /* state files are small: guest RAM is in the memory file */
#define SNAP_ERR_MAX 256

struct snap_writer;
struct snap_reader;

/* A new, empty state file for architecture `arch`. Returns 0 or -ENOMEM (-EINVAL: arch too
 * long). */
int __must_check snap_writer_create(struct snap_writer **out, const char *arch);
/* Appends section `name` (1..SNAP_NAME_MAX printable ASCII bytes, no space) holding a copy of [data, data+len). Returns 0,
 * -EEXIST for a name already added, -EINVAL for a bad name, -EFBIG past the limits, -ENOMEM. */
int __must_check snap_add(struct snap_writer *w, const char *name, const void *data, size_t len);
/* The whole file in memory (header, sections, checksum): valid until the next snap_add(). */
const void *snap_writer_bytes(struct snap_writer *w, size_t *len);
/* Writes the file to `path` (created 0600, or truncated). Returns 0 or -errno with one line in
 * err. */
int __must_check snap_writer_save(struct snap_writer *w, const char *path, char *err,
				  size_t err_size);
void snap_writer_destroy(struct snap_writer *w);

/* Checks a whole file held in [buf, buf+len) and indexes its sections; the reader keeps its own
 * copy. Refuses, with -EINVAL and one line in err naming the reason: a file too short for a
 * header, another magic, another format version, a size other than the header says (truncated),
 * a checksum mismatch (corrupted), another architecture than `arch`, malformed or duplicate
 * sections. -ENOMEM when out of memory. */
int __must_check snap_reader_from_buffer(struct snap_reader **out, const void *buf, size_t len,
					 const char *arch, char *err, size_t err_size);
/* The same for the file at `path` (-errno with the reason in err when it cannot be read). */
int __must_check snap_reader_open(struct snap_reader **out, const char *path, const char *arch,
				  char *err, size_t err_size);
void snap_reader_destroy(struct snap_reader *r);

/* Section `name`: its bytes and length, or NULL when the file has none. */
const void *snap_get(const struct snap_reader *r, const char *name, size_t *len);
/* Copies section `name` into out, which must be exactly `len` bytes long. Returns 0, or -EINVAL
 * with "section 'NAME' is missing" or "section 'NAME' has N bytes, this kiln expects M" in err. */
int __must_check snap_get_exact(const struct snap_reader *r, const char *name, void *out,
				size_t len, char *err, size_t err_size);

#endif
