/* seccomp_count.c: system calls each thread role's built-in filter allows, beside Firecracker's
 * (bench/README.md, docs/security.md). Prints a table; no KVM needed. */
#include <stdio.h>

#include "util/sandbox.h"

/* Firecracker's resources/seccomp/x86_64-unknown-linux-musl.json (commit 81b38b9dad60, 2026-08):
 * distinct syscalls per thread, rules with argument filters in brackets. It has no I/O thread:
 * its device emulation runs on the vmm thread. */
static const char *const fc[SANDBOX_NR_ROLES] = {
	"vmm: 50 (39 rules with args)", "api: 31 (14 rules with args)",
	"(none: the vmm thread)", "vcpu: 27 (29 rules with args)", "(no gdb stub)",
};

int main(void)
{
	printf("%-8s %14s   %s\n", "role", "kiln syscalls", "Firecracker (x86_64 musl)");
	for (int r = 0; r < SANDBOX_NR_ROLES; r++)
		printf("%-8s %14u   %s\n", sandbox_role_name((enum sandbox_role)r),
		       sandbox_builtin_count((enum sandbox_role)r), fc[r]);
	printf("(kiln: with --net user or --gdb tcp:, which add socket(AF_INET, AF_INET6) rules; "
	       "every role also gets\n the glibc/thread base list; x86-64 Linux has ~360 syscalls)\n");
	return 0;
}
