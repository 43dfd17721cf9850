/* sandbox_gen.c: build-time generator of the built-in seccomp filters (docs/security.md).
 *
 * usage: sandbox-gen OUTPUT.c [--sanitizer]
 *
 * Builds each thread role's allowlist with libseccomp and writes the BPF programs to OUTPUT.c
 * as `struct sock_filter` arrays (util/sandbox_bpf.h), so kiln installs them with seccomp(2) at
 * start-up and does no libseccomp work there (its generator costs milliseconds a filter).
 * --sanitizer: the builds with ASan/UBSan/TSan, whose runtimes make calls kiln does not.
 * Run by meson (a custom_target); any failure is one line on stderr and exit status 1. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/sockios.h>
#include <linux/userfaultfd.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "util/sandbox.h"
#include "util/sandbox_bpf.h"

/* ---- the built-in allowlists: one table per role -------------------------------------------
 *
 * Plain names are allowed with any arguments. ioctl, mmap/mprotect, socket, fcntl and prctl are
 * never in these tables: they are allowed only with the arguments of the tables further down.
 * To extend a role (a new device, a debug feature), add the name to the role's table, and to the
 * owner's if the owner does not have it yet: a thread can never do more than the owner allows
 * (filters stack; docs/security.md). */

/* Every role: what glibc's threads, malloc and the logger need, I/O on fds a thread has, and a
 * fatal signal's handler (console.c restores the terminal and re-raises the signal). */
static const char *const base_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
	"pwritev2", "close", "lseek", "fstat", "newfstatat", "statx",
	"futex", "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "restart_syscall",
	"brk", "munmap", "mremap", "madvise",
	"exit", "exit_group", "gettid", "getpid", "tgkill",
	"clock_gettime", "clock_nanosleep", "nanosleep", "sched_yield", "getrandom",
	/* glibc malloc sizes its arena limit with it, in whichever thread needs the ninth arena */
	"sched_getaffinity",
	"poll", "ppoll", "epoll_wait", "epoll_pwait",
};

/* The owner: set-up and the event loop, and it builds the VM (again on --on-reboot=restart, and
 * at InstanceStart after the API is up), opens the log and metrics files (PUT /logger, FIFOs
 * too), swaps disks (PATCH /drives), starts the gdb stub and creates every other thread. */
static const char *const owner_calls[] = {
	"openat", "open", "unlink", "unlinkat", "readlink", "readlinkat", "access", "faccessat",
	"faccessat2", "getdents64", "getcwd", "uname", "sysinfo", "fstatfs", "statfs",
	"ftruncate", "fallocate", "fsync", "fdatasync", "flock", "dup", "dup3", "pipe2",
	"chmod", "fchmod", "fchmodat",
	"eventfd2", "epoll_create1", "epoll_ctl", "signalfd4", "timerfd_create", "timerfd_settime",
	"timerfd_gettime", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"bind", "listen", "connect", "accept4", "accept", "getsockname", "getpeername", "getsockopt",
	"setsockopt", "shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg", "socketpair",
	"rt_sigtimedwait", "sigaltstack", "kill",
	/* creating threads, and the calls a new thread makes before it narrows its filter */
	"clone", "clone3", "set_robust_list", "rseq", "sched_getaffinity", "seccomp",
	"getuid", "geteuid", "getgid", "getegid", "prlimit64", "getrlimit", "umask",
	/* a snapshot/load with the Uffd memory backend (gmem_create_uffd()) */
	"userfaultfd",
	/* guest RAM's memfd (gmem_create()), which a snapshot copies to its memory file */
	"memfd_create", "sendfile",
	/* watching the Uffd backend's page-fault handler for its exit (builder.c) */
	"pidfd_open",
};

/* The API thread: kiln's HTTP server (control/api.c) on the listening socket it was given; it
 * hands requests to the owner through an eventfd and a queue. */
static const char *const api_calls[] = {
	"accept4", "accept", "getsockname", "getpeername", "getsockopt", "shutdown", "sendto",
	"recvfrom", "sendmsg", "recvmsg",
};

/* The I/O thread and slirp's: virtio backends on their fds, io_uring, vsock's Unix sockets,
 * rate limiters' timerfds (created by the owner with the device). */
static const char *const io_calls[] = {
	"epoll_ctl", "io_uring_enter", "fallocate", "fsync", "fdatasync", "timerfd_settime",
	"timerfd_gettime", "connect", "accept4", "accept", "bind", "listen", "getsockname",
	"getpeername", "getsockopt", "setsockopt", "shutdown", "sendto", "recvfrom", "sendmsg",
	"recvmsg",
};

/* A vCPU: KVM_RUN, device emulation (serial output, eventfd kicks, a disk request handled in
 * place, a rate limiter's timer), and its exit on stop. */
static const char *const vcpu_calls[] = {
	"epoll_ctl", "io_uring_enter", "fallocate", "fsync", "fdatasync", "timerfd_settime",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
};

/* The gdb stub's thread (--gdb): one debugger connection on the socket the owner listens on;
 * it reads and writes the stopped vCPUs' registers through their fds. */
static const char *const gdb_calls[] = {
	"accept4", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
};

/* Extra calls of the sanitizer runtimes (ASan, UBSan, TSan: their allocators, reports and
 * TSan's background thread; LeakSanitizer's check at exit, whose tracer process (a clone of
 * the exiting thread, under its filters) ptrace-attaches to every thread and reads
 * /proc/PID/task), only in builds that have them (--sanitizer). */
static const char *const sanitizer_calls[] = {
	"sigaltstack", "rt_sigaction", "openat", "readlink", "getrlimit", "prlimit64",
	"sched_getaffinity", "uname", "getrusage", "personality", "getppid", "setrlimit",
	"mlock", "munlock", "pipe2", "getdents64", "fstatfs", "sched_getparam", "clone", "clone3",
	"set_robust_list", "rseq", "ptrace", "wait4", "waitid", "kill", "getdents", "gettimeofday",
};

/* ioctl request numbers per role (compared on the low 32 bits, the kernel's `unsigned int`). */

/* A stopped or running vCPU's state: the vCPU itself, the gdb stub (registers, breakpoints,
 * guest-virtual addresses) and the register dump of a crashed guest. */
static const unsigned long vcpu_state_ioctls[] = {
#if defined(__x86_64__)
	KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_FPU, KVM_SET_FPU,
	KVM_GET_LAPIC, KVM_SET_LAPIC, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_XSAVE,
	KVM_SET_XSAVE, KVM_GET_XCRS, KVM_GET_MSRS, KVM_SET_MSRS, KVM_TRANSLATE, KVM_GET_MP_STATE,
	KVM_SET_MP_STATE, KVM_GET_CPUID2, KVM_SET_GUEST_DEBUG,
	/* what a snapshot saves and a restore loads besides the above (src/arch/x86/snapshot.c) */
	KVM_SET_XCRS, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS,
#elif defined(__aarch64__)
	/* registers one at a time (src/arch/arm64/cpu.c: entry state, the crash dump) */
	KVM_GET_ONE_REG, KVM_SET_ONE_REG, KVM_GET_REG_LIST, KVM_GET_MP_STATE, KVM_SET_MP_STATE,
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,
#else
#error "sandbox-gen: no ioctl tables for this architecture"
#endif
};

static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,
	/* VM-fd calls of device emulation on a vCPU (interrupt lines, routes, kicks) */
	KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD,
	KVM_SIGNAL_MSI,
	/* virtio-net's feature negotiation (a register write) sets the TAP's offloads */
	TUNSETOFFLOAD,
	/* the fatal-signal handler restores the terminal */
	TCSETS, TCSETSW,
};

static const unsigned long owner_ioctls[] = {
	KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE,
	KVM_CREATE_VCPU, KVM_ENABLE_CAP, KVM_SET_USER_MEMORY_REGION,
	KVM_GET_DIRTY_LOG, /* a Diff snapshot (track_dirty_pages) */
	UFFDIO_API, UFFDIO_REGISTER, /* a snapshot/load with the Uffd memory backend */
#if defined(__x86_64__)
	KVM_GET_SUPPORTED_CPUID, KVM_GET_MSR_INDEX_LIST, KVM_GET_MSR_FEATURE_INDEX_LIST,
	KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2,
	KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_TSS_ADDR, KVM_SET_CPUID2,
	KVM_GET_CLOCK, KVM_SET_CLOCK, KVM_SET_TSC_KHZ, KVM_GET_TSC_KHZ,
	KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_GET_PIT2, KVM_SET_PIT2, /* snapshots, irqchip kernel */
#elif defined(__aarch64__)
	/* vCPU set-up and the in-kernel GIC (src/arch/arm64/vm.c, cpu.c) */
	KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT, KVM_CREATE_DEVICE, KVM_SET_DEVICE_ATTR,
	KVM_GET_DEVICE_ATTR, KVM_HAS_DEVICE_ATTR, KVM_ARM_SET_DEVICE_ADDR,
#endif
	BLKGETSIZE64, BLKSSZGET, TUNGETFEATURES, TUNSETIFF, TUNSETVNETHDRSZ,
	TUNGETIFF, SIOCGIFINDEX, TCGETS, TIOCGWINSZ, TCSETSF, FIONBIO, FIONREAD, FIOCLEX,
};

static const unsigned long sock_ioctls[] = { FIONBIO, FIONREAD, TCSETS, TCSETSW };
static const unsigned long io_ioctls[] = { FIONBIO, FIONREAD, TUNSETOFFLOAD, TCSETS, TCSETSW };

static const int fcntl_cmds[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_DUPFD_CLOEXEC };
static const int owner_prctls[] = { PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_SET_NAME,
				    PR_GET_NAME, PR_GET_SECCOMP };

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- building a role's filter ------------------------------------------------------------ */

static bool sanitizer;
static unsigned char marks[1024]; /* syscalls given a rule in the role being built */

static int rule(scmp_filter_ctx ctx, int nr, unsigned int nargs, const struct scmp_arg_cmp *args)
{
	if (nr >= 0 && nr < (int)sizeof(marks))
		marks[nr] = 1;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, nargs, args);
}

static int allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int e;

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture (open on arm64, say) */
		if ((e = rule(ctx, nr, 0, NULL)))
			return e;
	}
	return 0;
}

static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int e = rule(ctx, SCMP_SYS(ioctl), 1,
			     &SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, reqs[i] & 0xffffffffu));
		if (e && e != -EEXIST)
			return e;
	}
	return 0;
}

static int allow_common_args(scmp_filter_ctx ctx)
{
	int e = 0;

	if (sanitizer) {
		/* ASan maps its shadow and TSan its meta memory with every protection. */
		e = rule(ctx, SCMP_SYS(mmap), 0, NULL);
		e = e ? e : rule(ctx, SCMP_SYS(mprotect), 0, NULL);
		e = e ? e : rule(ctx, SCMP_SYS(prctl), 0, NULL);
		e = e ? e : allow_names(ctx, sanitizer_calls, N(sanitizer_calls));
	} else {
		/* No new executable memory: kiln maps data only (guest RAM, rings, stacks). */
		e = rule(ctx, SCMP_SYS(mmap), 1, &SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
		e = e ? e : rule(ctx, SCMP_SYS(mprotect), 1,
				 &SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	}
	for (size_t i = 0; !e && i < N(fcntl_cmds); i++)
		e = rule(ctx, SCMP_SYS(fcntl), 1,
			 &SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i], 0));
	return e;
}

static int allow_socket(scmp_filter_ctx ctx, int family)
{
	return rule(ctx, SCMP_SYS(socket), 1, &SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family, 0));
}

/* `inet`: the variant for a VM with user-mode networking (slirp opens host AF_INET/AF_INET6
 * sockets for the guest's connections) or a gdb stub on TCP (the owner listens on one). */
static int build(enum sandbox_role role, scmp_filter_ctx ctx, bool inet)
{
	int e = allow_names(ctx, base_calls, N(base_calls));

	e = e ? e : allow_common_args(ctx);
	switch (role) {
	case SANDBOX_OWNER:
		e = e ? e : allow_names(ctx, owner_calls, N(owner_calls));
		e = e ? e : allow_ioctls(ctx, owner_ioctls, N(owner_ioctls));
		e = e ? e : allow_ioctls(ctx, vcpu_ioctls, N(vcpu_ioctls));
		e = e ? e : allow_ioctls(ctx, vcpu_state_ioctls, N(vcpu_state_ioctls));
		e = e ? e : allow_socket(ctx, AF_UNIX);
		if (inet) {
			e = e ? e : allow_socket(ctx, AF_INET);
			e = e ? e : allow_socket(ctx, AF_INET6);
		}
		for (size_t i = 0; !e && i < N(owner_prctls); i++)
			e = rule(ctx, SCMP_SYS(prctl), 1,
				 &SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)owner_prctls[i], 0));
		break;
	case SANDBOX_API:
		e = e ? e : allow_names(ctx, api_calls, N(api_calls));
		e = e ? e : allow_ioctls(ctx, sock_ioctls, N(sock_ioctls));
		break;
	case SANDBOX_IO:
		e = e ? e : allow_names(ctx, io_calls, N(io_calls));
		e = e ? e : allow_ioctls(ctx, io_ioctls, N(io_ioctls));
		/* vsock connects a guest's connection to "<uds_path>_<port>"; slirp opens host
		 * sockets for the guest's. */
		e = e ? e : allow_socket(ctx, AF_UNIX);
		if (inet) {
			e = e ? e : allow_socket(ctx, AF_INET);
			e = e ? e : allow_socket(ctx, AF_INET6);
			/* libslirp re-reads /etc/resolv.conf (at most once a second) for the guest's
			 * DNS: read-only opens only, nothing created or written. */
			e = e ? e : rule(ctx, SCMP_SYS(openat), 1,
					 &SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC |
							 O_TMPFILE, O_RDONLY));
		}
		break;
	case SANDBOX_VCPU:
		e = e ? e : allow_names(ctx, vcpu_calls, N(vcpu_calls));
		e = e ? e : allow_ioctls(ctx, vcpu_ioctls, N(vcpu_ioctls));
		e = e ? e : allow_ioctls(ctx, vcpu_state_ioctls, N(vcpu_state_ioctls));
		break;
	case SANDBOX_GDB:
		e = e ? e : allow_names(ctx, gdb_calls, N(gdb_calls));
		e = e ? e : allow_ioctls(ctx, sock_ioctls, N(sock_ioctls));
		e = e ? e : allow_ioctls(ctx, vcpu_state_ioctls, N(vcpu_state_ioctls));
		break;
	default:
		e = -EINVAL;
	}
	return e;
}

/* Compiles `ctx` and writes it as a C array named `name`; returns its instruction count, or -1
 * with a line on stderr. */
static long emit(FILE *out, scmp_filter_ctx ctx, const char *name)
{
	int fd, e;
	long n;

	/* a balanced tree of syscall numbers rather than a list: fewer instructions a call */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	(void)seccomp_syscall_priority(ctx, SCMP_SYS(ioctl), 255); /* KVM_RUN, every exit */
	/* seccomp_export_bpf() writes to a file descriptor: a memory file, read back */
	fd = memfd_create("sandbox-gen", MFD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "sandbox-gen: memfd_create: %s\n", strerror(errno));
		return -1;
	}
	e = seccomp_export_bpf(ctx, fd);
	if (e) {
		fprintf(stderr, "sandbox-gen: %s: libseccomp cannot export it: %s\n", name,
			strerror(-e));
		close(fd);
		return -1;
	}
	off_t len = lseek(fd, 0, SEEK_END);

	if (len <= 0 || len % (off_t)sizeof(struct sock_filter) ||
	    len > BPF_MAXINSNS * (off_t)sizeof(struct sock_filter)) {
		fprintf(stderr, "sandbox-gen: %s: %lld bytes of BPF\n", name, (long long)len);
		close(fd);
		return -1;
	}
	struct sock_filter *prog = malloc((size_t)len);

	if (!prog || pread(fd, prog, (size_t)len, 0) != len) {
		fprintf(stderr, "sandbox-gen: %s: cannot read the BPF back\n", name);
		free(prog);
		close(fd);
		return -1;
	}
	close(fd);
	n = (long)(len / (off_t)sizeof(struct sock_filter));
	fprintf(out, "static const struct sock_filter %s[%ld] = {\n", name, n);
	for (long i = 0; i < n; i++)
		fprintf(out, "\t{ 0x%04x, %3u, %3u, 0x%08x },\n", prog[i].code, prog[i].jt, prog[i].jf,
			prog[i].k);
	fprintf(out, "};\n\n");
	free(prog);
	return n;
}

int main(int argc, char **argv)
{
	static const char *const names[SANDBOX_NR_ROLES] = { "owner", "api", "io", "vcpu", "gdb" };
	long len[SANDBOX_NR_ROLES][SANDBOX_BPF_VARIANTS];
	unsigned int count[SANDBOX_NR_ROLES];
	FILE *out;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--sanitizer"))) {
		fprintf(stderr, "usage: sandbox-gen OUTPUT.c [--sanitizer]\n");
		return 1;
	}
	sanitizer = argc == 3;
	/* libseccomp checks the running kernel for SECCOMP_RET_KILL_PROCESS (API level 3). Under
	 * qemu-user, which runs this generator in a cross build (scripts/cross/), there is no
	 * seccomp(2) and the level reads 1. The generator loads no filter; the kernel that runs kiln
	 * is checked by kiln's own start-up (sandbox.c). */
	if (seccomp_api_get() < 3 && seccomp_api_set(3)) {
		fprintf(stderr, "sandbox-gen: libseccomp cannot take API level 3\n");
		return 1;
	}
	out = fopen(argv[1], "w");
	if (!out) {
		fprintf(stderr, "sandbox-gen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fprintf(out, "/* Generated by sandbox-gen (src/util/sandbox_gen.c)%s: do not edit. */\n"
		     "#include \"util/sandbox_bpf.h\"\n\n",
		sanitizer ? " for a sanitizer build" : "");
	for (int r = 0; r < SANDBOX_NR_ROLES; r++) {
		for (int v = 0; v < SANDBOX_BPF_VARIANTS; v++) {
			scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
			char name[32];
			int e;

			if (!ctx) {
				fprintf(stderr, "sandbox-gen: libseccomp cannot create a filter\n");
				return 1;
			}
			memset(marks, 0, sizeof(marks));
			e = build((enum sandbox_role)r, ctx, v == SANDBOX_BPF_INET);
			if (e) {
				fprintf(stderr, "sandbox-gen: the %s filter: %s\n", names[r], strerror(-e));
				return 1;
			}
			snprintf(name, sizeof(name), "%s_%s", names[r], v ? "inet" : "plain");
			len[r][v] = emit(out, ctx, name);
			seccomp_release(ctx);
			if (len[r][v] < 0)
				return 1;
			if (v == SANDBOX_BPF_INET) {
				count[r] = 0;
				for (size_t i = 0; i < sizeof(marks); i++)
					count[r] += marks[i];
			}
		}
	}
	fprintf(out, "const struct sandbox_bpf sandbox_bpf[SANDBOX_NR_ROLES][SANDBOX_BPF_VARIANTS] = {\n");
	for (int r = 0; r < SANDBOX_NR_ROLES; r++)
		fprintf(out, "\t{ { %s_plain, %ld }, { %s_inet, %ld } },\n", names[r], len[r][0],
			names[r], len[r][1]);
	fprintf(out, "};\n\nconst unsigned int sandbox_bpf_nr_syscalls[SANDBOX_NR_ROLES] = {");
	for (int r = 0; r < SANDBOX_NR_ROLES; r++)
		fprintf(out, " %u,", count[r]);
	fprintf(out, " };\n");
	if (fclose(out)) {
		fprintf(stderr, "sandbox-gen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
