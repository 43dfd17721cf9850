/* test_devices.c: IOAPIC, debug-exit, i8042, PIC register models (src/devices/) and the x86 boot
 * tables, memory map, CPUID patching, reset-state check and legacy ports left absent
 * (src/arch/x86/). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/legacy.h"
#include "arch/x86/memmap.h"
#include "arch/x86/regs.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/pic.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

/* ---- IOAPIC ------------------------------------------------------------------------------- */

/* What KVM would have been asked to do. */
struct fake_kvm {
	struct {
		bool valid;
		uint64_t addr;
		uint32_t data;
		unsigned int updates;
	} route[IOAPIC_NR_PINS];
	unsigned int triggers[IOAPIC_NR_PINS];
	unsigned int route_calls;
	unsigned int pushes;
};

static int fake_set_route(void *opaque, unsigned int pin, bool valid, uint64_t addr, uint32_t data,
			  bool push)
{
	struct fake_kvm *k = opaque;

	cr_assert_lt(pin, IOAPIC_NR_PINS);
	k->route[pin].valid = valid;
	k->route[pin].addr = addr;
	k->route[pin].data = data;
	k->route[pin].updates++;
	k->route_calls++;
	k->pushes += push;
	return 0;
}

static int fake_trigger(void *opaque, unsigned int pin)
{
	struct fake_kvm *k = opaque;

	cr_assert_lt(pin, IOAPIC_NR_PINS);
	k->triggers[pin]++;
	return 0;
}

static struct fake_kvm kvm;
static struct ioapic *io;

static void ioapic_setup(void)
{
	static const struct ioapic_backend backend = {
		.set_route = fake_set_route, .trigger = fake_trigger, .opaque = &kvm,
	};

	memset(&kvm, 0, sizeof(kvm));
	cr_assert_eq(ioapic_create(&io, &backend), 0);
}

static void ioapic_teardown(void)
{
	ioapic_destroy(io);
}

TestSuite(ioapic, .init = ioapic_setup, .fini = ioapic_teardown);

/* Guest-side register access through IOREGSEL/IOWIN, 32 bits wide. */
static uint32_t ioapic_rd(uint32_t reg)
{
	uint32_t v = 0xdeadbeef;

	ioapic_mmio_write(io, IOAPIC_REG_SELECT, &reg, 4);
	ioapic_mmio_read(io, IOAPIC_REG_WINDOW, &v, 4);
	return v;
}

static void ioapic_wr(uint32_t reg, uint32_t v)
{
	ioapic_mmio_write(io, IOAPIC_REG_SELECT, &reg, 4);
	ioapic_mmio_write(io, IOAPIC_REG_WINDOW, &v, 4);
}

/* Programs pin's redirection entry the way Linux does: high dword, then low dword. */
static void program_pin(unsigned int pin, uint64_t rte)
{
	ioapic_wr(IOAPIC_REG_REDTBL + 2 * pin + 1, (uint32_t)(rte >> 32));
	ioapic_wr(IOAPIC_REG_REDTBL + 2 * pin, (uint32_t)rte);
}

#define EDGE_VEC 0x31
#define LEVEL_VEC 0x41

Test(ioapic, reset_state_all_masked)
{
	for (unsigned int pin = 0; pin < IOAPIC_NR_PINS; pin++) {
		cr_assert_eq(ioapic_get_rte(io, pin), IOAPIC_RTE_MASKED, "pin %u", pin);
		cr_assert_eq(ioapic_rd(IOAPIC_REG_REDTBL + 2 * pin), (uint32_t)IOAPIC_RTE_MASKED);
		cr_assert_eq(ioapic_rd(IOAPIC_REG_REDTBL + 2 * pin + 1), 0);
	}
	cr_assert_eq(kvm.route_calls, 0, "creating the IOAPIC routes nothing");
	cr_assert_eq(ioapic_get_rte(io, IOAPIC_NR_PINS), 0, "out-of-range pin");
}

Test(ioapic, version_register)
{
	cr_assert_eq(ioapic_rd(IOAPIC_REG_VERSION), 0x170011, "24 pins (max entry 23), version 0x11");
}

Test(ioapic, id_register_and_select_readback)
{
	uint32_t sel = 0;

	ioapic_wr(IOAPIC_REG_ID, 0xffffffff);
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ID), 0x0f000000, "only bits 27:24 are the id");
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ARB), 0x0f000000);
	ioapic_mmio_read(io, IOAPIC_REG_SELECT, &sel, 4);
	cr_assert_eq(sel, IOAPIC_REG_ARB);
	cr_assert_eq(ioapic_rd(0x03), 0xffffffff, "no register 3");
	cr_assert_eq(ioapic_rd(IOAPIC_REG_REDTBL + 2 * IOAPIC_NR_PINS), 0xffffffff, "past pin 23");
	ioapic_wr(IOAPIC_REG_ID, 0x05000000);
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ID), 0x05000000, "a 4-bit id reads back");
	ioapic_wr(IOAPIC_REG_ID, 0x30000000);
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ID), 0, "bits 31:28 are reserved");
	ioapic_set_id(io, 17);
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ID), 0x01000000, "an id of 17 keeps its low 4 bits");
}

/* The ID register after the board sets it is the ID the MADT and MP table give, whole. */
Test(ioapic, id_register_matches_the_tables)
{
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ID), 0, "reset value");
	cr_assert_lt(X86_IOAPIC_ID, 16, "the tables' id fits bits 27:24");
	ioapic_set_id(io, 9);
	ioapic_set_id(io, X86_IOAPIC_ID);
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ID), (uint32_t)X86_IOAPIC_ID << 24);
	cr_assert_eq(ioapic_rd(IOAPIC_REG_ARB), (uint32_t)X86_IOAPIC_ID << 24);
}

Test(ioapic, rte_to_msi_encoding)
{
	uint64_t addr;
	uint32_t data;

	/* Fixed, physical, edge, vector 0x30, destination 0. */
	ioapic_rte_to_msi(0x30, &addr, &data);
	cr_assert_eq(addr, 0xfee00000ull);
	cr_assert_eq(data, 0x30 | (1u << 14), "data 0x%x", data);

	/* Lowest priority (1), logical, level, vector 0xef, destination 0xa5. */
	ioapic_rte_to_msi(0xefull | (1ull << 8) | IOAPIC_RTE_DESTMODE_LOGICAL | IOAPIC_RTE_LEVEL |
				  (0xa5ull << 56),
			  &addr, &data);
	cr_assert_eq(addr, 0xfee00000ull | (0xa5ull << 12) | (1ull << 2), "addr 0x%llx",
		     (unsigned long long)addr);
	cr_assert_eq(data, 0xef | (1u << 8) | (1u << 14) | (1u << 15), "data 0x%x", data);

	/* NMI (4) delivery mode lands in data bits 10:8; mask and status bits do not leak. */
	ioapic_rte_to_msi(0x02ull | (4ull << 8) | IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR |
				  IOAPIC_RTE_DELIVERY_STATUS | IOAPIC_RTE_POLARITY_LOW,
			  &addr, &data);
	cr_assert_eq(addr, 0xfee00000ull);
	cr_assert_eq(data, 0x02 | (4u << 8) | (1u << 14), "data 0x%x", data);
}

Test(ioapic, programming_rte_sets_route)
{
	uint64_t rte = LEVEL_VEC | (1ull << 8) | IOAPIC_RTE_DESTMODE_LOGICAL | IOAPIC_RTE_LEVEL |
		       (0x05ull << 56);

	/* Low dword first (unmasking with destination 0), then the destination. */
	ioapic_wr(IOAPIC_REG_REDTBL + 2 * 3, (uint32_t)rte);
	cr_assert(kvm.route[3].valid);
	cr_assert_eq(kvm.route[3].addr, 0xfee00000ull | (1ull << 2), "destination still 0");
	ioapic_wr(IOAPIC_REG_REDTBL + 2 * 3 + 1, (uint32_t)(rte >> 32));
	cr_assert(kvm.route[3].valid);
	cr_assert_eq(kvm.route[3].addr, 0xfee00000ull | (0x05ull << 12) | (1ull << 2),
		     "addr 0x%llx", (unsigned long long)kvm.route[3].addr);
	cr_assert_eq(kvm.route[3].data, LEVEL_VEC | (1u << 8) | (1u << 14) | (1u << 15),
		     "data 0x%x", kvm.route[3].data);
	cr_assert_eq(ioapic_get_rte(io, 3), rte);
	cr_assert_eq(ioapic_rd(IOAPIC_REG_REDTBL + 2 * 3 + 1), 0x05000000);
	cr_assert_eq(kvm.route_calls, 2, "only pin 3 was touched");
	cr_assert_eq(kvm.pushes, 2, "each guest write to a redirection entry takes effect at once");
	cr_assert_eq(kvm.triggers[3], 0, "programming alone delivers nothing");
}

Test(ioapic, masking_removes_route)
{
	program_pin(5, EDGE_VEC);
	cr_assert(kvm.route[5].valid);
	program_pin(5, EDGE_VEC | IOAPIC_RTE_MASKED);
	cr_assert_not(kvm.route[5].valid);
}

Test(ioapic, rewriting_same_value_does_not_reroute)
{
	program_pin(6, EDGE_VEC);
	cr_assert_eq(kvm.route[6].updates, 1, "the high-dword write changed nothing");
	program_pin(6, EDGE_VEC);
	cr_assert_eq(kvm.route[6].updates, 1);
}

Test(ioapic, edge_fires_once_per_rising_edge)
{
	program_pin(4, EDGE_VEC);
	ioapic_set_irq(io, 4, 1);
	cr_assert_eq(kvm.triggers[4], 1);
	ioapic_set_irq(io, 4, 1);
	cr_assert_eq(kvm.triggers[4], 1, "held high: no new edge");
	ioapic_set_irq(io, 4, 0);
	cr_assert_eq(kvm.triggers[4], 1);
	ioapic_set_irq(io, 4, 1);
	cr_assert_eq(kvm.triggers[4], 2);
	cr_assert_eq(ioapic_get_rte(io, 4) & IOAPIC_RTE_REMOTE_IRR, 0, "edge pins never set IRR");
}

Test(ioapic, masked_pin_does_not_fire)
{
	ioapic_set_irq(io, 4, 1); /* masked since reset */
	ioapic_set_irq(io, 4, 0);
	cr_assert_eq(kvm.triggers[4], 0);
	program_pin(4, EDGE_VEC | IOAPIC_RTE_MASKED);
	ioapic_set_irq(io, 4, 1);
	cr_assert_eq(kvm.triggers[4], 0);
	program_pin(4, EDGE_VEC);
	cr_assert_eq(kvm.triggers[4], 0, "unmasking an edge pin replays no edge");
	ioapic_set_irq(io, 4, 0);
	ioapic_set_irq(io, 4, 1);
	cr_assert_eq(kvm.triggers[4], 1);
}

Test(ioapic, level_fires_sets_remote_irr_and_waits_for_eoi)
{
	program_pin(9, LEVEL_VEC | IOAPIC_RTE_LEVEL);
	ioapic_set_irq(io, 9, 1);
	cr_assert_eq(kvm.triggers[9], 1);
	cr_assert_neq(ioapic_get_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR, 0, "Remote IRR set");
	cr_assert_neq(ioapic_rd(IOAPIC_REG_REDTBL + 18) & IOAPIC_RTE_REMOTE_IRR, 0,
		      "and visible to the guest");
	ioapic_set_irq(io, 9, 1);
	cr_assert_eq(kvm.triggers[9], 1, "in service: no refire");
	ioapic_eoi(io, LEVEL_VEC + 1);
	cr_assert_eq(kvm.triggers[9], 1, "EOI of another vector");
	cr_assert_neq(ioapic_get_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR, 0);

	ioapic_eoi(io, LEVEL_VEC);
	cr_assert_eq(kvm.triggers[9], 2, "line still high: refire on EOI");
	cr_assert_neq(ioapic_get_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR, 0);

	ioapic_set_irq(io, 9, 0);
	ioapic_eoi(io, LEVEL_VEC);
	cr_assert_eq(kvm.triggers[9], 2, "line low: EOI only clears IRR");
	cr_assert_eq(ioapic_get_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR, 0);
	ioapic_set_irq(io, 9, 1);
	cr_assert_eq(kvm.triggers[9], 3);
}

Test(ioapic, level_pin_unmasked_while_high_fires)
{
	program_pin(10, LEVEL_VEC | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED);
	ioapic_set_irq(io, 10, 1);
	cr_assert_eq(kvm.triggers[10], 0);
	program_pin(10, LEVEL_VEC | IOAPIC_RTE_LEVEL);
	cr_assert_eq(kvm.triggers[10], 1);
}

Test(ioapic, eoi_ignores_edge_pins)
{
	program_pin(4, EDGE_VEC);
	ioapic_set_irq(io, 4, 1);
	ioapic_eoi(io, EDGE_VEC);
	cr_assert_eq(kvm.triggers[4], 1, "an edge pin is not re-fired by EOI");
}

Test(ioapic, read_only_bits_not_writable)
{
	program_pin(7, EDGE_VEC | IOAPIC_RTE_DELIVERY_STATUS | IOAPIC_RTE_REMOTE_IRR);
	cr_assert_eq(ioapic_get_rte(io, 7) & IOAPIC_RTE_RO_BITS, 0);

	program_pin(8, LEVEL_VEC | IOAPIC_RTE_LEVEL);
	ioapic_set_irq(io, 8, 1);
	cr_assert_neq(ioapic_get_rte(io, 8) & IOAPIC_RTE_REMOTE_IRR, 0);
	ioapic_wr(IOAPIC_REG_REDTBL + 16, LEVEL_VEC | IOAPIC_RTE_LEVEL); /* IRR written as 0 */
	cr_assert_neq(ioapic_get_rte(io, 8) & IOAPIC_RTE_REMOTE_IRR, 0, "guest cannot clear IRR");
}

Test(ioapic, pins_out_of_range_ignored)
{
	ioapic_set_irq(io, IOAPIC_NR_PINS, 1);
	ioapic_set_irq(io, 1000, 1);
	for (unsigned int pin = 0; pin < IOAPIC_NR_PINS; pin++)
		cr_assert_eq(kvm.triggers[pin], 0);
}

Test(ioapic, irq_sink_drives_pins)
{
	const struct irq_sink *s = ioapic_irq_sink(io);
	struct irq_line line = { .sink = s, .gsi = 4 };

	program_pin(4, EDGE_VEC);
	irq_line_set(&line, 1);
	cr_assert_eq(kvm.triggers[4], 1);
}

Test(ioapic, save_load_reroutes_every_pin)
{
	struct ioapic_state st;

	program_pin(2, EDGE_VEC | (3ull << 56));
	ioapic_save(io, &st);
	cr_assert_eq(st.rte[2], EDGE_VEC | (3ull << 56));
	memset(&kvm, 0, sizeof(kvm));
	cr_assert_eq(ioapic_load(io, &st), 0);
	cr_assert_eq(kvm.route_calls, IOAPIC_NR_PINS);
	cr_assert_eq(kvm.pushes, 1, "a load pushes KVM's routing table once, not once a pin");
	cr_assert(kvm.route[2].valid);
	cr_assert_eq(kvm.route[2].addr, 0xfee00000ull | (3ull << 12));
	cr_assert_not(kvm.route[0].valid);
}

/* ---- debug exit --------------------------------------------------------------------------- */

struct stop_rec {
	unsigned int calls;
	enum stop_reason reason;
	int code;
};

static void rec_stop(void *opaque, enum stop_reason reason, int code)
{
	struct stop_rec *r = opaque;

	r->calls++;
	r->reason = reason;
	r->code = code;
}

Test(debug_exit, status_values)
{
	cr_assert_eq(debug_exit_status(0), 1);
	cr_assert_eq(debug_exit_status(0x10), 33);
	cr_assert_eq(debug_exit_status(0x7f), 255);
	cr_assert_eq(debug_exit_status(0x80), 1, "exit() keeps 8 bits");
	cr_assert_eq(debug_exit_status(0xffffffff), 255);
}

Test(debug_exit, write_requests_stop)
{
	struct stop_rec rec = { 0 };
	const struct vm_control ctl = { .request_stop = rec_stop, .opaque = &rec };
	struct debug_exit dev = { .ctl = &ctl };
	uint8_t one[4] = { 0x10, 0xff, 0xff, 0xff };
	uint32_t four = 0x7f;

	debug_exit_io_write(&dev, 0, one, 1);
	cr_assert_eq(rec.calls, 1);
	cr_assert_eq(rec.reason, STOP_DEBUG_EXIT);
	cr_assert_eq(rec.code, 33, "a 1-byte write uses only that byte");
	debug_exit_io_write(&dev, 0, &four, 4);
	cr_assert_eq(rec.calls, 2);
	cr_assert_eq(rec.code, 255);
}

/* ---- i8042 -------------------------------------------------------------------------------- */

static uint8_t kbd_in(struct i8042 *k, uint16_t port)
{
	uint8_t v = 0x5a;

	if (port == I8042_DATA_PORT)
		i8042_data_read(k, 0, &v, 1);
	else
		i8042_cmd_read(k, 0, &v, 1);
	return v;
}

static void kbd_out(struct i8042 *k, uint16_t port, uint8_t v)
{
	if (port == I8042_DATA_PORT)
		i8042_data_write(k, 0, &v, 1);
	else
		i8042_cmd_write(k, 0, &v, 1);
}

Test(i8042, pulse_reset_requests_stop)
{
	struct stop_rec rec = { 0 };
	const struct vm_control ctl = { .request_stop = rec_stop, .opaque = &rec };
	struct i8042 k;

	i8042_init(&k, &ctl, (struct irq_line){ 0 });
	kbd_out(&k, I8042_COMMAND_PORT, 0xd1); /* some other command: no stop */
	cr_assert_eq(rec.calls, 0);
	kbd_out(&k, I8042_DATA_PORT, I8042_CMD_PULSE_RESET);
	cr_assert_eq(rec.calls, 0, "0xfe on the data port is not the reset command");
	kbd_out(&k, I8042_COMMAND_PORT, I8042_CMD_PULSE_RESET);
	cr_assert_eq(rec.calls, 1);
	cr_assert_eq(rec.reason, STOP_RESET);
}

Test(i8042, reset_without_control_is_harmless)
{
	struct i8042 k;

	i8042_init(&k, NULL, (struct irq_line){ 0 });
	kbd_out(&k, I8042_COMMAND_PORT, I8042_CMD_PULSE_RESET);
}

Test(i8042, status_after_init)
{
	struct i8042 k;

	i8042_init(&k, NULL, (struct irq_line){ 0 });
	cr_assert_eq(kbd_in(&k, I8042_COMMAND_PORT), 0x14,
		     "system flag and keyboard not inhibited: no output, no input");
}

Test(i8042, controller_configuration_byte)
{
	struct i8042 k;

	i8042_init(&k, NULL, (struct irq_line){ 0 });
	kbd_out(&k, I8042_COMMAND_PORT, I8042_CMD_READ_CTR);
	cr_assert_eq(kbd_in(&k, I8042_COMMAND_PORT) & 0x01, 0x01, "output buffer full");
	cr_assert_eq(kbd_in(&k, I8042_DATA_PORT), 0x44);
	cr_assert_eq(kbd_in(&k, I8042_COMMAND_PORT) & 0x01, 0, "read empties the output buffer");

	kbd_out(&k, I8042_COMMAND_PORT, I8042_CMD_WRITE_CTR);
	cr_assert_eq(kbd_in(&k, I8042_COMMAND_PORT) & 0x08, 0x08, "waiting for the data byte");
	kbd_out(&k, I8042_DATA_PORT, 0x47);
	cr_assert_eq(kbd_in(&k, I8042_COMMAND_PORT) & 0x08, 0);
	kbd_out(&k, I8042_COMMAND_PORT, I8042_CMD_READ_CTR);
	cr_assert_eq(kbd_in(&k, I8042_DATA_PORT), 0x47);

	kbd_out(&k, I8042_DATA_PORT, 0x00); /* no command pending: not the CTR */
	kbd_out(&k, I8042_COMMAND_PORT, I8042_CMD_READ_CTR);
	cr_assert_eq(kbd_in(&k, I8042_DATA_PORT), 0x47);
}

/* Records the keyboard interrupt line's edges. */
struct kbd_irq_rec {
	int level, rising;
};

static void kbd_irq_set(void *opaque, unsigned int gsi, int level)
{
	struct kbd_irq_rec *r = opaque;

	cr_assert_eq(gsi, I8042_KBD_IRQ);
	if (level && !r->level)
		r->rising++;
	r->level = level;
}

Test(i8042, ctrl_alt_del_queues_make_codes_and_interrupts)
{
	struct kbd_irq_rec rec = { 0 };
	const struct irq_sink sink = { .set_level = kbd_irq_set, .opaque = &rec };
	static const uint8_t want[] = { 0x14, 0x11, 0xe0, 0x71 };
	struct i8042 k;

	i8042_init(&k, NULL, (struct irq_line){ .sink = &sink, .gsi = I8042_KBD_IRQ });
	i8042_ctrl_alt_del(&k);
	cr_assert_eq(rec.rising, 0, "keyboard interrupt still disabled in the configuration byte");
	kbd_out(&k, I8042_COMMAND_PORT, I8042_CMD_WRITE_CTR);
	kbd_out(&k, I8042_DATA_PORT, 0x44 | I8042_CTR_KBD_INT);
	cr_assert_eq(rec.rising, 1, "enabling the interrupt with bytes waiting raises IRQ 1");
	for (unsigned int i = 0; i < sizeof(want); i++) {
		cr_assert_eq(kbd_in(&k, I8042_COMMAND_PORT) & 0x01, 0x01, "byte %u waiting", i);
		cr_assert_eq(kbd_in(&k, I8042_DATA_PORT), want[i], "byte %u", i);
	}
	cr_assert_eq(kbd_in(&k, I8042_COMMAND_PORT) & 0x01, 0, "buffer drained");
	cr_assert_eq(rec.rising, 4, "one edge per byte left to read after each read");
	i8042_destroy(&k);
}

/* ---- PIC ---------------------------------------------------------------------------------- */

static uint8_t pic_in(struct pic_chip *c, unsigned int off)
{
	uint8_t v = 0x5a;

	pic_io_read(c, off, &v, 1);
	return v;
}

static void pic_out(struct pic_chip *c, unsigned int off, uint8_t v)
{
	pic_io_write(c, off, &v, 1);
}

Test(pic, masked_after_init)
{
	struct pic_state p;

	pic_init(&p);
	cr_assert_eq(pic_in(&p.chip[0], 1), 0xff);
	cr_assert_eq(pic_in(&p.chip[1], 1), 0xff);
	cr_assert_eq(pic_in(&p.chip[0], 0), 0, "nothing pending");
}

Test(pic, cascade_init_sequence_then_ocw1)
{
	struct pic_state p;
	struct pic_chip *m;

	pic_init(&p);
	m = &p.chip[0];
	pic_out(m, 0, 0x11); /* ICW1: init, cascade, ICW4 needed */
	cr_assert_eq(pic_in(m, 1), 0, "ICW1 clears the mask");
	pic_out(m, 1, 0x20); /* ICW2: vector base */
	pic_out(m, 1, 0x04); /* ICW3: slave on IRQ2 */
	pic_out(m, 1, 0x01); /* ICW4: 8086 mode */
	cr_assert_eq(pic_in(m, 1), 0, "initialisation words are not the mask");
	cr_assert_eq(m->vector_base, 0x20);
	pic_out(m, 1, 0xfb); /* OCW1 */
	cr_assert_eq(pic_in(m, 1), 0xfb);
	cr_assert_eq(pic_in(&p.chip[1], 1), 0xff, "the slave is separate");
}

Test(pic, single_mode_without_icw4)
{
	struct pic_state p;
	struct pic_chip *m;

	pic_init(&p);
	m = &p.chip[0];
	pic_out(m, 0, 0x12); /* ICW1: init, single, no ICW4 */
	pic_out(m, 1, 0x28); /* ICW2 */
	pic_out(m, 1, 0xaa); /* no ICW3/ICW4: this is OCW1 */
	cr_assert_eq(m->vector_base, 0x28);
	cr_assert_eq(pic_in(m, 1), 0xaa);
}

Test(pic, single_mode_with_icw4)
{
	struct pic_state p;
	struct pic_chip *m;

	pic_init(&p);
	m = &p.chip[0];
	pic_out(m, 0, 0x13); /* ICW1: init, single, ICW4 */
	pic_out(m, 1, 0x30); /* ICW2 */
	pic_out(m, 1, 0x01); /* ICW4 (no ICW3 in single mode) */
	pic_out(m, 1, 0x55); /* OCW1 */
	cr_assert_eq(pic_in(m, 1), 0x55);
}

Test(pic, cascade_without_icw4)
{
	struct pic_state p;
	struct pic_chip *s;

	pic_init(&p);
	s = &p.chip[1];
	pic_out(s, 0, 0x10); /* ICW1: init, cascade, no ICW4 */
	pic_out(s, 1, 0x70); /* ICW2 */
	pic_out(s, 1, 0x02); /* ICW3: slave id 2 */
	pic_out(s, 1, 0x3c); /* OCW1 */
	cr_assert_eq(s->vector_base, 0x70);
	cr_assert_eq(pic_in(s, 1), 0x3c);
}

Test(pic, elcr_writable_bits)
{
	struct pic_state p;
	uint8_t v = 0xff, r0 = 0, r1 = 0;

	pic_init(&p);
	pic_elcr_write(&p, 0, &v, 1);
	pic_elcr_write(&p, 1, &v, 1);
	pic_elcr_read(&p, 0, &r0, 1);
	pic_elcr_read(&p, 1, &r1, 1);
	cr_assert_eq(r0, 0xf8, "IRQ 0, 1, 2 are always edge");
	cr_assert_eq(r1, 0xde, "IRQ 8 and 13 are always edge");
	v = 0x20;
	pic_elcr_write(&p, 0, &v, 1);
	pic_elcr_read(&p, 0, &r0, 1);
	cr_assert_eq(r0, 0x20);
}

/* ---- x86 memory map ----------------------------------------------------------------------- */

/* x86_memmap() reads only the layout, never RAM: regions point at a dummy byte. */
static uint8_t dummy;

static struct gmem *layout_gmem(uint64_t size)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct gmem *g;
	int n = gmem_layout(size, X86_MMIO_HOLE_START, r);

	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++)
		r[i].hva = &dummy;
	cr_assert_eq(gmem_create_from(&g, r, (unsigned int)n), 0);
	return g;
}

#define assert_entry(e, a, l, t)                                                                \
	do {                                                                                    \
		cr_assert_eq((e).addr, (a), "addr 0x%llx", (unsigned long long)(e).addr);      \
		cr_assert_eq((e).len, (l), "len 0x%llx", (unsigned long long)(e).len);         \
		cr_assert_eq((e).type, (t));                                                    \
	} while (0)

Test(memmap, ram_128m)
{
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	struct gmem *g = layout_gmem(128 * MIB);

	cr_assert_eq(x86_memmap(g, m), 3);
	assert_entry(m[0], 0, 0x9fc00, X86_MEMMAP_RAM);
	assert_entry(m[1], 0x9fc00, 0x100000 - 0x9fc00, X86_MEMMAP_RESERVED);
	assert_entry(m[2], 0x100000, 127 * MIB, X86_MEMMAP_RAM);
	gmem_destroy(g);
}

Test(memmap, ram_5g)
{
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	struct gmem *g = layout_gmem(5 * GIB);

	cr_assert_eq(x86_memmap(g, m), 4);
	assert_entry(m[0], 0, 0x9fc00, X86_MEMMAP_RAM);
	assert_entry(m[1], 0x9fc00, 0x100000 - 0x9fc00, X86_MEMMAP_RESERVED);
	assert_entry(m[2], 0x100000, 3 * GIB - MIB, X86_MEMMAP_RAM);
	assert_entry(m[3], 4 * GIB, 2 * GIB, X86_MEMMAP_RAM);
	gmem_destroy(g);
}

Test(memmap, ram_1m_has_no_high_memory)
{
	struct x86_memmap_entry m[X86_MEMMAP_MAX];
	struct gmem *g = layout_gmem(MIB);

	cr_assert_eq(x86_memmap(g, m), 2);
	assert_entry(m[0], 0, 0x9fc00, X86_MEMMAP_RAM);
	assert_entry(m[1], 0x9fc00, 0x100000 - 0x9fc00, X86_MEMMAP_RESERVED);
	gmem_destroy(g);
}

/* ---- GDT descriptors and boot tables ------------------------------------------------------ */

Test(gdt, flat_descriptors)
{
	cr_assert_eq(x86_gdt_entry(X86_GDT_FLAGS_CODE64, 0, 0xfffff), 0x00af9b000000ffffull);
	cr_assert_eq(x86_gdt_entry(X86_GDT_FLAGS_CODE32, 0, 0xfffff), 0x00cf9b000000ffffull);
	cr_assert_eq(x86_gdt_entry(X86_GDT_FLAGS_DATA, 0, 0xfffff), 0x00cf93000000ffffull);
}

Test(gdt, flags_do_not_leak_into_limit)
{
	/* Bits 8..11 of the flags word sit where the descriptor keeps limit 19:16. */
	cr_assert_eq(x86_gdt_entry(0xaf9b, 0, 0xffff), 0x00a09b000000ffffull);
	cr_assert_eq(x86_gdt_entry(X86_GDT_FLAGS_CODE64, 0, 0xfff5ffff), 0x00a59b000000ffffull,
		     "limit bits above 19 are dropped");
}

Test(gdt, code64_to_segment)
{
	struct kvm_segment s = x86_gdt_to_segment(0x00af9b000000ffffull, X86_GDT_CODE64);

	cr_assert_eq(s.base, 0);
	cr_assert_eq(s.limit, 0xffffffff, "page-granular limit scaled to bytes");
	cr_assert_eq(s.selector, X86_GDT_CODE64);
	cr_assert_eq(s.type, 0xb);
	cr_assert_eq(s.present, 1);
	cr_assert_eq(s.dpl, 0);
	cr_assert_eq(s.db, 0, "a 64-bit code segment has D clear");
	cr_assert_eq(s.s, 1);
	cr_assert_eq(s.l, 1);
	cr_assert_eq(s.g, 1);
	cr_assert_eq(s.avl, 0);
}

Test(gdt, round_trip_base_and_byte_limit)
{
	/* Byte-granular data segment, DPL 3, with every base byte distinct. */
	uint64_t d = x86_gdt_entry(0x40f3, 0x12345678, 0xabcde);
	struct kvm_segment s = x86_gdt_to_segment(d, 0x2b);

	cr_assert_eq(d, 0x124af3345678bcdeull, "descriptor 0x%llx", (unsigned long long)d);
	cr_assert_eq(s.base, 0x12345678);
	cr_assert_eq(s.limit, 0xabcde, "G clear: limit in bytes as is");
	cr_assert_eq(s.type, 0x3);
	cr_assert_eq(s.dpl, 3);
	cr_assert_eq(s.db, 1);
	cr_assert_eq(s.l, 0);
	cr_assert_eq(s.g, 0);
	cr_assert_eq(s.selector, 0x2b);
}

static uint64_t rd64(const uint8_t *ram, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, 8);
	return v;
}

Test(boot_tables, long_mode_gdt_and_identity_map)
{
	static uint8_t ram[0x20000];
	struct gmem_region r = { .gpa = 0, .size = sizeof(ram), .hva = ram };
	struct gmem *g;

	cr_assert_eq(gmem_create_from(&g, &r, 1), 0);
	cr_assert_eq(x86_write_boot_tables(g, BOOT_LONG64, 0), 0);
	cr_assert_eq(rd64(ram, X86_GDT_ADDR), 0, "null descriptor");
	cr_assert_eq(rd64(ram, X86_GDT_ADDR + X86_GDT_CODE32), 0x00cf9b000000ffffull);
	cr_assert_eq(rd64(ram, X86_GDT_ADDR + X86_GDT_CODE64), 0x00af9b000000ffffull);
	cr_assert_eq(rd64(ram, X86_GDT_ADDR + X86_GDT_DATA), 0x00cf93000000ffffull);
	cr_assert_eq(rd64(ram, X86_PML4_ADDR), X86_PDPT_ADDR | 3);
	cr_assert_eq(rd64(ram, X86_PML4_ADDR + 8), 0);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(rd64(ram, X86_PDPT_ADDR + 8 * i), (X86_PD_ADDR + 0x1000ull * i) | 3);
	cr_assert_eq(rd64(ram, X86_PDPT_ADDR + 32), 0);
	cr_assert_eq(rd64(ram, X86_PD_ADDR), 0x83, "2 MiB page at 0");
	cr_assert_eq(rd64(ram, X86_PD_ADDR + 8), 0x200083);
	cr_assert_eq(rd64(ram, X86_PD_ADDR + 3 * 0x1000 + 511 * 8), 0xffe00083ull,
		     "last 2 MiB below 4 GiB (the local APIC) is mapped");
	gmem_destroy(g);
}

Test(boot_tables, too_little_ram)
{
	static uint8_t ram[0x1000];
	struct gmem_region r = { .gpa = 0, .size = sizeof(ram), .hva = ram };
	struct gmem *g;

	cr_assert_eq(gmem_create_from(&g, &r, 1), 0);
	cr_assert_eq(x86_write_boot_tables(g, BOOT_PROT32, 0), 0, "the GDT alone fits");
	cr_assert_eq(x86_write_boot_tables(g, BOOT_LONG64, 0), -EFAULT, "page tables do not");
	cr_assert_eq(x86_write_boot_tables(g, BOOT_REAL16, 0), 0, "real mode needs nothing");
	gmem_destroy(g);
}

/* ---- CPUID ---------------------------------------------------------------------------------- */

static struct kvm_cpuid2 *make_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 5 * sizeof(c->entries[0]));

	c->nent = 5;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f, .ebx = 0x756e6547 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0xff3f0800,
						   .ecx = 0x00000201, .edx = 0x1234 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0, .edx = 0x77 };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1, .edx = 0x77 };
	c->entries[4] = (struct kvm_cpuid_entry2){ .function = 0x1f, .index = 0, .edx = 0x77 };
	return c;
}

Test(cpuid, patch_sets_apic_ids_and_hypervisor_bit)
{
	struct kvm_cpuid2 *c = make_cpuid();

	x86_cpuid_patch(c, 3, 4);
	cr_assert_eq(c->entries[1].ebx >> 24, 3, "leaf 1 EBX[31:24] initial APIC id");
	cr_assert_eq((c->entries[1].ebx >> 16) & 0xff, 4, "leaf 1 EBX[23:16] logical processors");
	cr_assert_eq(c->entries[1].ebx & 0xffff, 0x0800, "EBX[15:0] kept");
	cr_assert_eq(c->entries[1].ecx, 0x80000201, "hypervisor bit added, others kept");
	cr_assert_eq(c->entries[1].edx, 0x1234 | (1u << 28), "HTT set: more than one logical CPU");
	cr_assert_eq(c->entries[2].edx, 3, "leaf 0xb EDX x2APIC id");
	cr_assert_eq(c->entries[3].edx, 3, "on every sub-leaf");
	cr_assert_eq(c->entries[2].ebx, 1, "SMT level: one thread per core");
	cr_assert_eq((c->entries[2].ecx >> 8) & 0xff, 1, "sub-leaf 0 is the SMT level");
	cr_assert_eq(c->entries[3].ebx, 4, "core level: 4 cores in the package");
	cr_assert_eq((c->entries[3].ecx >> 8) & 0xff, 2, "sub-leaf 1 is the core level");
	cr_assert_eq(c->entries[3].eax & 0x1f, 2, "2 APIC id bits number 4 cores");
	cr_assert_eq(c->entries[4].edx, 3, "leaf 0x1f too");
	cr_assert_eq(c->entries[0].eax, 0x1f, "leaf 0 untouched");
	cr_assert_eq(c->entries[0].ebx, 0x756e6547);
	free(c);
}

Test(cpuid, tsc_deadline_from_the_capability)
{
	struct kvm_cpuid2 *c = make_cpuid();

	x86_cpuid_add_kvm_features(c, false);
	cr_assert_eq(c->entries[1].ecx, 0x00000201, "no capability: leaf 1 ECX as KVM gave it");
	x86_cpuid_add_kvm_features(c, true);
	cr_assert_eq(c->entries[1].ecx, 0x01000201, "KVM_CAP_TSC_DEADLINE_TIMER: ECX[24] set");
	cr_assert_eq(c->entries[1].ebx, 0xff3f0800, "EBX untouched");
	cr_assert_eq(c->entries[1].edx, 0x1234, "EDX untouched");
	cr_assert_eq(c->entries[0].ecx, 0, "only leaf 1");
	cr_assert_eq(c->entries[2].ecx, 0);
	x86_cpuid_patch(c, 1, 2);
	cr_assert_neq(c->entries[1].ecx & (1u << 24), 0, "the per-vCPU patch keeps it");
	free(c);
}

Test(cpuid, patch_vcpu_zero)
{
	struct kvm_cpuid2 *c = make_cpuid();

	x86_cpuid_patch(c, 0, 1);
	cr_assert_eq(c->entries[1].ebx >> 24, 0);
	cr_assert_eq(c->entries[1].edx & (1u << 28), 0, "no HTT with one vCPU");
	cr_assert_eq(c->entries[2].edx, 0);
	cr_assert_neq(c->entries[1].ecx & (1u << 31), 0);
	free(c);
}

/* ---- reset state (what KVM on AMD SVM reports after a triple fault) -------------------------- */

Test(cpu, reset_state_is_recognised)
{
	/* What kvm_vcpu_reset(init_event) leaves: f000:fff0, CR0 = ET (CD/NW as before). */
	struct kvm_regs r = { .rip = 0xfff0, .rflags = 0x2, .rdx = 0x800f12 };
	struct kvm_sregs s = { .cs = { .selector = 0xf000, .base = 0xffff0000, .limit = 0xffff },
			       .cr0 = X86_CR0_ET };

	cr_assert(x86_regs_at_reset(&r, &s));
	s.cr0 = X86_CR0_CD | X86_CR0_NW | X86_CR0_ET;
	cr_assert(x86_regs_at_reset(&r, &s), "power-on CR0 too");
}

Test(cpu, other_states_are_not_reset)
{
	struct kvm_regs r = { .rip = 0xfff0 };
	struct kvm_sregs s = { .cs = { .selector = 0xf000, .base = 0xffff0000 }, .cr0 = X86_CR0_ET };

	s.cr0 |= X86_CR0_PE;
	cr_assert_not(x86_regs_at_reset(&r, &s), "protected mode");
	s.cr0 = X86_CR0_ET;
	s.cs.base = 0xf0000;
	cr_assert_not(x86_regs_at_reset(&r, &s), "a real-mode far jump to f000:fff0 (base 0xf0000)");
	s.cs.base = 0xffff0000;
	r.rip = 0xfff3;
	cr_assert_not(x86_regs_at_reset(&r, &s), "past the first instruction");
	r.rip = 0xfff0;
	s.cs.selector = 0x10;
	cr_assert_not(x86_regs_at_reset(&r, &s), "kiln's 64-bit code selector");
	s.cs.selector = 0xf000;
	cr_assert(x86_regs_at_reset(&r, &s), "and back");
}

/* ---- legacy ports left absent --------------------------------------------------------------- */

Test(legacy, probed_ports_are_named)
{
	static const uint16_t superio[] = { 0x2e, 0x2f, 0x4e, 0x4f };

	for (unsigned int i = 0; i < ARRAY_SIZE(superio); i++)
		cr_assert_str_eq(x86_absent_port(superio[i], 1), "Super I/O configuration",
				 "port 0x%x", superio[i]);
	cr_assert_str_eq(x86_absent_port(0x2e, 2), "Super I/O configuration", "index and data");
	for (uint16_t port = 0x81; port <= 0x8f; port++)
		cr_assert_str_eq(x86_absent_port(port, 1), "DMA page register", "port 0x%x", port);
	cr_assert_str_eq(x86_absent_port(0x8e, 2), "DMA page register");
	cr_assert_str_eq(x86_absent_port(0x510, 2), "fw_cfg", "the 16-bit selector");
	cr_assert_str_eq(x86_absent_port(0x511, 1), "fw_cfg", "the data port");
	cr_assert_str_eq(x86_absent_port(0x514, 4), "fw_cfg DMA");
	cr_assert_str_eq(x86_absent_port(0x518, 4), "fw_cfg DMA");
	for (uint16_t port = 0x40; port <= 0x43; port++)
		cr_assert_str_eq(x86_absent_port(port, 1), "PIT", "port 0x%x", port);
}

Test(legacy, everything_else_still_warns)
{
	static const uint16_t others[] = { 0x2d, 0x30, 0x3f, 0x44, 0x4d, 0x50, 0x80, 0x90,
					   0x2f0, 0xf4, 0x50f, 0x512, 0x51c, 0xffff };

	for (unsigned int i = 0; i < ARRAY_SIZE(others); i++)
		cr_assert_null(x86_absent_port(others[i], 1), "port 0x%x", others[i]);
	cr_assert_null(x86_absent_port(0x2f, 2), "straddles the end of 0x2e-0x2f");
	cr_assert_null(x86_absent_port(0x4f, 4), "straddles the end of 0x4e-0x4f");
	cr_assert_null(x86_absent_port(0x8f, 2), "straddles the end of 0x81-0x8f");
	cr_assert_null(x86_absent_port(0x80, 2), "starts on the POST port");
	cr_assert_null(x86_absent_port(0x511, 2), "straddles the end of 0x510-0x511");
	cr_assert_null(x86_absent_port(0x43, 2), "straddles the end of 0x40-0x43");
	cr_assert_null(x86_absent_port(0xffff, 4), "no wraparound");
}

/* ---- ACPI PM timer ------------------------------------------------------------------------ */

Test(acpi_pm_timer, counts_at_3_579545_mhz)
{
	cr_assert_eq(acpi_pm_timer_count(0, 0), 0);
	cr_assert_eq(acpi_pm_timer_count(1, 0), 3579545, "one second");
	cr_assert_eq(acpi_pm_timer_count(0, 500000000), 1789772, "half a second, floored");
	cr_assert_eq(acpi_pm_timer_count(0, 280), 1, "one tick is 279.4 ns");
	cr_assert_eq(acpi_pm_timer_count(0, 279), 0);
	cr_assert_eq(acpi_pm_timer_count(0, 999999999), 3579544);
	/* 2^32 ticks are 1199.86 s: the count wraps as a 32-bit register does. */
	cr_assert_eq(acpi_pm_timer_count(1200, 0), (uint32_t)(1200ull * 3579545));
	/* A host up for 100 years: no overflow, the low 32 bits of the exact count. */
	cr_assert_eq(acpi_pm_timer_count(3155760000ull, 0),
		     (uint32_t)(3155760000ull * 3579545ull));
}

Test(acpi_pm_timer, monotonic_across_second_boundaries)
{
	uint32_t prev = acpi_pm_timer_count(41, 999999999);

	for (uint32_t ns = 0; ns < 2000; ns += 7) {
		uint32_t c = acpi_pm_timer_count(42, ns);

		cr_assert_geq(c, prev, "at 42 s + %u ns", ns);
		prev = c;
	}
}

Test(acpi_pm_timer, byte_and_word_reads)
{
	uint32_t a = 0, b = 0, c = 0;
	uint8_t hi = 0;

	/* The count moves between reads: compare the high bytes, which move every 4.7 s. */
	acpi_pm_timer_read(NULL, 0, &a, 4);
	acpi_pm_timer_read(NULL, 2, &b, 2);
	acpi_pm_timer_read(NULL, 3, &hi, 1);
	acpi_pm_timer_read(NULL, 0, &c, 4);
	cr_assert(b == (a >> 16) || b == (c >> 16), "word at offset 2: 0x%x, count 0x%x-0x%x", b, a, c);
	cr_assert(hi == (a >> 24) || hi == (c >> 24));
	cr_assert((uint32_t)(c - a) < ACPI_PM_TIMER_HZ, "a second at most between the reads");
}

/* ---- ACPI PM1 blocks and reset register ---------------------------------------------------- */

static uint16_t pm_rd16(void (*rd)(void *, uint64_t, void *, unsigned int), struct acpi_pm *pm,
			uint64_t off)
{
	uint16_t v = 0;

	rd(pm, off, &v, 2);
	return v;
}

static void pm_wr16(void (*wr)(void *, uint64_t, const void *, unsigned int), struct acpi_pm *pm,
		    uint64_t off, uint16_t v)
{
	wr(pm, off, &v, 2);
}

Test(acpi_pm, power_on_state)
{
	struct stop_rec rec = { 0 };
	const struct vm_control ctl = { .request_stop = rec_stop, .opaque = &rec };
	struct acpi_pm pm;
	uint32_t evt = 0xdeadbeef;

	acpi_pm_init(&pm, &ctl, 5, 1);
	acpi_pm_evt_read(&pm, 0, &evt, 4);
	cr_assert_eq(evt, 0, "nothing pending, nothing enabled");
	cr_assert_eq(pm_rd16(acpi_pm_cnt_read, &pm, 0), ACPI_PM1_CNT_SCI_EN,
		     "in ACPI mode from power-on (no SMI_CMD)");
	pm_wr16(acpi_pm_cnt_write, &pm, 0, 0);
	cr_assert_eq(pm_rd16(acpi_pm_cnt_read, &pm, 0), ACPI_PM1_CNT_SCI_EN, "SCI_EN stays set");
	cr_assert_eq(rec.calls, 0);
	acpi_pm_destroy(&pm);
}

Test(acpi_pm, enable_register_reads_back_its_defined_bits)
{
	const struct vm_control ctl = { .request_stop = rec_stop, .opaque = &(struct stop_rec){ 0 } };
	struct acpi_pm pm;
	uint8_t b = 0x21;

	acpi_pm_init(&pm, &ctl, 5, 1);
	pm_wr16(acpi_pm_evt_write, &pm, 2, 0xffff);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 2), ACPI_PM1_EN_MASK, "reserved bits read 0");
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 0), 0, "enabling sets no status");
	/* ACPICA's enable of GBL_EN: a write, then a read that must show the bit. */
	pm_wr16(acpi_pm_evt_write, &pm, 2, 0);
	acpi_pm_evt_write(&pm, 2, &b, 1);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 2), 0x21, "TMR_EN | GBL_EN by a byte write");
	b = 0x07;
	acpi_pm_evt_write(&pm, 3, &b, 1);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 2), 0x0721, "the high byte alone");
	acpi_pm_destroy(&pm);
}

Test(acpi_pm, s5_powers_off_and_other_sleeps_wake_at_once)
{
	struct stop_rec rec = { 0 };
	const struct vm_control ctl = { .request_stop = rec_stop, .opaque = &rec };
	struct acpi_pm pm;
	uint8_t hi;

	acpi_pm_init(&pm, &ctl, 5, 1);
	/* ACPICA's legacy sleep: SLP_TYP first, then SLP_TYP | SLP_EN. */
	pm_wr16(acpi_pm_cnt_write, &pm, 0, ACPI_PM1_CNT_SCI_EN | 3 << 10);
	cr_assert_eq(rec.calls, 0, "SLP_TYP alone does nothing");
	cr_assert_eq(pm_rd16(acpi_pm_cnt_read, &pm, 0), ACPI_PM1_CNT_SCI_EN | 3 << 10);
	pm_wr16(acpi_pm_cnt_write, &pm, 0, ACPI_PM1_CNT_SCI_EN | 3 << 10 | ACPI_PM1_CNT_SLP_EN);
	cr_assert_eq(rec.calls, 0, "S3 is not a power-off");
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 0), ACPI_PM1_STS_WAK, "woken at once");
	cr_assert_eq(pm_rd16(acpi_pm_cnt_read, &pm, 0) & ACPI_PM1_CNT_SLP_EN, 0, "SLP_EN reads 0");
	pm_wr16(acpi_pm_evt_write, &pm, 0, 0x7fff);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 0), ACPI_PM1_STS_WAK, "a 0 leaves WAK_STS");
	pm_wr16(acpi_pm_evt_write, &pm, 0, ACPI_PM1_STS_WAK);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 0), 0, "a 1 clears it");
	/* S5 in one 16-bit write. */
	pm_wr16(acpi_pm_cnt_write, &pm, 0, 5 << 10 | ACPI_PM1_CNT_SLP_EN);
	cr_assert_eq(rec.calls, 1);
	cr_assert_eq(rec.reason, STOP_POWEROFF);
	/* S5 by a write of the high byte alone (SLP_TYP and SLP_EN are both in it). */
	hi = (uint8_t)((5 << 10 | ACPI_PM1_CNT_SLP_EN) >> 8);
	acpi_pm_cnt_write(&pm, 1, &hi, 1);
	cr_assert_eq(rec.calls, 2);
	/* SLP_EN with SLP_TYP = S5 already written. */
	pm_wr16(acpi_pm_cnt_write, &pm, 0, 5 << 10);
	hi = ACPI_PM1_CNT_SLP_EN >> 8 | 5 << 2;
	acpi_pm_cnt_write(&pm, 1, &hi, 1);
	cr_assert_eq(rec.calls, 3);
	/* A low-byte write cannot carry SLP_EN. */
	hi = 0xff;
	acpi_pm_cnt_write(&pm, 0, &hi, 1);
	cr_assert_eq(rec.calls, 3);
	acpi_pm_destroy(&pm);
}

Test(acpi_pm, reset_register_and_accesses_past_the_blocks)
{
	struct stop_rec rec = { 0 };
	const struct vm_control ctl = { .request_stop = rec_stop, .opaque = &rec };
	struct acpi_pm pm;
	uint8_t v = 2, buf[4] = { 0xaa, 0xaa, 0xaa, 0xaa };
	uint32_t all = 0xffffffff;

	acpi_pm_init(&pm, &ctl, 5, 1);
	acpi_pm_reset_write(&pm, 0, &v, 1);
	cr_assert_eq(rec.calls, 0, "not the reset value");
	v = 1;
	acpi_pm_reset_write(&pm, 0, &v, 1);
	cr_assert_eq(rec.calls, 1);
	cr_assert_eq(rec.reason, STOP_RESET);
	/* A dword at the control block's last byte: one byte in, three past it, left alone. */
	acpi_pm_cnt_read(&pm, 1, buf, 4);
	cr_assert_eq(buf[0], 0);
	cr_assert_eq(buf[1] & buf[2] & buf[3], 0xaa, "bytes past the block untouched");
	acpi_pm_evt_write(&pm, 3, &all, 4);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &pm, 2), ACPI_PM1_EN_MASK & 0xff00,
		     "only the byte inside the block");
	acpi_pm_destroy(&pm);
}

Test(acpi_pm, save_and_load)
{
	const struct vm_control ctl = { .request_stop = rec_stop, .opaque = &(struct stop_rec){ 0 } };
	struct acpi_pm a, b;
	struct acpi_pm_state st, bad;

	acpi_pm_init(&a, &ctl, 5, 1);
	acpi_pm_init(&b, &ctl, 5, 1);
	pm_wr16(acpi_pm_evt_write, &a, 2, 0x0121);
	pm_wr16(acpi_pm_cnt_write, &a, 0, 3 << 10 | ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_EN);
	acpi_pm_save(&a, &st);
	cr_assert_eq(acpi_pm_load(&b, &st), 0);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &b, 0), ACPI_PM1_STS_WAK, "the wake came along");
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &b, 2), 0x0121);
	cr_assert_eq(pm_rd16(acpi_pm_cnt_read, &b, 0),
		     3 << 10 | ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SCI_EN);
	/* Bits no register holds: refused, nothing changed. */
	bad = st;
	bad.pm1_en = 0x8000;
	cr_assert_eq(acpi_pm_load(&b, &bad), -EINVAL);
	bad = st;
	bad.pm1_sts = 0x0002;
	cr_assert_eq(acpi_pm_load(&b, &bad), -EINVAL);
	bad = st;
	bad.pm1_cnt = ACPI_PM1_CNT_SLP_EN;
	cr_assert_eq(acpi_pm_load(&b, &bad), -EINVAL);
	cr_assert_eq(pm_rd16(acpi_pm_evt_read, &b, 2), 0x0121, "unchanged after a refusal");
	acpi_pm_destroy(&a);
	acpi_pm_destroy(&b);
}
