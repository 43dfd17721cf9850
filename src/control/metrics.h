/* metrics.h: one JSON object per line with the VM's counters, as Firecracker's metrics file. */
#ifndef KILN_CONTROL_METRICS_H
#define KILN_CONTROL_METRICS_H

#include "control/api.h"
#include "vmm.h"

/* Appends one line to `fd`: timestamp, API request counts (api may be NULL), per-vCPU and total
 * exit counts by reason, serial traffic, unclaimed accesses. `vmm` may be NULL before boot.
 * Returns 0 or -errno. */
int metrics_write(int fd, struct vmm *vmm, const struct api_server *api);

#endif
