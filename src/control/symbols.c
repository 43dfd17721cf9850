/* symbols.c: guest symbol tables (ELF .symtab through libelf, or System.map text), sorted by
 * address for lookups. */
#include "control/symbols.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sym {
	uint64_t addr, size; /* size 0: unknown (System.map), up to the next symbol */
	char *name;
};

struct symtab {
	struct sym *syms;
	unsigned int nr, cap;
};

/* Longest stretch an unsized symbol is taken to cover: past it, an address is "no symbol". */
#define SYM_UNSIZED_MAX (1u << 20)

static int add(struct symtab *t, uint64_t addr, uint64_t size, const char *name, size_t len)
{
	if (t->nr == t->cap) {
		unsigned int cap = t->cap ? t->cap * 2 : 1024;
		struct sym *n = realloc(t->syms, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->syms = n;
		t->cap = cap;
	}
	t->syms[t->nr].name = strndup(name, len);
	if (!t->syms[t->nr].name)
		return -ENOMEM;
	t->syms[t->nr].addr = addr;
	t->syms[t->nr].size = size;
	t->nr++;
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Equal addresses: the sized one first, so it names the address. */
	return (x->size == 0) - (y->size == 0);
}

static void finish(struct symtab *t)
{
	qsort(t->syms, t->nr, sizeof(*t->syms), by_addr);
}

void symtab_free(struct symtab *t)
{
	if (!t)
		return;
	for (unsigned int i = 0; i < t->nr; i++)
		free(t->syms[i].name);
	free(t->syms);
	free(t);
}

unsigned int symtab_count(const struct symtab *t)
{
	return t ? t->nr : 0;
}

int symtab_parse_map(struct symtab **out, const char *text, size_t len, const char *what,
		     char *err, size_t err_size)
{
	struct symtab *t = calloc(1, sizeof(*t));
	const char *p = text, *end = text + len;
	unsigned int line = 0;

	if (!t)
		return -ENOMEM;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *q, *name;
		uint64_t addr = 0;
		unsigned int digits = 0;
		char type;

		if (!eol)
			eol = end;
		line++;
		for (q = p; q < eol && *q != ' ' && *q != '\t'; q++, digits++) {
			int d = *q >= '0' && *q <= '9'   ? *q - '0'
				: *q >= 'a' && *q <= 'f' ? *q - 'a' + 10
				: *q >= 'A' && *q <= 'F' ? *q - 'A' + 10
							 : -1;

			if (d < 0 || digits >= 16)
				goto bad;
			addr = addr << 4 | (uint64_t)d;
		}
		if (q == p && q == eol) { /* empty line */
			p = eol + 1;
			continue;
		}
		if (!digits || q + 3 > eol || q[0] != ' ' || q[2] != ' ')
			goto bad;
		type = q[1];
		name = q + 3;
		if (name == eol)
			goto bad;
		/* Code and data symbols; not absolute values, debugging or undefined ones. */
		if (strchr("TtDdBbRrWwVv", type)) {
			size_t n = (size_t)(eol - name);

			if (n && name[n - 1] == '\r')
				n--;
			if (add(t, addr, 0, name, n)) {
				symtab_free(t);
				return -ENOMEM;
			}
		}
		p = eol + 1;
	}
	if (!t->nr) {
		snprintf(err, err_size, "%s: no code or data symbols in it", what);
		symtab_free(t);
		return -EINVAL;
	}
	finish(t);
	*out = t;
	return 0;
bad:
	snprintf(err, err_size, "%s: line %u is not 'ADDRESS TYPE NAME' (System.map format)", what,
		 line);
	symtab_free(t);
	return -EINVAL;
}

static int load_elf(struct symtab **out, int fd, const char *path, char *err, size_t err_size)
{
	struct symtab *t;
	Elf *elf;
	Elf_Scn *scn = NULL, *found = NULL;
	GElf_Shdr sh, found_sh = { 0 };
	Elf_Data *data;
	int e = -EINVAL;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, err_size, "%s: libelf: %s", path, elf_errmsg(-1));
		return -EINVAL;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		snprintf(err, err_size, "%s: not an ELF file libelf can read: %s", path,
			 elf_errmsg(-1));
		goto out_end;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB || (sh.sh_type == SHT_DYNSYM && !found)) {
			found = scn;
			found_sh = sh;
		}
	}
	if (!found || !(data = elf_getdata(found, NULL)) || !found_sh.sh_entsize) {
		snprintf(err, err_size, "%s: no symbol table (.symtab): an unstripped image is needed",
			 path);
		goto out_end;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		e = -ENOMEM;
		goto out_end;
	}
	for (size_t i = 0; i < found_sh.sh_size / found_sh.sh_entsize; i++) {
		GElf_Sym s;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &s))
			break;
		type = GELF_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) ||
		    s.st_shndx == SHN_UNDEF || s.st_shndx == SHN_ABS)
			continue;
		name = elf_strptr(elf, found_sh.sh_link, s.st_name);
		if (!name || !*name)
			continue;
		if (add(t, s.st_value, s.st_size, name, strlen(name))) {
			symtab_free(t);
			e = -ENOMEM;
			goto out_end;
		}
	}
	if (!t->nr) {
		snprintf(err, err_size, "%s: its symbol table has no code or data symbols", path);
		symtab_free(t);
		goto out_end;
	}
	finish(t);
	*out = t;
	e = 0;
out_end:
	elf_end(elf);
	return e;
}

int symtab_load(struct symtab **out, const char *path, char *err, size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	unsigned char magic[4] = { 0 };
	struct stat st;
	char *text;

	if (fd < 0 || fstat(fd, &st)) {
		e = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return e;
	}
	if (pread(fd, magic, sizeof(magic), 0) == sizeof(magic) && memcmp(magic, ELFMAG, SELFMAG) == 0) {
		e = load_elf(out, fd, path, err, err_size);
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (1 << 28)) {
		snprintf(err, err_size, "%s: not a regular file under 256 MiB", path);
		close(fd);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	e = 0;
	for (off_t done = 0; done < st.st_size;) {
		ssize_t n = pread(fd, text + done, (size_t)(st.st_size - done), done);

		if (n <= 0) {
			e = n < 0 ? -errno : -EIO;
			snprintf(err, err_size, "%s: cannot read: %s", path, strerror(-e));
			break;
		}
		done += n;
	}
	close(fd);
	if (!e)
		e = symtab_parse_map(out, text, (size_t)st.st_size, path, err, err_size);
	free(text);
	return e;
}

bool symtab_lookup(const struct symtab *t, uint64_t addr, char *buf, size_t size)
{
	unsigned int lo = 0, hi = t ? t->nr : 0;
	const struct sym *s;
	uint64_t limit;

	buf[0] = '\0';
	/* The last symbol whose address is <= addr. */
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (t->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	s = &t->syms[lo - 1];
	/* Several at one address: the first of them (sized first, by_addr()). */
	while (s > t->syms && s[-1].addr == s->addr)
		s--;
	if (s->size)
		limit = s->size;
	else if (lo < t->nr)
		limit = t->syms[lo].addr - s->addr;
	else
		limit = SYM_UNSIZED_MAX;
	if (limit > SYM_UNSIZED_MAX && !s->size)
		limit = SYM_UNSIZED_MAX;
	if (addr - s->addr >= limit)
		return false;
	if (addr == s->addr)
		snprintf(buf, size, "%s", s->name);
	else
		snprintf(buf, size, "%s+0x%" PRIx64, s->name, addr - s->addr);
	return true;
}
