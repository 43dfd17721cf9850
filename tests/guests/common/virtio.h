/*
 * A small virtio-mmio (version 2) driver for the 32-bit multiboot test guests: transport probe,
 * the status and feature handshake, split virtqueues with direct and indirect chains, polled
 * and interrupt-driven completion (virtio 1.2, chapters 2, 3 and 4.2).
 *
 * Paging is off in these guests, so a pointer is a guest-physical address and the same code runs
 * at ring 0 or ring 3 (with the segments covering all 4 GiB). The guest learns where the
 * transports are from its command line: `virtio=BASE,STRIDE,COUNT` (kiln: 0xd0000000,0x1000,16;
 * QEMU `-M microvm,ioapic2=off`: 0xfeb00000,0x200,8), and optionally `virtio_irqs=A,B,...`, the
 * GSI of each transport in order (kiln: 5,6,7,9,...; that QEMU: 16,...,23). QEMU fills its
 * transports from the top, kiln from 0: find devices by id and features, not by position.
 *
 * Nothing here loops without a bound: every wait takes a spin count and reports a timeout.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "types.h"

/* MMIO register offsets (4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x000 /* "virt" */
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976 /* "virt", little-endian */

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* InterruptStatus bits (4.2.2). */
#define VIRTIO_INT_USED 0x1
#define VIRTIO_INT_CONFIG 0x2

/* Device ids (5). */
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Reserved feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BIT(n) (1ull << (n))

/* Split virtqueue layout (2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VQ_MAX_SIZE 256

struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct virtq_avail {
	u16 flags;
	u16 idx;
	u16 ring[]; /* then u16 used_event */
};

struct virtq_used_elem {
	u32 id;
	u32 len;
};

struct virtq_used {
	u16 flags;
	u16 idx;
	struct virtq_used_elem ring[]; /* then u16 avail_event */
};

/* Where the transports are: from `virtio=` on the command line. */
struct vio_bus {
	u32 base;
	u32 stride;
	u32 count;
	u32 nirqs;
	u32 irqs[32];
};

struct vio_dev {
	uptr base;     /* register block */
	u32 index;     /* transport number on the bus */
	u32 device_id;
	u32 irq;       /* GSI from virtio_irqs=, or 0xffffffff when not given */
	u64 offered;   /* device feature bits */
	u64 features;  /* negotiated */
};

/* One split virtqueue; the rings are public so hostile tests can write them directly. */
struct vq {
	struct vio_dev *dev;
	u16 index;
	u16 size;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	u16 *used_event;  /* in the avail ring, after ring[size] */
	u16 *avail_event; /* in the used ring, after ring[size] */
	u16 free_head;
	u16 num_free;
	u16 avail_idx;    /* next avail idx the driver publishes */
	u16 kicked_idx;   /* avail idx at the last notification decision */
	u16 last_used;    /* next used entry to consume */
	int event_idx;
	int indirect;
	u16 chain_len[VQ_MAX_SIZE]; /* descriptors per head, for freeing */
	struct virtq_desc *ind[VQ_MAX_SIZE]; /* indirect table per head, or NULL */
	void *cookie[VQ_MAX_SIZE];
};

/* One buffer of a chain: guest-physical address, length, and whether the device writes it. */
struct vio_buf {
	u64 addr;
	u32 len;
	u32 device_writes;
};

/* Compiler barrier; x86 keeps stores in order and loads in order (TSO). */
static inline void vio_barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Full barrier (a locked no-op), needed between publishing avail idx and reading avail_event. */
static inline void vio_mb(void)
{
	__asm__ volatile("lock; orl $0, (%%esp)" ::: "memory", "cc");
}

static inline u32 vio_read(const struct vio_dev *d, u32 off)
{
	u32 v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(d->base + off) : "memory");
	return v;
}

static inline void vio_write(const struct vio_dev *d, u32 off, u32 v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(d->base + off) : "memory");
}

static inline u8 vio_config8(const struct vio_dev *d, u32 off)
{
	u8 v;
	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(d->base + VIRTIO_MMIO_CONFIG + off) : "memory");
	return v;
}

static inline u32 vio_config32(const struct vio_dev *d, u32 off)
{
	return vio_read(d, VIRTIO_MMIO_CONFIG + off);
}

/* A 64-bit config field read as two halves, retried until ConfigGeneration is stable (4.2.3.3). */
u64 vio_config64(const struct vio_dev *d, u32 off);

static inline u32 vio_status(const struct vio_dev *d)
{
	return vio_read(d, VIRTIO_MMIO_STATUS);
}

static inline int vio_has(const struct vio_dev *d, u32 bit)
{
	return (d->features & VIRTIO_BIT(bit)) != 0;
}

/*
 * Parse `virtio=BASE,STRIDE,COUNT` (numbers in decimal or 0x hex) and the optional
 * `virtio_irqs=A,B,...` from a command line. Returns 0, or -1 when `virtio=` is absent or bad.
 */
int vio_bus_parse(const char *cmdline, struct vio_bus *bus);

struct multiboot_info;
/*
 * What every virtio test guest does first at its multiboot entry: check EAX holds the multiboot
 * magic, take the command line from the information structure and parse virtio= from it, with
 * guest_fail() on any problem. Returns the command line ("" when there is none).
 */
const char *vio_boot(u32 magic, const struct multiboot_info *mbi, struct vio_bus *bus);

/*
 * Find the nth (from 0) transport on bus with magic "virt", version 2 and the given device id
 * (transports whose id is 0 have no device behind them). Fills d (base, index, device_id, irq)
 * and returns 0, or -1 when there is no such device. Touches only the id registers.
 */
int vio_find(const struct vio_bus *bus, u32 device_id, u32 nth, struct vio_dev *d);

/* The device's offered feature bits (DeviceFeaturesSel 0 and 1), without changing its status. */
u64 vio_device_features(const struct vio_dev *d);

/* Write 0 to Status and wait (bounded) until it reads back 0 (4.2.3.1). Returns 0 or -1. */
int vio_reset(struct vio_dev *d);

/*
 * Reset, ACKNOWLEDGE, DRIVER, read the offered features, write offered & wanted, FEATURES_OK,
 * and check that FEATURES_OK stuck (3.1.1). VERSION_1 is always wanted and must be offered.
 * Returns 0 with d->features set; -1 (and sets FAILED) when VERSION_1 is missing or the
 * device refused the features. Call vio_queue_setup() for each queue, then vio_driver_ok().
 */
int vio_init(struct vio_dev *d, u64 wanted);

/* Set DRIVER_OK: the device is live. */
void vio_driver_ok(struct vio_dev *d);

/*
 * Set up queue `index` with `size` entries (0: QueueNumMax, capped at VQ_MAX_SIZE) in memory
 * from the library's static arena, and set QueueReady. Uses EVENT_IDX / INDIRECT_DESC when
 * negotiated. Returns 0, or -1 when the queue does not exist (QueueNumMax 0), is already
 * ready, or the arena is exhausted (the arena is reused after vio_arena_reset()).
 */
int vio_queue_setup(struct vio_dev *d, struct vq *q, u16 index, u16 size);

/* Give all arena memory back (after a device reset, before setting queues up again). */
void vio_arena_reset(void);

/* Allocate zeroed, aligned memory from the arena (align: a power of two); NULL when full. */
void *vio_alloc(u32 size, u32 align);

/*
 * Post a chain of n buffers (driver-readable ones first, then device-writable, as the spec
 * requires). With `indirect` (and INDIRECT_DESC negotiated) the chain goes into an indirect
 * table referenced by one ring descriptor. Publishes it in the avail ring but does not notify.
 * Returns the head descriptor index, or -1 when the queue has too few free descriptors or
 * indirect was asked without the feature.
 */
int vq_post(struct vq *q, const struct vio_buf *bufs, u32 n, int indirect, void *cookie);

/* Publish a head the caller wrote into q->desc itself (hostile tests): avail ring, then idx. */
void vq_publish(struct vq *q, u16 head);

/* Notify the device (QueueNotify) unless EVENT_IDX / NO_NOTIFY says it does not need it.
 * Returns 1 when it wrote QueueNotify. */
int vq_kick(struct vq *q);

/* Notify unconditionally. */
void vq_notify(struct vq *q);

/*
 * Take one used element if there is one: returns its id (head) and frees its descriptors,
 * storing the written length in *len and the cookie given to vq_post in *cookie (either may
 * be NULL). Returns -1 when the used ring has nothing new, -2 when the device returned an id
 * that is not an outstanding head (a device bug).
 */
int vq_get_used(struct vq *q, u32 *len, void **cookie);

/* Poll vq_get_used() up to `spins` times. Returns as vq_get_used, -1 on timeout. */
int vq_wait_used(struct vq *q, u32 *len, void **cookie, u32 spins);

/* With EVENT_IDX, ask for an interrupt when the next used entry arrives; without it, clear
 * NO_INTERRUPT. vq_disable_irq() asks for none (NO_INTERRUPT flag; with EVENT_IDX the
 * used_event is left behind, which suppresses them for the next 2^16 entries). */
void vq_enable_irq(struct vq *q);
void vq_disable_irq(struct vq *q);

/* Print "virtio: <what> <value>" style diagnostics of a device (status, interrupt status). */
void vio_dump(const struct vio_dev *d, const char *what);

/* virtio-blk (5.2). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_CFG_CAPACITY 0x00 /* u64, 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX 0x08
#define VIRTIO_BLK_CFG_SEG_MAX 0x0c

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_ID_BYTES 20

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

struct virtio_blk_req_hdr {
	u32 type;
	u32 reserved;
	u64 sector;
};

/* virtio-console (5.3): port 0's receive queue is 0, its transmit queue 1. */
#define VIRTIO_CONSOLE_RX 0
#define VIRTIO_CONSOLE_TX 1

#endif
