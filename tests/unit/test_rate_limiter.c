/* test_rate_limiter.c: Firecracker's token buckets (src/util/rate_limiter.c) on a fake clock, and
 * the limiter's timer. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdint.h>

#include "util/log.h"
#include "util/rate_limiter.h"

#define MS 1000000ull
#define S (1000 * MS)

static struct token_bucket b;

static void bucket(uint64_t size, uint64_t burst, uint64_t refill_ms)
{
	struct token_bucket_cfg c = { .size = size, .one_time_burst = burst, .refill_ms = refill_ms };

	token_bucket_init(&b, &c, 0);
}

/* Takes n tokens at time t when they are there; returns the wait otherwise. */
static uint64_t take(uint64_t n, uint64_t t)
{
	uint64_t w = token_bucket_wait(&b, n, t);

	if (w == 0)
		token_bucket_consume(&b, n);
	return w;
}

Test(token_bucket, zero_size_or_refill_is_no_limit)
{
	bucket(0, 0, 100);
	cr_expect_not(token_bucket_limited(&b));
	cr_expect_eq(take(UINT64_MAX, 0), 0);
	bucket(100, 0, 0);
	cr_expect_not(token_bucket_limited(&b));
	cr_expect_eq(take(1000000, 0), 0);
}

Test(token_bucket, starts_full_then_refills_at_size_per_refill_time)
{
	bucket(100, 0, 1000); /* 100 tokens per second */
	cr_expect_eq(take(100, 0), 0);
	cr_expect_eq(take(1, 0), 10 * MS, "one token takes 10 ms");
	cr_expect_eq(take(50, 0), 500 * MS);
	cr_expect_eq(take(50, 500 * MS), 0);
	cr_expect_eq(take(1, 500 * MS), 10 * MS);
	/* Never above size, however long it waits. */
	cr_expect_eq(take(100, 100 * S), 0);
	cr_expect_neq(take(1, 100 * S), 0);
}

Test(token_bucket, no_fraction_is_made_twice)
{
	/* 3 tokens per second, read every 100 ms for 10 s: at most 3 * 10 tokens beyond the
	 * first full bucket, whatever the rounding. */
	uint64_t got = 0;

	bucket(3, 0, 1000);
	for (uint64_t t = 0; t <= 10 * S; t += 100 * MS)
		while (take(1, t) == 0)
			got++;
	cr_expect_eq(got, 3 + 30, "got %llu", (unsigned long long)got);
}

Test(token_bucket, one_time_burst_is_spent_first_and_never_refilled)
{
	bucket(10, 25, 1000);
	cr_expect_eq(take(30, 0), 0, "25 from the burst, 5 from the budget");
	cr_expect_eq(take(5, 0), 0);
	cr_expect_neq(take(1, 0), 0);
	cr_expect_eq(take(10, 10 * S), 0);
	cr_expect_neq(take(1, 10 * S), 0, "the burst is gone for good");
}

Test(token_bucket, oversized_request_goes_when_full_and_is_repaid)
{
	bucket(100, 0, 1000);
	cr_expect_eq(take(250, 0), 0, "larger than the bucket: it goes when the bucket is full");
	/* 150 tokens of debt plus one more: 1.51 s. */
	cr_expect_eq(take(1, 0), 1510 * MS);
	cr_expect_eq(take(250, 1 * S), 1500 * MS, "not full yet (-50): waits until it is");
	cr_expect_eq(take(250, 3 * S), 0);
}

Test(rate_limiter, both_buckets_and_the_timer)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = { .bandwidth = { .size = 1000, .refill_ms = 100 },
				      .ops = { .size = 2, .refill_ms = 20 } };
	struct pollfd p;
	uint64_t start = now_ns();

	cr_assert_eq(rate_limiter_init(&rl, &c), 0);
	cr_expect(rate_limiter_active(&rl));
	cr_expect(rate_limiter_consume(&rl, 400, 1));
	cr_expect(rate_limiter_consume(&rl, 400, 1));
	/* Out of ops: blocked, nothing taken from bandwidth, the timer armed. */
	cr_expect_not(rate_limiter_consume(&rl, 100, 1));
	cr_expect_not(rate_limiter_consume(&rl, 0, 0), "blocked until the timer fires");
	cr_expect_eq(rl.throttled, 1);
	p = (struct pollfd){ .fd = rl.timer_fd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 5000), 1, "the timer fires");
	cr_expect_geq(now_ns() - start, 9 * MS, "not before an op has refilled (10 ms)");
	rate_limiter_timer_event(&rl);
	cr_expect(rate_limiter_consume(&rl, 100, 1));
	/* An update replaces the buckets it names: no limit on ops now. */
	c.ops.size = 0;
	rate_limiter_update(&rl, &c, false, true);
	for (int i = 0; i < 100; i++)
		cr_expect(rate_limiter_consume(&rl, 0, 1));
	rate_limiter_destroy(&rl);
}

Test(rate_limiter, null_config_never_blocks)
{
	struct rate_limiter rl;

	cr_assert_eq(rate_limiter_init(&rl, NULL), 0);
	cr_expect_not(rate_limiter_active(&rl));
	for (int i = 0; i < 1000; i++)
		cr_expect(rate_limiter_consume(&rl, 1 << 20, 1));
	rate_limiter_destroy(&rl);
}

Test(rate_limiter, patch_switches_the_lockless_check_both_ways)
{
	struct rate_limiter rl;
	struct rate_limiter_cfg c = { .ops = { .size = 1, .refill_ms = 60000 } };

	cr_assert_eq(rate_limiter_init(&rl, NULL), 0);
	cr_expect(rate_limiter_consume(&rl, 0, 1));
	/* Limited by a PATCH: the unlimited fast path must not let requests by any more. */
	rate_limiter_update(&rl, &c, false, true);
	cr_expect(rate_limiter_active(&rl));
	cr_expect(rate_limiter_consume(&rl, 0, 1));
	cr_expect_not(rate_limiter_consume(&rl, 0, 1), "one op a minute");
	/* Unlimited again while blocked: requests go at once, before any timer event. */
	c.ops.size = 0;
	rate_limiter_update(&rl, &c, false, true);
	cr_expect_not(rate_limiter_active(&rl));
	for (int i = 0; i < 10; i++)
		cr_expect(rate_limiter_consume(&rl, 1 << 20, 1));
	rate_limiter_destroy(&rl);
}
