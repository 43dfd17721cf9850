/* Polled output on the COM1 16550A UART (I/O port 0x3f8), plus number formatting. */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

#include "io.h"

#define COM1 0x3f8
#define UART_RBR 0 /* receive buffer (read) */
#define UART_THR 0 /* transmit holding (write) */
#define UART_IER 1
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_DR 0x01   /* data ready */
#define UART_LSR_THRE 0x20 /* transmit holding register empty */

/* Bounded wait for THRE, so a broken UART cannot hang the guest. */
static inline void serial_putc(char c)
{
	for (int i = 0; i < 1000; i++)
		if (inb(COM1 + UART_LSR) & UART_LSR_THRE)
			break;
	outb(COM1 + UART_THR, (u8)c);
}

static inline void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

/* Print at most max characters of s (for strings handed over by the loader). */
static inline void serial_putsn(const char *s, u32 max)
{
	for (u32 i = 0; i < max && s[i]; i++)
		serial_putc(s[i]);
}

/* "0x" then exactly digits hex digits (digits <= 16). */
static inline void serial_put_hex_w(u64 v, int digits)
{
	serial_puts("0x");
	for (int i = digits - 1; i >= 0; i--)
		serial_putc("0123456789abcdef"[(v >> (4 * i)) & 0xf]);
}

/* "0x" then v in hex without leading zeros. */
static inline void serial_put_hex(u64 v)
{
	int digits = 1;
	while (digits < 16 && (v >> (4 * digits)) != 0)
		digits++;
	serial_put_hex_w(v, digits);
}

/* Unsigned decimal; uptr so 32-bit guests need no 64-bit division helper. */
static inline void serial_put_dec(uptr v)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		serial_putc(buf[--n]);
}

#endif
