/* console.c: stdin into the guest console, the Ctrl-a escape, and the terminal's raw mode. */
#include "console.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-a, then x quits (as QEMU's -nographic) */

/* Bytes read from stdin and not yet delivered are buf[pos..len). */
struct console {
	struct console_sink sink;
	void *opaque;
	uint8_t buf[256];
	size_t len, pos;
	bool escape, eof, tty;
};

/* The terminal as we found it; restored on every exit path (atexit and fatal signals). */
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

void console_terminal_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void fatal_signal(int sig)
{
	console_terminal_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void console_terminal_raw(void)
{
	struct termios tio;
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE };

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	tio = saved_tio;
	cfmakeraw(&tio);
	/* Keep output processing so a guest's bare \n still starts a new line. */
	tio.c_oflag |= OPOST;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) < 0)
		return;
	tio_saved = 1;
	atexit(console_terminal_restore);
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
		signal(fatal[i], fatal_signal);
}

int console_create(struct console **out, const struct console_sink *sink, void *opaque)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->sink = *sink;
	c->opaque = opaque;
	c->tty = isatty(STDIN_FILENO);
	*out = c;
	return 0;
}

void console_destroy(struct console *c)
{
	free(c);
}

bool console_wants_input(const struct console *c)
{
	return !c->eof && c->pos == c->len && c->sink.space(c->opaque) > 0;
}

/* One read of stdin (when `readable` and the buffer is used up), then as many bytes into the
 * sink as it takes, the escape applied on the way. Returns false at end of input. */
static bool pump_bytes(struct console *c, bool readable)
{
	if (c->pos == c->len && readable && !c->eof) {
		ssize_t n = read(STDIN_FILENO, c->buf, sizeof(c->buf));

		if (n > 0) {
			c->len = (size_t)n;
			c->pos = 0;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			c->eof = true;
		}
	}
	while (c->pos < c->len) {
		uint8_t b = c->buf[c->pos];

		if (c->tty && c->escape) {
			if (b == 'x' || b == 'X') {
				c->escape = false;
				pr_info("console: Ctrl-a x: quitting");
				c->sink.request_quit(c->opaque);
				c->pos = c->len;
				return !c->eof;
			}
			/* Ctrl-a Ctrl-a sends one Ctrl-a; Ctrl-a and another key send both. The escape
			 * stays pending until all of it fits, so a full guest buffer loses nothing. */
			if (c->sink.space(c->opaque) < (b == CONSOLE_ESCAPE ? 1u : 2u))
				break;
			if (b != CONSOLE_ESCAPE) {
				uint8_t esc = CONSOLE_ESCAPE;

				(void)c->sink.push(c->opaque, &esc, 1);
			}
			c->escape = false;
		} else if (c->tty && b == CONSOLE_ESCAPE) {
			c->escape = true;
			c->pos++;
			continue;
		}
		if (c->sink.push(c->opaque, &b, 1) == 0)
			break; /* FIFO or buffer full: wait for the guest to take more */
		c->pos++;
	}
	return !c->eof;
}

bool console_pump(struct console *c, bool readable)
{
	bool more;

	if (!readable && c->pos == c->len)
		return !c->eof;
	more = pump_bytes(c, readable);
	if (c->sink.flush)
		c->sink.flush(c->opaque); /* hand over what this round filled */
	return more;
}
