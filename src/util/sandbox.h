/* sandbox.h: per-thread-role seccomp filters, inherited fds closed (docs/security.md). */
#ifndef KILN_UTIL_SANDBOX_H
#define KILN_UTIL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "util/checked.h"

/* The thread roles, each with its own allowlist. Filters stack: a thread keeps the filter of
 * the thread that created it and can only narrow it, so the owner's filter allows everything
 * the threads it creates need (docs/security.md, "Why the owner's list is the widest"). */
enum sandbox_role {
	SANDBOX_OWNER, /* main thread: set-up, the event loop, builds and rebuilds the VM */
	SANDBOX_API,   /* the HTTP server thread (control/api.c) */
	SANDBOX_IO,    /* the I/O thread (virtio backends, io_uring, vsock) and slirp's */
	SANDBOX_VCPU,  /* one per vCPU: KVM_RUN and device emulation */
	SANDBOX_GDB,   /* the gdb stub's thread (--gdb): a debugger's connection, vCPU registers */
	SANDBOX_NR_ROLES
};

struct sandbox_opts {
	bool disabled;           /* --no-seccomp */
	const char *filter_file; /* --seccomp-filter FILE; NULL: the built-in filters */
	bool inet;               /* AF_INET/AF_INET6 sockets: slirp's (--net user), a gdb stub's
				  * on TCP (--gdb tcp:) */
};

/* Closes every file descriptor above stderr. Call first thing in main(). */
void sandbox_close_inherited_fds(void);

/* Chooses the filters of every role: the built-in ones, generated at build time, or those of
 * `opts->filter_file`, compiled with libseccomp. Call once, before sandbox_enter(). Returns 0,
 * or -EINVAL for a bad filter file with one line in `err` naming the file, role and entry, or
 * another -errno with `err` set. */
int __must_check sandbox_prepare(const struct sandbox_opts *opts, char *err, size_t err_size);

/* Sets NO_NEW_PRIVS and installs `role`'s filter on the calling thread (SANDBOX_OWNER: on every
 * thread that exists, with TSYNC). No-op when disabled or not prepared. Returns 0 or -errno. */
int __must_check sandbox_enter(enum sandbox_role role);

/* Whether a thread may open AF_INET/AF_INET6 sockets under the filters sandbox_prepare() chose:
 * true before it, with --no-seccomp, with the `inet` variant or a filter file. */
bool sandbox_allows_inet(void);

/* Whether filters are installed (false with --no-seccomp). */
bool sandbox_active(void);

/* The role's name as in the filter file: "owner", "api", "io", "vcpu", "gdb". */
const char *sandbox_role_name(enum sandbox_role role);

/* Number of syscalls with at least one allow rule in `role`'s built-in filter, with AF_INET
 * sockets (bench/). */
unsigned int sandbox_builtin_count(enum sandbox_role role);

#endif
