/* test_virtq.c: split virtqueues (src/devices/virtio/queue.c) over fake guest RAM: ring
 * validation, descriptor-chain walks fed hostile descriptors, used-ring updates, event idx. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "virtio_driver.h"

#define QSIZE 16
#define TABLE 0x8000 /* an indirect table */

static struct fake_ram ram;
static struct drv_queue dq;
static struct virtq q;
static struct virtq_state qst; /* q's state */
static struct virtq_chain c;
static struct virtq_fault f;

static void setup(void)
{
	fake_ram_create(&ram);
	drv_queue_init(&dq, &ram, QSIZE);
	memset(&c, 0x5a, sizeof(c));
	memset(&f, 0, sizeof(f));
}

static void teardown(void) { fake_ram_destroy(&ram); }

TestSuite(virtq_chain, .init = setup, .fini = teardown);
TestSuite(virtq_activate, .init = setup, .fini = teardown);
TestSuite(virtq_event, .init = setup, .fini = teardown);

static void activate(bool event_idx, bool indirect)
{
	drv_virtq_state(&dq, &q, &qst, event_idx, indirect);
	cr_assert_eq(virtq_activate(&q, ram.gm, &f), 0, "activate: fault %d", f.kind);
	cr_assert_not_null(q.desc);
}

/* The next pop must fail with `kind`, break the queue, and keep failing. */
static void pop_fails(enum virtq_fault_kind kind)
{
	char why[160];
	uint16_t next_avail = q.st->next_avail;

	cr_assert_eq(virtq_pop(&q, &c, &f), -EINVAL, "pop should fail with kind %d", kind);
	cr_assert_eq(f.kind, kind, "fault kind %d, expected %d (%s)", f.kind, kind,
		     virtq_fault_str(&f, why, sizeof(why)));
	cr_assert(q.broken, "a fault breaks the queue");
	cr_assert_eq(q.st->next_avail, next_avail, "a bad chain is not consumed");
	cr_assert_eq(virtq_pop(&q, &c, &f), -EINVAL, "a broken queue stays broken");
}

static void assert_iov(unsigned int i, uint64_t gpa, uint64_t len)
{
	cr_assert_eq(c.iov[i].iov_base, ram.mem + gpa, "iov[%u] base", i);
	cr_assert_eq(c.iov[i].iov_len, len, "iov[%u] len %zu, expected %llu", i, c.iov[i].iov_len,
		     (unsigned long long)len);
}

/* ---- chain walks ---------------------------------------------------------------------------- */

Test(virtq_chain, not_activated_or_empty_pops_nothing)
{
	drv_virtq_state(&dq, &q, &qst, false, false);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0, "an inactive queue has nothing");
	activate(false, false);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0, "avail idx 0: empty");
	cr_assert_not(q.broken);
}

Test(virtq_chain, direct_chain)
{
	struct seg s[] = { { DATA_BASE, 16, false }, { DATA_BASE + 0x100, 100, false },
			   { DATA_BASE + 0x1000, 513, true }, { DATA_BASE + 0x2000, 7, true } };
	uint16_t head;

	activate(false, false);
	dq.next_desc = 5; /* not starting at 0 */
	head = drv_post(&dq, s, 4);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(c.head, head);
	cr_assert_eq(c.head, 5);
	cr_assert_eq(c.nr_out, 2);
	cr_assert_eq(c.nr_in, 2);
	cr_assert_eq(c.out_len, 116);
	cr_assert_eq(c.in_len, 520);
	assert_iov(0, DATA_BASE, 16);
	assert_iov(1, DATA_BASE + 0x100, 100);
	assert_iov(2, DATA_BASE + 0x1000, 513);
	assert_iov(3, DATA_BASE + 0x2000, 7);
	cr_assert_eq(q.st->next_avail, 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0, "one chain was posted");
}

Test(virtq_chain, chain_using_every_descriptor)
{
	struct seg s[QSIZE];

	for (unsigned int i = 0; i < QSIZE; i++)
		s[i] = (struct seg){ DATA_BASE + 0x100 * i, 8, i >= 10 };
	activate(false, false);
	drv_post(&dq, s, QSIZE);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "a chain through all %u descriptors is no loop",
		     QSIZE);
	cr_assert_eq(c.nr_out, 10);
	cr_assert_eq(c.nr_in, QSIZE - 10);
}

Test(virtq_chain, several_chains_in_order)
{
	struct seg a[] = { { DATA_BASE, 4, false } }, b[] = { { DATA_BASE + 8, 4, true } };

	activate(false, false);
	uint16_t ha = drv_post(&dq, a, 1), hb = drv_post(&dq, b, 1);

	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(c.head, ha);
	cr_assert_eq(c.nr_out, 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(c.head, hb);
	cr_assert_eq(c.nr_in, 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0);
}

Test(virtq_chain, indirect_table)
{
	activate(false, true);
	drv_write_desc(&ram, TABLE, 0, DATA_BASE, 16, VIRTQ_DESC_F_NEXT, 2);
	drv_write_desc(&ram, TABLE, 2, DATA_BASE + 0x200, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		       1);
	drv_write_desc(&ram, TABLE, 1, DATA_BASE + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	/* 2.7.5.3.1: the device ignores WRITE on the descriptor that points at the table. */
	drv_write_desc(&ram, dq.desc, 3, TABLE, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE,
		       0);
	drv_make_avail(&dq, 3);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "fault %d", f.kind);
	cr_assert_eq(c.head, 3);
	cr_assert_eq(c.nr_out, 1);
	cr_assert_eq(c.nr_in, 2);
	assert_iov(0, DATA_BASE, 16);
	assert_iov(1, DATA_BASE + 0x200, 512);
	assert_iov(2, DATA_BASE + 0x400, 1);
}

Test(virtq_chain, direct_then_indirect)
{
	activate(false, true);
	drv_write_desc(&ram, dq.desc, 0, DATA_BASE, 16, VIRTQ_DESC_F_NEXT, 7);
	drv_write_desc(&ram, dq.desc, 7, DATA_BASE + 0x10, 32, VIRTQ_DESC_F_NEXT, 9);
	drv_write_desc(&ram, dq.desc, 9, TABLE, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_write_desc(&ram, TABLE, 0, DATA_BASE + 0x100, 64, VIRTQ_DESC_F_NEXT, 1);
	drv_write_desc(&ram, TABLE, 1, DATA_BASE + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	drv_make_avail(&dq, 0);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "fault %d", f.kind);
	cr_assert_eq(c.nr_out, 3);
	cr_assert_eq(c.nr_in, 1);
	cr_assert_eq(c.out_len, 16 + 32 + 64);
	assert_iov(2, DATA_BASE + 0x100, 64);
	assert_iov(3, DATA_BASE + 0x200, 1);
}

Test(virtq_chain, self_loop)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 4, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, 4);
	drv_make_avail(&dq, 4);
	pop_fails(VIRTQ_LOOP);
}

Test(virtq_chain, longer_cycle)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_write_desc(&ram, dq.desc, 1, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, 2);
	drv_write_desc(&ram, dq.desc, 2, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_LOOP);
}

Test(virtq_chain, cycle_of_zero_length_buffers)
{
	/* Dropped buffers must still count as hops, or a cycle of them would spin for ever. */
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, 0, 0, VIRTQ_DESC_F_NEXT, 1);
	drv_write_desc(&ram, dq.desc, 1, 0, 0, VIRTQ_DESC_F_NEXT, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_LOOP);
}

Test(virtq_chain, loop_inside_indirect_table)
{
	activate(false, true);
	drv_write_desc(&ram, TABLE, 0, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_write_desc(&ram, TABLE, 1, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, 0);
	drv_write_desc(&ram, dq.desc, 0, TABLE, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_LOOP);
}

Test(virtq_chain, head_out_of_range)
{
	activate(false, false);
	drv_make_avail(&dq, QSIZE);
	pop_fails(VIRTQ_BAD_HEAD);
	cr_assert_eq(f.desc, QSIZE);
}

Test(virtq_chain, head_far_out_of_range)
{
	activate(false, false);
	drv_make_avail(&dq, 0xffff);
	pop_fails(VIRTQ_BAD_HEAD);
}

Test(virtq_chain, next_out_of_range)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, QSIZE);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BAD_NEXT);
	cr_assert_eq(f.desc, 0);
	cr_assert_eq(f.len, QSIZE);
}

Test(virtq_chain, next_out_of_range_in_indirect_table)
{
	/* Within the indirect table `next` indexes the table, not the queue. */
	activate(false, true);
	drv_write_desc(&ram, TABLE, 0, DATA_BASE, 8, VIRTQ_DESC_F_NEXT, 2);
	drv_write_desc(&ram, dq.desc, 0, TABLE, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BAD_NEXT);
}

Test(virtq_chain, buffer_past_end_of_ram)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, FAKE_RAM_SIZE - 8, 16, 0, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BUF_OUTSIDE);
	cr_assert_eq(f.addr, FAKE_RAM_SIZE - 8);
	cr_assert_eq(f.len, 16);
}

Test(virtq_chain, buffer_starting_at_end_of_ram)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, FAKE_RAM_SIZE, 1, VIRTQ_DESC_F_WRITE, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BUF_OUTSIDE);
}

Test(virtq_chain, buffer_ending_exactly_at_end_of_ram)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, FAKE_RAM_SIZE - 16, 16, VIRTQ_DESC_F_WRITE, 0);
	drv_make_avail(&dq, 0);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "fault %d", f.kind);
	assert_iov(0, FAKE_RAM_SIZE - 16, 16);
}

Test(virtq_chain, address_plus_length_wraps)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BUF_OUTSIDE);
	cr_assert_eq(f.addr, 0xfffffffffffffff0ull);
}

Test(virtq_chain, huge_length)
{
	activate(false, false);
	drv_write_desc(&ram, dq.desc, 0, DATA_BASE, 0xffffffffu, VIRTQ_DESC_F_WRITE, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BUF_OUTSIDE);
	cr_assert_eq(f.len, 0xffffffffu);
}

Test(virtq_chain, overlapping_buffers_add_up)
{
	/* Buffers may overlap: 16 writable buffers of almost all of RAM each. */
	struct seg s[QSIZE];

	for (unsigned int i = 0; i < QSIZE; i++)
		s[i] = (struct seg){ 0x100, 0xfff00, true };
	activate(false, false);
	drv_post(&dq, s, QSIZE);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "fault %d", f.kind);
	cr_assert_eq(c.in_len, (uint64_t)QSIZE * 0xfff00);
}

Test(virtq_chain, zero_length_buffers_are_dropped)
{
	struct seg s[] = { { DATA_BASE, 16, false }, { DATA_BASE + 16, 0, false },
			   { 0xfffffffffffff000ull, 0, true }, { DATA_BASE + 32, 1, true },
			   { DATA_BASE + 64, 0, true } };

	activate(false, false);
	drv_post(&dq, s, 5);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "fault %d", f.kind);
	cr_assert_eq(c.nr_out, 1);
	cr_assert_eq(c.nr_in, 1);
	assert_iov(0, DATA_BASE, 16);
	assert_iov(1, DATA_BASE + 32, 1);
}

Test(virtq_chain, only_zero_length_buffers)
{
	struct seg s[] = { { DATA_BASE, 0, false }, { DATA_BASE, 0, true } };

	activate(false, false);
	drv_post(&dq, s, 2);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(c.nr_out + c.nr_in, 0);
	cr_assert_eq(c.out_len + c.in_len, 0);
}

Test(virtq_chain, readable_after_writable)
{
	struct seg s[] = { { DATA_BASE, 16, false }, { DATA_BASE + 16, 8, true },
			   { DATA_BASE + 32, 8, false } };

	activate(false, false);
	drv_post(&dq, s, 3);
	pop_fails(VIRTQ_READ_AFTER_WRITE);
	cr_assert_eq(f.desc, 2, "names the readable descriptor");
}

Test(virtq_chain, readable_after_writable_across_indirect)
{
	activate(false, true);
	drv_write_desc(&ram, dq.desc, 0, DATA_BASE, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_write_desc(&ram, dq.desc, 1, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_write_desc(&ram, TABLE, 0, DATA_BASE + 8, 8, 0, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_READ_AFTER_WRITE);
}

/* An indirect descriptor at head 0 pointing at a one-entry table with a plain buffer. */
static void post_indirect(uint32_t len, uint16_t flags)
{
	drv_write_desc(&ram, TABLE, 0, DATA_BASE, 8, 0, 0);
	drv_write_desc(&ram, dq.desc, 0, TABLE, len, VIRTQ_DESC_F_INDIRECT | flags, 1);
	drv_write_desc(&ram, dq.desc, 1, DATA_BASE, 8, 0, 0);
	drv_make_avail(&dq, 0);
}

Test(virtq_chain, indirect_not_negotiated)
{
	activate(false, false);
	post_indirect(16, 0);
	pop_fails(VIRTQ_BAD_INDIRECT);
}

Test(virtq_chain, nested_indirect)
{
	activate(false, true);
	drv_write_desc(&ram, TABLE + 0x100, 0, DATA_BASE, 8, 0, 0);
	drv_write_desc(&ram, TABLE, 0, TABLE + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_write_desc(&ram, dq.desc, 0, TABLE, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BAD_INDIRECT);
}

Test(virtq_chain, indirect_with_next)
{
	activate(false, true);
	post_indirect(16, VIRTQ_DESC_F_NEXT);
	pop_fails(VIRTQ_BAD_INDIRECT);
}

Test(virtq_chain, indirect_length_not_multiple_of_16)
{
	activate(false, true);
	post_indirect(24, 0);
	pop_fails(VIRTQ_BAD_INDIRECT);
	cr_assert_eq(f.len, 24);
}

Test(virtq_chain, indirect_length_zero)
{
	activate(false, true);
	post_indirect(0, 0);
	pop_fails(VIRTQ_BAD_INDIRECT);
}

Test(virtq_chain, indirect_table_too_big)
{
	activate(false, true);
	post_indirect((VIRTQ_MAX_CHAIN + 1) * 16, 0);
	pop_fails(VIRTQ_BAD_INDIRECT);
}

Test(virtq_chain, indirect_table_of_max_entries)
{
	activate(false, true);
	post_indirect(VIRTQ_MAX_CHAIN * 16, 0);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "a %u-entry table is allowed: fault %d",
		     VIRTQ_MAX_CHAIN, f.kind);
	cr_assert_eq(c.nr_out, 1);
}

Test(virtq_chain, indirect_table_outside_ram)
{
	activate(false, true);
	drv_write_desc(&ram, dq.desc, 0, FAKE_RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BUF_OUTSIDE);
}

Test(virtq_chain, indirect_table_address_wraps)
{
	activate(false, true);
	drv_write_desc(&ram, dq.desc, 0, 0xfffffffffffffff0ull, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_make_avail(&dq, 0);
	pop_fails(VIRTQ_BUF_OUTSIDE);
}

Test(virtq_chain, avail_idx_jumps_too_far)
{
	activate(false, false);
	drv_set_avail_idx(&dq, QSIZE + 1);
	pop_fails(VIRTQ_BAD_AVAIL_IDX);
	cr_assert_eq(f.addr, QSIZE + 1);
	cr_assert_eq(f.len, QSIZE + 1);
}

Test(virtq_chain, avail_idx_backwards)
{
	/* Moving back by one reads as 0xffff new entries. */
	activate(false, false);
	q.st->next_avail = 5;
	drv_set_avail_idx(&dq, 4);
	pop_fails(VIRTQ_BAD_AVAIL_IDX);
}

Test(virtq_chain, full_ring_is_fine)
{
	activate(false, false);
	for (unsigned int i = 0; i < QSIZE; i++) {
		struct seg s = { DATA_BASE + i, 1, true };

		drv_post(&dq, &s, 1);
	}
	for (unsigned int i = 0; i < QSIZE; i++) {
		cr_assert_eq(virtq_pop(&q, &c, &f), 1, "chain %u: fault %d", i, f.kind);
		cr_assert_eq(c.head, i);
	}
	cr_assert_eq(virtq_pop(&q, &c, &f), 0);
}

Test(virtq_chain, avail_idx_wraps_around)
{
	/* next_avail 0xfffe, avail idx 0x0001: three entries, read at ring slots 14, 15 and 0. */
	activate(false, false);
	q.st->next_avail = 0xfffe;
	dq.avail_idx = 0xfffe;
	for (unsigned int i = 0; i < 3; i++) {
		struct seg s = { DATA_BASE + 16 * i, 4, false };

		drv_post(&dq, &s, 1);
	}
	cr_assert_eq(dq.avail_idx, 1);
	for (unsigned int i = 0; i < 3; i++) {
		cr_assert_eq(virtq_pop(&q, &c, &f), 1, "entry %u: fault %d", i, f.kind);
		cr_assert_eq(c.head, i);
		assert_iov(0, DATA_BASE + 16 * i, 4);
	}
	cr_assert_eq(virtq_pop(&q, &c, &f), 0);
	cr_assert_eq(q.st->next_avail, 1);
}

/* A queue of 256 with a direct chain of `direct` buffers ending in an indirect table of
 * `table` buffers. */
static int post_long_chain(unsigned int direct, unsigned int table)
{
	drv_queue_init(&dq, &ram, 256);
	activate(false, true);
	for (unsigned int i = 0; i < direct; i++)
		drv_write_desc(&ram, dq.desc, (uint16_t)i, DATA_BASE + i, 1, VIRTQ_DESC_F_NEXT,
			       (uint16_t)(i + 1));
	drv_write_desc(&ram, dq.desc, (uint16_t)direct, TABLE, table * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (unsigned int i = 0; i < table; i++)
		drv_write_desc(&ram, TABLE, (uint16_t)i, DATA_BASE + 0x1000 + i, 1,
			       VIRTQ_DESC_F_WRITE | (i + 1 < table ? VIRTQ_DESC_F_NEXT : 0),
			       (uint16_t)(i + 1));
	drv_make_avail(&dq, 0);
	return virtq_pop(&q, &c, &f);
}

Test(virtq_chain, chain_of_max_buffers)
{
	cr_assert_eq(post_long_chain(VIRTQ_MAX_CHAIN - 100, 100), 1, "fault %d", f.kind);
	cr_assert_eq(c.nr_out + c.nr_in, VIRTQ_MAX_CHAIN);
}

Test(virtq_chain, chain_longer_than_max)
{
	cr_assert_eq(post_long_chain(VIRTQ_MAX_CHAIN - 100, 101), -EINVAL);
	cr_assert_eq(f.kind, VIRTQ_TOO_LONG);
	cr_assert(q.broken);
}

Test(virtq_chain, full_direct_table_of_256)
{
	struct seg s[256];

	drv_queue_init(&dq, &ram, 256);
	for (unsigned int i = 0; i < 256; i++)
		s[i] = (struct seg){ DATA_BASE + i, 1, false };
	activate(false, false);
	drv_post(&dq, s, 256);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1, "fault %d", f.kind);
	cr_assert_eq(c.nr_out, 256);
}

Test(virtq_chain, reset_forgets_broken_state)
{
	activate(false, false);
	drv_make_avail(&dq, QSIZE);
	cr_assert_eq(virtq_pop(&q, &c, &f), -EINVAL);
	virtq_reset(&q);
	cr_assert_not(q.broken);
	cr_assert_null(q.desc);
	cr_assert_eq(q.gm, ram.gm, "reset keeps guest memory");
	cr_assert_eq(q.st->size, 0);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0);
}

Test(virtq_chain, chain_read_across_buffers)
{
	struct seg s[] = { { DATA_BASE, 3, false }, { DATA_BASE + 0x100, 5, false },
			   { DATA_BASE + 0x200, 4, true } };
	uint8_t out[16];

	for (unsigned int i = 0; i < 3; i++)
		memcpy(ram_at(&ram, DATA_BASE + i, 1), &(uint8_t){ (uint8_t)('a' + i) }, 1);
	memcpy(ram_at(&ram, DATA_BASE + 0x100, 5), "defgh", 5);
	memcpy(ram_at(&ram, DATA_BASE + 0x200, 4), "XXXX", 4);
	activate(false, false);
	drv_post(&dq, s, 3);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	memset(out, 0, sizeof(out));
	cr_assert_eq(virtq_chain_read(&c, 0, out, sizeof(out)), 8, "writable bytes are not read");
	cr_assert_str_eq((char *)out, "abcdefgh");
	memset(out, 0, sizeof(out));
	cr_assert_eq(virtq_chain_read(&c, 2, out, 4), 4);
	cr_assert_str_eq((char *)out, "cdef");
	cr_assert_eq(virtq_chain_read(&c, 8, out, 4), 0);
	cr_assert_eq(virtq_chain_read(&c, 100, out, 4), 0);
}

Test(virtq_chain, fault_messages)
{
	char buf[160];
	struct virtq_fault x = { .kind = VIRTQ_LOOP, .desc = 4 };

	cr_assert_str_eq(virtq_fault_str(&x, buf, sizeof(buf)),
			 "descriptor 4: chain loops (more hops than descriptors)");
	x = (struct virtq_fault){ .kind = VIRTQ_BUF_OUTSIDE, .desc = 2, .addr = 0xfff8, .len = 16 };
	cr_assert_str_eq(virtq_fault_str(&x, buf, sizeof(buf)),
			 "descriptor 2: buffer 0xfff8 length 0x10 lies outside guest RAM");
	x = (struct virtq_fault){ .kind = VIRTQ_BAD_HEAD, .desc = 300, .len = 256 };
	cr_assert_str_eq(virtq_fault_str(&x, buf, sizeof(buf)),
			 "available entry 300 is not a descriptor index (size 256)");
	x = (struct virtq_fault){ .kind = VIRTQ_BAD_SIZE, .len = 3 };
	cr_assert_str_eq(virtq_fault_str(&x, buf, sizeof(buf)),
			 "queue size 3 is not a power of two in 1..256");
	/* Every kind has its own text. */
	for (int k = VIRTQ_OK; k <= VIRTQ_READ_AFTER_WRITE; k++) {
		char other[160];

		x = (struct virtq_fault){ .kind = k };
		virtq_fault_str(&x, buf, sizeof(buf));
		cr_assert_gt(strlen(buf), 5, "kind %d", k);
		for (int j = VIRTQ_OK; j < k; j++) {
			struct virtq_fault y = { .kind = j };

			cr_assert_str_neq(buf, virtq_fault_str(&y, other, sizeof(other)), "kinds %d, %d",
					  j, k);
		}
	}
}

/* ---- virtq_activate ------------------------------------------------------------------------- */

static void activate_fails(enum virtq_fault_kind kind)
{
	cr_assert_eq(virtq_activate(&q, ram.gm, &f), -EINVAL, "activation should fail");
	cr_assert_eq(f.kind, kind, "fault %d, expected %d", f.kind, kind);
	cr_assert_null(q.desc);
	cr_assert_null(q.avail);
	cr_assert_null(q.used);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0, "an unusable queue pops nothing");
}

Test(virtq_activate, sizes)
{
	static const unsigned int bad[] = { 0, 3, 6, 100, 255, 257, 512, 1024, 0x8000, 0xffff };
	static const unsigned int good[] = { 1, 2, 4, 128, 256 };

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		drv_virtq_state(&dq, &q, &qst, false, false);
		q.st->size = (uint16_t)bad[i];
		activate_fails(VIRTQ_BAD_SIZE);
		cr_assert_eq(f.len, bad[i]);
	}
	for (unsigned int i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		drv_virtq_state(&dq, &q, &qst, false, false);
		q.st->size = (uint16_t)good[i];
		cr_assert_eq(virtq_activate(&q, ram.gm, &f), 0, "size %u: fault %d", good[i], f.kind);
	}
}

Test(virtq_activate, alignment)
{
	drv_virtq_state(&dq, &q, &qst, false, false);
	q.st->desc = RING_DESC + 8;
	activate_fails(VIRTQ_BAD_ALIGN);
	cr_assert_eq(f.addr, RING_DESC + 8);
	cr_assert_eq(f.len, 16);

	drv_virtq_state(&dq, &q, &qst, false, false);
	q.st->avail = RING_AVAIL + 1;
	activate_fails(VIRTQ_BAD_ALIGN);
	cr_assert_eq(f.len, 2);

	drv_virtq_state(&dq, &q, &qst, false, false);
	q.st->used = RING_USED + 2;
	activate_fails(VIRTQ_BAD_ALIGN);
	cr_assert_eq(f.len, 4);

	/* The smallest alignments the specification allows are accepted. */
	drv_virtq_state(&dq, &q, &qst, false, false);
	q.st->desc = RING_DESC + 16;
	q.st->avail = RING_AVAIL + 2;
	q.st->used = RING_USED + 4;
	cr_assert_eq(virtq_activate(&q, ram.gm, &f), 0, "fault %d", f.kind);
}

Test(virtq_activate, rings_outside_ram)
{
	uint64_t *parts[] = { &qst.desc, &qst.avail, &qst.used };

	for (unsigned int i = 0; i < 3; i++) {
		drv_virtq_state(&dq, &q, &qst, false, false);
		*parts[i] = 2 * FAKE_RAM_SIZE;
		activate_fails(VIRTQ_RING_OUTSIDE);
		cr_assert_eq(f.addr, 2 * FAKE_RAM_SIZE, "part %u", i);

		drv_virtq_state(&dq, &q, &qst, false, false);
		*parts[i] = 0xfffffffffffffff0ull; /* aligned for all three; end wraps */
		activate_fails(VIRTQ_RING_OUTSIDE);
	}
}

Test(virtq_activate, rings_straddling_end_of_ram)
{
	const uint64_t dsz = 16 * QSIZE, asz = 6 + 2 * QSIZE, usz = 6 + 8 * QSIZE;

	drv_virtq_state(&dq, &q, &qst, false, false);
	q.st->desc = FAKE_RAM_SIZE - dsz + 16;
	activate_fails(VIRTQ_RING_OUTSIDE);
	cr_assert_eq(f.len, dsz);

	drv_virtq_state(&dq, &q, &qst, false, false);
	q.st->avail = FAKE_RAM_SIZE - asz + 2;
	activate_fails(VIRTQ_RING_OUTSIDE);
	cr_assert_eq(f.len, asz, "the avail ring includes used_event");

	drv_virtq_state(&dq, &q, &qst, false, false);
	q.st->used = (FAKE_RAM_SIZE - usz + 4) & ~3ull;
	activate_fails(VIRTQ_RING_OUTSIDE);
	cr_assert_eq(f.len, usz, "the used ring includes avail_event");

	/* Ending exactly at the end of RAM is fine, and the device touches nothing beyond (the
	 * guard page after fake RAM would fault). */
	drv_virtq_state(&dq, &q, &qst, true, false);
	q.st->desc = FAKE_RAM_SIZE - dsz;
	q.st->avail = FAKE_RAM_SIZE - dsz - asz - 2;
	q.st->used = (FAKE_RAM_SIZE - dsz - asz - usz - 8) & ~3ull;
	cr_assert_eq(virtq_activate(&q, ram.gm, &f), 0, "fault %d", f.kind);
	dq.desc = q.st->desc;
	dq.avail = q.st->avail;
	dq.used = q.st->used;
	drv_write_desc(&ram, dq.desc, QSIZE - 1, DATA_BASE, 4, 0, 0);
	drv_make_avail(&dq, QSIZE - 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(c.head, QSIZE - 1);
}

Test(virtq_activate, used_ring_at_end_of_ram_with_event_idx)
{
	const uint64_t usz = 6 + 8 * QSIZE;

	drv_virtq_state(&dq, &q, &qst, true, false);
	q.st->used = FAKE_RAM_SIZE - usz - 2; /* 4-aligned: usz is 2 mod 4 */
	cr_assert_eq(q.st->used % 4, 0);
	cr_assert_eq(virtq_activate(&q, ram.gm, &f), 0, "fault %d", f.kind);
	dq.used = q.st->used;
	for (unsigned int i = 0; i < QSIZE + 3; i++) {
		struct seg s = { DATA_BASE, 4, true };

		drv_post(&dq, &s, 1);
		cr_assert_eq(virtq_pop(&q, &c, &f), 1);
		virtq_push(&q, c.head, 4);
	}
	cr_assert_eq(drv_used_idx(&dq), QSIZE + 3);
	cr_assert_eq(drv_avail_event(&dq), QSIZE + 2);
}

/* ---- used ring and event idx ------------------------------------------------------------------ */

/* Whether moving from old to new_idx passed event: is event one of old, old+1, ..., new_idx-1? */
static bool crossed(uint16_t event, uint16_t new_idx, uint16_t old)
{
	for (uint16_t i = old; i != new_idx; i++)
		if (i == event)
			return true;
	return false;
}

Test(virtq_event, need_event_table)
{
	static const struct {
		uint16_t event, new_idx, old;
		bool want;
	} t[] = {
		{ 0, 1, 0, true },           { 0, 0, 0, false },          { 1, 1, 0, false },
		{ 5, 10, 4, true },          { 10, 10, 4, false },        { 3, 10, 4, false },
		{ 0xffff, 0, 0xfffe, true }, { 0xffff, 0xffff, 0xfffe, false },
		{ 0, 1, 0xffff, true },      { 0xfffe, 2, 0xfff0, true }, { 2, 2, 0xfff0, false },
		{ 1, 2, 0xfff0, true },      { 0xffef, 2, 0xfff0, false },
		/* A driver that set used_event long ago (it moved by 0x8000 since). */
		{ 0x0000, 0x8001, 0x8000, false },
	};

	for (unsigned int i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(virtq_need_event(t[i].event, t[i].new_idx, t[i].old), t[i].want,
			     "event %#x new %#x old %#x", t[i].event, t[i].new_idx, t[i].old);
}

Test(virtq_event, need_event_exhaustive_around_wrap)
{
	static const uint16_t olds[] = { 0xffe0, 0xfff0, 0xfffe, 0xffff, 0, 1, 0x7fff, 0x8000 };

	for (unsigned int o = 0; o < sizeof(olds) / sizeof(olds[0]); o++)
		for (unsigned int d = 0; d <= 64; d++)
			for (int e = -80; e <= 80; e++) {
				uint16_t old = olds[o], new_idx = (uint16_t)(old + d);
				uint16_t event = (uint16_t)(old + e);

				cr_assert_eq(virtq_need_event(event, new_idx, old),
					     crossed(event, new_idx, old),
					     "event %#x new %#x old %#x", event, new_idx, old);
			}
}

static void push_one(void)
{
	struct seg s = { DATA_BASE, 4, true };

	drv_post(&dq, &s, 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	virtq_push(&q, c.head, 3);
}

Test(virtq_event, push_fills_used_ring)
{
	activate(false, false);
	for (unsigned int i = 0; i < QSIZE + 2; i++) {
		struct seg s = { DATA_BASE, 4, true };
		uint32_t id, len;

		dq.next_desc = (uint16_t)(i * 3 % QSIZE);
		drv_post(&dq, &s, 1);
		cr_assert_eq(virtq_pop(&q, &c, &f), 1);
		virtq_push(&q, c.head, 100 + i);
		cr_assert_eq(drv_used_idx(&dq), i + 1);
		drv_used_elem(&dq, (uint16_t)i, &id, &len);
		cr_assert_eq(id, i * 3 % QSIZE);
		cr_assert_eq(len, 100 + i);
	}
}

Test(virtq_event, push_on_inactive_queue_is_ignored)
{
	drv_virtq_state(&dq, &q, &qst, false, false);
	virtq_push(&q, 0, 1);
	cr_assert_eq(drv_used_idx(&dq), 0);
	cr_assert_not(virtq_should_notify(&q));
}

Test(virtq_event, without_event_idx_flags_decide)
{
	activate(false, false);
	push_one();
	cr_assert(virtq_should_notify(&q));
	push_one();
	cr_assert(virtq_should_notify(&q), "every batch interrupts");
	drv_set_avail_flags(&dq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	push_one();
	cr_assert_not(virtq_should_notify(&q), "VIRTQ_AVAIL_F_NO_INTERRUPT");
	drv_set_avail_flags(&dq, 0);
	push_one();
	cr_assert(virtq_should_notify(&q));
}

Test(virtq_event, with_event_idx_used_event_decides)
{
	activate(true, false);
	drv_set_used_event(&dq, 2);
	push_one(); /* used 0 -> 1 */
	cr_assert(virtq_should_notify(&q), "the first interrupt is always sent");
	push_one(); /* 1 -> 2: entry 2 not used yet */
	cr_assert_not(virtq_should_notify(&q));
	push_one(); /* 2 -> 3: passes used_event 2 */
	cr_assert(virtq_should_notify(&q));
	push_one(); /* 3 -> 4 */
	cr_assert_not(virtq_should_notify(&q));
	/* With event idx the flag is not consulted (2.7.10). */
	drv_set_avail_flags(&dq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	drv_set_used_event(&dq, 4);
	push_one(); /* 4 -> 5 */
	cr_assert(virtq_should_notify(&q));
	/* A batch that passes used_event interrupts once. */
	drv_set_used_event(&dq, 6);
	push_one();
	push_one();
	push_one(); /* 5 -> 8 */
	cr_assert(virtq_should_notify(&q));
	cr_assert_not(virtq_should_notify(&q), "nothing new since");
}

Test(virtq_event, used_event_across_wrap)
{
	activate(true, false);
	q.st->next_used = 0xfffe;
	q.st->signalled_used = 0xfffe;
	q.st->signalled_valid = 1;
	drv_set_used_event(&dq, 0xffff);
	push_one(); /* 0xfffe -> 0xffff */
	cr_assert_not(virtq_should_notify(&q));
	push_one(); /* 0xffff -> 0 */
	cr_assert(virtq_should_notify(&q));
	cr_assert_eq(drv_used_idx(&dq), 0);
	drv_set_used_event(&dq, 0);
	push_one(); /* 0 -> 1 */
	cr_assert(virtq_should_notify(&q));
}

Test(virtq_event, pop_publishes_avail_event)
{
	struct seg s = { DATA_BASE, 4, true };

	activate(true, false);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0);
	cr_assert_eq(drv_avail_event(&dq), 0, "notify me at the first buffer");
	drv_post(&dq, &s, 1);
	drv_post(&dq, &s, 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0);
	cr_assert_eq(drv_avail_event(&dq), 2, "notify me when entry 2 is made available");
	/* The driver's rule (need_event(avail_event, new, old)) then asks for a kick at the next
	 * buffer, not before. */
	cr_assert(virtq_need_event(drv_avail_event(&dq), 3, 2));
	cr_assert_not(virtq_need_event(drv_avail_event(&dq), 2, 1));
}

Test(virtq_event, no_avail_event_without_event_idx)
{
	struct seg s = { DATA_BASE, 4, true };
	uint16_t sentinel = 0xbeef;

	memcpy(ram_at(&ram, dq.used + 4 + 8 * QSIZE, 2), &sentinel, 2);
	activate(false, false);
	drv_post(&dq, &s, 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 1);
	cr_assert_eq(virtq_pop(&q, &c, &f), 0);
	cr_assert_eq(drv_avail_event(&dq), 0xbeef);
}
