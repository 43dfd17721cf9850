/* controller.h: the VM's owner thread: builds and starts the VM from the CLI, a config file or the
 * API, runs the event loop (signals, console input, API requests, metrics) and returns the exit
 * status. Every change to the VM happens on this thread. */
#ifndef KILN_CONTROL_CONTROLLER_H
#define KILN_CONTROL_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct controller_opts {
	const char *api_sock;    /* NULL: no API */
	bool api_sock_force;     /* replace an existing socket file */
	const char *config_file; /* Firecracker-format JSON; NULL: none */
	const char *restore_path; /* kiln run --restore: a snapshot's state file to restore */
	const char *restore_mem;  /* --mem-file: its memory file (--mem-uffd: the handler's socket) */
	bool restore_uffd;        /* --mem-uffd: restore_mem is a page-fault handler's socket */
	const char *id;          /* instance id reported by GET / */
	bool start_now;          /* build and start at once (CLI run, config file) */
	/* Firecracker's command line (README.md, "Firecracker's command line"). */
	bool no_api;             /* --no-api: the config file alone describes the VM */
	bool no_seccomp;         /* --no-seccomp */
	const char *seccomp_filter; /* --seccomp-filter FILE; NULL: the built-in filters */
	bool seccomp_allow_inet; /* --seccomp-allow-inet: the filters' AF_INET variant always */
	const char *log_path;    /* --log-path: the logger's file or FIFO; NULL: stderr */
	const char *level;       /* --level: Off, Error, Warning, Info, Debug, Trace; NULL: unset */
	bool show_level;         /* --show-level */
	bool show_origin;        /* --show-log-origin */
	const char *module;      /* --module: only messages from source paths containing it */
	const char *metrics_path; /* --metrics-path: the metrics file or FIFO */
	bool boot_timer;         /* --boot-timer */
	size_t max_payload;      /* --http-api-max-payload-size: largest request body, bytes */
	/* --start-time-us, --start-time-cpu-us, --parent-cpu-time-us (the jailer's): when it
	 * started kiln, for the start-up time kiln logs when the API is up. */
	bool has_start_time, has_start_time_cpu, has_parent_cpu_time;
	uint64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
};

/* Runs kiln: `base` is the CLI's configuration (kernel and all, when start_now without a config
 * file). Returns the process exit status (README.md, "Exit status"); on bad input prints one line
 * and returns 2. */
int controller_run(const struct vmm_config *base, const struct controller_opts *opts);

#endif
