/* test_bus.c: device-range registration and access dispatch (src/kvm/bus.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kvm/bus.h"

#define PIO_LIMIT 0x10000ull

/* What a fake device saw on its last access. */
struct probe {
	unsigned int reads, writes;
	uint64_t offset;
	unsigned int size;
	uint8_t seen[8];  /* read: buffer contents on entry; write: the data */
	uint8_t fill[8];  /* read: what the device answers */
	unsigned int fill_len;
};

static void probe_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct probe *p = opaque;

	p->reads++;
	p->offset = offset;
	p->size = size;
	memcpy(p->seen, data, size);
	memcpy(data, p->fill, p->fill_len < size ? p->fill_len : size);
}

static void probe_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct probe *p = opaque;

	p->writes++;
	p->offset = offset;
	p->size = size;
	memcpy(p->seen, data, size);
}

static struct bus *pio, *mmio;

static void buses_setup(void)
{
	cr_assert_eq(bus_create(&pio, "pio", PIO_LIMIT), 0);
	cr_assert_eq(bus_create(&mmio, "mmio", 0), 0);
}

static void buses_teardown(void)
{
	bus_destroy(pio);
	bus_destroy(mmio);
}

TestSuite(bus, .init = buses_setup, .fini = buses_teardown);

static int reg(struct bus *b, uint64_t base, uint64_t len)
{
	return bus_register(b, base, len, "dev", NULL, NULL, NULL);
}

/* ---- registration ------------------------------------------------------------------------ */

Test(bus, name)
{
	cr_assert_str_eq(bus_name(pio), "pio");
	cr_assert_str_eq(bus_name(mmio), "mmio");
}

Test(bus, empty_range_rejected)
{
	cr_assert_eq(reg(pio, 0x3f8, 0), -EINVAL);
	cr_assert_eq(reg(mmio, 0, 0), -EINVAL);
}

Test(bus, wrapping_range_rejected)
{
	cr_assert_eq(reg(mmio, UINT64_MAX, 2), -EINVAL);
	cr_assert_eq(reg(mmio, 0x1000, UINT64_MAX), -EINVAL);
	cr_assert_eq(reg(mmio, UINT64_MAX - 0xff, 0x101), -EINVAL);
}

Test(bus, range_ending_at_top_of_64_bit_space_accepted)
{
	cr_assert_eq(reg(mmio, UINT64_MAX, 1), 0);
	cr_assert_not_null(bus_find(mmio, UINT64_MAX, 1));
	cr_assert_null(bus_find(mmio, UINT64_MAX, 2), "an access wrapping past 2^64 matches nothing");
}

Test(bus, pio_limit)
{
	cr_assert_eq(reg(pio, 0xffff, 1), 0, "last port is fine");
	cr_assert_eq(reg(pio, 0xfffe, 2), -EEXIST);
	cr_assert_eq(reg(pio, 0xfff0, 0x11), -EINVAL, "one port past the limit");
	cr_assert_eq(reg(pio, 0x10000, 1), -EINVAL);
	cr_assert_eq(reg(pio, 0x12345, 4), -EINVAL);
}

Test(bus, exact_overlap_rejected)
{
	cr_assert_eq(reg(pio, 0x3f8, 8), 0);
	cr_assert_eq(reg(pio, 0x3f8, 8), -EEXIST);
}

Test(bus, partial_overlap_rejected_both_sides)
{
	cr_assert_eq(reg(pio, 0x100, 0x10), 0);
	cr_assert_eq(reg(pio, 0x0f8, 0x09), -EEXIST, "last byte overlaps the first");
	cr_assert_eq(reg(pio, 0x10f, 0x04), -EEXIST, "first byte overlaps the last");
	cr_assert_eq(reg(pio, 0x108, 0x10), -EEXIST);
}

Test(bus, containment_rejected)
{
	cr_assert_eq(reg(pio, 0x100, 0x10), 0);
	cr_assert_eq(reg(pio, 0x104, 0x04), -EEXIST, "new range inside an old one");
	cr_assert_eq(reg(pio, 0x0f0, 0x40), -EEXIST, "new range around an old one");
}

Test(bus, overlap_with_a_later_range_rejected)
{
	/* The new range sorts before the one it hits. */
	cr_assert_eq(reg(pio, 0x100, 0x10), 0);
	cr_assert_eq(reg(pio, 0x200, 0x10), 0);
	cr_assert_eq(reg(pio, 0x180, 0x81), -EEXIST);
	cr_assert_eq(reg(pio, 0x000, 0x300), -EEXIST);
}

Test(bus, adjacent_ranges_accepted)
{
	cr_assert_eq(reg(pio, 0x100, 0x10), 0);
	cr_assert_eq(reg(pio, 0x110, 0x10), 0, "right after");
	cr_assert_eq(reg(pio, 0x0f0, 0x10), 0, "right before");
	cr_assert_eq(bus_find(pio, 0x0ff, 1)->base, 0x0f0);
	cr_assert_eq(bus_find(pio, 0x100, 1)->base, 0x100);
	cr_assert_eq(bus_find(pio, 0x10f, 1)->base, 0x100);
	cr_assert_eq(bus_find(pio, 0x110, 1)->base, 0x110);
}

Test(bus, failed_registration_changes_nothing)
{
	struct probe a = { 0 };

	cr_assert_eq(bus_register(pio, 0x60, 1, "a", probe_read, probe_write, &a), 0);
	cr_assert_eq(bus_register(pio, 0x60, 1, "b", NULL, NULL, NULL), -EEXIST);
	cr_assert_str_eq(bus_find(pio, 0x60, 1)->name, "a");
	cr_assert_null(bus_find(pio, 0x61, 1));
}

Test(bus, overlap_near_top_of_64_bit_space_rejected)
{
	/* A range may end exactly at 2^64 (the wrap check allows it); its end then does not fit in
	 * 64 bits, and an overlap check computing base + len sees 0 there. */
	cr_assert_eq(reg(mmio, UINT64_MAX - 0xff, 0x100), 0);
	cr_assert_eq(reg(mmio, UINT64_MAX - 0x7f, 0x10), -EEXIST,
		     "range inside [2^64-256, 2^64) must overlap it");
	cr_assert_eq(reg(mmio, UINT64_MAX - 0x1ff, 0x180), -EEXIST,
		     "range reaching into [2^64-256, 2^64) from below must overlap it");
}

Test(bus, new_range_ending_at_top_overlapping_old_rejected)
{
	cr_assert_eq(reg(mmio, UINT64_MAX - 0x7f, 0x10), 0);
	cr_assert_eq(reg(mmio, UINT64_MAX - 0xff, 0x100), -EEXIST,
		     "[2^64-256, 2^64) contains the range registered first");
}

/* ---- lookup ------------------------------------------------------------------------------ */

#define NR_MANY 100

Test(bus, many_ranges_out_of_order_all_found)
{
	static char names[NR_MANY][8];

	/* 37 is coprime with 100: every slot once, in scrambled order. */
	for (unsigned int i = 0; i < NR_MANY; i++) {
		unsigned int slot = (i * 37) % NR_MANY;

		snprintf(names[slot], sizeof(names[slot]), "d%u", slot);
		cr_assert_eq(bus_register(mmio, 0x10000 + slot * 0x100ull, 0x10, names[slot], NULL,
					  NULL, NULL),
			     0, "slot %u", slot);
	}
	for (unsigned int slot = 0; slot < NR_MANY; slot++) {
		uint64_t base = 0x10000 + slot * 0x100ull;
		const struct bus_range *r = bus_find(mmio, base, 1);

		cr_assert_not_null(r, "slot %u not found", slot);
		cr_assert_eq(r->base, base);
		cr_assert_eq(r->len, 0x10);
		cr_assert_str_eq(r->name, names[slot]);
		cr_assert_eq(bus_find(mmio, base + 0xc, 4), r, "last dword of slot %u", slot);
		cr_assert_null(bus_find(mmio, base + 0x10, 1), "gap after slot %u", slot);
		cr_assert_null(bus_find(mmio, base - 1, 1), "gap before slot %u", slot);
	}
	cr_assert_null(bus_find(mmio, 0, 1));
	cr_assert_null(bus_find(mmio, UINT64_MAX, 1));
}

Test(bus, access_straddling_end_unclaimed)
{
	cr_assert_eq(reg(pio, 0x100, 8), 0);
	cr_assert_eq(reg(pio, 0x108, 8), 0);
	cr_assert_not_null(bus_find(pio, 0x104, 4));
	cr_assert_null(bus_find(pio, 0x106, 4), "crosses into the next device");
	cr_assert_null(bus_find(pio, 0x10e, 4), "runs past the last device");
	cr_assert_null(bus_find(pio, 0x0ff, 2), "starts before the first device");
}

Test(bus, zero_size_access_unclaimed)
{
	cr_assert_eq(reg(pio, 0x100, 8), 0);
	cr_assert_null(bus_find(pio, 0x100, 0));
}

Test(bus, empty_bus_finds_nothing)
{
	cr_assert_null(bus_find(pio, 0, 1));
	cr_assert_null(bus_find(mmio, 0xfee00000, 4));
}

/* ---- dispatch ---------------------------------------------------------------------------- */

Test(bus, read_zero_fills_before_handler)
{
	struct probe p = { .fill = { 0xab }, .fill_len = 1 };
	uint8_t buf[4];
	uint32_t v;

	cr_assert_eq(bus_register(pio, 0x3f8, 8, "uart", probe_read, probe_write, &p), 0);
	memset(buf, 0xcc, sizeof(buf));
	cr_assert_not_null(bus_read(pio, 0x3fa, buf, 4));
	cr_assert_eq(p.reads, 1);
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(p.seen[i], 0, "buffer byte %u not zeroed before the handler", i);
	memcpy(&v, buf, 4);
	cr_assert_eq(v, 0xab, "a handler filling one byte leaves the rest zero, got 0x%x", v);
}

Test(bus, handler_gets_offset_size_and_opaque)
{
	struct probe a = { 0 }, b = { .fill = { 1, 2 }, .fill_len = 2 };
	uint8_t data[2] = { 0x34, 0x12 }, out[2];
	const struct bus_range *r;

	cr_assert_eq(bus_register(mmio, 0xfec00000, 0x1000, "a", probe_read, probe_write, &a), 0);
	cr_assert_eq(bus_register(mmio, 0xfed00000, 0x1000, "b", probe_read, probe_write, &b), 0);

	r = bus_write(mmio, 0xfec00010, data, 2);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->name, "a");
	cr_assert_eq(a.writes, 1);
	cr_assert_eq(b.writes, 0, "only the owning device is called");
	cr_assert_eq(a.offset, 0x10, "offset relative to the base");
	cr_assert_eq(a.size, 2);
	cr_assert_eq(a.seen[0], 0x34);
	cr_assert_eq(a.seen[1], 0x12);

	r = bus_read(mmio, 0xfed00ffe, out, 2);
	cr_assert_not_null(r);
	cr_assert_str_eq(r->name, "b");
	cr_assert_eq(b.reads, 1);
	cr_assert_eq(b.offset, 0xffe);
	cr_assert_eq(b.size, 2);
	cr_assert_eq(out[0], 1);
	cr_assert_eq(out[1], 2);
}

Test(bus, eight_byte_access)
{
	struct probe p = { .fill = { 1, 2, 3, 4, 5, 6, 7, 8 }, .fill_len = 8 };
	uint64_t v = 0;

	cr_assert_eq(bus_register(mmio, 0xd0000000, 0x1000, "wide", probe_read, probe_write, &p), 0);
	cr_assert_not_null(bus_read(mmio, 0xd0000ff8, &v, 8));
	cr_assert_eq(p.size, 8);
	cr_assert_eq(v, 0x0807060504030201ull);
	cr_assert_null(bus_read(mmio, 0xd0000ffc, &v, 8), "straddles the end");
}

Test(bus, unclaimed_read_returns_all_ones)
{
	struct probe p = { 0 };
	uint8_t buf[4] = { 0, 0, 0, 0 };

	cr_assert_eq(bus_register(pio, 0x60, 1, "kbd", probe_read, probe_write, &p), 0);
	cr_assert_null(bus_read(pio, 0x80, buf, 4));
	for (unsigned int i = 0; i < 4; i++)
		cr_assert_eq(buf[i], 0xff, "byte %u", i);
	memset(buf, 0, sizeof(buf));
	cr_assert_null(bus_read(pio, 0x60, buf, 2), "wider than the device");
	cr_assert_eq(buf[0], 0xff);
	cr_assert_eq(buf[1], 0xff);
	cr_assert_eq(p.reads, 0);
}

Test(bus, device_without_read_handler_reads_all_ones)
{
	uint8_t buf[2] = { 0, 0 };
	const struct bus_range *r;

	cr_assert_eq(bus_register(pio, 0x80, 1, "post", NULL, NULL, NULL), 0);
	r = bus_read(pio, 0x80, buf, 1);
	cr_assert_not_null(r, "claimed even without a handler");
	cr_assert_str_eq(r->name, "post");
	cr_assert_eq(buf[0], 0xff);
	cr_assert_eq(buf[1], 0, "only `size` bytes are written");
}

Test(bus, unclaimed_write_dropped)
{
	struct probe p = { 0 };
	uint8_t v = 0x55;

	cr_assert_eq(bus_register(pio, 0x60, 1, "kbd", probe_read, probe_write, &p), 0);
	cr_assert_null(bus_write(pio, 0x64, &v, 1));
	cr_assert_null(bus_write(pio, 0x60, &v, 2), "wider than the device");
	cr_assert_eq(p.writes, 0);
	cr_assert_not_null(bus_write(pio, 0x60, &v, 1));
	cr_assert_eq(p.writes, 1);
}

Test(bus, device_without_write_handler_claims_write)
{
	uint8_t v = 1;

	cr_assert_eq(bus_register(pio, 0x80, 1, "post", NULL, NULL, NULL), 0);
	cr_assert_not_null(bus_write(pio, 0x80, &v, 1));
}
