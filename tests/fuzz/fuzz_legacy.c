/* fuzz_legacy.c: libFuzzer target for the legacy devices a guest reaches by port I/O and MMIO:
 * the 16550A UART, the IOAPIC, the 8259 PICs and ELCR, the i8042, the CMOS RTC and the ACPI
 * sleep/reset ports. The input is a stream of 6-byte operations, each a read or write of 1, 2 or
 * 4 bytes at a register of one device, or an interrupt line or EOI at the IOAPIC, in any order,
 * as a hostile guest would issue them. The devices must never crash, read or write out of
 * bounds, or leak; what they answer is not checked here (tests/unit does). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "../ioapic_stub.h"

static void no_level(void *opaque, unsigned int gsi, int level)
{
	(void)opaque, (void)gsi, (void)level;
}

static void no_stop(void *opaque, enum stop_reason reason, int code)
{
	(void)opaque, (void)reason, (void)code;
}

static time_t fixed_now(void)
{
	return 1767225600; /* 2026-01-01 */
}

enum { DEV_SERIAL, DEV_IOAPIC, DEV_PIC, DEV_ELCR, DEV_I8042_DATA, DEV_I8042_CMD, DEV_RTC,
       DEV_ACPI_PM, DEV_IOAPIC_IRQ, DEV_IOAPIC_EOI, NR_DEVS };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct irq_sink sink = { no_level, NULL };
	static const struct vm_control ctl = { no_stop, NULL };
	struct irq_line line = { .sink = &sink, .gsi = 4 };
	struct pic_state pic;
	struct i8042 kbd;
	struct rtc rtc;
	struct acpi_pm pm;
	struct ioapic *io;
	struct serial *uart;

	if (ioapic_create(&io, &ioapic_stub_backend))
		return 0;
	if (serial_create(&uart, -1, line, NULL, NULL)) {
		ioapic_destroy(io);
		return 0;
	}
	pic_init(&pic);
	i8042_init(&kbd, &ctl, line);
	acpi_pm_init(&pm, &ctl, 5, 6);
	rtc_init(&rtc, fixed_now);

	for (size_t i = 0; i + 6 <= size; i += 6) {
		const uint8_t *op = data + i;
		unsigned int dev = op[0] % NR_DEVS, len = 1u << (op[2] & 3) % 3; /* 1, 2 or 4 */
		bool write = op[2] & 0x80;
		uint32_t v;
		uint8_t buf[8];

		memcpy(&v, op + 2, 4);
		v >>= 8; /* the top three bytes */
		v |= (uint32_t)op[5] << 24;
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &v, 4);
		switch (dev) {
		case DEV_SERIAL:
			if (write)
				serial_io_write(uart, op[1] % 8, buf, len);
			else
				serial_io_read(uart, op[1] % 8, buf, len);
			break;
		case DEV_IOAPIC: /* IOREGSEL at 0, IOWIN at 0x10, anything else in the page */
			if (write)
				ioapic_mmio_write(io, op[1] & 0x1c, buf, len);
			else
				ioapic_mmio_read(io, op[1] & 0x1c, buf, len);
			break;
		case DEV_PIC: /* master or slave, command or data port */
			if (write)
				pic_io_write(&pic.chip[op[1] >> 7], op[1] % 2, buf, len);
			else
				pic_io_read(&pic.chip[op[1] >> 7], op[1] % 2, buf, len);
			break;
		case DEV_ELCR:
			if (write)
				pic_elcr_write(&pic, op[1] % 2, buf, len);
			else
				pic_elcr_read(&pic, op[1] % 2, buf, len);
			break;
		case DEV_I8042_DATA:
			if (write)
				i8042_data_write(&kbd, 0, buf, len);
			else
				i8042_data_read(&kbd, 0, buf, len);
			break;
		case DEV_I8042_CMD:
			if (write)
				i8042_cmd_write(&kbd, 0, buf, len);
			else
				i8042_cmd_read(&kbd, 0, buf, len);
			break;
		case DEV_RTC:
			if (write)
				rtc_io_write(&rtc, op[1] % 2, buf, len);
			else
				rtc_io_read(&rtc, op[1] % 2, buf, len);
			break;
		case DEV_ACPI_PM:
			/* PM1a event block, control block (offsets past a block included), reset */
			if (op[1] % 3 == 0 && write)
				acpi_pm_evt_write(&pm, op[1] / 3 % 5, buf, len);
			else if (op[1] % 3 == 0)
				acpi_pm_evt_read(&pm, op[1] / 3 % 5, buf, len);
			else if (op[1] % 3 == 1 && write)
				acpi_pm_cnt_write(&pm, op[1] / 3 % 3, buf, len);
			else if (op[1] % 3 == 1)
				acpi_pm_cnt_read(&pm, op[1] / 3 % 3, buf, len);
			else if (write)
				acpi_pm_reset_write(&pm, 0, buf, len);
			else
				acpi_pm_reset_read(&pm, 0, buf, len);
			break;
		case DEV_IOAPIC_IRQ:
			ioapic_set_irq(io, op[1] % IOAPIC_NR_PINS, op[2] & 1);
			break;
		case DEV_IOAPIC_EOI:
			ioapic_eoi(io, op[1]);
			break;
		}
	}
	acpi_pm_destroy(&pm);
	rtc_destroy(&rtc);
	i8042_destroy(&kbd);
	serial_destroy(uart);
	ioapic_destroy(io);
	return 0;
}
