/* vmm.h: a built VM and its runtime: vCPU threads, the event loop (stdin, signals), stop and exit status. */
#ifndef KILN_VMM_H
#define KILN_VMM_H

#include <pthread.h>
#include <stdbool.h>

#include "arch/x86/acpi.h"
#include "config.h"
#include "devices/debug_exit.h"
#include "devices/device.h"
#include "devices/i8042.h"
#include "devices/acpi_pm.h"
#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/rng.h"
#include "kvm/bus.h"
#include "kvm/kvm.h"
#include "kvm/memory.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "loader/loader.h"
#include "util/io_thread.h"

struct console;

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
	struct x86_platform platform; /* what the MP and ACPI tables describe */

	struct serial *serial;
	struct ioapic *ioapic;  /* split irqchip only */
	struct pic_state pic;   /* split irqchip only */
	struct i8042 i8042;
	struct rtc rtc;
	struct acpi_pm acpi_pm;
	struct debug_exit debug_exit;
	struct irq_sink kernel_irq_sink; /* IRQCHIP_KERNEL: KVM_IRQ_LINE */
	const struct irq_sink *irq_sink; /* where device interrupt lines go */

	/* virtio-mmio devices (docs/virtio.md), serviced by the I/O thread. */
	struct io_thread *io;
	struct virtio_blk *disks;
	unsigned int nr_disks;
	struct virtio_console *vcon; /* --console virtio */
	struct virtio_rng *rng;      /* --rng */
	char *cmdline; /* the command line given to the guest, when kiln added to it */
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

	/* Pause state, under stop_lock: vCPUs park while `pausing` is set. */
	int pausing;
	unsigned int nr_parked;
	pthread_cond_t parked_cond, resume_cond;

	int serial_fd; /* UART output: stdout, or the --serial-out / PUT /serial file */
	bool serial_fd_owned;
	struct console *console; /* stdin into the UART or hvc0 (console.c) */
};

/* The struct with its locks and fds initialised and nothing built; vmm_destroy() undoes it. */
int __must_check vmm_alloc(struct vmm **out, const struct vmm_config *cfg);

/* Runtime, driven by one owner thread (control/controller.c), in this order:
 * vmm_start() once; then, until vmm_stopping(), poll vmm_event_fd() (and stdin while
 * vmm_wants_input()) and call vmm_handle_events(); vmm_pause()/vmm_resume()/
 * vmm_ctrl_alt_del() at any time in between; finally vmm_finish() once, then vmm_destroy(). */

/* Starts one named thread per vCPU and puts a terminal stdin in raw mode. Returns 0 or -errno
 * (the VM is then stopping: call vmm_finish()). */
int __must_check vmm_start(struct vmm *vmm);
bool vmm_stopping(const struct vmm *vmm);
int vmm_event_fd(const struct vmm *vmm);
/* Whether the UART can take input now (poll stdin only then, so no input is dropped). */
bool vmm_wants_input(const struct vmm *vmm);
/* Drains the wake-up fd and moves pending stdin bytes into the UART; `stdin_ready` when poll
 * reported stdin readable. */
void vmm_handle_events(struct vmm *vmm, bool stdin_ready);
/* Asks the VM to stop (first request wins). Any thread. */
void vmm_request_stop(void *opaque, enum stop_reason reason, int code);

/* Parks every vCPU outside KVM_RUN and returns when all are parked (or the VM is stopping).
 * Idempotent. Returns 0, or -ESHUTDOWN when the VM stopped meanwhile. */
int vmm_pause(struct vmm *vmm);
/* Lets parked vCPUs continue exactly where they stopped. Idempotent. */
void vmm_resume(struct vmm *vmm);
bool vmm_paused(struct vmm *vmm);
/* vcpu_env.park: a vCPU thread waits here while the VM is paused. */
void vmm_park(void *opaque, struct vcpu *vcpu);

/* Backs disk `index` (as built: cfg.disks order) with the image at `path`. Returns 0, or -errno
 * with a one-line reason in err. */
int __must_check vmm_swap_disk(struct vmm *vmm, unsigned int index, const char *path, char *err,
			       size_t err_size);

/* Presses Ctrl-Alt-Del on the i8042 keyboard. */
void vmm_ctrl_alt_del(struct vmm *vmm);

/* Kicks and joins the vCPU threads, restores the terminal, prints --stats, and returns kiln's
 * exit status for how the VM stopped. */
int vmm_finish(struct vmm *vmm);

/* Wakes the event loop (serial FIFO drained: read more input). Any thread; `opaque` is the vmm. */
void vmm_wake(void *opaque);

/* Frees the VM in the reverse order of building; safe on a partly built VM and on NULL. */
void vmm_destroy(struct vmm *vmm);

#endif
