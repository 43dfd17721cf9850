/* arch.h: what kiln's generic core (builder.c, vmm.c, exits.c) asks of an architecture. x86-64
 * implements it in src/arch/x86/ (vm.c, board.c, dump.c, emulate.c), arm64 in src/arch/arm64/
 * (docs/arm64.md); docs/design.md has the checklist for adding another. Nothing here names an x86
 * concept. */
#ifndef KILN_ARCH_ARCH_H
#define KILN_ARCH_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "devices/device.h"
#include "devices/serial.h"
#include "kvm/bus.h"
#include "kvm/kvm.h"
#include "kvm/memory.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "util/checked.h"
#include "util/snapfile.h"

/* struct boot_entry: where and how the boot vCPU starts, as the loaders fill it in. Its shape is
 * the architecture's (registers and CPU modes); the core only passes it along and prints its
 * `format`. */
#include "arch/entry.h"

/* The architecture's part of one VM: the board (its platform devices, interrupt controllers and
 * firmware tables), the CPU model every vCPU gets, and where virtio devices live. */
struct arch_vm;

/* Where one virtio-mmio device lives: its register page and interrupt, as the firmware tables
 * (or the kernel command line) describe it. */
struct arch_virtio_slot {
	uint64_t addr;
	uint64_t size;
	unsigned int gsi;
};

/* What the board's devices are connected to (step 2 of builder_build()). */
struct arch_board_io {
	struct bus *pio, *mmio;
	const struct vm_control *ctl; /* stop requests (power-off, reset, debug-exit) */
	int serial_fd;                /* where the console UART writes */
	void (*wake)(void *opaque);   /* the UART's receive FIFO has room again */
	void *wake_opaque;
};

/* `kiln run --help`'s paragraph on the guest images this architecture boots (and the options
 * it refuses), lines of at most 80 columns, each ending in a newline. */
extern const char arch_guest_formats_help[];

/* ---- the VM, in builder_build() order ------------------------------------------------------ */

/* Guest-physical address where RAM below 4 GiB stops; the rest of RAM starts at 4 GiB. */
uint64_t arch_ram_hole_start(void);

/* Step 1, before the image is loaded: the board's description for `cfg` (CPUs, interrupt
 * controllers, config_nr_virtio(cfg) virtio slots). `cfg` must outlive the arch_vm. Returns 0,
 * -ENOMEM, or -EINVAL when the board cannot describe cfg (message in err). */
int __must_check arch_vm_create(struct arch_vm **out, const struct vmm_config *cfg, char *err,
				size_t err_size);

/* Frees everything the arch_vm holds (its devices too); safe on NULL and on a partly built one. */
void arch_vm_destroy(struct arch_vm *a);

/* Virtio device `i` (0 .. config_nr_virtio(cfg) - 1, in docs/virtio.md order). */
struct arch_virtio_slot arch_virtio_slot(const struct arch_vm *a, unsigned int i);

/* The command line a Linux guest gets: `cmdline` itself (*out = NULL), or a new string the caller
 * frees, with what tells Linux where its devices are (x86: virtio_mmio.device=, as
 * --virtio-discovery says). Other guests get `cmdline`. Returns 0 or -ENOMEM. */
int __must_check arch_guest_cmdline(const struct arch_vm *a, const char *cmdline, char **out);

/* Writes the firmware tables into guest RAM before the image is loaded (which may not overlap
 * them); *table_addr gets the address a loader hands to the guest (x86: the ACPI RSDP). Returns
 * 0 or -errno with a one-line reason in err. */
int __must_check arch_write_firmware(struct arch_vm *a, const struct gmem *mem,
				     uint64_t *table_addr, char *err, size_t err_size);

/* After the image is loaded: what the entry state needs in guest RAM besides the image (boot
 * page tables, a reset vector). Returns 0 or -errno with a one-line reason in err. */
int __must_check arch_prepare_boot(struct arch_vm *a, const struct gmem *mem,
				   const struct boot_entry *entry, char *err, size_t err_size);

/* Step 2, still without KVM: creates the board's devices (interrupt controllers, console UART,
 * keyboard controller, clock, power management, debug-exit) and registers them on the buses.
 * Returns 0 or -errno; -EEXIST (an overlap) with a one-line message in err. */
int __must_check arch_attach_devices(struct arch_vm *a, const struct arch_board_io *io, char *err,
				     size_t err_size);

/* Where device interrupt lines go; valid after arch_attach_devices(). */
const struct irq_sink *arch_irq_sink(const struct arch_vm *a);

/* The console UART (x86: a 16550 on COM1, arm64: a PL011), valid after arch_attach_devices():
 * free space in its receive FIFO, received bytes queued (returns how many fit: the rest must be
 * retried after io->wake), and its traffic counters. */
size_t arch_console_rx_space(const struct arch_vm *a);
size_t arch_console_rx_push(const struct arch_vm *a, const uint8_t *buf, size_t len);
void arch_console_counters(const struct arch_vm *a, struct serial_counters *out);

/* Step 3: whether `kvm` has what this architecture needs. Returns 0, or -ENOTSUP with a one-line
 * explanation for the user in why. */
int __must_check arch_check_kvm(const struct kvm *kvm, char *why, size_t why_size);

/* Right after vm_create(), before guest memory is mapped or any vCPU exists: the VM's
 * architecture parts (interrupt controller mode, the board's interrupt routes). Connects the
 * board's devices to `vm`, which must outlive them. Returns 0 or -errno with a message in err. */
int __must_check arch_vm_setup(struct arch_vm *a, struct vm *vm, char *err, size_t err_size);

/* Step 4, for every vCPU after vcpu_create(): the CPU model (the CPU template of cfg applied,
 * docs/cpu-templates.md) and power-on state. Returns 0, -EINVAL when the template does not fit
 * this host (a bad input: the message names the leaf or MSR), or -errno, with a message in err. */
int __must_check arch_vcpu_setup(struct arch_vm *a, struct vcpu *vcpu, char *err,
				 size_t err_size);

/* The boot vCPU's entry registers, after arch_vcpu_setup(). Returns 0 or -errno. */
int __must_check arch_boot_vcpu_setup(struct arch_vm *a, struct vcpu *vcpu,
				      const struct boot_entry *entry);

/* ---- running ------------------------------------------------------------------------------- */

/* The board's "reset button" for a guest that listens (x86: Ctrl-Alt-Del on the keyboard). */
void arch_ctrl_alt_del(struct arch_vm *a);

/* An exit reason the generic dispatch (exits.c) does not know, on `vcpu`'s thread. Returns true
 * when the architecture handled it; false makes it an unhandled exit (the guest crashed). */
bool arch_handle_exit(struct arch_vm *a, struct vcpu *vcpu);

/* The name of a well-known device the board leaves absent at port [port, port+size), or NULL:
 * an unclaimed access there is logged at debug level instead of warned about. */
const char *arch_absent_port(uint16_t port, unsigned int size);

/* The live exit view (exits.h): asks KVM to write the guest's RIP into the vCPU's kvm_run on
 * every exit (`on`), or to stop; on `vcpu`'s own thread, between KVM_RUN calls. It costs no
 * syscall: x86 sets KVM_SYNC_X86_REGS in kvm_run->kvm_valid_regs. Returns false, changing
 * nothing, where KVM cannot (no KVM_CAP_SYNC_REGS). */
bool arch_exit_rip_sync(struct vcpu *vcpu, bool on);
/* The guest RIP at the last exit; only meaningful while arch_exit_rip_sync() is on. */
uint64_t arch_exit_rip(const struct vcpu *vcpu);

/* Writes the vCPU's registers to the error log, one line each, prefixed "vcpuN:". */
void arch_dump_regs(const struct vcpu *vcpu);

/* Up to `max` bytes of the instruction the vCPU stopped at, for reports: from KVM when it gives
 * them, else read through the guest's page tables. Returns the number written (0: unknown). */
unsigned int arch_insn_bytes(const struct vcpu *vcpu, const struct gmem *mem, uint8_t *out,
			     unsigned int max);

/* After a crash exit: whether the registers KVM reports are its reset state rather than the
 * guest's (x86 on AMD SVM resets the vCPU before reporting a triple fault). */
bool arch_crash_state_lost(const struct vcpu *vcpu);

/* Finishes, in userspace, an instruction KVM's emulator failed on (KVM_INTERNAL_ERROR_EMULATION)
 * when it is one the architecture can complete safely: `insn` holds `len` bytes at the vCPU's
 * instruction pointer. Returns 0 with *what naming it (the vCPU then continues after it), or
 * -ENOTSUP (not one of those: the caller reports the failure). */
int arch_complete_insn(const struct vcpu *vcpu, const struct gmem *mem, const uint8_t *insn,
		       unsigned int len, const char **what);

/* ---- snapshots (docs/snapshot.md) ---------------------------------------------------------
 * Called with every vCPU parked outside KVM_RUN (pending I/O completed) on save, and before any
 * vCPU thread starts on restore. Sections are named by device ("serial", "ioapic") or "vcpuN"; a
 * load refuses a missing section or one of another size with -EINVAL and a one-line reason. */

/* The architecture's name in state files ("x86_64"). */
extern const char arch_snapshot_name[];

/* Whether the VM can be saved: -ENOTSUP with a one-line reason where it cannot yet (x86 saves
 * every configuration it runs). */
int arch_snapshot_check(const struct arch_vm *a, char *err, size_t err_size);

/* The board's sections (interrupt controllers, platform devices, the VM's clock). Returns 0 or
 * -errno with a one-line reason in err. */
int __must_check arch_snapshot_save(struct arch_vm *a, struct snap_writer *w, char *err,
				    size_t err_size);
/* Loads them, after arch_attach_devices() and arch_vm_setup(). */
int __must_check arch_snapshot_load(struct arch_vm *a, const struct snap_reader *r, char *err,
				    size_t err_size);

/* vCPU `vcpu`'s section "vcpuN": registers and the in-kernel state KVM keeps for it. */
int __must_check arch_vcpu_save(struct arch_vm *a, const struct vcpu *vcpu,
				struct snap_writer *w, char *err, size_t err_size);
/* Loads it into a vCPU set up by arch_vcpu_setup() (its CPU model must be the saved one's). */
int __must_check arch_vcpu_load(struct arch_vm *a, struct vcpu *vcpu, const struct snap_reader *r,
				char *err, size_t err_size);

/* ---- debugging: the gdb stub (src/control/gdbstub.c, docs/gdb.md) ------------------------- */

/* gdb's target description (target.xml) for this architecture, and the `g` packet layout:
 * register `regno` (target.xml order) lies at [*off, *off + *len) of arch_gdb_read_regs()'s
 * buffer. arch_gdb_reg_location() returns 0 or -ENOENT. */
extern const char arch_gdb_target_xml[];
int arch_gdb_reg_location(unsigned int regno, size_t *off, size_t *len);

/* Reads the vCPU's registers into buf in the `g` layout; returns the length or -errno (-ENOSPC
 * when size is too small). The vCPU must be outside KVM_RUN. */
int arch_gdb_read_regs(const struct vcpu *vcpu, uint8_t *buf, size_t size);
/* Writes them back from a full `g` buffer of `len` bytes (-EINVAL on another length). Segment
 * selectors are read-only (a change is -EINVAL); the rest is written as given. */
int arch_gdb_write_regs(const struct vcpu *vcpu, const uint8_t *buf, size_t len);

/* Guest-virtual to guest-physical through the vCPU's page tables (KVM_TRANSLATE). Returns 0, or
 * -EFAULT when not mapped. Translations are valid within one ARCH_GDB_PAGE page. */
#define ARCH_GDB_PAGE 4096u
int arch_gdb_translate(const struct vcpu *vcpu, uint64_t gva, uint64_t *gpa);

/* The software breakpoint instruction (x86: int3). */
extern const uint8_t arch_gdb_sw_bp[];
extern const size_t arch_gdb_sw_bp_len;

/* Hardware breakpoints and watchpoints: at most ARCH_GDB_MAX_HW at once. */
#define ARCH_GDB_MAX_HW 4
enum arch_gdb_hw_kind { ARCH_GDB_HW_EXEC, ARCH_GDB_HW_WRITE, ARCH_GDB_HW_ACCESS };
struct arch_gdb_hw {
	uint64_t addr;
	uint64_t len;
	enum arch_gdb_hw_kind kind;
};
/* Whether the hardware can watch [addr, addr+len) as one slot of `kind`. */
bool arch_gdb_hw_ok(enum arch_gdb_hw_kind kind, uint64_t addr, uint64_t len);
/* KVM_SET_GUEST_DEBUG: software breakpoints trap to kiln, the `nr` hardware slots are armed,
 * and the vCPU single-steps when `step`. `enable` false turns guest debugging off. Returns 0 or
 * -errno. */
int arch_gdb_set_debug(const struct vcpu *vcpu, bool enable, bool step,
		       const struct arch_gdb_hw *hw, unsigned int nr);
/* After KVM_EXIT_DEBUG, from a copy of run->debug.arch: the hardware slot that fired (0 ..
 * ARCH_GDB_MAX_HW-1), or -1 for a software breakpoint or a single step. */
int arch_gdb_hw_hit(const struct kvm_debug_exit_arch *d);

#endif
