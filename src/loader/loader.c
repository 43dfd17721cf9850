/* loader.c: mapping image files (the architecture's file, x86.c or arm64.c, detects their format). */
#include "loader/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"

int loader_map_file(struct loader_image *img, const char *path, char *why, size_t why_size)
{
	struct stat st;
	int fd, e;
	void *p;

	memset(img, 0, sizeof(*img));
	img->path = path;
	/* Non-blocking: a FIFO given as the kernel must be refused, not waited on. */
	fd = file_open(path, O_RDONLY, 0, FILE_REG, why, why_size);
	if (fd < 0) {
		char reason[128];

		snprintf(reason, sizeof(reason), "%s", why);
		snprintf(why, why_size, "%s: %s%s", path, fd == -EINVAL ? "" : "cannot open: ", reason);
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		e = -errno;
		snprintf(why, why_size, "%s: cannot stat: %s", path, strerror(-e));
		close(fd);
		return e;
	}
	if (st.st_size == 0) {
		snprintf(why, why_size, "%s: empty file", path);
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	e = -errno;
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(why, why_size, "%s: cannot map: %s", path, strerror(-e));
		return e;
	}
	img->data = p;
	img->size = (size_t)st.st_size;
	return 0;
}

void loader_unmap_file(struct loader_image *img)
{
	if (img->data)
		munmap((void *)img->data, img->size);
	img->data = NULL;
	img->size = 0;
}
