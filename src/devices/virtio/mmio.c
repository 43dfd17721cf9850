/* mmio.c: virtio-mmio version 2: registers, status state machine, features, queues, interrupts. */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "kvm/vm.h"

#define TRANSPORT_FEATURES                                                                \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |            \
	 VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC))

int virtio_mmio_init(struct virtio_mmio *t, const char *name, const struct virtio_device_ops *ops,
		     void *dev, uint64_t device_features, const struct gmem *gm, uint64_t base,
		     unsigned int gsi, struct irq_line line)
{
	int e;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->ops = ops;
	t->dev = dev;
	t->gm = gm;
	t->base = base;
	t->gsi = gsi;
	t->line = line;
	t->device_features = device_features | TRANSPORT_FEATURES;
	t->rl = (struct ratelimit)RATELIMIT_INIT(1000, 10);
	t->irq_fd = -1;
	for (unsigned int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		t->kick_fd[q] = -1;
		t->kicks[q] = (struct virtio_kick){ t, q };
		t->queues[q].st = &t->st.queues[q];
		t->queues[q].gm = gm;
	}
	if ((e = pthread_mutex_init(&t->lock, NULL)))
		return -e;
	t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irq_fd < 0)
		goto fail;
	for (unsigned int q = 0; q < ops->nr_queues; q++) {
		t->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->kick_fd[q] < 0)
			goto fail;
	}
	return 0;
fail:
	e = -errno;
	virtio_mmio_destroy(t);
	return e;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t->ops)
		return;
	if (t->irq_fd >= 0)
		close(t->irq_fd);
	for (unsigned int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		if (t->kick_fd[q] >= 0)
			close(t->kick_fd[q]);
	pthread_mutex_destroy(&t->lock);
	t->ops = NULL;
}

void virtio_mmio_connect(struct virtio_mmio *t, struct vm *vm)
{
	int e = vm_irqfd(vm, t->irq_fd, t->gsi, true);

	if (e)
		pr_warn("%s: KVM_IRQFD failed (%s): interrupts go through kiln", t->name, strerror(-e));
	t->irqfd_bound = !e;
	t->ioeventfd_bound = true;
	for (unsigned int q = 0; q < t->ops->nr_queues && t->ioeventfd_bound; q++) {
		e = vm_ioeventfd_mmio(vm, t->kick_fd[q], t->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q, true);
		if (e) {
			pr_warn("%s: KVM_IOEVENTFD failed (%s): queue notifications exit to kiln",
				t->name, strerror(-e));
			while (q--)
				if (vm_ioeventfd_mmio(vm, t->kick_fd[q],
						      t->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q, false))
					pr_debug("%s: cannot drop ioeventfd %u", t->name, q);
			t->ioeventfd_bound = false;
		}
	}
}

bool virtio_mmio_running(const struct virtio_mmio *t)
{
	return (t->st.status & VIRTIO_STATUS_DRIVER_OK) && !(t->st.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void raise_irq(struct virtio_mmio *t, uint32_t bits)
{
	t->st.interrupt_status |= bits;
	/* An edge per event: the driver reads and acknowledges InterruptStatus in its handler. */
	if (t->irqfd_bound) {
		if (eventfd_write(t->irq_fd, 1))
			pr_warn_ratelimited(&t->rl, "%s: cannot signal the irqfd: %s", t->name,
					    strerror(errno));
		return;
	}
	irq_line_set(&t->line, 1);
	irq_line_set(&t->line, 0);
}

void virtio_mmio_used(struct virtio_mmio *t, unsigned int q)
{
	if (virtq_should_notify(&t->queues[q]))
		raise_irq(t, VIRTIO_INT_USED_RING);
}

void virtio_mmio_queue_fault(struct virtio_mmio *t, unsigned int q, const struct virtq_fault *f)
{
	char why[160];

	if (t->queues[q].fault_reported)
		return; /* the same breakage seen again */
	t->queues[q].fault_reported = true;
	t->faults++;
	t->queues[q].broken = true;
	pr_warn_ratelimited(&t->rl, "%s: queue %u: %s; device needs reset", t->name, q,
			    virtq_fault_str(f, why, sizeof(why)));
	if (t->st.status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	/* 2.1.2: set DEVICE_NEEDS_RESET and, when DRIVER_OK was set, notify the driver. */
	t->st.status |= VIRTIO_STATUS_NEEDS_RESET;
	if (t->st.status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(t, VIRTIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	t->st.config_generation++;
	if (t->st.status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(t, VIRTIO_INT_CONFIG);
}

void virtio_mmio_guest_error(struct virtio_mmio *t, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	t->faults++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_warn_ratelimited(&t->rl, "%s: %s", t->name, msg);
}

static void device_reset(struct virtio_mmio *t)
{
	if (t->ops->reset)
		t->ops->reset(t->dev);
	for (unsigned int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		virtq_reset(&t->queues[q]);
	t->st.status = 0;
	t->st.device_features_sel = t->st.driver_features_sel = t->st.queue_sel = 0;
	t->st.driver_features = 0;
	t->st.interrupt_status = 0;
}

static struct virtq *selected(struct virtio_mmio *t)
{
	return t->st.queue_sel < t->ops->nr_queues ? &t->queues[t->st.queue_sel] : NULL;
}

/* Queue registers may change only while the queue is not ready and the driver has not finished
 * set-up (4.2.2.3: the driver writes them before QueueReady). */
static struct virtq *configurable(struct virtio_mmio *t)
{
	struct virtq *q = selected(t);

	if (!q || q->st->ready || (t->st.status & VIRTIO_STATUS_DRIVER_OK))
		return NULL;
	return q;
}

static void set_ready(struct virtio_mmio *t, uint32_t v)
{
	struct virtq *q = selected(t);
	struct virtq_fault f;

	if (!q)
		return;
	if (!v) {
		q->st->ready = 0;
		q->desc = q->avail = q->used = NULL;
		return;
	}
	if (q->st->ready)
		return;
	q->st->ready = 1;
	q->st->event_idx = !!(t->st.driver_features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	q->st->indirect = !!(t->st.driver_features & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
	q->st->next_avail = q->st->next_used = 0;
	q->st->signalled_valid = 0;
	if (virtq_activate(q, t->gm, &f))
		virtio_mmio_queue_fault(t, t->st.queue_sel, &f);
}

static void set_status(struct virtio_mmio *t, uint32_t v)
{
	uint32_t old = t->st.status & ~VIRTIO_STATUS_NEEDS_RESET, added;

	if (!v) {
		device_reset(t);
		return;
	}
	v &= 0xff & ~VIRTIO_STATUS_NEEDS_RESET;
	if ((old & v) != old) {
		/* Only a reset may clear bits (2.1.1). */
		virtio_mmio_guest_error(t, "status 0x%x clears bits of 0x%x without a reset; ignored",
					v, old);
		return;
	}
	added = v & ~old;
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		uint64_t f = t->st.driver_features;

		/* Legacy drivers are refused: without VERSION_1 FEATURES_OK does not stick. */
		if ((f & ~t->device_features) || !(f & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
			virtio_mmio_guest_error(t, "driver features 0x%llx refused (offered 0x%llx)",
						(unsigned long long)f,
						(unsigned long long)t->device_features);
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
			added &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
		}
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_mmio_guest_error(t, "DRIVER_OK without FEATURES_OK; ignored");
		v &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
		added &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
	}
	t->st.status = v | (t->st.status & VIRTIO_STATUS_NEEDS_RESET);
	if (added & VIRTIO_STATUS_DRIVER_OK) {
		if (t->ops->activate)
			t->ops->activate(t->dev);
		/* Buffers made available before DRIVER_OK are looked at now. */
		for (unsigned int q = 0; q < t->ops->nr_queues; q++)
			if (eventfd_write(t->kick_fd[q], 1))
				pr_warn("%s: cannot signal queue %u: %s", t->name, q, strerror(errno));
	}
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = selected(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC:
		return VIRTIO_MMIO_MAGIC_VALUE;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR_KILN;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->st.device_features_sel < 2
			       ? (uint32_t)(t->device_features >> (32 * t->st.device_features_sel))
			       : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? VIRTQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->st->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->st.interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return t->st.status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffff; /* 4.2.2.1: no shared memory region with this id */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->st.config_generation;
	default:
		return 0; /* write-only and reserved registers read as 0 */
	}
}

static void set_half(uint64_t *v, bool high, uint32_t half)
{
	if (high)
		*v = (*v & 0xffffffffull) | ((uint64_t)half << 32);
	else
		*v = (*v & ~0xffffffffull) | half;
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->st.device_features_sel = v;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if ((t->st.status & VIRTIO_STATUS_FEATURES_OK) || t->st.driver_features_sel > 1)
			return;
		set_half(&t->st.driver_features, t->st.driver_features_sel, v);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->st.driver_features_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->st.queue_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
		if ((q = configurable(t)))
			q->st->size = v > 0xffff ? 0 : (uint16_t)v; /* checked at QueueReady */
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!(t->st.status & VIRTIO_STATUS_DRIVER_OK) || !v)
			set_ready(t, v);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Reaches here only when no ioeventfd took it (or the value matched no queue). */
		if (v < t->ops->nr_queues) {
			if (eventfd_write(t->kick_fd[v], 1))
				pr_warn("%s: cannot signal queue %u: %s", t->name, v, strerror(errno));
		} else {
			virtio_mmio_guest_error(t, "notify for queue %u, which does not exist", v);
		}
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->st.interrupt_status &= ~v;
		return;
	case VIRTIO_MMIO_STATUS:
		set_status(t, v);
		return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((q = configurable(t)))
			set_half(&q->st->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if ((q = configurable(t)))
			set_half(&q->st->avail, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if ((q = configurable(t)))
			set_half(&q->st->used, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
		return;
	default:
		virtio_mmio_guest_error(t, "write of 0x%x to read-only or reserved register 0x%03llx",
					v, (unsigned long long)off);
		return;
	}
}

void virtio_mmio_read(void *opaque, uint64_t off, void *data, unsigned int size)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t c = off - VIRTIO_MMIO_CONFIG;

		if (c + size <= t->ops->config_size)
			t->ops->config_read(t->dev, (uint32_t)c, data, size);
	} else if (size == 4 && !(off & 3)) {
		v = reg_read(t, off);
		memcpy(data, &v, 4);
	} else {
		virtio_mmio_guest_error(t, "%u-byte read of register 0x%03llx (registers are 32-bit)",
					size, (unsigned long long)off);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_write(void *opaque, uint64_t off, const void *data, unsigned int size)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		/* No device kiln has offers a writable configuration field. */
		virtio_mmio_guest_error(t, "write to configuration space offset 0x%llx ignored",
					(unsigned long long)(off - VIRTIO_MMIO_CONFIG));
	} else if (size == 4 && !(off & 3)) {
		memcpy(&v, data, 4);
		reg_write(t, off, v);
	} else {
		virtio_mmio_guest_error(t, "%u-byte write to register 0x%03llx (registers are 32-bit)",
					size, (unsigned long long)off);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_kick(void *opaque, uint32_t events)
{
	struct virtio_kick *k = opaque;
	struct virtio_mmio *t = k->t;
	eventfd_t n;

	(void)events;
	if (eventfd_read(t->kick_fd[k->queue], &n))
		return; /* spurious: nothing pending */
	pthread_mutex_lock(&t->lock);
	if (virtio_mmio_running(t) && t->queues[k->queue].desc && !t->queues[k->queue].broken)
		t->ops->queue_notify(t->dev, k->queue);
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *out)
{
	pthread_mutex_lock(&t->lock);
	*out = t->st;
	pthread_mutex_unlock(&t->lock);
}

int virtio_mmio_load(struct virtio_mmio *t, const struct virtio_mmio_state *in)
{
	struct virtio_mmio_state st = *in;
	struct virtq qs[VIRTIO_MMIO_MAX_QUEUES];
	bool needs_reset = st.status & VIRTIO_STATUS_NEEDS_RESET;
	struct virtq_fault f;

	/* Accept exactly what a guest can bring the device to, including its mistakes: features
	 * that were not offered are only impossible once FEATURES_OK stuck, and a ready queue whose
	 * rings are invalid only with NEEDS_RESET set. Everything is checked on a copy before
	 * anything changes, so a refused state leaves the device as it was. */
	if (st.status & ~0xffu)
		return -EINVAL;
	if ((st.status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((st.driver_features & ~t->device_features) ||
	     !(st.driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1))))
		return -EINVAL;
	for (unsigned int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		qs[q] = (struct virtq){ .st = &st.queues[q], .gm = t->gm };
		if (!st.queues[q].ready)
			continue;
		if (q >= t->ops->nr_queues)
			return -EINVAL;
		if (virtq_activate(&qs[q], t->gm, &f)) {
			if (!needs_reset)
				return -EINVAL;
			qs[q].broken = qs[q].fault_reported = true;
		}
	}
	pthread_mutex_lock(&t->lock);
	t->st = st;
	for (unsigned int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		t->queues[q] = qs[q];
		t->queues[q].st = &t->st.queues[q];
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void virtio_mmio_restored(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	if (virtio_mmio_running(t))
		for (unsigned int q = 0; q < t->ops->nr_queues; q++)
			if (t->st.queues[q].ready && eventfd_write(t->kick_fd[q], 1))
				pr_warn("%s: cannot signal queue %u: %s", t->name, q, strerror(errno));
	if (t->st.interrupt_status)
		raise_irq(t, 0);
	pthread_mutex_unlock(&t->lock);
}
