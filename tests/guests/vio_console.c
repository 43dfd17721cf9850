/*
 * vio_console: multiboot ELF32; virtio-console (device id 3) port 0 through common/virtio.c.
 * Transmits "virtio-console: hello from the guest" on the transmit queue; with `console_rx`
 * on the command line, also waits for one line on the receive queue and transmits it back as
 * "virtio-console: got <line>". Progress goes to the serial port.
 *
 * Command line: virtio=BASE,STRIDE,COUNT [console_rx]
 */
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"
#include "virtio.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

#define SPINS 4000000
#define RX_BYTES 128

static u8 rx_buf[RX_BYTES];
static char tx_buf[RX_BYTES + 64];

static void transmit(struct vq *tx, const char *text, u32 len)
{
	struct vio_buf v = { (u32)(uptr)text, len, 0 };
	if (vq_post(tx, &v, 1, 0, NULL) < 0)
		guest_fail("vq_post refused the transmit buffer");
	vq_kick(tx);
	int id = vq_wait_used(tx, NULL, NULL, SPINS);
	if (id == -1) {
		vio_dump(tx->dev, "timeout");
		guest_fail("transmit buffer never came back");
	}
	if (id < 0)
		guest_fail("transmit queue returned an id that is not an outstanding head");
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	static struct vio_bus bus;
	static struct vio_dev d;
	static struct vq rx, tx;
	const char *cmdline = vio_boot(magic, mbi, &bus);
	if (vio_find(&bus, VIRTIO_ID_CONSOLE, 0, &d) != 0)
		guest_fail("no virtio-console device");
	/* No MULTIPORT: port 0 alone, on queues 0 (receive) and 1 (transmit). */
	if (vio_init(&d, VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) != 0)
		guest_fail("feature negotiation failed");
	if (vio_queue_setup(&d, &rx, VIRTIO_CONSOLE_RX, 0) != 0 ||
	    vio_queue_setup(&d, &tx, VIRTIO_CONSOLE_TX, 0) != 0)
		guest_fail("cannot set up the receive and transmit queues");
	/* Receive buffers go in before DRIVER_OK so no input is dropped. */
	struct vio_buf v = { (u32)(uptr)rx_buf, RX_BYTES, 1 };
	if (vq_post(&rx, &v, 1, 0, NULL) < 0)
		guest_fail("vq_post refused the receive buffer");
	vio_driver_ok(&d);
	vq_kick(&rx);
	serial_puts("console: transport ");
	serial_put_dec(d.index);
	serial_puts(" features=");
	serial_put_hex(d.features);
	serial_putc('\n');

	static const char hello[] = "virtio-console: hello from the guest\n";
	transmit(&tx, hello, sizeof(hello) - 1);
	serial_puts("console: transmitted a line\n");

	if (cmdline_find(cmdline, "console_rx") != NULL) {
		serial_puts("console: waiting for a line\n");
		u32 got = 0, len = 0;
		/* The line may come in several buffers: collect until a newline. */
		while (got < RX_BYTES) {
			int id = vq_wait_used(&rx, &len, NULL, SPINS);
			if (id == -1) {
				vio_dump(&d, "timeout");
				guest_fail("nothing arrived on the receive queue");
			}
			if (id < 0 || len > RX_BYTES)
				guest_fail("receive queue returned a bad id or length");
			u32 i = 0;
			while (i < len && got < RX_BYTES)
				tx_buf[20 + got++] = (char)rx_buf[i++];
			if (got > 0 && tx_buf[20 + got - 1] == '\n')
				break;
			if (vq_post(&rx, &v, 1, 0, NULL) < 0)
				guest_fail("vq_post refused the receive buffer");
			vq_kick(&rx);
		}
		k_memcpy(tx_buf, "virtio-console: got ", 20);
		transmit(&tx, tx_buf, 20 + got);
		serial_puts("console: received ");
		serial_put_dec(got);
		serial_puts(" bytes, echoed\n");
	}
	guest_success();
}
