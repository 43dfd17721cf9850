/* exits.c: the KVM_RUN loop of one vCPU and the dispatch of its exits: a flat switch on the exit
 * reason; what only an architecture knows goes through arch.h. */
#include "exits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

static struct ratelimit unclaimed_rl = RATELIMIT_INIT(1000, 10);
static struct ratelimit absent_rl = RATELIMIT_INIT(1000, 10);

static void report_crash(struct vcpu *vcpu, const struct exit_env *env, const char *what)
{
	pr_err("guest crashed on vcpu%u: %s", vcpu->id, what);
	arch_dump_regs(vcpu);
	if (vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN && arch_crash_state_lost(vcpu))
		pr_err("vcpu%u: registers are after KVM's reset (AMD SVM resets the vCPU on a "
		       "shutdown): the faulting state is lost", vcpu->id);
	vm_request_stop(env->ctl, STOP_CRASH, 0);
}

static void handle_internal_error(struct vcpu *vcpu, const struct exit_env *env)
{
	static const char *const sub[] = {
		[KVM_INTERNAL_ERROR_EMULATION] = "instruction emulation failed",
		[KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering an exception",
		[KVM_INTERNAL_ERROR_DELIVERY_EV] = "exit while delivering an event",
		[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected hardware exit reason",
	};
	static struct ratelimit completed_rl = RATELIMIT_INIT(1000, 5);
	uint32_t code = vcpu->run->internal.suberror;
	char what[256];
	uint8_t insn[15];
	unsigned int n = arch_insn_bytes(vcpu, env->mem, insn, sizeof(insn));
	const char *done;
	int len;

	/* A few instructions KVM cannot emulate are simple enough to finish here. */
	if (code == KVM_INTERNAL_ERROR_EMULATION && n &&
	    arch_complete_insn(vcpu, env->mem, insn, n, &done) == 0) {
		/* Expected where KVM's emulator lacks the instruction (PVM hosts run every ring-0
		 * instruction through it): counted in --stats, told only with -v. */
		stats_inc(&vcpu->stats.completed_insns);
		pr_info_ratelimited(&completed_rl,
				    "vcpu%u: KVM could not emulate %s (bytes %02x...): completed by kiln",
				    vcpu->id, done, insn[0]);
		return;
	}

	len = snprintf(what, sizeof(what), "KVM internal error %u (%s)", code,
		       code < ARRAY_SIZE(sub) && sub[code] ? sub[code] : "unknown");
	if (n) {
		len += snprintf(what + len, sizeof(what) - (size_t)len, ", instruction bytes:");
		for (unsigned int i = 0; i < n && len < (int)sizeof(what) - 4; i++)
			len += snprintf(what + len, sizeof(what) - (size_t)len, " %02x", insn[i]);
	}
	report_crash(vcpu, env, what);
}

/* The port or MMIO device an exit went to, accounted by the loop with the exit's handling time
 * (one clock read at each end of the exit, shared by the reason and the access). */
struct exit_access {
	bool set;
	enum stats_access kind;
	uint64_t addr;
	const char *name;
};

static void handle_io(struct vcpu *vcpu, const struct exit_env *env, struct exit_access *acc)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned int size = run->io.size;
	const struct bus_range *r = NULL;

	/* String I/O (rep ins/outs) arrives as `count` back-to-back items. The data area lies in
	 * the kvm_run mapping, which KVM sized; it cannot point outside it. */
	for (uint32_t i = 0; i < run->io.count; i++, data += size)
		r = out ? bus_write(env->pio, run->io.port, data, size)
			: bus_read(env->pio, run->io.port, data, size);
	if (!r) {
		const char *absent = arch_absent_port(run->io.port, size);

		stats_inc(&vcpu->stats.unclaimed_pio);
		if (absent)
			pr_debug_ratelimited(&absent_rl,
					     "vcpu%u: unclaimed port %s 0x%04x (%u byte%s)%s: %s, absent",
					     vcpu->id, out ? "write to" : "read from", run->io.port,
					     size, size == 1 ? "" : "s",
					     out ? " dropped" : " returned all ones", absent);
		else
			pr_warn_ratelimited(&unclaimed_rl,
					    "vcpu%u: unclaimed port %s 0x%04x (%u byte%s)%s", vcpu->id,
					    out ? "write to" : "read from", run->io.port, size,
					    size == 1 ? "" : "s", out ? " dropped" : " returned all ones");
	}
	*acc = (struct exit_access){ true, out ? STATS_IO_OUT : STATS_IO_IN, run->io.port,
				     r ? r->name : "unclaimed" };
}

static void handle_mmio(struct vcpu *vcpu, const struct exit_env *env, struct exit_access *acc)
{
	struct kvm_run *run = vcpu->run;
	uint64_t addr = run->mmio.phys_addr;
	unsigned int len = run->mmio.len;
	bool write = run->mmio.is_write;
	const struct bus_range *r;

	if (len == 0 || len > sizeof(run->mmio.data)) {
		report_crash(vcpu, env, "MMIO access of impossible length");
		return;
	}
	r = write ? bus_write(env->mmio, addr, run->mmio.data, len)
		  : bus_read(env->mmio, addr, run->mmio.data, len);
	if (!r) {
		stats_inc(&vcpu->stats.unclaimed_mmio);
		pr_warn_ratelimited(&unclaimed_rl,
				    "vcpu%u: unclaimed MMIO %s 0x%" PRIx64 " (%u bytes%s)%s", vcpu->id,
				    write ? "write to" : "read from", addr, len,
				    gmem_is_ram(env->mem, addr) ? "" : ", not guest RAM",
				    write ? " dropped" : " returned all ones");
	}
	*acc = (struct exit_access){ true, write ? STATS_MMIO_WRITE : STATS_MMIO_READ,
				     r ? r->base : addr, r ? r->name : "unclaimed" };
}

static void handle_system_event(struct vcpu *vcpu, const struct exit_env *env)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(env->ctl, STOP_POWEROFF, 0);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(env->ctl, STOP_RESET, 0);
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		report_crash(vcpu, env, "guest reported a crash (KVM_SYSTEM_EVENT_CRASH)");
		break;
	default: {
		char what[96];

		snprintf(what, sizeof(what), "unknown system event %u", vcpu->run->system_event.type);
		report_crash(vcpu, env, what);
	}
	}
}

void exits_run_vcpu(struct vcpu *vcpu, const struct exit_env *env)
{
	struct kvm_run *run = vcpu->run;
	bool timed = vcpu->stats.enabled, watched = false;
	bool settled = true; /* no exit is waiting for KVM to complete it */
	char what[160];

	for (;;) {
		struct exit_access acc = { .set = false };
		uint64_t t0, ns;

		if (__atomic_load_n(env->stopping, __ATOMIC_ACQUIRE))
			return;
		/* The live view's switch: a relaxed load per exit while nobody watches. Turning it on
		 * asks KVM for the RIP in kvm_run (arch_exit_rip_sync()): no ioctl, here or later. */
		if (env->watching && __atomic_load_n(env->watching, __ATOMIC_RELAXED) != watched) {
			watched = !watched;
			arch_exit_rip_sync(vcpu, watched);
			timed = vcpu->stats.enabled || watched;
		}
		if (env->pausing && __atomic_load_n(env->pausing, __ATOMIC_ACQUIRE)) {
			if (settled) {
				env->park(env->park_opaque, vcpu);
				continue;
			}
			/* KVM finishes an I/O or MMIO exit (the IN's data, the OUT's RIP) only on
			 * the next KVM_RUN: enter once more with immediate_exit, which completes it
			 * and returns EINTR without running the guest, so a snapshot or debugger
			 * never sees the instruction half done (an OUT a restore would repeat). */
			__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				settled = true;
				stats_account_reason(&vcpu->stats, KVM_EXIT_INTR, 0);
				continue;
			}
			pr_err("vcpu%u: KVM_RUN failed: %s", vcpu->id, strerror(errno));
			vm_request_stop(env->ctl, STOP_HOST_ERROR, 0);
			return;
		}
		settled = false; /* this exit completes on the next KVM_RUN */
		t0 = timed ? now_ns() : 0;
		stats_inc(&vcpu->stats.runs);
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(vcpu, env, &acc);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(vcpu, env, &acc);
			break;
		case KVM_EXIT_HLT:
			/* Only without an in-kernel local APIC; KVM resumes after the hlt. */
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			handle_system_event(vcpu, env);
			break;
		case KVM_EXIT_SHUTDOWN:
			report_crash(vcpu, env, "triple fault (KVM_EXIT_SHUTDOWN)");
			break;
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(what, sizeof(what),
				 "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx)",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			report_crash(vcpu, env, what);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			handle_internal_error(vcpu, env);
			break;
		case KVM_EXIT_DEBUG:
			if (env->debug) {
				env->debug(env->park_opaque, vcpu);
				break;
			}
			if (arch_handle_exit(env->arch, vcpu))
				break;
			report_crash(vcpu, env, "unexpected debug exit (KVM_EXIT_DEBUG)");
			break;
		default:
			if (arch_handle_exit(env->arch, vcpu))
				break;
			snprintf(what, sizeof(what), "unhandled exit reason %u (KVM_EXIT_%s)",
				 run->exit_reason, kvm_exit_reason_name(run->exit_reason));
			report_crash(vcpu, env, what);
			break;
		}
		ns = timed ? now_ns() - t0 : 0;
		stats_account_reason(&vcpu->stats, run->exit_reason, ns);
		if (timed && acc.set)
			stats_account_access(&vcpu->stats, acc.kind, acc.addr, acc.name, ns);
		if (watched && vcpu->rip_sync)
			stats_sample_rip(&vcpu->stats, arch_exit_rip(vcpu), run->exit_reason);
	}
}
