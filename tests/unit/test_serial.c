/* test_serial.c: the 16550A register model (src/devices/serial.c), driven through its bus
 * handlers as a guest would, with the transmitter writing into a pipe. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "devices/serial.h"
#include "util/rate_limiter.h"
#include "uart_fixture.h"

#define GSI 4

static struct serial *uart;

static void uart_setup(void)
{
	uart_fixture_open();
	cr_assert_eq(serial_create(&uart, pipefd[1], (struct irq_line){ .sink = &sink, .gsi = GSI },
				   on_rx_space, &rx_space_calls),
		     0);
}

static void uart_teardown(void)
{
	serial_destroy(uart);
	uart_fixture_close();
}

TestSuite(uart, .init = uart_setup, .fini = uart_teardown);

static uint8_t in(unsigned int reg)
{
	uint8_t v = 0x5a;

	serial_io_read(uart, reg, &v, 1);
	return v;
}

static void out(unsigned int reg, uint8_t v)
{
	serial_io_write(uart, reg, &v, 1);
}

/* Whatever the UART transmitted so far (non-blocking read of the pipe). */
static size_t transmitted(char *buf, size_t len)
{
	ssize_t n = read(pipefd[0], buf, len);

	if (n < 0) {
		cr_assert_eq(errno, EAGAIN);
		return 0;
	}
	return (size_t)n;
}

static size_t push_str(const char *s)
{
	return serial_rx_push(uart, (const uint8_t *)s, strlen(s));
}

/* ---- reset state and transmit ------------------------------------------------------------ */

Test(uart, reset_state)
{
	cr_assert_eq(in(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT, "LSR 0x%x", in(UART_LSR));
	cr_assert_eq(in(UART_IIR), UART_IIR_NO_INT);
	cr_assert_eq(in(UART_IER), 0);
	cr_assert_eq(in(UART_LCR), 0);
	cr_assert_eq(in(UART_MCR), 0);
	cr_assert_eq(in(UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	cr_assert_eq(serial_rx_space(uart), SERIAL_FIFO_SIZE);
	cr_assert_eq(irq.level, 0);
}

Test(uart, thr_write_goes_to_out_fd)
{
	char buf[16];

	out(UART_THR, 'o');
	out(UART_THR, 'k');
	out(UART_THR, '\n');
	cr_assert_eq(transmitted(buf, sizeof(buf)), 3);
	cr_assert_eq(memcmp(buf, "ok\n", 3), 0);
	cr_assert_eq(in(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT,
		     "transmitter empty again at once");
}

Test(uart, out_fd_minus_one_drops_output)
{
	struct serial *s;
	uint8_t v = 'x', lsr = 0;

	cr_assert_eq(serial_create(&s, -1, (struct irq_line){ 0 }, NULL, NULL), 0);
	serial_io_write(s, UART_THR, &v, 1);
	serial_io_read(s, UART_LSR, &lsr, 1);
	cr_assert_eq(lsr & UART_LSR_THRE, UART_LSR_THRE);
	serial_destroy(s);
}

Test(uart, rate_limiter_drops_output_over_the_limit_and_counts_it)
{
	/* 10 bytes, refilled over an hour: the rest of a burst of 100 is dropped. */
	struct token_bucket_cfg limit = { .size = 10, .refill_ms = 3600 * 1000 };
	struct serial_counters c;
	char buf[128];

	serial_set_output_limit(uart, &limit);
	for (int i = 0; i < 100; i++)
		out(UART_THR, (uint8_t)('a' + i % 26));
	cr_assert_eq(transmitted(buf, sizeof(buf)), 10);
	cr_assert_eq(memcmp(buf, "abcdefghij", 10), 0, "the first bytes go, the rest are dropped");
	serial_get_counters(uart, &c);
	cr_assert_eq(c.bytes_out, 10);
	cr_assert_eq(c.dropped_bytes, 90);
	cr_assert_eq(in(UART_LSR) & UART_LSR_THRE, UART_LSR_THRE, "the guest is never held up");
	/* No limit again. */
	serial_set_output_limit(uart, NULL);
	out(UART_THR, '!');
	cr_assert_eq(transmitted(buf, sizeof(buf)), 1);
}

/* ---- divisor latch, scratch, IER ---------------------------------------------------------- */

Test(uart, dlab_switches_to_divisor_latch)
{
	char buf[4];

	cr_assert_eq(in(UART_DLL), 0, "DLAB clear: RBR, empty");
	out(UART_LCR, UART_LCR_DLAB | 0x03);
	cr_assert_eq(in(UART_DLL), 0x0c, "9600 baud after reset");
	cr_assert_eq(in(UART_DLM), 0);
	out(UART_DLL, 0x01);
	out(UART_DLM, 0x02);
	cr_assert_eq(in(UART_DLL), 0x01);
	cr_assert_eq(in(UART_DLM), 0x02);
	cr_assert_eq(transmitted(buf, sizeof(buf)), 0, "divisor writes are not transmitted");
	cr_assert_eq(in(UART_LCR), 0x83);

	out(UART_LCR, 0x03);
	cr_assert_eq(in(UART_IER), 0, "DLAB clear: IER, untouched by the DLM write");
	out(UART_THR, 'z');
	cr_assert_eq(transmitted(buf, sizeof(buf)), 1);
	out(UART_LCR, UART_LCR_DLAB);
	cr_assert_eq(in(UART_DLL), 0x01, "THR write did not touch DLL");
	cr_assert_eq(in(UART_DLM), 0x02);
}

Test(uart, scratch_round_trips)
{
	out(UART_SCR, 0x5a);
	cr_assert_eq(in(UART_SCR), 0x5a);
	out(UART_SCR, 0xa5);
	cr_assert_eq(in(UART_SCR), 0xa5);
}

Test(uart, ier_masks_to_four_bits)
{
	out(UART_IER, 0xff);
	cr_assert_eq(in(UART_IER), 0x0f);
	out(UART_IER, 0x00);
	cr_assert_eq(in(UART_IER), 0x00);
}

Test(uart, mcr_masks_to_five_bits)
{
	out(UART_MCR, 0xff);
	cr_assert_eq(in(UART_MCR), 0x1f);
}

Test(uart, lsr_and_msr_are_read_only)
{
	out(UART_LSR, 0x00);
	cr_assert_eq(in(UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	out(UART_MSR, 0x00);
	cr_assert_eq(in(UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}

/* ---- interrupts ---------------------------------------------------------------------------- */

Test(uart, thri_raised_when_enabled_and_cleared_by_iir_read)
{
	out(UART_IER, UART_IER_THRI);
	cr_assert_eq(irq.level, 1, "enabling THRI with THR empty raises the line");
	cr_assert_eq(irq.gsi, GSI);
	cr_assert_eq(in(UART_IIR), UART_IIR_THRI);
	cr_assert_eq(irq.level, 0, "reading IIR acknowledges THRI");
	cr_assert_eq(in(UART_IIR), UART_IIR_NO_INT);

	out(UART_THR, 'a');
	cr_assert_eq(irq.level, 1, "THR empties again at once: THRI again");
	cr_assert_eq(irq.raises, 2);
	cr_assert_eq(in(UART_IIR), UART_IIR_THRI);
	cr_assert_eq(irq.level, 0);
}

Test(uart, thri_disabled_keeps_line_low)
{
	out(UART_THR, 'a');
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(in(UART_IIR), UART_IIR_NO_INT);
}

Test(uart, disabling_thri_lowers_line)
{
	out(UART_IER, UART_IER_THRI);
	cr_assert_eq(irq.level, 1);
	out(UART_IER, 0);
	cr_assert_eq(irq.level, 0);
}

Test(uart, iir_rdi_has_priority_over_thri)
{
	out(UART_IER, UART_IER_RDI | UART_IER_THRI);
	cr_assert_eq(push_str("x"), 1);
	cr_assert_eq(in(UART_IIR), UART_IIR_RDI, "received data outranks THRE");
	cr_assert_eq(in(UART_IIR), UART_IIR_RDI, "reading IIR does not acknowledge RDI");
	cr_assert_eq(in(UART_RBR), 'x');
	cr_assert_eq(in(UART_IIR), UART_IIR_THRI, "THRI still pending under RDI");
	cr_assert_eq(in(UART_IIR), UART_IIR_NO_INT);
	cr_assert_eq(irq.level, 0);
}

Test(uart, rdi_line_follows_fifo)
{
	out(UART_IER, UART_IER_RDI);
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(push_str("ab"), 2);
	cr_assert_eq(irq.level, 1, "data arrived with IER.RDI");
	cr_assert_eq(in(UART_RBR), 'a');
	cr_assert_eq(irq.level, 1, "still one byte");
	cr_assert_eq(in(UART_RBR), 'b');
	cr_assert_eq(irq.level, 0, "drained");
	cr_assert_eq(irq.raises, 1);
	cr_assert_eq(irq.lowers, 1);
}

Test(uart, rx_without_rdi_raises_nothing)
{
	cr_assert_eq(push_str("q"), 1);
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(in(UART_IIR), UART_IIR_NO_INT);
	out(UART_IER, UART_IER_RDI);
	cr_assert_eq(irq.level, 1, "enabling RDI with data waiting raises the line");
}

/* ---- FIFO ---------------------------------------------------------------------------------- */

Test(uart, fifo_enabled_bits_in_iir)
{
	cr_assert_eq(in(UART_IIR) & UART_IIR_FIFO_ENABLED, 0);
	out(UART_FCR, UART_FCR_ENABLE);
	cr_assert_eq(in(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT);
	out(UART_IER, UART_IER_THRI);
	cr_assert_eq(in(UART_IIR), UART_IIR_FIFO_ENABLED | UART_IIR_THRI);
	out(UART_FCR, 0);
	cr_assert_eq(in(UART_IIR) & UART_IIR_FIFO_ENABLED, 0);
}

Test(uart, fcr_clear_receiver_empties_fifo)
{
	out(UART_IER, UART_IER_RDI);
	cr_assert_eq(push_str("abc"), 3);
	cr_assert_eq(in(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	out(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RCVR);
	cr_assert_eq(in(UART_LSR) & UART_LSR_DR, 0);
	cr_assert_eq(serial_rx_space(uart), SERIAL_FIFO_SIZE);
	cr_assert_eq(irq.level, 0, "no data, no RDI");
	cr_assert_eq(in(UART_RBR), 0);
	cr_assert_eq(push_str("d"), 1);
	cr_assert_eq(in(UART_RBR), 'd', "FIFO usable after a clear");
}

Test(uart, rx_push_fills_up_to_16)
{
	const char *s = "0123456789abcdefGHIJ";

	cr_assert_eq(push_str(s), SERIAL_FIFO_SIZE, "20 offered, 16 accepted");
	cr_assert_eq(serial_rx_space(uart), 0);
	cr_assert_eq(push_str("x"), 0, "full FIFO accepts nothing");
	cr_assert_eq(in(UART_LSR) & UART_LSR_OE, 0, "refusing input is not an overrun");
	for (unsigned int i = 0; i < SERIAL_FIFO_SIZE; i++) {
		cr_assert_eq(in(UART_LSR) & UART_LSR_DR, UART_LSR_DR, "DR before byte %u", i);
		cr_assert_eq(in(UART_RBR), (uint8_t)s[i], "byte %u out of order", i);
	}
	cr_assert_eq(in(UART_LSR) & UART_LSR_DR, 0);
	cr_assert_eq(in(UART_RBR), 0, "empty FIFO reads 0");
}

Test(uart, fifo_ring_wraps_in_order)
{
	char expect[32];
	unsigned int n = 0;

	cr_assert_eq(push_str("ABCDEFGHIJ"), 10);
	for (unsigned int i = 0; i < 7; i++)
		cr_assert_eq(in(UART_RBR), (uint8_t)('A' + i));
	cr_assert_eq(serial_rx_space(uart), 13);
	cr_assert_eq(push_str("klmnopqrstuvw"), 13, "the ring wraps around");
	memcpy(expect, "HIJklmnopqrstuvw", 16);
	while (in(UART_LSR) & UART_LSR_DR) {
		cr_assert_lt(n, 16);
		cr_assert_eq(in(UART_RBR), (uint8_t)expect[n], "byte %u", n);
		n++;
	}
	cr_assert_eq(n, 16);
}

Test(uart, rx_space_callback_fires_when_guest_drains)
{
	cr_assert_eq(push_str("hi"), 2);
	cr_assert_eq(rx_space_calls, 0);
	(void)in(UART_RBR);
	cr_assert_eq(rx_space_calls, 1);
	(void)in(UART_RBR);
	cr_assert_eq(rx_space_calls, 2);
	(void)in(UART_RBR);
	cr_assert_eq(rx_space_calls, 2, "reading an empty FIFO frees nothing");
	(void)in(UART_LSR);
	cr_assert_eq(rx_space_calls, 2);
}

/* ---- loopback ------------------------------------------------------------------------------ */

Test(uart, loopback_thr_goes_to_rx_not_out_fd)
{
	char buf[4];

	out(UART_MCR, UART_MCR_LOOP);
	out(UART_THR, 'L');
	cr_assert_eq(transmitted(buf, sizeof(buf)), 0, "loopback must not reach the host");
	cr_assert_eq(in(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	cr_assert_eq(in(UART_RBR), 'L');
	out(UART_MCR, 0);
	out(UART_THR, 'N');
	cr_assert_eq(transmitted(buf, sizeof(buf)), 1);
	cr_assert_eq(buf[0], 'N');
}

Test(uart, loopback_msr_reflects_mcr_as_linux_probe_checks)
{
	/* drivers/tty/serial/8250/8250_port.c autoconfig: MCR = LOOP | 0x0a, expect MSR & 0xf0 == 0x90. */
	out(UART_MCR, UART_MCR_LOOP | 0x0a);
	cr_assert_eq(in(UART_MSR) & 0xf0, 0x90);
	out(UART_MCR, UART_MCR_LOOP | 0x0f);
	cr_assert_eq(in(UART_MSR) & 0xf0, 0xf0);
	out(UART_MCR, UART_MCR_LOOP);
	cr_assert_eq(in(UART_MSR) & 0xf0, 0x00);
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
	cr_assert_eq(in(UART_MSR) & 0xf0, UART_MSR_DSR);
	out(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
	cr_assert_eq(in(UART_MSR) & 0xf0, UART_MSR_RI);
	out(UART_MCR, 0);
	cr_assert_eq(in(UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS,
		     "leaving loopback restores the modem's lines");
}

Test(uart, msr_delta_bits_clear_on_read)
{
	uint8_t msr;

	out(UART_MCR, UART_MCR_LOOP | 0x0a); /* DSR drops: DDSR */
	msr = in(UART_MSR);
	cr_assert_eq(msr, 0x90 | UART_MSR_DDSR, "MSR 0x%x", msr);
	cr_assert_eq(in(UART_MSR), 0x90, "delta bits clear on read");

	out(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1); /* RI rises, CTS and DCD drop */
	msr = in(UART_MSR);
	cr_assert_eq(msr & UART_MSR_DELTA, UART_MSR_DCTS | UART_MSR_DDCD, "MSR 0x%x", msr);
	out(UART_MCR, UART_MCR_LOOP); /* RI falls: trailing edge */
	cr_assert_eq(in(UART_MSR) & UART_MSR_TERI, UART_MSR_TERI);
	cr_assert_eq(in(UART_MSR) & UART_MSR_DELTA, 0);
}

Test(uart, modem_status_interrupt)
{
	out(UART_IER, UART_IER_MSI);
	cr_assert_eq(irq.level, 0);
	out(UART_MCR, UART_MCR_LOOP | 0x0a);
	cr_assert_eq(irq.level, 1, "MSR change with IER.MSI");
	cr_assert_eq(in(UART_IIR), UART_IIR_MSI);
	(void)in(UART_MSR);
	cr_assert_eq(in(UART_IIR), UART_IIR_NO_INT);
	cr_assert_eq(irq.level, 0);
}

Test(uart, rx_space_zero_in_loopback)
{
	out(UART_MCR, UART_MCR_LOOP);
	cr_assert_eq(serial_rx_space(uart), 0);
	cr_assert_eq(push_str("ext"), 0, "outside input is refused in loopback");
	cr_assert_eq(in(UART_LSR) & UART_LSR_DR, 0);
	out(UART_MCR, 0);
	cr_assert_eq(serial_rx_space(uart), SERIAL_FIFO_SIZE);
}

Test(uart, loopback_overrun_sets_oe_and_rlsi)
{
	out(UART_IER, UART_IER_RLSI);
	out(UART_MCR, UART_MCR_LOOP);
	for (unsigned int i = 0; i <= SERIAL_FIFO_SIZE; i++)
		out(UART_THR, (uint8_t)i);
	cr_assert_eq(in(UART_IIR), UART_IIR_RLSI);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(in(UART_LSR) & UART_LSR_OE, UART_LSR_OE);
	cr_assert_eq(in(UART_LSR) & UART_LSR_OE, 0, "OE clears on read");
	cr_assert_eq(irq.level, 0);
	cr_assert_eq(in(UART_RBR), 0, "the first 16 bytes were kept");
}

/* ---- snapshots ----------------------------------------------------------------------------- */

Test(uart, save_load_round_trip)
{
	struct serial_state st, st2;
	struct serial *copy;
	struct line_rec irq2 = { 0 };
	const struct irq_sink sink2 = { .set_level = line_rec_set_level, .opaque = &irq2 };
	uint8_t v;

	out(UART_LCR, UART_LCR_DLAB);
	out(UART_DLL, 0x03);
	out(UART_LCR, 0x03);
	out(UART_SCR, 0x77);
	out(UART_FCR, UART_FCR_ENABLE);
	cr_assert_eq(push_str("0123456789abcdefghij"), 16);
	(void)in(UART_RBR); /* rx_head is now 1 */
	cr_assert_eq(push_str("X"), 1);
	out(UART_IER, UART_IER_RDI);
	serial_save(uart, &st);
	cr_assert_eq(st.rx_count, 16);
	cr_assert_eq(st.rx_head, 1);

	cr_assert_eq(serial_create(&copy, -1, (struct irq_line){ .sink = &sink2, .gsi = 9 }, NULL,
				   NULL),
		     0);
	cr_assert_eq(serial_load(copy, &st), 0);
	cr_assert_eq(irq2.level, 1, "load re-drives the interrupt line");
	cr_assert_eq(irq2.gsi, 9);
	serial_save(copy, &st2);
	cr_assert_eq(memcmp(st2.rx_fifo, st.rx_fifo, sizeof(st.rx_fifo)), 0);
	cr_assert_eq(st2.lcr, 0x03);
	cr_assert_eq(st2.scr, 0x77);
	cr_assert_eq(st2.dll, 0x03);
	cr_assert_eq(st2.ier, UART_IER_RDI);
	cr_assert_eq(st2.fcr, UART_FCR_ENABLE);
	for (unsigned int i = 0; i < 16; i++) {
		serial_io_read(copy, UART_RBR, &v, 1);
		cr_assert_eq(v, (uint8_t)"123456789abcdefX"[i], "restored byte %u", i);
	}
	cr_assert_eq(irq2.level, 0);
	serial_destroy(copy);
}

Test(uart, load_rejects_bad_fifo_state)
{
	struct serial_state st;

	out(UART_SCR, 0x42);
	serial_save(uart, &st);
	st.scr = 0x99;
	st.rx_count = SERIAL_FIFO_SIZE + 1;
	cr_assert_eq(serial_load(uart, &st), -EINVAL);
	st.rx_count = 0;
	st.rx_head = SERIAL_FIFO_SIZE;
	cr_assert_eq(serial_load(uart, &st), -EINVAL);
	cr_assert_eq(in(UART_SCR), 0x42, "a rejected load changes nothing");
	st.rx_head = SERIAL_FIFO_SIZE - 1;
	cr_assert_eq(serial_load(uart, &st), 0);
	cr_assert_eq(in(UART_SCR), 0x99);
}

Test(uart, load_with_wrapped_full_fifo_reads_in_order)
{
	struct serial_state st;

	serial_save(uart, &st);
	for (unsigned int i = 0; i < SERIAL_FIFO_SIZE; i++)
		st.rx_fifo[i] = (uint8_t)(0x40 + i);
	st.rx_head = 15;
	st.rx_count = 16;
	st.lsr |= UART_LSR_DR; /* as serial_save() would have recorded it */
	cr_assert_eq(serial_load(uart, &st), 0);
	cr_assert_eq(in(UART_RBR), 0x4f);
	for (unsigned int i = 0; i < 15; i++)
		cr_assert_eq(in(UART_RBR), 0x40 + i);
	cr_assert_eq(in(UART_LSR) & UART_LSR_DR, 0);
}
