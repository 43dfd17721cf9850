/* vm.h: one KVM virtual machine: its fd, memory slots, GSI routes, irqfds and ioeventfds. */
#ifndef KILN_KVM_VM_H
#define KILN_KVM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm.h"
#include "kvm/memory.h"
#include "util/checked.h"

struct vm;

/* KVM_CREATE_VM. The architecture's parts (its irqchip, arch_vm_setup()) come next, before
 * vm_map_memory() and any vCPU. Returns 0 or -errno. */
int __must_check vm_create(struct vm **out, const struct kvm *kvm);
/* Closes the VM fd; call after every vCPU is destroyed. Does not free guest memory. */
void vm_destroy(struct vm *vm);

int vm_fd(const struct vm *vm);
const struct kvm *vm_kvm(const struct vm *vm);

/* Registers every region of `gm` as a KVM memory slot. Returns 0 or -errno. */
int __must_check vm_map_memory(struct vm *vm, const struct gmem *gm);

/* Turns KVM's dirty-page logging on every slot vm_map_memory() made on (KVM_MEM_LOG_DIRTY_PAGES).
 * Returns 0 or -errno. */
int __must_check vm_track_dirty_pages(struct vm *vm, const struct gmem *gm);
/* KVM_GET_DIRTY_LOG for the slot of region `i` of `gm`: one bit per 4 KiB page (bit n of
 * bitmap[n / 64]), which KVM then clears. `bitmap` holds (size / 4096 + 63) / 64 words. Returns
 * 0 or -errno. */
int __must_check vm_dirty_log(struct vm *vm, unsigned int i, uint64_t *bitmap);

/* KVM_ENABLE_CAP with one argument. Returns 0 or -errno. */
int __must_check vm_enable_cap(struct vm *vm, uint32_t cap, uint64_t arg0);

/* Userspace interrupt controller: make GSI `gsi` an MSI route (or drop it when !valid) and, with
 * `push`, push the whole table to KVM (KVM_SET_GSI_ROUTING; a restore sets 24 routes and pushes
 * once). Thread-safe. Returns 0 or -errno. */
int __must_check vm_set_msi_route(struct vm *vm, unsigned int gsi, bool valid, uint64_t addr,
				  uint32_t data, bool push);
/* One input of KVM's in-kernel irqchip: GSI `gsi` drives pin `pin` of chip `chip` (KVM_IRQCHIP_*). */
struct vm_irqchip_route {
	unsigned int gsi, chip, pin;
};

/* Kernel irqchip: replaces KVM's whole GSI routing table with `routes` (a GSI may appear more
 * than once, driving several pins; a GSI absent reaches nothing). Call after vm_create() and
 * before any vCPU runs, and only with an in-kernel irqchip. Returns 0 or -errno from
 * KVM_SET_GSI_ROUTING. */
int __must_check vm_set_irqchip_routes(struct vm *vm, const struct vm_irqchip_route *routes,
				       unsigned int n);
/* KVM_IRQ_LINE: set GSI `gsi` to `level`. Returns 0 or -errno. */
int __must_check vm_irq_line(struct vm *vm, unsigned int gsi, int level);

/* KVM_IRQFD: a write to eventfd `fd` raises an edge on GSI `gsi` without a trip through kiln
 * (or stops doing so when !assign). Returns 0 or -errno. */
int __must_check vm_irqfd(struct vm *vm, int fd, unsigned int gsi, bool assign);
/* KVM_IOEVENTFD: a guest MMIO write of `len` bytes equal to `match` at `addr` signals eventfd
 * `fd` inside KVM, with no exit to kiln (or stops doing so when !assign). Returns 0 or -errno. */
int __must_check vm_ioeventfd_mmio(struct vm *vm, int fd, uint64_t addr, unsigned int len,
				   uint64_t match, bool assign);

#endif
