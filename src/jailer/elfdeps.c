/* elfdeps.c: a program's interpreter and shared libraries, read with libelf (PT_INTERP,
 * DT_NEEDED, DT_RUNPATH/DT_RPATH): what the dynamic loader will open inside the jail. */
#include "jailer/elfdeps.h"

#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jailer/errmsg.h"

/* Where ld.so looks after the object's own run paths on Debian (/etc/ld.so.conf.d's multiarch
 * entries, then the built-in trusted directories). */
static const char *const system_dirs[] = {
	"/usr/local/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/usr/local/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/usr/local/lib", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

#define NEEDED_MAX 64
#define RUNPATH_MAX 1024

struct dyninfo {
	char interp[256];
	char *needed[NEEDED_MAX];
	size_t n_needed;
	char runpath[RUNPATH_MAX];
};

static void dyninfo_free(struct dyninfo *d)
{
	for (size_t i = 0; i < d->n_needed; i++)
		free(d->needed[i]);
	d->n_needed = 0;
}

/* Reads PT_INTERP and the dynamic section's DT_NEEDED and run path of `path`. */
static int read_dyninfo(const char *path, struct dyninfo *d, char *err, size_t err_size)
{
	Elf *elf = NULL;
	Elf_Scn *scn = NULL;
	size_t phnum;
	int fd, rc = -1;

	memset(d, 0, sizeof(*d));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return bad(err, err_size, "%s: cannot open: %m", path);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum)) {
		bad(err, err_size, "%s: not an ELF file", path);
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		char *raw;
		size_t size;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_INTERP)
			continue;
		raw = elf_rawfile(elf, &size);
		if (!raw || ph.p_offset >= size || ph.p_filesz > size - ph.p_offset ||
		    ph.p_filesz == 0 || ph.p_filesz >= sizeof(d->interp) ||
		    raw[ph.p_offset + ph.p_filesz - 1] != '\0') {
			bad(err, err_size, "%s: bad PT_INTERP", path);
			goto out;
		}
		memcpy(d->interp, raw + ph.p_offset, ph.p_filesz);
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *s;

			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RUNPATH && dyn.d_tag != DT_RPATH)
				continue;
			s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (!s) {
				bad(err, err_size, "%s: bad dynamic string", path);
				goto out;
			}
			if (dyn.d_tag != DT_NEEDED) {
				snprintf(d->runpath, sizeof(d->runpath), "%s", s);
			} else if (d->n_needed == NEEDED_MAX) {
				bad(err, err_size, "%s: more than %d DT_NEEDED entries", path, NEEDED_MAX);
				goto out;
			} else if (!(d->needed[d->n_needed++] = strdup(s))) {
				bad(err, err_size, "%s: out of memory", path);
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (rc)
		dyninfo_free(d);
	elf_end(elf);
	close(fd);
	return rc;
}

static bool have(const struct elfdeps *deps, const char *path)
{
	for (size_t i = 0; i < deps->n; i++)
		if (!strcmp(deps->paths[i], path))
			return true;
	return false;
}

static int add(struct elfdeps *deps, const char *path, char *err, size_t err_size)
{
	if (have(deps, path))
		return 0;
	if (deps->n == ELFDEPS_MAX)
		return bad(err, err_size, "more than %d shared libraries", ELFDEPS_MAX);
	if (!(deps->paths[deps->n] = strdup(path)))
		return bad(err, err_size, "out of memory");
	deps->n++;
	return 0;
}

/* The first DIR/name that exists, in the run path's directories and then the system's. */
static int find_library(const char *name, const char *runpath, char *out, size_t out_size)
{
	char dirs[RUNPATH_MAX];
	char *save = NULL;

	if (strchr(name, '/'))
		return snprintf(out, out_size, "%s", name) < (int)out_size && !access(out, R_OK) ? 0 : -1;
	snprintf(dirs, sizeof(dirs), "%s", runpath);
	for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/') /* $ORIGIN and relative entries: not followed */
			continue;
		if (snprintf(out, out_size, "%s/%s", dir, name) < (int)out_size && !access(out, R_OK))
			return 0;
	}
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++)
		if (snprintf(out, out_size, "%s/%s", system_dirs[i], name) < (int)out_size &&
		    !access(out, R_OK))
			return 0;
	return -1;
}

int elfdeps_collect(const char *program, struct elfdeps *deps, char *err, size_t err_size)
{
	struct dyninfo d;

	memset(deps, 0, sizeof(*deps));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return bad(err, err_size, "libelf: %s", elf_errmsg(-1));
	if (read_dyninfo(program, &d, err, err_size))
		return -1;
	if (d.interp[0] && add(deps, d.interp, err, err_size))
		goto fail;
	/* Breadth first: deps->paths doubles as the work list. Index 0 may be the interpreter,
	 * whose own needs (none) are read like any library's. */
	for (size_t next = 0;; next++) {
		for (size_t i = 0; i < d.n_needed; i++) {
			char found[4096];

			if (find_library(d.needed[i], d.runpath, found, sizeof(found))) {
				bad(err, err_size, "%s: needs %s, which is not found", program, d.needed[i]);
				goto fail;
			}
			if (add(deps, found, err, err_size))
				goto fail;
		}
		dyninfo_free(&d);
		if (next >= deps->n)
			break;
		if (read_dyninfo(deps->paths[next], &d, err, err_size))
			goto fail_freed;
	}
	return 0;
fail:
	dyninfo_free(&d);
fail_freed:
	elfdeps_free(deps);
	return -1;
}

void elfdeps_free(struct elfdeps *deps)
{
	for (size_t i = 0; i < deps->n; i++)
		free(deps->paths[i]);
	deps->n = 0;
}
