/* vm.c: KVM VM creation, memory slots, GSI routing, irqfd and ioeventfd. */
#include "kvm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define VM_MAX_ROUTES 64

struct vm {
	const struct kvm *kvm;
	int fd;
	unsigned int nr_slots;
	pthread_mutex_t route_lock;
	struct {
		bool valid;
		uint64_t addr;
		uint32_t data;
	} routes[VM_MAX_ROUTES];
};

int vm_create(struct vm **out, const struct kvm *kvm)
{
	struct vm *vm;
	int err;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm = kvm;
	pthread_mutex_init(&vm->route_lock, NULL);
	vm->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		err = -errno;
		goto fail_free;
	}
	*out = vm;
	return 0;

fail_free:
	pthread_mutex_destroy(&vm->route_lock);
	free(vm);
	return err;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	close(vm->fd);
	pthread_mutex_destroy(&vm->route_lock);
	free(vm);
}

int vm_fd(const struct vm *vm) { return vm->fd; }
const struct kvm *vm_kvm(const struct vm *vm) { return vm->kvm; }

int vm_map_memory(struct vm *vm, const struct gmem *gm)
{
	for (unsigned int i = 0; i < gmem_nr_regions(gm); i++) {
		const struct gmem_region *r = gmem_region(gm, i);
		struct kvm_userspace_memory_region slot = {
			.slot = vm->nr_slots,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
		vm->nr_slots++;
	}
	return 0;
}

int vm_track_dirty_pages(struct vm *vm, const struct gmem *gm)
{
	for (unsigned int i = 0; i < gmem_nr_regions(gm); i++) {
		const struct gmem_region *r = gmem_region(gm, i);
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	return 0;
}

int vm_dirty_log(struct vm *vm, unsigned int i, uint64_t *bitmap)
{
	struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = bitmap };

	return ioctl(vm->fd, KVM_GET_DIRTY_LOG, &log) < 0 ? -errno : 0;
}

/* Route lock held. */
static int vm_push_routes(struct vm *vm)
{
	struct kvm_irq_routing *table;
	unsigned int n = 0;
	int err = 0;

	table = calloc(1, sizeof(*table) + VM_MAX_ROUTES * sizeof(struct kvm_irq_routing_entry));
	if (!table)
		return -ENOMEM;
	for (unsigned int gsi = 0; gsi < VM_MAX_ROUTES; gsi++) {
		struct kvm_irq_routing_entry *e;

		if (!vm->routes[gsi].valid)
			continue;
		e = &table->entries[n++];
		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)vm->routes[gsi].addr;
		e->u.msi.address_hi = (uint32_t)(vm->routes[gsi].addr >> 32);
		e->u.msi.data = vm->routes[gsi].data;
	}
	table->nr = n;
	if (ioctl(vm->fd, KVM_SET_GSI_ROUTING, table) < 0)
		err = -errno;
	free(table);
	return err;
}

int vm_set_msi_route(struct vm *vm, unsigned int gsi, bool valid, uint64_t addr, uint32_t data,
		     bool push)
{
	int err = 0;

	if (gsi >= VM_MAX_ROUTES)
		return -EINVAL;
	pthread_mutex_lock(&vm->route_lock);
	vm->routes[gsi].valid = valid;
	vm->routes[gsi].addr = addr;
	vm->routes[gsi].data = data;
	if (push)
		err = vm_push_routes(vm);
	pthread_mutex_unlock(&vm->route_lock);
	return err;
}

int vm_set_irqchip_routes(struct vm *vm, const struct vm_irqchip_route *routes, unsigned int n)
{
	struct kvm_irq_routing *table;
	int err = 0;

	table = calloc(1, sizeof(*table) + n * sizeof(struct kvm_irq_routing_entry));
	if (!table)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		table->entries[i] = (struct kvm_irq_routing_entry){
			.gsi = routes[i].gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = routes[i].chip, .pin = routes[i].pin },
		};
	table->nr = n;
	if (ioctl(vm->fd, KVM_SET_GSI_ROUTING, table) < 0)
		err = -errno;
	free(table);
	return err;
}

int vm_enable_cap(struct vm *vm, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg0 } };

	return ioctl(vm->fd, KVM_ENABLE_CAP, &c) < 0 ? -errno : 0;
}

int vm_irq_line(struct vm *vm, unsigned int gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	return ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

int vm_irqfd(struct vm *vm, int fd, unsigned int gsi, bool assign)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi,
				   .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm->fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

int vm_ioeventfd_mmio(struct vm *vm, int fd, uint64_t addr, unsigned int len, uint64_t match,
		      bool assign)
{
	struct kvm_ioeventfd ev = { .datamatch = match, .addr = addr, .len = len, .fd = fd,
				    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
					     (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN) };

	return ioctl(vm->fd, KVM_IOEVENTFD, &ev) ? -errno : 0;
}
