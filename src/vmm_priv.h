/* vmm_priv.h: the inside of struct vmm, for builder.c (which fills it) and vmm.c (which runs and
 * tears it down) only; scripts/check-layers.py refuses it anywhere else. Devices never see it:
 * they get their irq_line and vm_control. */
#ifndef KILN_VMM_PRIV_H
#define KILN_VMM_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "arch/arch.h"
#include "exits.h"
#include "kvm/bus.h"
#include "kvm/kvm.h"
#include "kvm/memory.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "util/io_thread.h"
#include "vmm.h"

struct console;
struct virtio_console;

/* One virtio-mmio device: its row of the builder's table and its struct (kind->size bytes). */
struct vmm_device {
	const struct virtio_kind *kind;
	void *dev;
};

struct vmm {
	struct vmm_config cfg;
	struct kvm kvm;
	struct gmem *mem;
	/* A restored VM's memory file (mapped MAP_PRIVATE), which a snapshot must not overwrite. */
	bool mem_from_file;
	dev_t mem_dev;
	ino_t mem_ino;
	/* The Uffd backend: the userfaultfd guest RAM is registered with, and the connection to
	 * its page-fault handler (kept open while the VM lives); -1 otherwise. */
	int uffd, uffd_sock;
	/* A pidfd of that handler (SO_PEERCRED), readable once it exits, and what names it; -1
	 * when its pid is not visible here (another pid namespace) or the kernel has no pidfds. */
	int uffd_pidfd;
	int uffd_pid;
	char *uffd_path;
	/* A snapshot failed after taking KVM's dirty log: a Diff needs a new Full first. */
	bool dirty_lost;
	struct vm *vm;
	struct bus *pio, *mmio;
	struct boot_entry entry;
	struct arch_vm *arch; /* the board: platform devices, firmware tables, CPU model */

	/* virtio-mmio devices (docs/virtio.md), serviced by the I/O thread. */
	struct io_thread *io;
	struct vmm_device devices[CONFIG_MAX_VIRTIO];
	unsigned int nr_devices;
	struct virtio_console *vcon; /* --console virtio (one of devices[]), else NULL */
	char *cmdline; /* the command line given to the guest, when the board added to it */
	struct vm_control ctl;

	struct vcpu *vcpus;
	unsigned int nr_vcpus;
	pthread_t *threads;
	unsigned int nr_threads;
	struct exit_env env;

	/* Stop state: `stopping` is read lock-free by vCPU loops; the rest under stop_lock. */
	int stopping;
	pthread_mutex_t stop_lock;
	enum stop_reason stop_reason;
	int stop_code;
	int event_fd; /* wakes the event loop: stop requested, or serial FIFO space */

	/* Set while the live exit view watches (vmm_watch_exits()); read relaxed by vCPU loops. */
	int watching;

	/* Pause state, under stop_lock: vCPUs park while `pausing` is non-zero: VMM_PAUSE_API
	 * (vmm_pause()) or VMM_PAUSE_DEBUG (the gdb stub stopped the VM), or while the debugger
	 * holds them (dbg_held). */
	int pausing;
	unsigned int nr_parked;
	pthread_cond_t parked_cond, resume_cond;

	/* gdb stub (vmm_debug_*()), under stop_lock; dbg_held is NULL without --gdb. */
	uint8_t *dbg_held;           /* per vCPU: stays parked when the debugger resumes */
	int dbg_event_fd;            /* a vCPU took a debug exit */
	bool dbg_pending;            /* the first debug exit since the last resume: */
	unsigned int dbg_vcpu;       /*   on this vCPU, */
	struct kvm_debug_exit_arch dbg_info; /* with KVM's report */

	int serial_fd; /* UART output: stdout, or the --serial-out / PUT /serial file */
	bool serial_fd_owned;
	struct console *console; /* stdin into the UART or hvc0 (console.c) */
};

#define VMM_PAUSE_API 1
#define VMM_PAUSE_DEBUG 2

/* exit_env.park: a vCPU thread waits here while the VM is paused. */
void vmm_park(void *opaque, struct vcpu *vcpu);

#endif
