/* file.h: opening a path a user names (images, logs, FIFOs) without ever blocking on it. */
#ifndef KILN_UTIL_FILE_H
#define KILN_UTIL_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/checked.h"

/* The file types a caller accepts (bit mask). */
enum {
	FILE_REG = 1u << 0,  /* regular file */
	FILE_BLK = 1u << 1,  /* block device */
	FILE_CHR = 1u << 2,  /* character device (/dev/null, a terminal) */
	FILE_FIFO = 1u << 3, /* named pipe: opened O_RDWR and left non-blocking */
};

/* Opens `path` with `flags` (O_CLOEXEC is added; `mode` for O_CREAT) and O_NONBLOCK, so that a
 * FIFO with no peer or a device cannot block the open, then checks the type against `kinds`.
 * A FIFO (when allowed) is opened read-write, as Firecracker opens its log and metrics FIFOs: the
 * open never waits for a reader, and a write to a FIFO nobody reads fails with EAGAIN once the
 * pipe is full instead of blocking; it stays non-blocking. Any other type gets O_NONBLOCK cleared
 * again. Returns the fd, or -errno with `why` (may be NULL, `why_size` bytes) holding the reason
 * without the path: strerror(), or "is a FIFO, not a regular file" style text (-EINVAL) when the
 * type is not one of `kinds`. */
int __must_check file_open(const char *path, int flags, mode_t mode, unsigned int kinds, char *why,
			   size_t why_size);

/* "regular file", "directory", "FIFO", ... for messages. */
const char *file_type_name(mode_t mode);

#endif
