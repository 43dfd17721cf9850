/* snapshot.h: full snapshots (docs/snapshot.md): a paused VM saved to a state file and a memory
 * file, and what a restore (builder_restore()) needs to know from the state file first. */
#ifndef KILN_SNAPSHOT_H
#define KILN_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "kvm/memory.h"
#include "util/checked.h"
#include "util/snapfile.h"
#include "vmm.h"

#define SNAPSHOT_ERR_MAX 384

/* Opens and checks the state file at `path` for this architecture (snap_reader_open()). */
int __must_check snapshot_open(struct snap_reader **out, const char *path, char *err,
			       size_t err_size);

/* The machine configuration the file holds: the text of a Firecracker configuration document
 * (section "config", not NUL-terminated), or NULL when it has none. */
const char *snapshot_config(const struct snap_reader *r, size_t *len);

/* Puts what the section "vm" records beyond the document into `cfg` (irqchip, debug-exit
 * device, virtio discovery), then checks that cfg describes the saved machine: its vCPU count,
 * memory size and device count. Returns 0 or -EINVAL with a one-line reason. */
int __must_check snapshot_apply_machine(const struct snap_reader *r, struct vmm_config *cfg,
					char *err, size_t err_size);

/* Saves the paused VM: the state file at snapshot_path (the document `config`, `config_len`
 * bytes, then the machine, board, vCPUs) and guest RAM at mem_path: Full (`diff` false), all of
 * it, sparse (pages of zeros are holes); Diff, only the pages the guest wrote since the last
 * snapshot (KVM's dirty log: cfg.track_dirty_pages, else -EINVAL), over the file's contents. Returns 0; -EBUSY (not paused) or -ENOTSUP (something kiln cannot save yet, named in
 * err) before writing anything; or -errno with a one-line reason. */
int __must_check vmm_snapshot_create(struct vmm *vmm, bool diff, const char *config,
				     size_t config_len,
				     const char *snapshot_path, const char *mem_path, char *err,
				     size_t err_size);

/* Guest RAM into the memory file at `path`, region after region (the layout of a memfd behind
 * it: gmem_create()). Full (`dirty` NULL): the file is truncated to the RAM's size, and runs of
 * zero pages, and of a memfd's pages the guest never touched (read neither by kiln nor by the
 * kernel), stay holes. Diff (`dirty`: one bitmap per region, a bit per page): only those pages,
 * over what the file holds. Returns 0 or -errno with a one-line reason naming the file. */
int __must_check snapshot_save_memory(const struct gmem *mem, const char *path,
				      uint64_t *const *dirty, char *err, size_t err_size);

struct vmm;
/* For builder_restore(), after the board's state: loads each virtio device from the section
 * named after it (checked whole before it changes the device), then lets each look at its
 * queues and re-send an interrupt the driver has not acknowledged (virtio_mmio_restored()).
 * Returns 0 or -EINVAL (-ENOMEM) with one line in err. */
int __must_check vmm_restore_devices(struct vmm *vmm, const struct snap_reader *r, char *err,
				     size_t err_size);

#endif
