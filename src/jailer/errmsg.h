/* errmsg.h: the one-line messages kiln-jailer's parsers return (args.c, elfdeps.c). */
#ifndef KILN_JAILER_ERRMSG_H
#define KILN_JAILER_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes the message into err (err_size bytes at most) and returns -1, for `return bad(...)`. */
__attribute__((format(printf, 3, 4))) static inline int bad(char *err, size_t err_size,
							     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -1;
}

#endif
