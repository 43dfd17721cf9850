/* gdbstub.h: `kiln run --gdb`: a GDB remote-protocol server (src/gdb/rsp.c) on a Unix or TCP
 * socket, driving the VM in all-stop mode through vmm_debug_*() and the architecture's
 * registers, breakpoints and page-table walks (arch.h). docs/gdb.md says what gdb can do. */
#ifndef KILN_CONTROL_GDBSTUB_H
#define KILN_CONTROL_GDBSTUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

struct vmm;
struct gdbstub;

/* Where to listen, from "unix:PATH", "tcp:PORT" (127.0.0.1), "tcp:HOST:PORT" (HOST numeric
 * IPv4, or "[v6]"). */
struct gdb_addr {
	bool tcp;
	char path[108];
	char host[64];
	uint16_t port;
};

/* Parses a --gdb value. Returns 0 or -EINVAL with a one-line message naming the value in err. */
int __must_check gdbstub_parse(const char *spec, struct gdb_addr *out, char *err,
			       size_t err_size);

/* After builder_build(), before vmm_start(): listens on `spec` (a Unix socket file must not
 * exist yet), tells on stderr where (and whether beyond this host), and starts the stub's
 * thread. `wait`: the vCPUs wait for the debugger. Returns 0 or -errno with a message in err. */
int __must_check gdbstub_start(struct gdbstub **out, struct vmm *vmm, const char *spec,
			       bool wait, char *err, size_t err_size);

/* After vmm_finish(), before vmm_destroy(): tells a connected debugger the VM exited with
 * `status` ("W" packet), joins the thread, closes the sockets (removing a Unix socket file).
 * Safe on NULL. */
void gdbstub_stop(struct gdbstub *s, int status);

#endif
