/* symbols.h: guest symbol tables for kiln top: an ELF file's symtab (libelf) or a System.map. */
#ifndef KILN_CONTROL_SYMBOLS_H
#define KILN_CONTROL_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

struct symtab;

/* Loads the function and object symbols of `path`: an ELF file (its .symtab, else .dynsym) or
 * text lines "ADDRESS TYPE NAME" as in System.map or `nm` output. Returns 0, or -errno with a
 * one-line reason naming the file in err. */
int __must_check symtab_load(struct symtab **out, const char *path, char *err, size_t err_size);
/* The same from text already in memory (System.map format); `what` names it in messages. */
int __must_check symtab_parse_map(struct symtab **out, const char *text, size_t len,
				  const char *what, char *err, size_t err_size);
void symtab_free(struct symtab *t);
unsigned int symtab_count(const struct symtab *t);

/* Writes "name+0xOFF" (or "name") for `addr` into buf: the symbol at or below addr, when addr is
 * inside it (its size, from ELF) or, without a size, before the next symbol. Returns false, with
 * buf "", when none covers it. */
bool symtab_lookup(const struct symtab *t, uint64_t addr, char *buf, size_t size);

#endif
