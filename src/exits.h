/* exits.h: one vCPU's KVM_RUN loop and the dispatch of its exits to the buses, the stop protocol
 * and the architecture (arch.h). */
#ifndef KILN_EXITS_H
#define KILN_EXITS_H

#include "arch/arch.h"
#include "kvm/bus.h"
#include "kvm/memory.h"
#include "kvm/vcpu.h"
#include "stop.h"

/* What the exit loop dispatches to. Shared by all vCPUs of a VM; must outlive the loop. */
struct exit_env {
	const struct bus *pio;
	const struct bus *mmio;
	const struct gmem *mem;        /* to tell "beyond RAM" in unclaimed-MMIO messages */
	const struct vm_control *ctl;  /* stop requests (system events, crashes, host errors) */
	struct arch_vm *arch;          /* exits only the architecture knows (arch_handle_exit) */
	const int *stopping;           /* read with acquire semantics before each KVM_RUN */
	const int *pausing;            /* likewise; when set the loop calls park() */
	/* Set while the live exit view (kiln top, GET /vm/exits) watches; read relaxed before each
	 * KVM_RUN; NULL: never. While set, each exit's handling time and port or MMIO device are
	 * counted as with --stats, and its guest RIP is sampled (stats_sample_rip()). */
	const int *watching;
	/* Parks the calling vCPU thread until the pause ends or the VM stops; must clear
	 * vcpu->run->immediate_exit before returning when the VM is not stopping. */
	void (*park)(void *opaque, struct vcpu *vcpu);
	void *park_opaque;
	/* KVM_EXIT_DEBUG (a breakpoint, watchpoint or step the gdb stub asked for), on the vCPU's
	 * thread with park_opaque; it stops the VM (sets *pausing), so the loop parks next. NULL:
	 * the exit is left to the architecture (an unhandled exit). */
	void (*debug)(void *opaque, struct vcpu *vcpu);
};

/* Runs the vCPU until the VM is told to stop (env->stopping) or this vCPU ends it: a guest
 * power-off, reset or crash, or a host error, each reported through env->ctl before returning.
 * While env->pausing is set it parks in env->park() between KVM_RUN calls. Pending I/O is
 * completed by KVM before KVM_RUN honours immediate_exit, so a parked vCPU is at an instruction
 * boundary. Guest misbehaviour never makes it return an error of its own. An unclaimed port in
 * the architecture's list of absent devices (arch_absent_port()) is logged at debug level. */
void exits_run_vcpu(struct vcpu *vcpu, const struct exit_env *env);

#endif
