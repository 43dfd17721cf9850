/* sandbox_bpf.h: the built-in seccomp filters as BPF, generated at build time by sandbox-gen
 * (src/util/sandbox_gen.c) into sandbox_bpf.c in the build directory. */
#ifndef KILN_UTIL_SANDBOX_BPF_H
#define KILN_UTIL_SANDBOX_BPF_H

#include <linux/filter.h>

#include "util/sandbox.h"

/* Each role's program comes in two variants: plain, and with AF_INET/AF_INET6 sockets for user-
 * mode networking (slirp, on the I/O role) or a gdb stub on TCP (the owner). */
enum { SANDBOX_BPF_PLAIN, SANDBOX_BPF_INET, SANDBOX_BPF_VARIANTS };

struct sandbox_bpf {
	const struct sock_filter *insns;
	unsigned short len;
};

extern const struct sandbox_bpf sandbox_bpf[SANDBOX_NR_ROLES][SANDBOX_BPF_VARIANTS];

/* Distinct system calls with at least one allow rule in each role's inet variant (bench/). */
extern const unsigned int sandbox_bpf_nr_syscalls[SANDBOX_NR_ROLES];

#endif
