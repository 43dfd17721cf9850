/* vmm.h: a built VM and its runtime: vCPU threads, the event loop (stdin, signals), stop and exit
 * status, and what the control layer may read of it. */
#ifndef KILN_VMM_H
#define KILN_VMM_H

#include <stdbool.h>

#include "config.h"
#include "devices/serial.h"
#include "devices/virtio/kind.h"
#include "kvm/memory.h"
#include "kvm/stats.h"
#include "kvm/vcpu.h"
#include "stop.h"
#include "util/checked.h"

/* Exit statuses (README.md, "Exit status"). */
#define KILN_EXIT_OK 0
#define KILN_EXIT_USAGE 2
#define KILN_EXIT_GUEST_CRASH 4
#define KILN_EXIT_HOST_ERROR 6
#define KILN_EXIT_SIGNAL_BASE 128

/* One VM: what builder.c builds and vmm.c runs. Opaque outside those two (vmm_priv.h); the
 * control layer uses the functions below. */
struct vmm;

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
/* With the Uffd backend: an fd that becomes readable when the page-fault handler exits, or -1
 * (no handler, or none kiln can watch). Then call vmm_handler_gone(), which does not return: it
 * names the handler on stderr and ends kiln with KILN_EXIT_HOST_ERROR. */
int vmm_handler_fd(const struct vmm *vmm);
_Noreturn void vmm_handler_gone(struct vmm *vmm);
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
/* Before vmm_start(): the vCPUs park before their first instruction, as if vmm_pause() had been
 * called (a snapshot restored without resume_vm). */
void vmm_start_paused(struct vmm *vmm);
/* Lets parked vCPUs continue exactly where they stopped. Idempotent. */
void vmm_resume(struct vmm *vmm);
bool vmm_paused(struct vmm *vmm);

/* Backs disk `index` (as built: cfg.disks order) with the image at `path`. Returns 0, or -errno
 * with a one-line reason in err. */
int __must_check vmm_swap_disk(struct vmm *vmm, unsigned int index, const char *path, char *err,
			       size_t err_size);
/* Replaces the rate limiter buckets of virtio-blk device `index` that set_bandwidth/set_ops
 * name (PATCH /drives). Any thread; a request waiting for the old buckets retries at once. */
void vmm_set_disk_rate_limiter(struct vmm *vmm, unsigned int index,
			       const struct rate_limiter_cfg *cfg, bool set_bandwidth, bool set_ops);
/* The same for virtio-net device `index`'s receive and transmit limiters (PATCH
 * /network-interfaces). */
void vmm_set_net_rate_limiters(struct vmm *vmm, unsigned int index,
			       const struct rate_limiter_cfg *rx, bool rx_bw, bool rx_ops,
			       const struct rate_limiter_cfg *tx, bool tx_bw, bool tx_ops);

/* Presses Ctrl-Alt-Del on the i8042 keyboard. */
void vmm_ctrl_alt_del(struct vmm *vmm);

/* Kicks and joins the vCPU threads, restores the terminal, prints --stats, and returns kiln's
 * exit status for how the VM stopped. */
int vmm_finish(struct vmm *vmm);

/* Wakes the event loop (serial FIFO drained: read more input). Any thread; `opaque` is the vmm. */
void vmm_wake(void *opaque);

/* Frees the VM in the reverse order of building; safe on a partly built VM and on NULL. */
void vmm_destroy(struct vmm *vmm);

/* ---- the gdb stub's hold on the vCPUs (src/control/gdbstub.c); all-stop --------------------
 * After builder_build() and before vmm_start(): vmm_debug_enable(). Then, on the stub's thread:
 * vmm_debug_halt() stops every vCPU; a debug exit (breakpoint, watchpoint, step) stops them all
 * by itself and makes vmm_debug_event_fd() readable, vmm_debug_take() then tells which vCPU and
 * why; vmm_debug_resume() lets the chosen vCPUs run again, together. */

/* Routes KVM_EXIT_DEBUG to the stub; `hold`: the vCPUs stay stopped before their first
 * instruction until vmm_debug_resume(). Returns 0 or -errno. */
int __must_check vmm_debug_enable(struct vmm *vmm, bool hold);
int vmm_debug_event_fd(const struct vmm *vmm);
/* Stops every vCPU outside KVM_RUN and returns when all are. Returns 0 or -ESHUTDOWN (the VM is
 * stopping). */
int vmm_debug_halt(struct vmm *vmm);
/* The first debug exit since the last resume, if any: its vCPU and KVM's report. */
bool vmm_debug_take(struct vmm *vmm, unsigned int *vcpu, struct kvm_debug_exit_arch *info);
/* Resumes the vCPUs with run[i] set; the others stay stopped. Also ends a vmm_debug_halt(). */
void vmm_debug_resume(struct vmm *vmm, const bool *run);
/* vCPU i, for register access while it is stopped. */
const struct vcpu *vmm_debug_vcpu(const struct vmm *vmm, unsigned int i);
const struct gmem *vmm_gmem(const struct vmm *vmm);

/* ---- what the control layer reads (metrics, API); any thread while the VM runs ------------- */

/* Why the VM stopped (STOP_NONE while it runs). */
enum stop_reason vmm_stop_reason(struct vmm *vmm);

unsigned int vmm_nr_vcpus(const struct vmm *vmm);
/* vCPU `i`'s exit counters: read them with stats_load() while the vCPU runs. */
const struct vcpu_stats *vmm_vcpu_stats(const struct vmm *vmm, unsigned int i);

/* The live exit view (docs/exits.md): while `on`, vCPUs also count handling time and ports or
 * MMIO devices per exit and sample each exit's guest RIP. Any thread; takes effect at each
 * vCPU's next exit. */
void vmm_watch_exits(struct vmm *vmm, bool on);
/* Whether KVM can give exit RIPs without a syscall (KVM_CAP_SYNC_REGS). */
bool vmm_can_sample_rips(const struct vmm *vmm);

/* The console UART's counters. */
void vmm_serial_counters(const struct vmm *vmm, struct serial_counters *out);

/* The virtio devices, in docs/virtio.md order: device `i` (< vmm_nr_devices()) and its kind. */
unsigned int vmm_nr_devices(const struct vmm *vmm);
void *vmm_device(const struct vmm *vmm, unsigned int i, const struct virtio_kind **kind);

#endif
