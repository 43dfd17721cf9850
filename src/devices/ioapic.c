/* ioapic.c: I/O APIC for the split irqchip: the guest programs pins, KVM delivers them as MSIs. */
#include "devices/ioapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct ioapic {
	pthread_mutex_t lock;
	struct ioapic_state st;
	struct ioapic_backend backend;
	struct irq_sink sink;
};

static struct ratelimit ioapic_rl = RATELIMIT_INIT(1000, 5);

static void ioapic_sink_set_level(void *opaque, unsigned int gsi, int level)
{
	ioapic_set_irq(opaque, gsi, level);
}

int ioapic_create(struct ioapic **out, const struct ioapic_backend *backend)
{
	struct ioapic *io = calloc(1, sizeof(*io));

	if (!io)
		return -ENOMEM;
	pthread_mutex_init(&io->lock, NULL);
	io->backend = *backend;
	for (unsigned int i = 0; i < IOAPIC_NR_PINS; i++)
		io->st.rte[i] = IOAPIC_RTE_MASKED;
	io->sink = (struct irq_sink){ .set_level = ioapic_sink_set_level, .opaque = io };
	*out = io;
	return 0;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

const struct irq_sink *ioapic_irq_sink(struct ioapic *io) { return &io->sink; }

void ioapic_set_id(struct ioapic *io, uint8_t id)
{
	pthread_mutex_lock(&io->lock);
	/* Only four bits exist: from 16 vCPUs on the register holds the low four bits of the ID
	 * the tables give (KVM's in-kernel IOAPIC does the same). */
	io->st.id = ((uint32_t)id << 24) & IOAPIC_ID_MASK;
	pthread_mutex_unlock(&io->lock);
}

void ioapic_rte_to_msi(uint64_t rte, uint64_t *addr, uint32_t *data)
{
	uint32_t dest = (uint32_t)(rte >> IOAPIC_RTE_DEST_SHIFT) & 0xff;
	uint32_t delmode = (uint32_t)(rte >> IOAPIC_RTE_DELMODE_SHIFT) & 0x7;

	*addr = 0xfee00000ull | ((uint64_t)dest << 12) |
		((rte & IOAPIC_RTE_DESTMODE_LOGICAL) ? (1ull << 2) : 0);
	*data = (uint32_t)(rte & IOAPIC_RTE_VECTOR_MASK) | (delmode << 8) | (1u << 14) |
		((rte & IOAPIC_RTE_LEVEL) ? (1u << 15) : 0);
}

/* Lock held. */
static void ioapic_update_route(struct ioapic *io, unsigned int pin, bool push)
{
	uint64_t rte = io->st.rte[pin], addr;
	uint32_t data;
	int err;

	ioapic_rte_to_msi(rte, &addr, &data);
	err = io->backend.set_route(io->backend.opaque, pin, !(rte & IOAPIC_RTE_MASKED), addr, data,
				    push);
	if (err)
		pr_warn_ratelimited(&ioapic_rl, "ioapic: cannot route pin %u: %s", pin, strerror(-err));
}

/* Lock held: deliver pin if its state says so. */
static void ioapic_service(struct ioapic *io, unsigned int pin)
{
	uint64_t *rte = &io->st.rte[pin];
	int err;

	if (*rte & IOAPIC_RTE_MASKED)
		return;
	if (*rte & IOAPIC_RTE_LEVEL) {
		if (*rte & IOAPIC_RTE_REMOTE_IRR)
			return;
		*rte |= IOAPIC_RTE_REMOTE_IRR;
	}
	err = io->backend.trigger(io->backend.opaque, pin);
	if (err)
		pr_warn_ratelimited(&ioapic_rl, "ioapic: cannot deliver pin %u: %s", pin, strerror(-err));
}

void ioapic_set_irq(struct ioapic *io, unsigned int pin, int level)
{
	uint32_t bit;
	bool was_high;

	if (pin >= IOAPIC_NR_PINS)
		return;
	bit = 1u << pin;
	pthread_mutex_lock(&io->lock);
	was_high = io->st.line & bit;
	if (level) {
		io->st.line |= bit;
		if ((io->st.rte[pin] & IOAPIC_RTE_LEVEL) || !was_high)
			ioapic_service(io, pin);
	} else {
		io->st.line &= ~bit;
	}
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	for (unsigned int pin = 0; pin < IOAPIC_NR_PINS; pin++) {
		uint64_t *rte = &io->st.rte[pin];

		if ((*rte & IOAPIC_RTE_VECTOR_MASK) != vector || !(*rte & IOAPIC_RTE_LEVEL))
			continue;
		*rte &= ~IOAPIC_RTE_REMOTE_IRR;
		if (io->st.line & (1u << pin))
			ioapic_service(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static uint32_t ioapic_reg_read(struct ioapic *io)
{
	uint32_t reg = io->st.select;

	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return io->st.id;
	case IOAPIC_REG_VERSION:
		return ((IOAPIC_NR_PINS - 1) << 16) | IOAPIC_VERSION;
	default:
		if (reg >= IOAPIC_REG_REDTBL && reg < IOAPIC_REG_REDTBL + 2 * IOAPIC_NR_PINS) {
			uint64_t rte = io->st.rte[(reg - IOAPIC_REG_REDTBL) / 2];

			return (reg & 1) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
		}
		return 0xffffffff;
	}
}

static void ioapic_reg_write(struct ioapic *io, uint32_t v)
{
	uint32_t reg = io->st.select;
	unsigned int pin;
	uint64_t rte, old;

	if (reg == IOAPIC_REG_ID) {
		io->st.id = v & IOAPIC_ID_MASK;
		return;
	}
	if (reg < IOAPIC_REG_REDTBL || reg >= IOAPIC_REG_REDTBL + 2 * IOAPIC_NR_PINS)
		return;
	pin = (reg - IOAPIC_REG_REDTBL) / 2;
	old = io->st.rte[pin];
	if (reg & 1)
		rte = (old & 0xffffffffull) | ((uint64_t)v << 32);
	else
		rte = (old & ~0xffffffffull) | v;
	/* Delivery status and Remote IRR are read-only. */
	rte = (rte & ~IOAPIC_RTE_RO_BITS) | (old & IOAPIC_RTE_RO_BITS);
	if (!(rte & IOAPIC_RTE_LEVEL))
		rte &= ~IOAPIC_RTE_REMOTE_IRR;
	io->st.rte[pin] = rte;
	if (rte != old)
		ioapic_update_route(io, pin, true);
	/* Unmasking a level pin whose line is high delivers it now. */
	if ((old & IOAPIC_RTE_MASKED) && !(rte & IOAPIC_RTE_MASKED) && (rte & IOAPIC_RTE_LEVEL) &&
	    (io->st.line & (1u << pin)))
		ioapic_service(io, pin);
}

void ioapic_mmio_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct ioapic *io = opaque;
	uint32_t v = 0;

	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_REG_SELECT)
		v = io->st.select;
	else if (offset == IOAPIC_REG_WINDOW)
		v = ioapic_reg_read(io);
	pthread_mutex_unlock(&io->lock);
	memcpy(data, &v, size < 4 ? size : 4);
}

void ioapic_mmio_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct ioapic *io = opaque;
	uint32_t v = 0;

	memcpy(&v, data, size < 4 ? size : 4);
	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_REG_SELECT)
		io->st.select = v & 0xff;
	else if (offset == IOAPIC_REG_WINDOW)
		ioapic_reg_write(io, v);
	pthread_mutex_unlock(&io->lock);
}

uint64_t ioapic_get_rte(struct ioapic *io, unsigned int pin)
{
	uint64_t v;

	pthread_mutex_lock(&io->lock);
	v = pin < IOAPIC_NR_PINS ? io->st.rte[pin] : 0;
	pthread_mutex_unlock(&io->lock);
	return v;
}

void ioapic_save(struct ioapic *io, struct ioapic_state *st)
{
	pthread_mutex_lock(&io->lock);
	*st = io->st;
	pthread_mutex_unlock(&io->lock);
}

int ioapic_load(struct ioapic *io, const struct ioapic_state *st)
{
	pthread_mutex_lock(&io->lock);
	io->st = *st;
	io->st.id &= IOAPIC_ID_MASK;
	for (unsigned int pin = 0; pin < IOAPIC_NR_PINS; pin++)
		ioapic_update_route(io, pin, pin == IOAPIC_NR_PINS - 1);
	pthread_mutex_unlock(&io->lock);
	return 0;
}
