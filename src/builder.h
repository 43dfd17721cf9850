/* builder.h: config -> VM: guest memory, image, KVM VM, devices and vCPUs; starts no thread. */
#ifndef KILN_BUILDER_H
#define KILN_BUILDER_H

#include <stddef.h>

#include "config.h"
#include "devices/virtio/kind.h"
#include "util/snapfile.h"
#include "vmm.h"

#define BUILD_ERR_MAX 384

/* Builds a VM from a validated config. Returns 0 with *out ready for vmm_start(), or the exit
 * status to end with (KILN_EXIT_USAGE for bad input: config, files, images; KILN_EXIT_HOST_ERROR
 * when KVM or the host fails) with one line in `err` (err_size bytes, BUILD_ERR_MAX is enough).
 * Nothing is left allocated on failure. */
int builder_build(const struct vmm_config *cfg, struct vmm **out, char *err, size_t err_size);

/* Where a restored VM's RAM comes from (PUT /snapshot/load's mem_backend). */
enum restore_backend {
	RESTORE_FILE, /* the memory file at mem_path, mapped MAP_PRIVATE */
	RESTORE_UFFD, /* anonymous, its faults served by the handler listening at mem_path */
};

/* Builds the VM a snapshot saved: `cfg` is its configuration (snapshot_apply_machine() applied),
 * `r` the checked state file, guest RAM per `backend`: the memory file at mem_path (MAP_PRIVATE;
 * it must hold exactly cfg->mem_size bytes), or the Uffd handshake with the page-fault handler
 * listening at mem_path (docs/snapshot.md; a socket missing or not accepting is
 * KILN_EXIT_USAGE). No image is loaded: vCPUs and board devices get the saved state.
 * Returns 0 with *out ready for vmm_start(), or an exit status with one line in err (the memory
 * file's size and each refused section are KILN_EXIT_USAGE). Nothing is left allocated on failure. */
int builder_restore(const struct vmm_config *cfg, const struct snap_reader *r,
		    const char *mem_path, enum restore_backend backend, struct vmm **out, char *err,
		    size_t err_size);

/* The builder's table of virtio device kinds, in slot order; *nr gets its length. */
const struct virtio_kind *const *builder_virtio_kinds(unsigned int *nr);

#endif
