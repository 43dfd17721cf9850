/* rng.c: virtio-rng: fills each writable buffer chain with bytes from getrandom(). */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "devices/virtio/virtio.h"

static void rng_config_read(void *dev, uint32_t off, void *data, unsigned int size)
{
	(void)dev, (void)off, (void)data, (void)size; /* no configuration space */
}

/* Fills up to `len` bytes; returns how many were filled. */
static uint64_t fill(void *p, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((uint8_t *)p + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		done += (uint64_t)n;
	}
	return done;
}

/* Bytes a request asks for: its writable buffers, up to VIRTIO_RNG_MAX_REQUEST. */
static uint64_t request_bytes(const struct virtq_chain *c)
{
	uint64_t want = 0;

	for (unsigned int i = c->nr_out; i < c->nr_out + c->nr_in; i++)
		want += c->iov[i].iov_len;
	return want < VIRTIO_RNG_MAX_REQUEST ? want : VIRTIO_RNG_MAX_REQUEST;
}

/* Serves requests until the queue is empty or the rate limiter holds one back (kept in
 * r->chain, r->held, until the limiter's timer fires). Lock held. */
static void serve(struct virtio_rng *r, unsigned int qi)
{
	struct virtq *q = &r->t.queues[qi];
	struct virtq_fault f;
	bool pushed = false;
	int n = 0;

	while (r->held || (n = virtq_pop(q, &r->chain, &f)) > 0) {
		const struct virtq_chain *c = &r->chain;
		uint64_t budget = request_bytes(c), written = 0;

		if (!rate_limiter_consume(&r->rl, budget, 1)) {
			r->held = true;
			break;
		}
		r->held = false;
		if (c->nr_out)
			virtio_mmio_guest_error(&r->t, "request %u has device-readable buffers",
						c->head);
		for (unsigned int i = c->nr_out; i < c->nr_out + c->nr_in && budget; i++) {
			uint64_t l = c->iov[i].iov_len < budget ? c->iov[i].iov_len : budget;
			uint64_t got = fill(c->iov[i].iov_base, l);

			written += got;
			budget -= got;
			if (got < l)
				break;
		}
		r->bytes += written;
		virtq_push(q, c->head, (uint32_t)written);
		pushed = true;
	}
	if (n < 0)
		virtio_mmio_queue_fault(&r->t, qi, &f);
	if (pushed)
		virtio_mmio_used(&r->t, qi);
}

static void rng_queue_notify(void *dev, unsigned int qi)
{
	serve(dev, qi);
}

static void rng_reset(void *dev)
{
	struct virtio_rng *r = dev;

	r->held = false; /* its buffers belong to the rings the driver gave up */
}

void virtio_rng_rate_timer(void *opaque, uint32_t events)
{
	struct virtio_rng *r = opaque;

	(void)events;
	rate_limiter_timer_event(&r->rl);
	pthread_mutex_lock(&r->t.lock);
	if (virtio_mmio_running(&r->t) && r->t.queues[0].desc)
		serve(r, 0);
	pthread_mutex_unlock(&r->t.lock);
}

static const struct virtio_device_ops rng_ops = {
	.kind = "rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.config_size = 0,
	.config_read = rng_config_read,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
};

int virtio_rng_init(struct virtio_rng *r, const char *name, const struct rate_limiter_cfg *limit,
		    const struct gmem *gm, uint64_t base, unsigned int gsi, struct irq_line line)
{
	int e;

	memset(r, 0, sizeof(*r));
	e = rate_limiter_init(&r->rl, limit);
	if (e)
		return e;
	e = virtio_mmio_init(&r->t, name, &rng_ops, r, 0, gm, base, gsi, line);
	if (e)
		rate_limiter_destroy(&r->rl);
	return e;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	virtio_mmio_destroy(&r->t);
	rate_limiter_destroy(&r->rl);
}

void virtio_rng_get_counters(struct virtio_rng *r, uint64_t *bytes, uint64_t *guest_errors)
{
	pthread_mutex_lock(&r->t.lock);
	*bytes = r->bytes;
	*guest_errors = r->t.faults;
	pthread_mutex_unlock(&r->t.lock);
}

void virtio_rng_save(struct virtio_rng *r, struct virtio_rng_state *out)
{
	pthread_mutex_lock(&r->t.lock);
	if (r->held) {
		/* Taken, held back by the rate limiter: back into the ring, so the restored device
		 * serves it. */
		virtq_unpop(&r->t.queues[0], 1);
		r->held = false;
	}
	pthread_mutex_unlock(&r->t.lock);
	virtio_mmio_save(&r->t, &out->transport);
}

int virtio_rng_load(struct virtio_rng *r, const struct virtio_rng_state *in)
{
	return virtio_mmio_load(&r->t, &in->transport);
}

/* ---- the builder's device table (kind.h) ---------------------------------------------------- */

static unsigned int rng_count(const struct vmm_config *cfg)
{
	return cfg->rng ? 1 : 0;
}

static int rng_init(void *dev, const struct virtio_dev_env *env, char *err, size_t err_size)
{
	struct virtio_rng *r = dev;
	int e = virtio_rng_init(r, env->name, &env->cfg->rng_rate_limiter, env->mem, env->base,
				env->gsi, env->line);

	if (e == 0 && env->io) {
		e = io_thread_add(env->io, r->rl.timer_fd, virtio_rng_rate_timer, r);
		if (e)
			virtio_rng_destroy(r);
	}
	if (e)
		snprintf(err, err_size, "%s: cannot create: %s", env->name, strerror(-e));
	return e;
}

static void rng_destroy(void *dev)
{
	virtio_rng_destroy(dev);
}

static struct virtio_mmio *rng_transport(void *dev)
{
	return &((struct virtio_rng *)dev)->t;
}

static unsigned int rng_counters(void *dev, struct virtio_counter *out)
{
	uint64_t bytes, faults;

	virtio_rng_get_counters(dev, &bytes, &faults);
	out[0] = (struct virtio_counter){ "bytes", bytes };
	out[1] = (struct virtio_counter){ "guest_errors", faults };
	return 2;
}

static void rng_save(void *dev, void *state)
{
	virtio_rng_save(dev, state);
}

static int rng_load(void *dev, const void *state)
{
	return virtio_rng_load(dev, state);
}

const struct virtio_kind virtio_rng_kind = {
	.kind = "rng",
	.metrics_key = "entropy",
	.size = sizeof(struct virtio_rng),
	.state_size = sizeof(struct virtio_rng_state),
	.count = rng_count,
	.init = rng_init,
	.destroy = rng_destroy,
	.transport = rng_transport,
	.counters = rng_counters,
	.save = rng_save,
	.load = rng_load,
};
