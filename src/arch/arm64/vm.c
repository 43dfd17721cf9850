/* vm.c: the arm64 parts of a KVM VM: the capabilities kiln needs and the in-kernel vGIC (GICv3,
 * or GICv2 where the host has no v3), created through KVM's device API
 * (Documentation/virt/kvm/devices/arm-vgic-v3.rst, arm-vgic.rst). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arm64/board.h"
#include "arch/arm64/layout.h"
#include "util/log.h"

int arch_check_kvm(const struct kvm *kvm, char *why, size_t why_size)
{
	static const struct {
		long cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG" },
		{ KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2" },
		{ KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (kvm_check_cap(kvm, need[i].cap) <= 0) {
			snprintf(why, why_size, "this kernel's KVM lacks %s, which kiln needs",
				 need[i].name);
			return -ENOTSUP;
		}
	return 0;
}

static int gic_attr(int fd, uint32_t group, uint64_t attr, const void *val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

/* Creates the vGIC of `type` and places its frames; returns its fd or -errno. */
static int gic_create(struct vm *vm, uint32_t type, unsigned int nr_cpus)
{
	struct kvm_create_device cd = { .type = type };
	uint64_t dist = ARM64_GIC_DIST_BASE, other;
	int e;

	if (ioctl(vm_fd(vm), KVM_CREATE_DEVICE, &cd) < 0)
		return -errno;
	(void)nr_cpus; /* the redistributor region is one frame pair a vCPU, from its base */
	if (type == KVM_DEV_TYPE_ARM_VGIC_V3) {
		other = ARM64_GIC_REDIST_BASE;
		e = gic_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
		e = e ? e : gic_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
				     &other);
	} else {
		other = ARM64_GIC_CPU_BASE;
		e = gic_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &dist);
		e = e ? e : gic_attr(cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU,
				     &other);
	}
	if (e) {
		close(cd.fd);
		return e;
	}
	return (int)cd.fd;
}

int arch_vm_setup(struct arch_vm *a, struct vm *vm, char *err, size_t err_size)
{
	int fd, e3;

	a->vm = vm;
	fd = gic_create(vm, KVM_DEV_TYPE_ARM_VGIC_V3, a->cfg->nr_vcpus);
	if (fd >= 0) {
		a->gic_version = 3;
	} else {
		e3 = fd;
		if (a->cfg->nr_vcpus > ARM64_FDT_MAX_CPUS_GICV2) {
			snprintf(err, err_size, "-c/--cpus: this host's KVM has no GICv3 (%s), and a "
				 "GICv2 serves at most %u vCPUs", strerror(-e3),
				 ARM64_FDT_MAX_CPUS_GICV2);
			return -EINVAL;
		}
		fd = gic_create(vm, KVM_DEV_TYPE_ARM_VGIC_V2, a->cfg->nr_vcpus);
		if (fd < 0) {
			snprintf(err, err_size, "cannot create the in-kernel GIC: GICv3: %s, GICv2: %s",
				 strerror(-e3), strerror(-fd));
			return fd;
		}
		a->gic_version = 2;
		pr_info("arm64: no GICv3 in this host's KVM (%s): GICv2", strerror(-e3));
		if (a->dtb_hva) {
			int e;

			a->fdt.gic_version = 2;
			if ((e = arm64_write_dtb(a, err, err_size)))
				return e;
		}
	}
	a->gic_fd = fd;
	/* A data abort KVM cannot decode (no valid syndrome: a load pair, a write-back to an
	 * address outside RAM) exits to kiln as KVM_EXIT_ARM_NISV, which it reports as a crash,
	 * instead of failing KVM_RUN with ENOSYS. */
	if (kvm_check_cap(vm_kvm(vm), KVM_CAP_ARM_NISV_TO_USER) > 0 &&
	    vm_enable_cap(vm, KVM_CAP_ARM_NISV_TO_USER, 0))
		pr_debug("KVM_CAP_ARM_NISV_TO_USER refused");
	return 0;
}

int arm64_gic_init(struct arch_vm *a)
{
	int e;

	if (a->gic_ready)
		return 0;
	e = gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	if (!e)
		a->gic_ready = true;
	return e;
}
