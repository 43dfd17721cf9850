/* rate_limiter.c: token buckets and the throttling timer (rate_limiter.h). */
#include "util/rate_limiter.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"

void token_bucket_init(struct token_bucket *b, const struct token_bucket_cfg *cfg, uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	if (!cfg || !cfg->size || !cfg->refill_ms)
		return;
	b->size = cfg->size > INT64_MAX / 2 ? INT64_MAX / 2 : cfg->size;
	b->refill_ns = cfg->refill_ms > UINT64_MAX / 1000000u ? UINT64_MAX : cfg->refill_ms * 1000000u;
	b->burst = cfg->one_time_burst;
	b->budget = (int64_t)b->size;
	b->last_ns = now_ns;
}

/* Adds what has refilled since last_ns, exactly: the fraction of a token not yet whole is kept
 * (in token-nanoseconds, below refill_ns) for the next time. */
static void refill(struct token_bucket *b, uint64_t now_ns)
{
	unsigned __int128 credit, add;

	if (now_ns <= b->last_ns)
		return;
	credit = (unsigned __int128)(now_ns - b->last_ns) * b->size + b->frac;
	add = credit / b->refill_ns;
	b->last_ns = now_ns;
	if (add >= (unsigned __int128)((int64_t)b->size - b->budget)) {
		b->budget = (int64_t)b->size;
		b->frac = 0;
		return;
	}
	b->budget += (int64_t)add;
	b->frac = (uint64_t)(credit % b->refill_ns);
}

uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	__int128 need;
	unsigned __int128 ns;

	if (!b->size || n == 0)
		return 0;
	refill(b, now_ns);
	/* Larger than the bucket can ever hold: it goes when the bucket is full. */
	if (n > b->size + b->burst)
		need = (__int128)b->size - b->budget;
	else
		need = (__int128)n - (__int128)b->burst - b->budget;
	if (need <= 0)
		return 0;
	ns = ((unsigned __int128)need * b->refill_ns - b->frac + b->size - 1) / b->size;
	return ns > UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)ns;
}

void token_bucket_consume(struct token_bucket *b, uint64_t n)
{
	uint64_t from_burst = n < b->burst ? n : b->burst;

	if (!b->size)
		return;
	b->burst -= from_burst;
	n -= from_burst;
	b->budget -= n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

int rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg)
{
	uint64_t now = now_ns();

	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl->timer_fd < 0)
		return -errno;
	pthread_mutex_init(&rl->lock, NULL);
	token_bucket_init(&rl->bandwidth, cfg ? &cfg->bandwidth : NULL, now);
	token_bucket_init(&rl->ops, cfg ? &cfg->ops : NULL, now);
	atomic_init(&rl->limited, token_bucket_limited(&rl->bandwidth) || token_bucket_limited(&rl->ops));
	return 0;
}

void rate_limiter_destroy(struct rate_limiter *rl)
{
	if (rl->timer_fd < 0)
		return;
	close(rl->timer_fd);
	rl->timer_fd = -1;
	pthread_mutex_destroy(&rl->lock);
}

void rate_limiter_update(struct rate_limiter *rl, const struct rate_limiter_cfg *cfg,
			 bool set_bandwidth, bool set_ops)
{
	uint64_t now = now_ns();
	bool was_blocked;

	pthread_mutex_lock(&rl->lock);
	if (set_bandwidth)
		token_bucket_init(&rl->bandwidth, &cfg->bandwidth, now);
	if (set_ops)
		token_bucket_init(&rl->ops, &cfg->ops, now);
	atomic_store_explicit(&rl->limited,
			      token_bucket_limited(&rl->bandwidth) || token_bucket_limited(&rl->ops),
			      memory_order_release);
	was_blocked = rl->blocked;
	pthread_mutex_unlock(&rl->lock);
	if (was_blocked) {
		/* Fire now: the device's timer handler retries its request with the new buckets. */
		struct itimerspec soon = { { 0, 0 }, { 0, 1 } };

		if (timerfd_settime(rl->timer_fd, 0, &soon, NULL))
			pr_warn("rate limiter: arming its timer: %s", strerror(errno));
	}
}

bool rate_limiter_active(struct rate_limiter *rl)
{
	return atomic_load_explicit(&rl->limited, memory_order_acquire);
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops)
{
	uint64_t now, wait_bw, wait_ops, wait;
	struct itimerspec when = { { 0, 0 }, { 0, 0 } };

	/* A PATCH that limits a device concurrently lets at most this one request through unlimited. */
	if (!atomic_load_explicit(&rl->limited, memory_order_acquire))
		return true;
	pthread_mutex_lock(&rl->lock);
	if (!token_bucket_limited(&rl->bandwidth) && !token_bucket_limited(&rl->ops)) {
		pthread_mutex_unlock(&rl->lock);
		return true;
	}
	if (rl->blocked) {
		pthread_mutex_unlock(&rl->lock);
		return false;
	}
	now = now_ns();
	wait_bw = token_bucket_wait(&rl->bandwidth, bytes, now);
	wait_ops = token_bucket_wait(&rl->ops, ops, now);
	wait = wait_bw > wait_ops ? wait_bw : wait_ops;
	if (wait == 0) {
		token_bucket_consume(&rl->bandwidth, bytes);
		token_bucket_consume(&rl->ops, ops);
		pthread_mutex_unlock(&rl->lock);
		return true;
	}
	rl->blocked = true;
	rl->throttled++;
	when.it_value.tv_sec = (time_t)(wait / 1000000000u);
	when.it_value.tv_nsec = (long)(wait % 1000000000u);
	if (timerfd_settime(rl->timer_fd, 0, &when, NULL))
		pr_warn("rate limiter: arming its timer: %s", strerror(errno));
	pthread_mutex_unlock(&rl->lock);
	return false;
}

void rate_limiter_timer_event(struct rate_limiter *rl)
{
	uint64_t expirations;

	if (read(rl->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_warn("rate limiter: reading its timer: %s", strerror(errno));
	pthread_mutex_lock(&rl->lock);
	rl->blocked = false;
	pthread_mutex_unlock(&rl->lock);
}
