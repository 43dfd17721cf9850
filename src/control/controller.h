/* controller.h: the VM's owner thread: builds and starts the VM from the CLI, a config file or the
 * API, runs the event loop (signals, console input, API requests, metrics) and returns the exit
 * status. Every change to the VM happens on this thread. */
#ifndef KILN_CONTROL_CONTROLLER_H
#define KILN_CONTROL_CONTROLLER_H

#include <stdbool.h>

#include "config.h"

struct controller_opts {
	const char *api_sock;    /* NULL: no API */
	bool api_sock_force;     /* replace an existing socket file */
	const char *config_file; /* Firecracker-format JSON; NULL: none */
	const char *id;          /* instance id reported by GET / */
	bool start_now;          /* build and start at once (CLI run, config file) */
};

/* Runs kiln: `base` is the CLI's configuration (kernel and all, when start_now without a config
 * file). Returns the process exit status (README.md, "Exit status"); on bad input prints one line
 * and returns 2. */
int controller_run(const struct vmm_config *base, const struct controller_opts *opts);

#endif
