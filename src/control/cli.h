/* cli.h: the command line: `kiln run ...`, `kiln --help`, `kiln --version`, into a vmm_config. */
#ifndef KILN_CONTROL_CLI_H
#define KILN_CONTROL_CLI_H

#include <stdio.h>

#include "config.h"
#include "control/controller.h"

/* Firecracker's default API socket: `kiln [--id ID ...]` with neither --api-sock nor
 * --config-file serves it, as `firecracker` does. */
#define CLI_DEFAULT_API_SOCK "/run/firecracker.socket"
/* The largest --http-api-max-payload-size (bytes): bodies are held in memory. */
#define CLI_MAX_PAYLOAD_LIMIT (64u << 20)

enum cli_action {
	CLI_RUN,      /* kiln run: build and start the VM the command line describes */
	CLI_SERVE,    /* kiln --api-sock / --config-file: the API and/or config file describe it */
	CLI_HELP,     /* kiln --help */
	CLI_RUN_HELP, /* kiln run --help */
	CLI_VERSION,
};

/* Fills `cfg` (which must be config_init()ed) and `opts` from argv, and `verbosity` with what
 * -v/-q asked for, for main to apply: 0 by default, one more per -v, <0 quiet. Returns 0 with the
 * action, or -EINVAL with a one-line message in `err` (`err_size` bytes, truncated to fit) naming
 * the option and value. Does not validate the VM config as a whole: call config_validate().
 * Reentrant (resets getopt). */
int cli_parse(int argc, char **argv, struct vmm_config *cfg, struct controller_opts *opts,
	      enum cli_action *action, int *verbosity, char *err, size_t err_size);

void cli_print_help(FILE *f);
void cli_print_run_help(FILE *f);

#endif
