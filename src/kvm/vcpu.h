/* vcpu.h: one virtual CPU: its fd and kvm_run page, the KVM_RUN exit loop, register dumps and kicks. */
#ifndef KILN_KVM_VCPU_H
#define KILN_KVM_VCPU_H

#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/bus.h"
#include "kvm/memory.h"
#include "kvm/vm.h"
#include "stats.h"
#include "stop.h"
#include "util/checked.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. Its handler does nothing: the kick works
 * because kvm_run->immediate_exit is set first, so a signal that lands outside KVM_RUN is not lost. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

struct vcpu;

/* What the exit loop dispatches to. Shared by all vCPUs of a VM; must outlive the loop. */
struct vcpu_env {
	const struct bus *pio;
	const struct bus *mmio;
	const struct gmem *mem;        /* to tell "beyond RAM" in unclaimed-MMIO messages */
	const struct vm_control *ctl;  /* stop requests (system events, crashes, host errors) */
	void (*eoi)(void *opaque, uint8_t vector); /* KVM_EXIT_IOAPIC_EOI, split irqchip */
	void *eoi_opaque;
	const int *stopping;           /* read with acquire semantics before each KVM_RUN */
	const int *pausing;            /* likewise; when set the loop calls park() */
	/* Parks the calling vCPU thread until the pause ends or the VM stops; must clear
	 * vcpu->run->immediate_exit before returning when the VM is not stopping. */
	void (*park)(void *opaque, struct vcpu *vcpu);
	void *park_opaque;
	/* NULL, or the name of a well-known device the board leaves absent at [port, port+size)
	 * (the architecture's list): an unclaimed access there still reads all ones, drops its
	 * write and is counted, but is logged at debug level (-vv) instead of warned about. */
	const char *(*absent_port)(uint16_t port, unsigned int size);
};

struct vcpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	int run_size;
	struct vcpu_stats stats;
};

/* KVM_CREATE_VCPU + mmap of kvm_run. Returns 0 or -errno. */
int __must_check vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned int id);
/* Unmaps kvm_run and closes the fd; the vCPU's thread must have ended. */
void vcpu_destroy(struct vcpu *vcpu);

/* Runs the vCPU until the VM is told to stop (env->stopping) or this vCPU ends it: a guest
 * power-off, reset or crash, or a host error, each reported through env->ctl before returning.
 * While env->pausing is set it parks in env->park() between KVM_RUN calls. Pending I/O is
 * completed by KVM before KVM_RUN honours immediate_exit, so a parked vCPU is at an instruction
 * boundary. Guest misbehaviour never makes it return an error of its own. */
void vcpu_run_loop(struct vcpu *vcpu, const struct vcpu_env *env);

/* Make the vCPU leave KVM_RUN promptly and not re-enter it: sets immediate_exit, then signals
 * `thread`. Safe from any thread, any time after vcpu_create(). */
void vcpu_kick(struct vcpu *vcpu, unsigned long thread);

/* Writes RIP, RSP, RFLAGS, general registers, CR0/2/3/4, EFER and the segment registers with
 * base, limit and DPL to stderr, one line each, prefixed with the vCPU id. */
void vcpu_dump_regs(struct vcpu *vcpu);

#endif
