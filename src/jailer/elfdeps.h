/* elfdeps.h: the files a dynamically linked program needs at run time (its ELF interpreter and
 * DT_NEEDED libraries, transitively), so kiln-jailer can copy them into the jail. */
#ifndef KILN_JAILER_ELFDEPS_H
#define KILN_JAILER_ELFDEPS_H

#include <stddef.h>

#define ELFDEPS_MAX 64

struct elfdeps {
	char *paths[ELFDEPS_MAX]; /* absolute paths as the dynamic loader looks them up */
	size_t n;
};

/* Fills `deps` with the interpreter and every library `program` needs, searched in the
 * program's DT_RUNPATH/DT_RPATH (without $ORIGIN) and then the Debian multiarch and standard
 * directories. A static program gives an empty list. Returns 0, or -1 with one line in `err`
 * (not an ELF file, a library not found, more than ELFDEPS_MAX). Free with elfdeps_free(). */
int elfdeps_collect(const char *program, struct elfdeps *deps, char *err, size_t err_size);
void elfdeps_free(struct elfdeps *deps);

#endif
