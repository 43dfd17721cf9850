/* irq.c: the in-kernel irqchip's GSI routes, wired as the MP table and MADT describe the board. */
#include "arch/x86/irq.h"

#define PIC_PINS 8 /* per 8259 */

unsigned int x86_kernel_irq_routes(struct vm_irqchip_route *out)
{
	unsigned int n = 0;

	for (unsigned int irq = 0; irq < X86_ISA_IRQS; irq++) {
		if (irq == X86_ISA_IRQ_CASCADE)
			continue;
		out[n++] = (struct vm_irqchip_route){
			.gsi = irq,
			.chip = irq < PIC_PINS ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			.pin = irq % PIC_PINS,
		};
	}
	for (unsigned int gsi = 0; gsi < KVM_IOAPIC_NUM_PINS; gsi++) {
		if (gsi == X86_TIMER_GSI)
			continue; /* the timer's pin: GSI 0 drives it */
		out[n++] = (struct vm_irqchip_route){
			.gsi = gsi,
			.chip = KVM_IRQCHIP_IOAPIC,
			.pin = gsi == X86_ISA_IRQ_TIMER ? X86_TIMER_GSI : gsi,
		};
	}
	return n;
}

int x86_setup_kernel_irq_routing(struct vm *vm)
{
	struct vm_irqchip_route routes[X86_KERNEL_IRQ_MAX_ROUTES];

	return vm_set_irqchip_routes(vm, routes, x86_kernel_irq_routes(routes));
}
