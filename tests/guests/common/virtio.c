/* virtio.c: the test guests' virtio-mmio driver (see virtio.h). */
#include "virtio.h"
#include "exit.h"
#include "multiboot.h"
#include "kstring.h"
#include "serial.h"

#define ARENA_SIZE (512 * 1024)
#define RESET_SPINS 100000

static u8 arena[ARENA_SIZE] __attribute__((aligned(4096)));
static u32 arena_used;

void vio_arena_reset(void)
{
	arena_used = 0;
}

void *vio_alloc(u32 size, u32 align)
{
	u32 start = (arena_used + align - 1) & ~(align - 1);
	if (start > ARENA_SIZE || size > ARENA_SIZE - start)
		return NULL;
	arena_used = start + size;
	u32 *p = (u32 *)(arena + start);
	for (u32 i = 0; i < (size + 3) / 4; i++)
		p[i] = 0;
	return arena + start;
}

/* Decimal or 0x-prefixed hex at *s; advances *s. Returns 0 when there are no digits. */
static int parse_num(const char **s, u32 *out)
{
	const char *p = *s;
	u32 v = 0;
	int digits = 0;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		for (;; p++, digits++) {
			u32 d;
			if (*p >= '0' && *p <= '9')
				d = (u32)(*p - '0');
			else if (*p >= 'a' && *p <= 'f')
				d = (u32)(*p - 'a' + 10);
			else if (*p >= 'A' && *p <= 'F')
				d = (u32)(*p - 'A' + 10);
			else
				break;
			if (digits >= 8)
				return 0;
			v = v << 4 | d;
		}
	} else {
		for (; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits >= 9)
				return 0;
			v = v * 10 + (u32)(*p - '0');
		}
	}
	if (digits == 0)
		return 0;
	*s = p;
	*out = v;
	return 1;
}

const char *vio_boot(u32 magic, const struct multiboot_info *mbi, struct vio_bus *bus)
{
	const char *cmdline = "";

	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");
	if ((mbi->flags & MBI_FLAG_CMDLINE) && mbi->cmdline)
		cmdline = (const char *)(uptr)mbi->cmdline;
	if (vio_bus_parse(cmdline, bus) != 0)
		guest_fail("no virtio=BASE,STRIDE,COUNT on the command line");
	return cmdline;
}

int vio_bus_parse(const char *cmdline, struct vio_bus *bus)
{
	const char *s = cmdline_find(cmdline, "virtio=");
	bus->nirqs = 0;
	if (s == NULL || !parse_num(&s, &bus->base) || *s++ != ',' || !parse_num(&s, &bus->stride) ||
	    *s++ != ',' || !parse_num(&s, &bus->count) || bus->count == 0 || bus->stride < 0x100)
		return -1;
	s = cmdline_find(cmdline, "virtio_irqs=");
	while (s != NULL && bus->nirqs < 32 && parse_num(&s, &bus->irqs[bus->nirqs])) {
		bus->nirqs++;
		if (*s != ',')
			break;
		s++;
	}
	return 0;
}

int vio_find(const struct vio_bus *bus, u32 device_id, u32 nth, struct vio_dev *d)
{
	for (u32 i = 0; i < bus->count; i++) {
		struct vio_dev probe = { .base = bus->base + i * bus->stride, .index = i };
		if (vio_read(&probe, VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE)
			continue;
		u32 version = vio_read(&probe, VIRTIO_MMIO_VERSION);
		u32 id = vio_read(&probe, VIRTIO_MMIO_DEVICE_ID);
		if (id != device_id)
			continue;
		if (version != 2) {
			serial_puts("virtio: transport ");
			serial_put_dec(i);
			serial_puts(" has version ");
			serial_put_dec(version);
			serial_puts(", not 2 (legacy?): skipped\n");
			continue;
		}
		if (nth-- != 0)
			continue;
		*d = probe;
		d->device_id = id;
		d->irq = i < bus->nirqs ? bus->irqs[i] : 0xffffffffu;
		return 0;
	}
	return -1;
}

u64 vio_config64(const struct vio_dev *d, u32 off)
{
	for (int tries = 0; tries < 100; tries++) {
		u32 gen = vio_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
		u32 lo = vio_config32(d, off);
		u32 hi = vio_config32(d, off + 4);
		if (vio_read(d, VIRTIO_MMIO_CONFIG_GENERATION) == gen)
			return (u64)hi << 32 | lo;
	}
	return ~0ull;
}

u64 vio_device_features(const struct vio_dev *d)
{
	vio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	u64 f = vio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	vio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (u64)vio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

int vio_reset(struct vio_dev *d)
{
	vio_write(d, VIRTIO_MMIO_STATUS, 0);
	for (u32 i = 0; i < RESET_SPINS; i++)
		if (vio_status(d) == 0)
			return 0;
	return -1;
}

int vio_init(struct vio_dev *d, u64 wanted)
{
	d->features = 0;
	if (vio_reset(d) != 0) {
		serial_puts("virtio: device status did not read 0 after reset\n");
		return -1;
	}
	u32 status = VIRTIO_STATUS_ACKNOWLEDGE;
	vio_write(d, VIRTIO_MMIO_STATUS, status);
	status |= VIRTIO_STATUS_DRIVER;
	vio_write(d, VIRTIO_MMIO_STATUS, status);

	u64 offered = vio_device_features(d);
	d->offered = offered;
	if (!(offered & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		serial_puts("virtio: device does not offer VIRTIO_F_VERSION_1\n");
		vio_write(d, VIRTIO_MMIO_STATUS, status | VIRTIO_STATUS_FAILED);
		return -1;
	}
	u64 features = offered & (wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)features);
	vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(features >> 32));
	status |= VIRTIO_STATUS_FEATURES_OK;
	vio_write(d, VIRTIO_MMIO_STATUS, status);
	if (!(vio_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		serial_puts("virtio: device cleared FEATURES_OK\n");
		vio_write(d, VIRTIO_MMIO_STATUS, status | VIRTIO_STATUS_FAILED);
		return -1;
	}
	d->features = features;
	return 0;
}

void vio_driver_ok(struct vio_dev *d)
{
	vio_write(d, VIRTIO_MMIO_STATUS, vio_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

int vio_queue_setup(struct vio_dev *d, struct vq *q, u16 index, u16 size)
{
	vio_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (vio_read(d, VIRTIO_MMIO_QUEUE_READY) != 0)
		return -1;
	u32 max = vio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return -1;
	if (max > VQ_MAX_SIZE)
		max = VQ_MAX_SIZE;
	if (size == 0 || size > max)
		size = (u16)max;
	if (size & (size - 1))
		return -1; /* split queues are a power of two in size (2.7) */

	q->dev = d;
	q->index = index;
	q->size = size;
	q->desc = vio_alloc(16u * size, 16);
	q->avail = vio_alloc(6u + 2u * size, 2);
	q->used = vio_alloc(6u + 8u * size, 4);
	if (q->desc == NULL || q->avail == NULL || q->used == NULL)
		return -1;
	q->used_event = &q->avail->ring[size];
	q->avail_event = (u16 *)&q->used->ring[size];
	q->event_idx = vio_has(d, VIRTIO_F_EVENT_IDX);
	q->indirect = vio_has(d, VIRTIO_F_INDIRECT_DESC);
	q->free_head = 0;
	q->num_free = size;
	q->avail_idx = 0;
	q->kicked_idx = 0;
	q->last_used = 0;
	for (u32 i = 0; i < size; i++) {
		q->desc[i].next = (u16)(i + 1);
		q->chain_len[i] = 0;
		q->ind[i] = NULL;
		q->cookie[i] = NULL;
	}

	vio_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	vio_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)(uptr)q->desc);
	vio_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	vio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (u32)(uptr)q->avail);
	vio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	vio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (u32)(uptr)q->used);
	vio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	vio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (vio_read(d, VIRTIO_MMIO_QUEUE_READY) != 1)
		return -1;
	return 0;
}

/* Indirect tables hold at most this many descriptors per chain. */
#define VQ_IND_MAX 16

int vq_post(struct vq *q, const struct vio_buf *bufs, u32 n, int indirect, void *cookie)
{
	if (n == 0)
		return -1;
	if (indirect && (!q->indirect || n > VQ_IND_MAX))
		return -1;
	u32 need = indirect ? 1 : n;
	if (q->num_free < need)
		return -1;

	u16 head = q->free_head;
	if (indirect) {
		if (q->ind[head] == NULL)
			q->ind[head] = vio_alloc(16 * VQ_IND_MAX, 16);
		struct virtq_desc *t = q->ind[head];
		if (t == NULL)
			return -1;
		for (u32 i = 0; i < n; i++) {
			t[i].addr = bufs[i].addr;
			t[i].len = bufs[i].len;
			t[i].flags = (u16)((bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
					   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			t[i].next = (u16)(i + 1 < n ? i + 1 : 0);
		}
		q->desc[head].addr = (u64)(uptr)t;
		q->desc[head].len = 16 * n;
		q->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
		q->free_head = q->desc[head].next;
	} else {
		u16 i = head, last = head;
		for (u32 k = 0; k < n; k++) {
			q->desc[i].addr = bufs[k].addr;
			q->desc[i].len = bufs[k].len;
			q->desc[i].flags = (u16)((bufs[k].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
						 (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			last = i;
			i = q->desc[i].next;
		}
		q->free_head = q->desc[last].next;
	}
	q->num_free = (u16)(q->num_free - need);
	q->chain_len[head] = (u16)need;
	q->cookie[head] = cookie;

	q->avail->ring[q->avail_idx % q->size] = head;
	vio_barrier(); /* the ring entry before the index that publishes it */
	q->avail_idx++;
	*(volatile u16 *)&q->avail->idx = q->avail_idx;
	return head;
}

void vq_publish(struct vq *q, u16 head)
{
	q->avail->ring[q->avail_idx % q->size] = head;
	vio_barrier();
	q->avail_idx++;
	*(volatile u16 *)&q->avail->idx = q->avail_idx;
}

void vq_notify(struct vq *q)
{
	vio_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

int vq_kick(struct vq *q)
{
	vio_mb(); /* avail idx visible before we read what the device asked for (2.7.10) */
	u16 new_idx = q->avail_idx, old_idx = q->kicked_idx;
	q->kicked_idx = new_idx;
	int need;
	if (q->event_idx) {
		u16 ev = *(volatile u16 *)q->avail_event;
		need = (u16)(new_idx - ev - 1) < (u16)(new_idx - old_idx);
	} else {
		need = !(*(volatile u16 *)&q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	}
	if (need)
		vq_notify(q);
	return need;
}

int vq_get_used(struct vq *q, u32 *len, void **cookie)
{
	u16 used_idx = *(volatile u16 *)&q->used->idx;
	if (used_idx == q->last_used)
		return -1;
	vio_barrier(); /* read the element only after seeing the index */
	volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
	u32 id = e->id, written = e->len;
	q->last_used++;
	if (id >= q->size || q->chain_len[id] == 0)
		return -2;
	u16 tail = (u16)id;
	for (u32 k = 1; k < q->chain_len[id]; k++)
		tail = q->desc[tail].next;
	q->desc[tail].next = q->free_head;
	q->free_head = (u16)id;
	q->num_free = (u16)(q->num_free + q->chain_len[id]);
	q->chain_len[id] = 0;
	if (len != NULL)
		*len = written;
	if (cookie != NULL)
		*cookie = q->cookie[id];
	return (int)id;
}

int vq_wait_used(struct vq *q, u32 *len, void **cookie, u32 spins)
{
	for (u32 i = 0; i < spins; i++) {
		int id = vq_get_used(q, len, cookie);
		if (id != -1)
			return id;
		__asm__ volatile("pause" ::: "memory");
	}
	return -1;
}

void vq_enable_irq(struct vq *q)
{
	if (q->event_idx)
		*(volatile u16 *)q->used_event = q->last_used;
	else
		*(volatile u16 *)&q->avail->flags = 0;
	vio_mb();
}

void vq_disable_irq(struct vq *q)
{
	*(volatile u16 *)&q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	if (q->event_idx)
		*(volatile u16 *)q->used_event = (u16)(q->last_used - 1);
}

void vio_dump(const struct vio_dev *d, const char *what)
{
	serial_puts("virtio: ");
	serial_puts(what);
	serial_puts(": transport ");
	serial_put_dec(d->index);
	serial_puts(" status=");
	serial_put_hex(vio_status(d));
	serial_puts(" isr=");
	serial_put_hex(vio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	serial_putc('\n');
}
