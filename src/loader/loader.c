/* loader.c: mapping image files and detecting their format from their contents. */
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

int loader_load(const struct gmem *gm, const struct loader_args *args, struct boot_entry *entry,
		char *why, size_t why_size)
{
	const struct loader_image *k = &args->kernel;
	long mb, bad;

	memset(entry, 0, sizeof(*entry));
	if (args->flat)
		return loader_load_flat(gm, args, entry, why, why_size);
	if (linux_is_bzimage(k))
		return loader_load_bzimage(gm, args, entry, why, why_size);
	mb = multiboot_find_header(k, &bad);
	if (mb >= 0)
		return loader_load_multiboot(gm, args, (size_t)mb, entry, why, why_size);
	if (elf_is_elf(k) && elf_class(k) == 2 /* ELFCLASS64 */) {
		uint32_t pvh;

		/* A Linux vmlinux takes the 64-bit boot protocol; another ELF with only a PVH entry
		 * (Xen-style kernels) takes PVH; anything else is a bare 64-bit ELF. */
		if (elf_has_linux_note(k))
			return loader_load_vmlinux(gm, args, entry, why, why_size);
		if (elf_pvh_entry(k, &pvh) == 0)
			return loader_load_pvh(gm, args, pvh, entry, why, why_size);
		return loader_load_elf64(gm, args, entry, why, why_size);
	}
	if (bad >= 0) {
		snprintf(why, why_size,
			 "%s: multiboot header at offset 0x%lx has a bad checksum "
			 "(magic + flags + checksum must be 0)",
			 k->path, bad);
		return -EINVAL;
	}
	if (elf_is_elf(k)) {
		if (elf_class(k) == 1 /* ELFCLASS32 */)
			snprintf(why, why_size,
				 "%s: 32-bit ELF without a multiboot header: kiln boots 32-bit kernels "
				 "through multiboot only",
				 k->path);
		else
			snprintf(why, why_size, "%s: ELF of unknown class %u", k->path,
				 k->size > 4 ? k->data[4] : 0);
		return -EINVAL;
	}
	snprintf(why, why_size,
		 "%s: unknown format: not a Linux bzImage, 64-bit ELF or multiboot kernel "
		 "(for a raw real-mode binary, use --flat)",
		 k->path);
	return -EINVAL;
}
