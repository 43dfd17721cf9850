/* test_pl011.c: the PL011 register model (src/devices/pl011.c, the arm64 board's console),
 * driven through its bus handlers as Linux's amba-pl011 driver would, with the transmitter
 * writing into a pipe. Architecture-neutral C: built on every build machine. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "devices/pl011.h"
#include "uart_fixture.h"

#define SPI 1

static struct pl011 *uart;

static void setup(void)
{
	uart_fixture_open();
	cr_assert_eq(pl011_create(&uart, pipefd[1], (struct irq_line){ .sink = &sink, .gsi = SPI },
				  on_rx_space, &rx_space_calls),
		     0);
}

static void teardown(void)
{
	pl011_destroy(uart);
	uart_fixture_close();
}

static uint32_t rd(uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	pl011_mmio_read(uart, off, &v, 4);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	pl011_mmio_write(uart, off, &v, 4);
}

TestSuite(pl011, .init = setup, .fini = teardown);

Test(pl011, primecell_id_matches_linux_amba_pl011)
{
	uint32_t periph = rd(0xfe0) | rd(0xfe4) << 8 | rd(0xfe8) << 16 | rd(0xfec) << 24;
	uint32_t cell = rd(0xff0) | rd(0xff4) << 8 | rd(0xff8) << 16 | rd(0xffc) << 24;

	/* drivers/tty/serial/amba-pl011.c matches id 0x00041011 under mask 0x000fffff */
	cr_assert_eq(periph & 0x000fffff, 0x00041011, "periph id 0x%08x", periph);
	cr_assert_eq(cell, 0xb105f00d, "cell id 0x%08x", cell);
}

Test(pl011, transmit_goes_to_the_fd_and_raises_tx_when_unmasked)
{
	char buf[8] = { 0 };

	cr_assert_eq(rd(PL011_FR) & (PL011_FR_TXFE | PL011_FR_TXFF | PL011_FR_RXFE),
		     PL011_FR_TXFE | PL011_FR_RXFE, "empty transmitter and receiver");
	wr(PL011_DR, 'h');
	wr(PL011_DR, 'i');
	cr_assert_eq(read(pipefd[0], buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "hi");
	cr_assert_eq(irq.level, 0, "TX pending but masked");
	cr_assert(rd(PL011_RIS) & PL011_INT_TX);
	cr_assert_eq(rd(PL011_MIS), 0);
	wr(PL011_IMSC, PL011_INT_TX);
	cr_assert_eq(irq.level, 1);
	cr_assert_eq(irq.gsi, SPI);
	cr_assert_eq(rd(PL011_MIS), PL011_INT_TX);
	wr(PL011_ICR, PL011_INT_TX);
	cr_assert_eq(irq.level, 0, "cleared through ICR");
	cr_assert_eq(rd(PL011_RIS) & PL011_INT_TX, 0);

	struct serial_counters c;

	pl011_get_counters(uart, &c);
	cr_assert_eq(c.bytes_out, 2);
}

Test(pl011, receive_fifo_flags_interrupt_and_wake)
{
	uint8_t in[PL011_FIFO_SIZE + 5];

	memset(in, 'x', sizeof(in));
	in[0] = 'a';
	wr(PL011_IMSC, PL011_INT_RX | PL011_INT_RT);
	cr_assert_eq(pl011_rx_space(uart), PL011_FIFO_SIZE);
	cr_assert_eq(pl011_rx_push(uart, in, sizeof(in)), PL011_FIFO_SIZE, "only what fits");
	cr_assert_eq(pl011_rx_space(uart), 0);
	cr_assert(rd(PL011_FR) & PL011_FR_RXFF);
	cr_assert_eq(rd(PL011_FR) & PL011_FR_RXFE, 0);
	cr_assert_eq(irq.level, 1, "receive interrupt while data waits");
	cr_assert_eq(rd(PL011_DR), 'a');
	cr_assert_eq(rx_space_calls, 1, "reading makes room: the event loop is told");
	for (unsigned int i = 1; i < PL011_FIFO_SIZE; i++)
		cr_assert_eq(rd(PL011_DR), 'x');
	cr_assert(rd(PL011_FR) & PL011_FR_RXFE);
	cr_assert_eq(irq.level, 0, "drained: the line drops");
	cr_assert_eq(rd(PL011_DR), 0, "an empty FIFO reads 0");
	wr(PL011_ICR, PL011_INT_ALL);
	cr_assert_eq(irq.level, 0);
}

Test(pl011, registers_keep_their_bits_and_odd_offsets_are_harmless)
{
	wr(PL011_IBRD, 0x12345);
	cr_assert_eq(rd(PL011_IBRD), 0x2345, "16 bits");
	wr(PL011_LCR_H, 0x170);
	cr_assert_eq(rd(PL011_LCR_H), 0x70, "8 bits");
	wr(PL011_CR, 0x301);
	cr_assert_eq(rd(PL011_CR), 0x301);
	wr(PL011_IMSC, 0xffffffff);
	cr_assert_eq(rd(PL011_IMSC), PL011_INT_ALL);
	wr(PL011_IMSC, 0);
	cr_assert_eq(rd(0x800), 0, "reserved space reads 0");
	wr(0x800, 0xffffffff); /* ignored */
	cr_assert_eq(rd(0xfe1), 0, "an unaligned ID offset reads 0");

	uint8_t b = 0xff;

	pl011_mmio_read(uart, PL011_FR, &b, 1); /* a byte access reads the low byte */
	cr_assert_eq(b, PL011_FR_TXFE | PL011_FR_RXFE);
	cr_assert_eq(irq.raises, 0);
}

/* A snapshot round-trips: registers, the receive FIFO (wrapped) and the line's level come back in
 * a fresh PL011, which then behaves as the saved one would (reads the next byte). */
Test(pl011, snapshot_round_trip)
{
	struct pl011_state st, again;
	struct pl011 *fresh;
	uint32_t v;

	wr(PL011_IBRD, 13);
	wr(PL011_LCR_H, 0x70);
	wr(PL011_IMSC, PL011_INT_RX | PL011_INT_RT);
	for (unsigned int i = 0; i < PL011_FIFO_SIZE - 2; i++)
		cr_assert_eq(pl011_rx_push(uart, (const uint8_t *)"x", 1), 1);
	for (unsigned int i = 0; i < PL011_FIFO_SIZE - 2; i++)
		rd(PL011_DR);
	cr_assert_eq(pl011_rx_push(uart, (const uint8_t *)"abcd", 4), 4); /* wraps around */
	cr_assert_eq(irq.level, 1);
	pl011_save(uart, &st);
	cr_assert_eq(st.irq_level, 1);

	cr_assert_eq(pl011_create(&fresh, -1, (struct irq_line){ .sink = &sink, .gsi = SPI }, NULL,
				  NULL), 0);
	cr_assert_eq(pl011_load(fresh, &st), 0);
	pl011_save(fresh, &again);
	cr_assert_eq(memcmp(&st, &again, sizeof(st)), 0);
	v = 0;
	pl011_mmio_read(fresh, PL011_IBRD, &v, 4);
	cr_assert_eq(v, 13);
	pl011_mmio_read(fresh, PL011_DR, &v, 4);
	cr_assert_eq(v, 'a');
	pl011_mmio_read(fresh, PL011_DR, &v, 4);
	cr_assert_eq(v, 'b');
	pl011_destroy(fresh);
}

/* A state a PL011 cannot be in is refused whole, the device unchanged. */
Test(pl011, snapshot_load_refuses_bad_state)
{
	struct pl011_state st, now;

	wr(PL011_IBRD, 7);
	pl011_save(uart, &st);
	st.rx_head = PL011_FIFO_SIZE;
	st.ibrd = 99;
	cr_assert_eq(pl011_load(uart, &st), -EINVAL);
	st.rx_head = 0;
	st.rx_count = PL011_FIFO_SIZE + 1;
	cr_assert_eq(pl011_load(uart, &st), -EINVAL);
	st.rx_count = 0;
	st.imsc = 0x800;
	cr_assert_eq(pl011_load(uart, &st), -EINVAL);
	pl011_save(uart, &now);
	cr_assert_eq(now.ibrd, 7);
}
