/* console.h: stdin as the guest console: raw terminal mode, the input pump, the Ctrl-a escape. */
#ifndef KILN_CONSOLE_H
#define KILN_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

struct console;

/* Where console input goes (the UART, or hvc0 with --console virtio); the console knows nothing
 * else about the VM. Every callback gets the `opaque` given to console_create() and runs on the
 * thread that calls console_pump() or console_wants_input(). */
struct console_sink {
	/* How many bytes push() would take now. */
	size_t (*space)(void *opaque);
	/* Delivers up to `n` bytes; returns how many it took (0: full, try again later). */
	size_t (*push)(void *opaque, const uint8_t *b, size_t n);
	/* Hands over what one console_pump() pushed (may be NULL: nothing to do). */
	void (*flush)(void *opaque);
	/* Ctrl-a x was typed on the terminal: stop the VM as for SIGINT. */
	void (*request_quit)(void *opaque);
};

/* A console reading the process's stdin (not yet read: console_pump() does). `sink` is copied;
 * with a terminal on stdin, Ctrl-a x quits and Ctrl-a Ctrl-a sends one Ctrl-a. Returns 0, or
 * -ENOMEM. console_destroy() frees it. */
int __must_check console_create(struct console **out, const struct console_sink *sink,
				void *opaque);

/* Whether stdin is worth polling now: not at end of input, nothing read is left undelivered, and
 * the sink has space (so no input is ever read that the guest cannot take). */
bool console_wants_input(const struct console *c);

/* Reads stdin once when `readable` (poll said so) and nothing read is left, then pushes what it
 * can into the sink, keeping the rest for the next call, and flushes the sink. Does nothing when
 * not `readable` and nothing is left. Returns false once stdin is at end of input. */
bool console_pump(struct console *c, bool readable);

/* Safe on NULL. */
void console_destroy(struct console *c);

/* When stdin is a terminal, saves its settings and puts it in raw mode (output processing kept),
 * restoring them at exit and on fatal signals; otherwise does nothing. Failures leave the
 * terminal as it was. Call once, before the VM runs. */
void console_terminal_raw(void);

/* Puts the terminal back as console_terminal_raw() found it; a no-op when that did nothing.
 * Idempotent. */
void console_terminal_restore(void);

#endif
