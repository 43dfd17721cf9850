/* Minimal string helpers and kernel command-line parsing. */
#ifndef GUEST_KSTRING_H
#define GUEST_KSTRING_H

#include "types.h"

static inline uptr k_strlen(const char *s)
{
	uptr n = 0;
	while (s[n])
		n++;
	return n;
}

static inline int k_strncmp(const char *a, const char *b, uptr n)
{
	for (uptr i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (u8)a[i] - (u8)b[i];
		if (a[i] == 0)
			return 0;
	}
	return 0;
}

static inline void k_memcpy(void *dst, const void *src, uptr n)
{
	u8 *d = dst;
	const u8 *s = src;
	for (uptr i = 0; i < n; i++)
		d[i] = s[i];
}

/*
 * Find "key" (e.g. "cpus=") as a whole word in a space-separated command line;
 * returns a pointer to the text after it, or NULL. Scans at most 4096 bytes.
 */
static inline const char *cmdline_find(const char *cmdline, const char *key)
{
	uptr klen = k_strlen(key);
	for (uptr i = 0; i < 4096 && cmdline[i]; i++) {
		if ((i == 0 || cmdline[i - 1] == ' ') && k_strncmp(cmdline + i, key, klen) == 0)
			return cmdline + i + klen;
	}
	return NULL;
}

/* Parse a decimal number at s (stops at the first non-digit); *ok = 0 if no digits. */
static inline u32 parse_dec(const char *s, int *ok)
{
	u32 v = 0;
	int digits = 0;
	while (*s >= '0' && *s <= '9' && digits < 9) {
		v = v * 10 + (u32)(*s++ - '0');
		digits++;
	}
	*ok = digits > 0;
	return v;
}

/* Does the word at s (ended by space or NUL) equal word? */
static inline int word_is(const char *s, const char *word)
{
	uptr n = k_strlen(word);
	return k_strncmp(s, word, n) == 0 && (s[n] == 0 || s[n] == ' ');
}

#endif
