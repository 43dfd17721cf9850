/* top.h: `kiln top`: the live VM-exit view of a running kiln, read through its API socket. */
#ifndef KILN_CONTROL_TOP_H
#define KILN_CONTROL_TOP_H

#include <stdio.h>

/* Runs `kiln top` with argv[0] == "top". Returns the exit status: 0, 2 on a bad command line or
 * symbol file (one line on stderr naming it), 6 when the API cannot be reached or answers
 * wrongly. */
int top_main(int argc, char **argv);

void top_print_help(FILE *f);

#endif
