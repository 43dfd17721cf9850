/* platform: reads the CMOS clock and prints it, then powers off as an ACPI OS does: the FADT's
 * PM1a control block (SLP_EN | SLP_TYP=S5, after checking SCI_EN reads 1 on this full ACPI
 * platform), or resets through the FADT's reset register with "reset". */
#include "acpi.h"
#include "entry.h"
#include "kstring.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM1_CNT_LEN 89
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_F_HW_REDUCED (1u << 20)
#define PM1_CNT_SCI_EN 0x1
#define PM1_CNT_SLP_EN (1u << 13)
#define S5_SLP_TYP 5 /* kiln's \_S5 */

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
	const u8 *fadt;
	u16 port;

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
	fadt = acpi_find_table("FACP");
	if (!fadt)
		guest_fail("no FADT");
	if (cmdline && cmdline_find(cmdline, "reset")) {
		serial_puts("acpi: reset\n");
		if (fadt[FADT_RESET_REG] != 1) /* System I/O */
			guest_fail("RESET_REG is not an I/O port");
		outb((u16)acpi_rd64(fadt + FADT_RESET_REG + 4), fadt[FADT_RESET_VALUE]);
	} else {
		if (acpi_rd32(fadt + FADT_FLAGS) & FADT_F_HW_REDUCED)
			guest_fail("FADT is HW-reduced");
		port = (u16)acpi_rd32(fadt + FADT_PM1A_CNT_BLK);
		if (!port || fadt[FADT_PM1_CNT_LEN] != 2 ||
		    acpi_rd64(fadt + FADT_X_PM1A_CNT_BLK + 4) != port)
			guest_fail("no 2-byte PM1a control block, or its X_ field disagrees");
		if (!(inw(port) & PM1_CNT_SCI_EN))
			guest_fail("PM1a_CNT: SCI_EN clear, but there is no SMI_CMD to set it");
		serial_puts("acpi: power off\n");
		outw(port, (u16)(PM1_CNT_SCI_EN | S5_SLP_TYP << 10 | PM1_CNT_SLP_EN));
	}
	guest_fail("still running after the ACPI request");
}
