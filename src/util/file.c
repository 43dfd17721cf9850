/* file.c: non-blocking, type-checked opens of user-named paths. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "regular file";
	case S_IFDIR:
		return "directory";
	case S_IFBLK:
		return "block device";
	case S_IFCHR:
		return "character device";
	case S_IFIFO:
		return "FIFO";
	case S_IFSOCK:
		return "socket";
	case S_IFLNK:
		return "symbolic link";
	default:
		return "special file";
	}
}

static unsigned int kind_of(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return FILE_REG;
	case S_IFBLK:
		return FILE_BLK;
	case S_IFCHR:
		return FILE_CHR;
	case S_IFIFO:
		return FILE_FIFO;
	default:
		return 0;
	}
}

/* "a regular file or block device" from a mask. */
static void describe_kinds(unsigned int kinds, char *buf, size_t size)
{
	static const char *const names[] = { "regular file", "block device", "character device",
					      "FIFO" };
	size_t n = 0;
	unsigned int count = 0, total = (unsigned int)__builtin_popcount(kinds);

	buf[0] = '\0';
	for (unsigned int i = 0; i < 4; i++) {
		if (!(kinds & (1u << i)))
			continue;
		count++;
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s",
				      count == 1 ? "a " : count == total ? " or " : ", ", names[i]);
		if (n >= size)
			return;
	}
}

static int fail(int e, char *why, size_t why_size)
{
	if (why)
		snprintf(why, why_size, "%s", strerror(-e));
	return e;
}

int file_open(const char *path, int flags, mode_t mode, unsigned int kinds, char *why,
	      size_t why_size)
{
	struct stat st;
	int fd, e;

	flags |= O_CLOEXEC | O_NONBLOCK;
	fd = open(path, flags, mode);
	if (fd < 0 && errno == ENXIO && (kinds & FILE_FIFO) && (flags & O_ACCMODE) == O_WRONLY)
		fd = -1; /* a FIFO with no reader: reopened read-write below */
	else if (fd < 0)
		return fail(-errno, why, why_size);
	if (fd >= 0 && fstat(fd, &st) < 0) {
		e = -errno;
		close(fd);
		return fail(e, why, why_size);
	}
	if (fd < 0 || (S_ISFIFO(st.st_mode) && (kinds & FILE_FIFO) &&
		       (flags & O_ACCMODE) != O_RDWR)) {
		/* Reading end too, so the open never waits and writes never see EPIPE. */
		if (fd >= 0)
			close(fd);
		fd = open(path, (flags & ~(O_ACCMODE | O_CREAT | O_TRUNC)) | O_RDWR);
		if (fd < 0)
			return fail(-errno, why, why_size);
		if (fstat(fd, &st) < 0) {
			e = -errno;
			close(fd);
			return fail(e, why, why_size);
		}
	}
	if (!(kind_of(st.st_mode) & kinds)) {
		char want[96];

		describe_kinds(kinds, want, sizeof(want));
		if (why)
			snprintf(why, why_size, "is a %s, not %s", file_type_name(st.st_mode), want);
		close(fd);
		return -EINVAL;
	}
	if (!S_ISFIFO(st.st_mode) && ((e = fcntl(fd, F_GETFL)) < 0 ||
					fcntl(fd, F_SETFL, e & ~O_NONBLOCK) < 0)) {
		e = -errno;
		close(fd);
		return fail(e, why, why_size);
	}
	return fd;
}
