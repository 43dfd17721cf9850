/* virtio_driver.c: the unit tests' virtio driver: fake RAM, ring builders, MMIO helpers. */
#include "virtio_driver.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

#define PAGE 4096

void fake_ram_create(struct fake_ram *r)
{
	struct gmem_region reg;
	uint8_t *m = mmap(NULL, FAKE_RAM_SIZE + PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(m, MAP_FAILED, "mmap fake RAM");
	cr_assert_eq(mprotect(m + FAKE_RAM_SIZE, PAGE, PROT_NONE), 0, "guard page");
	memset(m, 0xa5, FAKE_RAM_SIZE);
	reg = (struct gmem_region){ .gpa = 0, .size = FAKE_RAM_SIZE, .hva = m };
	cr_assert_eq(gmem_create_from(&r->gm, &reg, 1), 0);
	r->mem = m;
}

void fake_ram_destroy(struct fake_ram *r)
{
	gmem_destroy(r->gm);
	if (r->mem)
		munmap(r->mem, FAKE_RAM_SIZE + PAGE);
	r->gm = NULL;
	r->mem = NULL;
}

void kind_env_create(struct fake_ram *ram, char *image, int *out_fd)
{
	int fd;

	fake_ram_create(ram);
	fd = mkstemp(image);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	*out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	cr_assert_geq(*out_fd, 0);
}

void kind_env_destroy(struct fake_ram *ram, const char *image, int out_fd)
{
	unlink(image);
	close(out_fd);
	fake_ram_destroy(ram);
}

uint8_t *ram_at(struct fake_ram *r, uint64_t gpa, uint64_t len)
{
	cr_assert(gpa <= FAKE_RAM_SIZE && len <= FAKE_RAM_SIZE - gpa,
		  "test bug: 0x%llx+0x%llx outside fake RAM", (unsigned long long)gpa,
		  (unsigned long long)len);
	return r->mem + gpa;
}

static void w16(struct fake_ram *r, uint64_t gpa, uint16_t v) { memcpy(ram_at(r, gpa, 2), &v, 2); }

static uint16_t r16(struct fake_ram *r, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram_at(r, gpa, 2), 2);
	return v;
}

void drv_queue_init(struct drv_queue *q, struct fake_ram *ram, uint16_t size)
{
	drv_queue_init_at(q, ram, size, RING_DESC, RING_AVAIL, RING_USED);
}

void drv_queue_init_at(struct drv_queue *q, struct fake_ram *ram, uint16_t size, uint64_t desc,
		       uint64_t avail, uint64_t used)
{
	*q = (struct drv_queue){ .ram = ram, .size = size, .desc = desc, .avail = avail,
				 .used = used };
	memset(ram_at(ram, q->desc, 16ull * size), 0, 16ull * size);
	memset(ram_at(ram, q->avail, 6 + 2ull * size), 0, 6 + 2ull * size);
	memset(ram_at(ram, q->used, 6 + 8ull * size), 0, 6 + 8ull * size);
}

void drv_write_desc(struct fake_ram *ram, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	uint8_t *d = ram_at(ram, table + 16ull * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

void drv_make_avail(struct drv_queue *q, uint16_t head)
{
	w16(q->ram, q->avail + 4 + 2ull * (q->avail_idx % q->size), head);
	q->avail_idx++;
	w16(q->ram, q->avail + 2, q->avail_idx);
}

void drv_set_avail_idx(struct drv_queue *q, uint16_t idx)
{
	q->avail_idx = idx;
	w16(q->ram, q->avail + 2, idx);
}

void drv_set_avail_flags(struct drv_queue *q, uint16_t flags) { w16(q->ram, q->avail, flags); }

void drv_set_used_event(struct drv_queue *q, uint16_t v)
{
	w16(q->ram, q->avail + 4 + 2ull * q->size, v);
}

uint16_t drv_avail_event(struct drv_queue *q) { return r16(q->ram, q->used + 4 + 8ull * q->size); }

uint16_t drv_used_idx(struct drv_queue *q) { return r16(q->ram, q->used + 2); }

void drv_used_elem(struct drv_queue *q, uint16_t i, uint32_t *id, uint32_t *len)
{
	const uint8_t *e = ram_at(q->ram, q->used + 4 + 8ull * (i % q->size), 8);

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

uint16_t drv_post(struct drv_queue *q, const struct seg *segs, unsigned int n)
{
	uint16_t head = q->next_desc % q->size;

	cr_assert(n >= 1 && n <= q->size, "test bug: chain of %u in a queue of %u", n, q->size);
	for (unsigned int i = 0; i < n; i++) {
		uint16_t me = (uint16_t)((head + i) % q->size), next = (uint16_t)((me + 1) % q->size);
		uint16_t flags = (segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		drv_write_desc(q->ram, q->desc, me, segs[i].addr, segs[i].len, flags,
			       i + 1 < n ? next : 0);
	}
	q->next_desc = (uint16_t)((head + n) % q->size);
	drv_make_avail(q, head);
	return head;
}

void drv_virtq_state(const struct drv_queue *dq, struct virtq *q, struct virtq_state *st,
		     bool event_idx, bool indirect)
{
	memset(q, 0, sizeof(*q));
	*st = (struct virtq_state){
		.size = dq->size,
		.desc = dq->desc,
		.avail = dq->avail,
		.used = dq->used,
		.event_idx = event_idx,
		.indirect = indirect,
		.ready = 1,
	};
	q->st = st;
}

/* ---- MMIO ----------------------------------------------------------------------------------- */

uint32_t mmio_rd(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	virtio_mmio_read(t, off, &v, 4);
	return v;
}

void mmio_wr(struct virtio_mmio *t, uint64_t off, uint32_t v) { virtio_mmio_write(t, off, &v, 4); }

uint32_t drv_negotiate(struct virtio_mmio *t, uint64_t features)
{
	mmio_wr(t, VIRTIO_MMIO_STATUS, 0);
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	mmio_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					       VIRTIO_STATUS_FEATURES_OK);
	return mmio_rd(t, VIRTIO_MMIO_STATUS);
}

void drv_setup_queue(struct virtio_mmio *t, unsigned int qi, const struct drv_queue *q)
{
	mmio_wr(t, VIRTIO_MMIO_QUEUE_SEL, qi);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NUM, q->size);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
	mmio_wr(t, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
	mmio_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
}

void drv_start(struct virtio_mmio *t, uint64_t features, struct drv_queue *qs, unsigned int n)
{
	uint32_t ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	eventfd_t v;

	cr_assert_eq(drv_negotiate(t, features), ok, "features 0x%llx accepted",
		     (unsigned long long)features);
	for (unsigned int i = 0; i < n; i++)
		drv_setup_queue(t, i, &qs[i]);
	mmio_wr(t, VIRTIO_MMIO_STATUS, ok | VIRTIO_STATUS_DRIVER_OK);
	cr_assert_eq(mmio_rd(t, VIRTIO_MMIO_STATUS), ok | VIRTIO_STATUS_DRIVER_OK);
	/* DRIVER_OK signals every kick eventfd (buffers posted before it); start from quiet. */
	for (unsigned int i = 0; i < t->ops->nr_queues; i++)
		(void)eventfd_read(t->kick_fd[i], &v);
}

void drv_notify(struct virtio_mmio *t, unsigned int qi)
{
	mmio_wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
	virtio_mmio_kick(&t->kicks[qi], 0);
}

static void rec_set_level(void *opaque, unsigned int gsi, int level)
{
	struct irq_rec *r = opaque;

	r->gsi = gsi;
	if (level && !r->level)
		r->edges++;
	r->level = level;
}

struct irq_line irq_rec_line(struct irq_rec *rec, unsigned int gsi)
{
	*rec = (struct irq_rec){ .sink = { .set_level = rec_set_level, .opaque = rec } };
	return (struct irq_line){ .sink = &rec->sink, .gsi = gsi };
}

/* ---- log capture ---------------------------------------------------------------------------- */

static int log_mfd = -1;
static char log_buf[16384];

void log_capture(void)
{
	log_release();
	log_mfd = memfd_create("kiln-test-log", MFD_CLOEXEC);
	cr_assert_geq(log_mfd, 0);
	log_set_fd(log_mfd);
}

const char *log_text(void)
{
	ssize_t n = pread(log_mfd, log_buf, sizeof(log_buf) - 1, 0);

	log_buf[n > 0 ? n : 0] = 0;
	return log_buf;
}

void log_release(void)
{
	if (log_mfd >= 0) {
		log_set_fd(STDERR_FILENO);
		close(log_mfd);
		log_mfd = -1;
	}
}
