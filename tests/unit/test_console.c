/* test_console.c: the console input pump (src/console.c) over a recording sink, with stdin a
 * pseudo-terminal (the Ctrl-a escape applies) or a pipe (it does not). Each test is its own
 * process (Criterion forks), so replacing fd 0 is harmless. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"

/* The guest side: a FIFO of `cap` bytes that the test drains by hand. */
struct rec {
	uint8_t got[64];
	size_t n, cap;
	unsigned int flushes, quits;
};

static size_t rec_space(void *opaque)
{
	struct rec *r = opaque;

	return r->cap - r->n;
}

static size_t rec_push(void *opaque, const uint8_t *b, size_t n)
{
	struct rec *r = opaque;
	size_t take = n < r->cap - r->n ? n : r->cap - r->n;

	memcpy(r->got + r->n, b, take);
	r->n += take;
	return take;
}

static void rec_flush(void *opaque)
{
	((struct rec *)opaque)->flushes++;
}

static void rec_quit(void *opaque)
{
	((struct rec *)opaque)->quits++;
}

static const struct console_sink rec_sink = {
	.space = rec_space,
	.push = rec_push,
	.flush = rec_flush,
	.request_quit = rec_quit,
};

static struct rec rec;
static struct console *con;
static int writer = -1; /* the pty master or the pipe's write end */

/* stdin becomes a pseudo-terminal in raw mode (so reads do not wait for a newline). */
static void tty_setup(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	int slave;

	if (master < 0)
		cr_skip_test("no pseudo-terminal here: %s", strerror(errno));
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	cr_assert_geq(slave, 0);
	cr_assert_eq(dup2(slave, STDIN_FILENO), STDIN_FILENO);
	close(slave);
	console_terminal_raw();
	writer = master;
	rec = (struct rec){ .cap = sizeof(rec.got) };
	cr_assert_eq(console_create(&con, &rec_sink, &rec), 0);
}

static void pipe_setup(void)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	writer = p[1];
	rec = (struct rec){ .cap = sizeof(rec.got) };
	cr_assert_eq(console_create(&con, &rec_sink, &rec), 0);
}

static void teardown(void)
{
	console_destroy(con);
	console_terminal_restore();
	if (writer >= 0)
		close(writer);
}

static void type(const char *s)
{
	cr_assert_eq(write(writer, s, strlen(s)), (ssize_t)strlen(s));
	usleep(20000); /* let the pty pass it on */
}

TestSuite(console_tty, .init = tty_setup, .fini = teardown);
TestSuite(console_pipe, .init = pipe_setup, .fini = teardown);

Test(console_tty, plain_bytes_and_one_flush_per_round)
{
	cr_assert(console_wants_input(con));
	type("ab");
	cr_assert(console_pump(con, true));
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(memcmp(rec.got, "ab", 2), 0);
	cr_assert_eq(rec.flushes, 1);
	/* Nothing readable and nothing left: no round, no flush. */
	cr_assert(console_pump(con, false));
	cr_assert_eq(rec.flushes, 1);
}

Test(console_tty, ctrl_a_x_quits)
{
	type("a\001xb");
	cr_assert(console_pump(con, true));
	cr_assert_eq(rec.quits, 1);
	cr_assert_eq(rec.n, 1, "bytes after the escape are dropped");
	cr_assert_eq(rec.got[0], 'a');
	cr_assert(console_wants_input(con));
}

Test(console_tty, ctrl_a_ctrl_a_sends_one)
{
	type("\001\001");
	console_pump(con, true);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.got[0], 0x01);
	cr_assert_eq(rec.quits, 0);
}

Test(console_tty, ctrl_a_other_sends_both)
{
	type("\001b");
	console_pump(con, true);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(memcmp(rec.got, "\001b", 2), 0);
}

Test(console_tty, escape_split_across_reads)
{
	type("\001");
	console_pump(con, true);
	cr_assert_eq(rec.n, 0);
	type("X");
	console_pump(con, true);
	cr_assert_eq(rec.quits, 1);
	cr_assert_eq(rec.n, 0);
}

Test(console_tty, full_sink_keeps_the_rest)
{
	rec.cap = 3;
	type("hello");
	console_pump(con, true);
	cr_assert_eq(rec.n, 3);
	cr_assert_not(console_wants_input(con), "bytes are still pending");
	rec.n = 0; /* the guest took them */
	console_pump(con, false);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(memcmp(rec.got, "lo", 2), 0);
	cr_assert_eq(rec.flushes, 2);
	cr_assert(console_wants_input(con));
}

/* A full guest buffer in the middle of an escape sequence loses nothing. */
Test(console_tty, escape_waits_for_room)
{
	rec.cap = 1;
	type("z\001b");
	console_pump(con, true);
	cr_assert_eq(rec.n, 1);
	rec.n = 0; /* room for one byte: not enough for Ctrl-a and 'b' */
	console_pump(con, false);
	cr_assert_eq(rec.n, 0, "Ctrl-a b goes in one piece");
	rec.cap = 2;
	console_pump(con, false);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(memcmp(rec.got, "\001b", 2), 0);
}

Test(console_tty, ctrl_a_ctrl_a_waits_for_room)
{
	rec.cap = 1;
	type("z\001\001q");
	console_pump(con, true);
	cr_assert_eq(rec.n, 1);
	rec.n = 0;
	console_pump(con, false);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.got[0], 0x01, "one Ctrl-a, not a new escape");
	rec.n = 0;
	console_pump(con, false);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.got[0], 'q');
	cr_assert_eq(rec.quits, 0);
}

Test(console_pipe, no_escape_and_end_of_input)
{
	type("\001x");
	cr_assert(console_pump(con, true));
	cr_assert_eq(rec.quits, 0);
	cr_assert_eq(rec.n, 2);
	cr_assert_eq(memcmp(rec.got, "\001x", 2), 0);
	close(writer);
	writer = -1;
	cr_assert_not(console_pump(con, true));
	cr_assert_not(console_wants_input(con));
	cr_assert_eq(rec.flushes, 2);
}
