/* platform: reads the CMOS clock and prints it, then powers off through the ACPI sleep control
 * register (SLP_EN | SLP_TYP=S5), or resets through the ACPI reset register with "reset". */
#include "entry.h"
#include "kstring.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define ACPI_SLEEP_CONTROL 0x3c0
#define ACPI_RESET 0x3c2

void kmain(u64 probe, const char *cmdline);

static u32 cmos(u8 reg)
{
	u8 v, b;

	outb(RTC_INDEX, 0x0b);
	b = inb(RTC_DATA);
	outb(RTC_INDEX, reg);
	v = inb(RTC_DATA);
	return (b & 0x04) ? v : (u32)((v >> 4) * 10 + (v & 0xf)); /* BCD unless binary mode */
}

static void put2(u32 v)
{
	serial_putc((char)('0' + v / 10 % 10));
	serial_putc((char)('0' + v % 10));
}

void kmain(u64 probe, const char *cmdline)
{
	u32 sec, min, hour, day, mon, year, century;

	check_entry_stack(probe);
	outb(RTC_INDEX, 0x0a);
	if (inb(RTC_DATA) & 0x80)
		guest_fail("RTC update in progress forever");
	sec = cmos(0x00);
	min = cmos(0x02);
	hour = cmos(0x04);
	day = cmos(0x07);
	mon = cmos(0x08);
	year = cmos(0x09);
	century = cmos(0x32);
	serial_puts("rtc: ");
	put2(century);
	put2(year);
	serial_putc('-');
	put2(mon);
	serial_putc('-');
	put2(day);
	serial_putc(' ');
	put2(hour);
	serial_putc(':');
	put2(min);
	serial_putc(':');
	put2(sec);
	serial_putc('\n');
	if (cmdline && cmdline_find(cmdline, "reset")) {
		serial_puts("acpi: reset\n");
		outb(ACPI_RESET, 0x1);
	} else {
		serial_puts("acpi: power off\n");
		outb(ACPI_SLEEP_CONTROL, (u8)(0x20 | (5 << 2)));
	}
	guest_fail("still running after the ACPI request");
}
