/* irq.h: the in-kernel irqchip's GSI routes, wired as the MP table and MADT describe the board. */
#ifndef KILN_ARCH_X86_IRQ_H
#define KILN_ARCH_X86_IRQ_H

#include <linux/kvm.h>

#include "arch/x86/acpi.h"
#include "kvm/vm.h"
#include "util/checked.h"

/* At most one PIC route per ISA IRQ and one IOAPIC route per pin. */
#define X86_KERNEL_IRQ_MAX_ROUTES (X86_ISA_IRQS + KVM_IOAPIC_NUM_PINS)

/* Fills `out` (X86_KERNEL_IRQ_MAX_ROUTES entries) with the routes of `--irqchip=kernel`, as QEMU
 * sets them: GSIs 0-15 to the 8259 pin of the same ISA IRQ, but none for the cascade (2); GSIs
 * 0-23 to the IOAPIC pin of the same number, except GSI 0 (KVM's PIT) to pin X86_TIMER_GSI,
 * which no other GSI drives. Returns the number of routes. Exposed for unit tests. */
unsigned int x86_kernel_irq_routes(struct vm_irqchip_route *out);

/* Replaces KVM's default routing (GSI 0 to IOAPIC pin 0, where no table says the timer is) with
 * x86_kernel_irq_routes(). Kernel irqchip only; call after vm_create() and before any vCPU runs.
 * Returns 0 or -errno. */
int __must_check x86_setup_kernel_irq_routing(struct vm *vm);

#endif
