/* board.h: the arm64 board kiln builds (struct arch_vm), shared by board.c, vm.c and cpu.c only:
 * a QEMU-virt-like machine with a vGIC, the architected timer, a PL011 and virtio-mmio slots,
 * described to the guest by a device tree (fdt.c). */
#ifndef KILN_ARCH_ARM64_BOARD_H
#define KILN_ARCH_ARM64_BOARD_H

#include <linux/kvm.h>

#include "arch/arch.h"
#include "arch/arm64/fdt.h"
#include "devices/pl011.h"

struct arch_vm {
	const struct vmm_config *cfg;
	unsigned int nr_virtio;
	struct vm *vm;              /* from arch_vm_setup() on */
	int gic_fd;                 /* the vGIC's KVM device, -1 before arch_vm_setup() */
	int gic_version;            /* 3, or 2 where KVM has no GICv3 */
	bool gic_ready;             /* KVM_DEV_ARM_VGIC_CTRL_INIT done */
	struct kvm_vcpu_init vcpu_init; /* KVM_ARM_PREFERRED_TARGET, with the features kiln asks */
	bool have_target;
	uint64_t dtb_addr;          /* the device tree's address: x0 of the boot vCPU */
	void *dtb_hva;              /* where it is in guest RAM, dtb_max bytes */
	uint64_t dtb_max;
	struct arm64_fdt_desc fdt;  /* what it describes (rebuilt when KVM has only GICv2) */

	struct pl011 *uart;
	uint64_t *mpidr;            /* each vCPU's MPIDR_EL1, as a snapshot saved or loaded it */
	struct irq_sink irq_sink;   /* KVM_IRQ_LINE on a GIC SPI */
};

/* vm.c: the vGIC's last step, after every vCPU exists (KVM_DEV_ARM_VGIC_CTRL_INIT). Returns 0
 * or -errno. */
int __must_check arm64_gic_init(struct arch_vm *a);

/* board.c: (re)writes the device tree from a->fdt. Returns 0 or -errno with one line in err. */
int __must_check arm64_write_dtb(struct arch_vm *a, char *err, size_t err_size);

#endif
