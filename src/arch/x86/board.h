/* board.h: the x86 PC board kiln builds (struct arch_vm), shared by board.c and vm.c only. */
#ifndef KILN_ARCH_X86_BOARD_H
#define KILN_ARCH_X86_BOARD_H

#include <linux/kvm.h>

#include "arch/arch.h"
#include "arch/x86/acpi.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/rtc.h"
#include "devices/serial.h"

struct arch_vm {
	const struct vmm_config *cfg;
	struct x86_platform platform; /* what the MP and ACPI tables describe */
	struct vm *vm;                /* from arch_vm_setup() on */
	struct kvm_cpuid2 *cpuid;     /* x86_cpuid_for_config(), made for the first vCPU */

	struct serial *serial;  /* COM1 */
	struct ioapic *ioapic;  /* split irqchip only */
	struct pic_state pic;   /* split irqchip only */
	struct i8042 i8042;
	struct rtc rtc;
	struct acpi_pm acpi_pm;
	struct debug_exit debug_exit;
	struct irq_sink kernel_irq_sink; /* IRQCHIP_KERNEL: KVM_IRQ_LINE */
	const struct irq_sink *irq_sink; /* where device interrupt lines go */
};

#endif
