/* uart_fixture.h: what the UART tests (test_serial.c, test_pl011.c) set up around the device
 * under test: a recorder of its interrupt line, the pipe its transmitter writes into and a count
 * of its rx_space callbacks. It defines that state, so one test file includes it: the file's
 * .init calls uart_fixture_open() and then creates its UART with pipefd[1], `sink`, on_rx_space
 * and &rx_space_calls; its .fini destroys the UART and calls uart_fixture_close(). */
#ifndef KILN_TESTS_UART_FIXTURE_H
#define KILN_TESTS_UART_FIXTURE_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"

/* The interrupt controller side: records the line. */
struct line_rec {
	int level;
	unsigned int raises, lowers;
	unsigned int gsi;
};

static void line_rec_set_level(void *opaque, unsigned int gsi, int level)
{
	struct line_rec *r = opaque;

	r->gsi = gsi;
	if (level && !r->level)
		r->raises++;
	if (!level && r->level)
		r->lowers++;
	r->level = level;
}

static struct line_rec irq;
static const struct irq_sink sink = { .set_level = line_rec_set_level, .opaque = &irq };
static int pipefd[2];
static unsigned int rx_space_calls;

static void on_rx_space(void *opaque)
{
	cr_assert_eq(opaque, &rx_space_calls, "rx_space gets its opaque pointer");
	rx_space_calls++;
}

/* A clear line record and call count, and a fresh non-blocking pipe. */
static void uart_fixture_open(void)
{
	memset(&irq, 0, sizeof(irq));
	rx_space_calls = 0;
	cr_assert_eq(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
}

static void uart_fixture_close(void)
{
	close(pipefd[0]);
	close(pipefd[1]);
}

#endif
