/* vcpu.h: one virtual CPU: its fd, kvm_run page, exit counters and kicks (the exit loop: exits.h). */
#ifndef KILN_KVM_VCPU_H
#define KILN_KVM_VCPU_H

#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/vm.h"
#include "kvm/stats.h"
#include "util/checked.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. Its handler does nothing: the kick works
 * because kvm_run->immediate_exit is set first, so a signal that lands outside KVM_RUN is not lost. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

struct vcpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	int run_size;
	bool rip_sync; /* KVM copies the RIP into run on each exit (arch_exit_rip_sync()) */
	bool rip_sync_ok; /* KVM can (KVM_CAP_SYNC_REGS); set by arch_vcpu_setup() */
	struct vcpu_stats stats;
};

/* KVM_CREATE_VCPU + mmap of kvm_run. Returns 0 or -errno. */
int __must_check vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned int id);
/* Unmaps kvm_run and closes the fd; the vCPU's thread must have ended. */
void vcpu_destroy(struct vcpu *vcpu);

/* Make the vCPU leave KVM_RUN promptly and not re-enter it: sets immediate_exit, then signals
 * `thread`. Safe from any thread, any time after vcpu_create(). */
void vcpu_kick(struct vcpu *vcpu, unsigned long thread);

#endif
