/* main.c: parse -> build -> run -> exit status, nothing else. */
#include <stdio.h>
#include <stdlib.h>

#include "builder.h"
#include "config.h"
#include "control/cli.h"
#include "util/log.h"
#include "version.h"
#include "vmm.h"

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	enum cli_action action;
	char err[BUILD_ERR_MAX] = "";
	struct vmm *vmm = NULL;
	int status;

	config_init(&cfg);
	if (cli_parse(argc, argv, &cfg, &action, err)) {
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
	case CLI_RUN:
		break;
	}
	log_set_level(cli_verbosity < 0 ? LOG_ERROR
		      : cli_verbosity == 0 ? LOG_WARN
		      : cli_verbosity == 1 ? LOG_INFO
					   : LOG_DEBUG);
	status = builder_build(&cfg, &vmm, err);
	if (status) {
		pr_err("%s", err);
		return status;
	}
	status = vmm_run(vmm);
	vmm_destroy(vmm);
	return status;
}
