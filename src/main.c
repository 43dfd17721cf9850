/* main.c: parse -> build -> run -> exit status, nothing else. */
#include <stdio.h>
#include <stdlib.h>

#include "builder.h"
#include "config.h"
#include "control/cli.h"
#include "control/controller.h"
#include "control/top.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "version.h"
#include "vmm.h"

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	struct controller_opts opts;
	enum cli_action action;
	int verbosity;
	char err[BUILD_ERR_MAX] = "";

	/* Before anything opens: no descriptor kiln's parent leaked (docs/security.md). */
	sandbox_close_inherited_fds();
	config_init(&cfg);
	if (cli_parse(argc, argv, &cfg, &opts, &action, &verbosity, err, sizeof(err))) {
		pr_err("%s", err);
		return KILN_EXIT_USAGE;
	}
	switch (action) {
	case CLI_HELP:
		cli_print_help(stdout);
		return 0;
	case CLI_RUN_HELP:
		cli_print_run_help(stdout);
		return 0;
	case CLI_VERSION:
		printf("kiln %s\n", KILN_VERSION);
		return 0;
	case CLI_TOP:
		return top_main(argc - 1, argv + 1);
	case CLI_RUN:
	case CLI_SERVE:
		break;
	}
	log_set_level(verbosity < 0 ? LOG_ERROR
		      : verbosity == 0 ? LOG_WARN
		      : verbosity == 1 ? LOG_INFO
				       : LOG_DEBUG);
	/* A restore's machine is the snapshot's: the builder checks that one. */
	if (action == CLI_RUN && !opts.restore_path && config_validate(&cfg, err, sizeof(err))) {
		pr_err("%s", err);
		return KILN_EXIT_USAGE;
	}
	return controller_run(&cfg, &opts);
}
