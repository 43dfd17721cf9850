/* vmm.h: a built VM and its runtime: vCPU threads, the event loop (stdin, signals), stop and exit status. */
#ifndef KILN_VMM_H
#define KILN_VMM_H

#include <pthread.h>
#include <stdbool.h>

#include "config.h"
#include "devices/debug_exit.h"
#include "devices/device.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/serial.h"
#include "kvm/bus.h"
#include "kvm/kvm.h"
#include "kvm/memory.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "loader/loader.h"

/* Exit statuses (README.md, "Exit status"). */
#define KILN_EXIT_OK 0
#define KILN_EXIT_USAGE 2
#define KILN_EXIT_GUEST_CRASH 4
#define KILN_EXIT_HOST_ERROR 6
#define KILN_EXIT_SIGNAL_BASE 128

/* Everything one VM is made of. builder.c fills it; vmm.c runs and tears it down. Devices never
 * see this struct: they get their irq_line and vm_control. */
struct vmm {
	struct vmm_config cfg;
	struct kvm kvm;
	struct gmem *mem;
	struct vm *vm;
	struct bus *pio, *mmio;
	struct kvm_cpuid2 *cpuid;
	struct boot_entry entry;

	struct serial *serial;
	struct ioapic *ioapic;  /* split irqchip only */
	struct pic_state pic;   /* split irqchip only */
	struct i8042 i8042;
	struct debug_exit debug_exit;
	struct irq_sink kernel_irq_sink; /* IRQCHIP_KERNEL: KVM_IRQ_LINE */
	struct vm_control ctl;

	struct vcpu *vcpus;
	unsigned int nr_vcpus;
	pthread_t *threads;
	unsigned int nr_threads;
	struct vcpu_env env;

	/* Stop state: `stopping` is read lock-free by vCPU loops; the rest under stop_lock. */
	int stopping;
	pthread_mutex_t stop_lock;
	enum stop_reason stop_reason;
	int stop_code;
	int event_fd; /* wakes the event loop: stop requested, or serial FIFO space */
};

/* The struct with its locks and fds initialised and nothing built; vmm_destroy() undoes it. */
int __must_check vmm_alloc(struct vmm **out, const struct vmm_config *cfg);

/* Starts one thread per vCPU, runs the event loop (stdin -> serial, signals) until the VM stops,
 * joins the threads and returns kiln's exit status. Call once. */
int vmm_run(struct vmm *vmm);

/* Wakes the event loop (serial FIFO drained: read more input). Any thread; `opaque` is the vmm. */
void vmm_wake(void *opaque);

/* Frees the VM in the reverse order of building; safe on a partly built VM and on NULL. */
void vmm_destroy(struct vmm *vmm);

#endif
