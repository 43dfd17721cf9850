/* vmm.c: runtime: vCPU threads, the event loop, race-free stop, exit status and teardown. */
#include "vmm.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "console.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/console.h"
#include "devices/virtio/net.h"
#include "kvm/stats.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vmm_priv.h"

static void kick_handler(int sig)
{
	(void)sig;
}

void vmm_wake(void *opaque)
{
	struct vmm *vmm = opaque;
	uint64_t one = 1;

	if (write(vmm->event_fd, &one, sizeof(one)) < 0)
		return; /* counter saturated: the loop is awake anyway */
}

void vmm_request_stop(void *opaque, enum stop_reason reason, int code)
{
	struct vmm *vmm = opaque;

	pthread_mutex_lock(&vmm->stop_lock);
	if (vmm->stop_reason == STOP_NONE) {
		vmm->stop_reason = reason;
		vmm->stop_code = code;
		__atomic_store_n(&vmm->stopping, 1, __ATOMIC_SEQ_CST);
	}
	/* Parked vCPUs must see the stop too, and a pause waiting for them must give up. */
	pthread_cond_broadcast(&vmm->resume_cond);
	pthread_cond_broadcast(&vmm->parked_cond);
	pthread_mutex_unlock(&vmm->stop_lock);
	vmm_wake(vmm);
}

bool vmm_stopping(const struct vmm *vmm)
{
	return __atomic_load_n(&vmm->stopping, __ATOMIC_ACQUIRE);
}

int vmm_event_fd(const struct vmm *vmm) { return vmm->event_fd; }

int vmm_handler_fd(const struct vmm *vmm) { return vmm->uffd_pidfd; }

void vmm_handler_gone(struct vmm *vmm)
{
	/* Its vCPUs may wait in the kernel for pages nobody will ever serve (kiln holds the
	 * userfaultfd too, so the faults are not failed for it), and a vCPU thread cannot be
	 * joined then: end the process now, the terminal restored. */
	console_terminal_restore();
	pr_err("the page-fault handler (pid %d, socket '%s') exited: guest memory can no longer "
	       "be served, so the VM cannot go on", vmm->uffd_pid, vmm->uffd_path ? vmm->uffd_path : "?");
	fflush(stdout);
	fflush(stderr);
	_exit(KILN_EXIT_HOST_ERROR);
}

/* vCPU thread: wait here while the VM is paused (vcpu_env.park). */
void vmm_park(void *opaque, struct vcpu *vcpu)
{
	struct vmm *vmm = opaque;

	pthread_mutex_lock(&vmm->stop_lock);
	vmm->nr_parked++;
	pthread_cond_broadcast(&vmm->parked_cond);
	while ((__atomic_load_n(&vmm->pausing, __ATOMIC_ACQUIRE) ||
		(vmm->dbg_held && vmm->dbg_held[vcpu->id])) &&
	       !vmm_stopping(vmm))
		pthread_cond_wait(&vmm->resume_cond, &vmm->stop_lock);
	vmm->nr_parked--;
	/* Clear the kick only now, and before the loop re-checks the flags: a stop or pause
	 * requested after this point sets immediate_exit again after setting its flag. */
	if (!vmm_stopping(vmm))
		__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vmm->stop_lock);
}

static void kick_all(struct vmm *vmm);

/* Sets `why` (VMM_PAUSE_API or VMM_PAUSE_DEBUG) in `pausing`, kicks every vCPU out of KVM_RUN
 * and waits until all are parked. Returns 0, or -ESHUTDOWN when the VM stops meanwhile. */
static int park_all(struct vmm *vmm, int why)
{
	int err = 0;

	pthread_mutex_lock(&vmm->stop_lock);
	__atomic_or_fetch(&vmm->pausing, why, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vmm->stop_lock);
	kick_all(vmm);
	pthread_mutex_lock(&vmm->stop_lock);
	while (vmm->nr_parked < vmm->nr_threads && !vmm_stopping(vmm)) {
		struct timespec t;

		if (vmm->uffd_pidfd < 0) {
			pthread_cond_wait(&vmm->parked_cond, &vmm->stop_lock);
			continue;
		}
		/* A vCPU waiting for a page cannot park: look at the page-fault handler every
		 * 100 ms, so that its death ends the wait (and kiln) rather than hanging it. */
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 100000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&vmm->parked_cond, &vmm->stop_lock, &t);
		if (poll(&(struct pollfd){ .fd = vmm->uffd_pidfd, .events = POLLIN }, 1, 0) > 0)
			vmm_handler_gone(vmm);
	}
	if (vmm_stopping(vmm))
		err = -ESHUTDOWN;
	pthread_mutex_unlock(&vmm->stop_lock);
	return err;
}

int vmm_pause(struct vmm *vmm)
{
	return park_all(vmm, VMM_PAUSE_API);
}

void vmm_start_paused(struct vmm *vmm)
{
	vmm->pausing |= VMM_PAUSE_API;
}

void vmm_resume(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->stop_lock);
	__atomic_and_fetch(&vmm->pausing, ~VMM_PAUSE_API, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vmm->resume_cond);
	pthread_mutex_unlock(&vmm->stop_lock);
}

bool vmm_paused(struct vmm *vmm)
{
	return __atomic_load_n(&vmm->pausing, __ATOMIC_ACQUIRE) & VMM_PAUSE_API;
}

/* ---- the gdb stub's hold on the vCPUs (all-stop) ------------------------------------------- */

static void kick_all(struct vmm *vmm)
{
	for (unsigned int i = 0; i < vmm->nr_threads; i++)
		vcpu_kick(&vmm->vcpus[i], (unsigned long)vmm->threads[i]);
}

/* exit_env.debug, on the vCPU's thread: record the first debug exit and stop every vCPU. */
static void vmm_debug_exit(void *opaque, struct vcpu *vcpu)
{
	struct vmm *vmm = opaque;
	uint64_t one = 1;

	pthread_mutex_lock(&vmm->stop_lock);
	if (!vmm->dbg_pending) {
		vmm->dbg_pending = true;
		vmm->dbg_vcpu = vcpu->id;
		vmm->dbg_info = vcpu->run->debug.arch;
	}
	__atomic_or_fetch(&vmm->pausing, VMM_PAUSE_DEBUG, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vmm->stop_lock);
	kick_all(vmm);
	if (write(vmm->dbg_event_fd, &one, sizeof(one)) < 0)
		return; /* saturated: the stub is awake anyway */
}

int vmm_debug_enable(struct vmm *vmm, bool hold)
{
	vmm->dbg_held = calloc(vmm->nr_vcpus, 1);
	if (!vmm->dbg_held)
		return -ENOMEM;
	vmm->dbg_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vmm->dbg_event_fd < 0) {
		free(vmm->dbg_held);
		vmm->dbg_held = NULL;
		return -errno;
	}
	vmm->env.debug = vmm_debug_exit;
	if (hold)
		vmm->pausing |= VMM_PAUSE_DEBUG;
	return 0;
}

int vmm_debug_event_fd(const struct vmm *vmm)
{
	return vmm->dbg_event_fd;
}

int vmm_debug_halt(struct vmm *vmm)
{
	return park_all(vmm, VMM_PAUSE_DEBUG);
}

bool vmm_debug_take(struct vmm *vmm, unsigned int *vcpu, struct kvm_debug_exit_arch *info)
{
	bool r;

	pthread_mutex_lock(&vmm->stop_lock);
	r = vmm->dbg_pending;
	if (r) {
		*vcpu = vmm->dbg_vcpu;
		*info = vmm->dbg_info;
		vmm->dbg_pending = false;
	}
	pthread_mutex_unlock(&vmm->stop_lock);
	return r;
}

void vmm_debug_resume(struct vmm *vmm, const bool *run)
{
	pthread_mutex_lock(&vmm->stop_lock);
	for (unsigned int i = 0; i < vmm->nr_vcpus; i++)
		vmm->dbg_held[i] = !run[i];
	vmm->dbg_pending = false;
	__atomic_and_fetch(&vmm->pausing, ~VMM_PAUSE_DEBUG, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vmm->resume_cond);
	pthread_mutex_unlock(&vmm->stop_lock);
}

const struct vcpu *vmm_debug_vcpu(const struct vmm *vmm, unsigned int i)
{
	return &vmm->vcpus[i];
}

const struct gmem *vmm_gmem(const struct vmm *vmm)
{
	return vmm->mem;
}

void vmm_ctrl_alt_del(struct vmm *vmm)
{
	arch_ctrl_alt_del(vmm->arch);
}

/* Where console input goes: hvc0 with --console virtio, else the UART. */
static size_t input_space(void *opaque)
{
	struct vmm *vmm = opaque;

	return vmm->vcon ? virtio_console_rx_space(vmm->vcon)
			 : arch_console_rx_space(vmm->arch);
}

static size_t input_push(void *opaque, const uint8_t *b, size_t n)
{
	struct vmm *vmm = opaque;

	return vmm->vcon ? virtio_console_rx_push(vmm->vcon, b, n)
			 : arch_console_rx_push(vmm->arch, b, n);
}

static void input_flush(void *opaque)
{
	struct vmm *vmm = opaque;

	if (vmm->vcon)
		virtio_console_rx_flush(vmm->vcon);
}

static void input_quit(void *opaque)
{
	vmm_request_stop(opaque, STOP_SIGNAL, SIGINT);
}

static const struct console_sink input_sink = {
	.space = input_space,
	.push = input_push,
	.flush = input_flush,
	.request_quit = input_quit,
};

int vmm_alloc(struct vmm **out, const struct vmm_config *cfg)
{
	struct vmm *vmm = calloc(1, sizeof(*vmm));
	int e;

	if (!vmm)
		return -ENOMEM;
	vmm->cfg = *cfg;
	vmm->kvm.fd = -1;
	vmm->serial_fd = STDOUT_FILENO;
	vmm->dbg_event_fd = -1;
	vmm->uffd = vmm->uffd_sock = vmm->uffd_pidfd = -1;
	pthread_mutex_init(&vmm->stop_lock, NULL);
	pthread_cond_init(&vmm->parked_cond, NULL);
	pthread_cond_init(&vmm->resume_cond, NULL);
	vmm->ctl = (struct vm_control){ vmm_request_stop, vmm };
	vmm->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vmm->event_fd < 0) {
		e = -errno;
		pthread_mutex_destroy(&vmm->stop_lock);
		free(vmm);
		return e;
	}
	e = console_create(&vmm->console, &input_sink, vmm);
	if (e) {
		close(vmm->event_fd);
		pthread_mutex_destroy(&vmm->stop_lock);
		free(vmm);
		return e;
	}
	*out = vmm;
	return 0;
}

struct vcpu_thread_arg {
	struct vmm *vmm;
	unsigned int index;
};

static void *vcpu_thread(void *p)
{
	struct vcpu_thread_arg *arg = p;
	struct vmm *vmm = arg->vmm;
	struct vcpu *vcpu = &vmm->vcpus[arg->index];
	sigset_t set;

	free(arg);
	/* Everything stays blocked (the event loop owns signals) except the kick. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Before the guest's first instruction on this vCPU (docs/security.md). */
	if (sandbox_enter(SANDBOX_VCPU)) {
		vmm_request_stop(vmm, STOP_HOST_ERROR, 0);
		return NULL;
	}
	exits_run_vcpu(vcpu, &vmm->env);
	return NULL;
}

static int start_vcpus(struct vmm *vmm)
{
	vmm->threads = calloc(vmm->nr_vcpus, sizeof(*vmm->threads));
	if (!vmm->threads)
		return -ENOMEM;
	for (unsigned int i = 0; i < vmm->nr_vcpus; i++) {
		struct vcpu_thread_arg *arg = malloc(sizeof(*arg));
		char name[16];
		int e;

		if (!arg)
			return -ENOMEM;
		*arg = (struct vcpu_thread_arg){ vmm, i };
		e = pthread_create(&vmm->threads[i], NULL, vcpu_thread, arg);
		if (e) {
			free(arg);
			return -e;
		}
		vmm->nr_threads++;
		snprintf(name, sizeof(name), "vcpu%u", i);
		pthread_setname_np(vmm->threads[i], name);
	}
	return 0;
}

static void stop_vcpus(struct vmm *vmm)
{
	for (unsigned int i = 0; i < vmm->nr_threads; i++)
		vcpu_kick(&vmm->vcpus[i], (unsigned long)vmm->threads[i]);
	for (unsigned int i = 0; i < vmm->nr_threads; i++)
		pthread_join(vmm->threads[i], NULL);
	vmm->nr_threads = 0;
}

static const char *stop_reason_name(enum stop_reason r)
{
	switch (r) {
	case STOP_POWEROFF: return "guest powered off";
	case STOP_RESET: return "guest requested a reset";
	case STOP_DEBUG_EXIT: return "guest wrote to debug-exit";
	case STOP_CRASH: return "guest crashed";
	case STOP_HOST_ERROR: return "host error";
	case STOP_SIGNAL: return "stopped by signal";
	default: return "stopped";
	}
}

int vmm_start(struct vmm *vmm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int e;

	/* The kick handler must exist before any vCPU can be kicked; no SA_RESTART, so KVM_RUN
	 * returns EINTR. The owner thread has blocked the signal; vCPU threads unblock it. */
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	console_terminal_raw();
	if (vmm->io && (e = io_thread_start(vmm->io, "kiln-io"))) {
		pr_err("cannot start the I/O thread: %s", strerror(-e));
		vmm_request_stop(vmm, STOP_HOST_ERROR, 0);
		return e;
	}
	e = start_vcpus(vmm);
	if (e) {
		pr_err("cannot start vCPU threads: %s", strerror(-e));
		vmm_request_stop(vmm, STOP_HOST_ERROR, 0);
	}
	return e;
}

bool vmm_wants_input(const struct vmm *vmm)
{
	return console_wants_input(vmm->console);
}

void vmm_handle_events(struct vmm *vmm, bool stdin_ready)
{
	uint64_t v;

	if (read(vmm->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_debug("event fd: %s", strerror(errno));
	(void)console_pump(vmm->console, stdin_ready);
}

int vmm_swap_disk(struct vmm *vmm, unsigned int index, const char *path, char *err,
		  size_t err_size)
{
	for (unsigned int i = 0, n = 0; i < vmm->nr_devices; i++)
		if (vmm->devices[i].kind == &virtio_blk_kind && n++ == index)
			return virtio_blk_swap(vmm->devices[i].dev, path, err, err_size);
	snprintf(err, err_size, "no disk %u", index);
	return -ENOENT;
}

void vmm_set_disk_rate_limiter(struct vmm *vmm, unsigned int index,
			       const struct rate_limiter_cfg *cfg, bool set_bandwidth, bool set_ops)
{
	for (unsigned int i = 0, n = 0; i < vmm->nr_devices; i++)
		if (vmm->devices[i].kind == &virtio_blk_kind && n++ == index)
			rate_limiter_update(virtio_blk_rate_limiter(vmm->devices[i].dev), cfg,
					    set_bandwidth, set_ops);
}

void vmm_set_net_rate_limiters(struct vmm *vmm, unsigned int index,
			       const struct rate_limiter_cfg *rx, bool rx_bw, bool rx_ops,
			       const struct rate_limiter_cfg *tx, bool tx_bw, bool tx_ops)
{
	for (unsigned int i = 0, n = 0; i < vmm->nr_devices; i++)
		if (vmm->devices[i].kind == &virtio_net_kind && n++ == index)
			virtio_net_set_rate_limiters(vmm->devices[i].dev, rx, rx_bw, rx_ops, tx,
						     tx_bw, tx_ops);
}

int vmm_finish(struct vmm *vmm)
{
	int status;

	stop_vcpus(vmm);
	io_thread_stop(vmm->io);
	console_terminal_restore();

	switch (vmm->stop_reason) {
	case STOP_POWEROFF:
	case STOP_RESET:
		status = KILN_EXIT_OK;
		pr_info("%s", stop_reason_name(vmm->stop_reason));
		break;
	case STOP_DEBUG_EXIT:
		status = vmm->stop_code;
		pr_info("%s: exit status %d", stop_reason_name(vmm->stop_reason), status);
		break;
	case STOP_CRASH:
		status = KILN_EXIT_GUEST_CRASH;
		break;
	case STOP_SIGNAL:
		status = KILN_EXIT_SIGNAL_BASE + vmm->stop_code;
		pr_warn("%s %s", stop_reason_name(vmm->stop_reason), strsignal(vmm->stop_code));
		break;
	default:
		status = KILN_EXIT_HOST_ERROR;
		break;
	}
	if (vmm->cfg.stats) {
		const struct vcpu_stats *per[vmm->nr_vcpus];

		for (unsigned int i = 0; i < vmm->nr_vcpus; i++)
			per[i] = &vmm->vcpus[i].stats;
		fflush(stdout);
		stats_print(stderr, per, vmm->nr_vcpus);
	}
	return status;
}

void vmm_destroy(struct vmm *vmm)
{
	if (!vmm)
		return;
	if (vmm->nr_threads)
		stop_vcpus(vmm);
	for (unsigned int i = vmm->nr_vcpus; i-- > 0;)
		vcpu_destroy(&vmm->vcpus[i]);
	free(vmm->vcpus);
	free(vmm->threads);
	io_thread_destroy(vmm->io); /* no handler runs after this */
	for (unsigned int i = 0; i < vmm->nr_devices; i++) {
		vmm->devices[i].kind->destroy(vmm->devices[i].dev); /* waits for requests in flight */
		free(vmm->devices[i].dev);
	}
	free(vmm->cmdline);
	arch_vm_destroy(vmm->arch);
	bus_destroy(vmm->mmio);
	bus_destroy(vmm->pio);
	vm_destroy(vmm->vm);
	if (vmm->kvm.fd >= 0)
		kvm_close(&vmm->kvm);
	gmem_destroy(vmm->mem);
	if (vmm->uffd >= 0)
		close(vmm->uffd);
	if (vmm->uffd_sock >= 0)
		close(vmm->uffd_sock);
	if (vmm->uffd_pidfd >= 0)
		close(vmm->uffd_pidfd);
	free(vmm->uffd_path);
	if (vmm->serial_fd_owned)
		close(vmm->serial_fd);
	close(vmm->event_fd);
	if (vmm->dbg_event_fd >= 0)
		close(vmm->dbg_event_fd);
	free(vmm->dbg_held);
	console_destroy(vmm->console);
	pthread_cond_destroy(&vmm->parked_cond);
	pthread_cond_destroy(&vmm->resume_cond);
	pthread_mutex_destroy(&vmm->stop_lock);
	free(vmm);
}

enum stop_reason vmm_stop_reason(struct vmm *vmm)
{
	enum stop_reason r;

	pthread_mutex_lock(&vmm->stop_lock);
	r = vmm->stop_reason;
	pthread_mutex_unlock(&vmm->stop_lock);
	return r;
}

unsigned int vmm_nr_vcpus(const struct vmm *vmm)
{
	return vmm->nr_vcpus;
}

const struct vcpu_stats *vmm_vcpu_stats(const struct vmm *vmm, unsigned int i)
{
	return &vmm->vcpus[i].stats;
}

void vmm_watch_exits(struct vmm *vmm, bool on)
{
	__atomic_store_n(&vmm->watching, on ? 1 : 0, __ATOMIC_RELAXED);
}

bool vmm_can_sample_rips(const struct vmm *vmm)
{
	return vmm->nr_vcpus && vmm->vcpus[0].rip_sync_ok;
}

void vmm_serial_counters(const struct vmm *vmm, struct serial_counters *out)
{
	arch_console_counters(vmm->arch, out);
}

unsigned int vmm_nr_devices(const struct vmm *vmm)
{
	return vmm->nr_devices;
}

void *vmm_device(const struct vmm *vmm, unsigned int i, const struct virtio_kind **kind)
{
	*kind = vmm->devices[i].kind;
	return vmm->devices[i].dev;
}
