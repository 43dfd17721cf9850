/* gdbstub.c: the gdb stub's thread: accepts one debugger at a time, feeds its bytes to the
 * protocol (gdb/rsp.c) and implements the protocol's target on the VM: all-stop through
 * vmm_debug_*(), registers and hardware breakpoints through arch.h, guest-virtual memory through
 * the vCPU's page tables and the gmem_ptr() choke point, software breakpoints by patching the
 * architecture's breakpoint instruction into guest RAM. */
#include "control/gdbstub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "gdb/rsp.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vmm.h"

#define MAX_SW_BP 64

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct sw_bp {
	uint64_t addr, gpa;
	uint8_t saved[8];
};

struct hw_slot {
	struct arch_gdb_hw hw;
	enum gdb_bp_type type; /* as gdb asked, for the stop reply */
};

struct gdbstub {
	struct vmm *vmm;
	struct gdb_addr addr;
	int listen_fd, conn_fd, quit_fd;
	pthread_t thread;
	bool thread_started;
	int exit_status;
	struct gdb_rsp *rsp;
	unsigned int nr_vcpus;

	struct sw_bp bps[MAX_SW_BP];
	unsigned int nr_bps;
	struct hw_slot hw[ARCH_GDB_MAX_HW];
	unsigned int nr_hw;
	bool run[GDB_MAX_THREADS];
	bool step[GDB_MAX_THREADS];
};

/* ---- addresses ------------------------------------------------------------------------------ */

int gdbstub_parse(const char *spec, struct gdb_addr *out, char *err, size_t err_size)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(spec, "unix:", 5) == 0) {
		size_t n = strlen(spec + 5);

		if (n == 0 || n >= sizeof(out->path)) {
			snprintf(err, err_size, "--gdb: '%s': the socket path must be 1 to %zu bytes",
				 spec, sizeof(out->path) - 1);
			return -EINVAL;
		}
		memcpy(out->path, spec + 5, n + 1);
		return 0;
	}
	if (strncmp(spec, "tcp:", 4) == 0) {
		const char *hp = spec + 4, *colon = strrchr(hp, ':'), *port = colon ? colon + 1 : hp;
		struct in6_addr a6;
		struct in_addr a4;
		char *end;
		unsigned long p;
		size_t hl = colon ? (size_t)(colon - hp) : 0;

		errno = 0;
		p = strtoul(port, &end, 10);
		if (!*port || *end || errno || p == 0 || p > 65535) {
			snprintf(err, err_size, "--gdb: '%s': the port must be 1 to 65535", spec);
			return -EINVAL;
		}
		out->tcp = true;
		out->port = (uint16_t)p;
		if (!colon) {
			strcpy(out->host, "127.0.0.1"); /* loopback unless told otherwise */
			return 0;
		}
		if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
			hp++;
			hl -= 2;
		}
		if (hl == 0 || hl >= sizeof(out->host)) {
			snprintf(err, err_size, "--gdb: '%s': no host address", spec);
			return -EINVAL;
		}
		memcpy(out->host, hp, hl);
		out->host[hl] = '\0';
		if (inet_pton(AF_INET, out->host, &a4) != 1 && inet_pton(AF_INET6, out->host, &a6) != 1) {
			snprintf(err, err_size,
				 "--gdb: '%s': '%s' is not a numeric IPv4 or IPv6 address", spec,
				 out->host);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, err_size, "--gdb: '%s' is not unix:PATH, tcp:PORT or tcp:HOST:PORT", spec);
	return -EINVAL;
}

static int listen_on(struct gdbstub *s, char *err, size_t err_size)
{
	const struct gdb_addr *a = &s->addr;
	int fd, one = 1;

	if (!a->tcp) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		memcpy(un.sun_path, a->path, strlen(a->path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 ||
		    chmod(a->path, 0600) < 0 || listen(fd, 1) < 0) {
			int e = -errno;

			snprintf(err, err_size, "--gdb: cannot listen on %s: %s", a->path,
				 strerror(-e));
			if (fd >= 0)
				close(fd);
			return e;
		}
		s->listen_fd = fd;
		fprintf(stderr, "kiln: gdb: waiting for a debugger on unix:%s\n", a->path);
		return 0;
	}
	{
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(a->port) };
		struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = htons(a->port) };
		bool v4 = inet_pton(AF_INET, a->host, &in4.sin_addr) == 1;
		bool loop;

		if (!v4 && inet_pton(AF_INET6, a->host, &in6.sin6_addr) != 1)
			return -EINVAL; /* gdbstub_parse() checked it */
		loop = v4 ? (ntohl(in4.sin_addr.s_addr) >> 24) == 127
			  : IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
		fd = socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 ||
		    (v4 ? bind(fd, (struct sockaddr *)&in4, sizeof(in4))
			: bind(fd, (struct sockaddr *)&in6, sizeof(in6))) < 0 ||
		    listen(fd, 1) < 0) {
			int e = -errno;

			snprintf(err, err_size, "--gdb: cannot listen on tcp %s port %u: %s", a->host,
				 a->port, strerror(-e));
			if (fd >= 0)
				close(fd);
			return e;
		}
		s->listen_fd = fd;
		fprintf(stderr, "kiln: gdb: waiting for a debugger on tcp %s port %u (%s)\n", a->host,
			a->port,
			loop ? "loopback only"
			     : "NOT loopback: anyone who reaches it controls the guest");
	}
	return 0;
}

/* ---- the protocol's target ------------------------------------------------------------------ */

static const struct vcpu *thread_vcpu(struct gdbstub *s, unsigned int thread)
{
	return vmm_debug_vcpu(s->vmm, thread - 1); /* rsp.c passes 1..nr_threads */
}

static unsigned int t_nr_threads(void *o)
{
	return ((struct gdbstub *)o)->nr_vcpus;
}

static int t_read_regs(void *o, unsigned int th, uint8_t *buf, size_t size)
{
	return arch_gdb_read_regs(thread_vcpu(o, th), buf, size);
}

static int t_write_regs(void *o, unsigned int th, const uint8_t *buf, size_t len)
{
	return arch_gdb_write_regs(thread_vcpu(o, th), buf, len);
}

static int t_reg_location(void *o, unsigned int regno, size_t *off, size_t *len)
{
	(void)o;
	return arch_gdb_reg_location(regno, off, len);
}

/* Host pointer for guest-virtual [addr, addr+len), len within one page. */
static uint8_t *gva_ptr(struct gdbstub *s, const struct vcpu *v, uint64_t addr, size_t len,
			uint64_t *gpa)
{
	if (arch_gdb_translate(v, addr, gpa))
		return NULL;
	return gmem_ptr(vmm_gmem(s->vmm), *gpa, len);
}

static size_t page_chunk(uint64_t addr, size_t len)
{
	size_t room = ARCH_GDB_PAGE - (size_t)(addr & (ARCH_GDB_PAGE - 1));

	return len < room ? len : room;
}

static int t_read_mem(void *o, unsigned int th, uint64_t addr, uint8_t *buf, size_t len)
{
	struct gdbstub *s = o;
	const struct vcpu *v = thread_vcpu(s, th);
	size_t done = 0;

	while (done < len) {
		size_t n = page_chunk(addr + done, len - done);
		uint64_t gpa;
		uint8_t *p = gva_ptr(s, v, addr + done, n, &gpa);

		if (!p)
			break;
		memcpy(buf + done, p, n);
		done += n;
	}
	/* Show the guest's bytes, not kiln's breakpoints (gdb reads around them). */
	for (unsigned int i = 0; i < s->nr_bps; i++)
		for (size_t k = 0; k < arch_gdb_sw_bp_len; k++)
			if (s->bps[i].addr + k - addr < done)
				buf[s->bps[i].addr + k - addr] = s->bps[i].saved[k];
	return done ? (int)done : -EFAULT;
}

static int t_write_mem(void *o, unsigned int th, uint64_t addr, const uint8_t *buf, size_t len)
{
	struct gdbstub *s = o;
	const struct vcpu *v = thread_vcpu(s, th);
	uint64_t gpa;

	/* Every page first, so a failure writes nothing. */
	for (size_t done = 0; done < len;) {
		size_t n = page_chunk(addr + done, len - done);

		if (!gva_ptr(s, v, addr + done, n, &gpa))
			return -EFAULT;
		done += n;
	}
	for (size_t done = 0; done < len;) {
		size_t n = page_chunk(addr + done, len - done);

		memcpy(gva_ptr(s, v, addr + done, n, &gpa), buf + done, n);
		done += n;
	}
	return 0;
}

static int find_bp(struct gdbstub *s, uint64_t addr)
{
	for (unsigned int i = 0; i < s->nr_bps; i++)
		if (s->bps[i].addr == addr)
			return (int)i;
	return -1;
}

static int hw_kind(enum gdb_bp_type t, enum arch_gdb_hw_kind *k)
{
	switch (t) {
	case GDB_BP_HW: *k = ARCH_GDB_HW_EXEC; return 0;
	case GDB_WATCH_WRITE: *k = ARCH_GDB_HW_WRITE; return 0;
	case GDB_WATCH_ACCESS: *k = ARCH_GDB_HW_ACCESS; return 0;
	default: return -ENOTSUP; /* read-only watchpoints: x86 has none */
	}
}

static int t_insert_bp(void *o, enum gdb_bp_type type, uint64_t addr, uint64_t kind)
{
	struct gdbstub *s = o;
	enum arch_gdb_hw_kind k;
	uint64_t gpa;
	uint8_t *p;

	if (type == GDB_BP_SW) {
		if (find_bp(s, addr) >= 0)
			return 0;
		if (s->nr_bps == MAX_SW_BP)
			return -ENOSPC;
		p = gva_ptr(s, thread_vcpu(s, 1), addr, arch_gdb_sw_bp_len, &gpa);
		if (!p || page_chunk(addr, arch_gdb_sw_bp_len) != arch_gdb_sw_bp_len)
			return -EFAULT;
		s->bps[s->nr_bps] = (struct sw_bp){ .addr = addr, .gpa = gpa };
		memcpy(s->bps[s->nr_bps].saved, p, arch_gdb_sw_bp_len);
		memcpy(p, arch_gdb_sw_bp, arch_gdb_sw_bp_len);
		s->nr_bps++;
		return 0;
	}
	if (hw_kind(type, &k))
		return -ENOTSUP;
	if (!arch_gdb_hw_ok(k, addr, kind))
		return -EINVAL;
	if (s->nr_hw == ARCH_GDB_MAX_HW)
		return -ENOSPC;
	s->hw[s->nr_hw++] = (struct hw_slot){ { addr, kind, k }, type };
	return 0;
}

static int t_remove_bp(void *o, enum gdb_bp_type type, uint64_t addr, uint64_t kind)
{
	struct gdbstub *s = o;
	enum arch_gdb_hw_kind k;

	if (type == GDB_BP_SW) {
		int i = find_bp(s, addr);
		uint8_t *p;

		if (i < 0)
			return -ENOENT;
		p = gmem_ptr(vmm_gmem(s->vmm), s->bps[i].gpa, arch_gdb_sw_bp_len);
		if (p)
			memcpy(p, s->bps[i].saved, arch_gdb_sw_bp_len);
		s->bps[i] = s->bps[--s->nr_bps];
		return 0;
	}
	if (hw_kind(type, &k))
		return -ENOTSUP;
	for (unsigned int i = 0; i < s->nr_hw; i++)
		if (s->hw[i].type == type && s->hw[i].hw.addr == addr && s->hw[i].hw.len == kind) {
			s->hw[i] = s->hw[--s->nr_hw];
			return 0;
		}
	return -ENOENT;
}

/* Arms debugging on every vCPU for the next run, then lets the chosen ones go. */
static void resume_vcpus(struct gdbstub *s, bool debug)
{
	struct arch_gdb_hw hw[ARCH_GDB_MAX_HW];

	for (unsigned int i = 0; i < s->nr_hw; i++)
		hw[i] = s->hw[i].hw;
	for (unsigned int i = 0; i < s->nr_vcpus; i++) {
		int e = arch_gdb_set_debug(vmm_debug_vcpu(s->vmm, i), debug, debug && s->step[i], hw,
					   debug ? s->nr_hw : 0);

		if (e)
			pr_warn("gdb: vcpu%u: KVM_SET_GUEST_DEBUG failed: %s", i, strerror(-e));
	}
	vmm_debug_resume(s->vmm, s->run);
}

static void t_resume(void *o, const enum gdb_action *actions)
{
	struct gdbstub *s = o;

	for (unsigned int i = 0; i < s->nr_vcpus; i++) {
		s->run[i] = actions[i + 1] != GDB_STAY;
		s->step[i] = actions[i + 1] == GDB_STEP;
	}
	resume_vcpus(s, true);
}

static void remove_all(struct gdbstub *s)
{
	while (s->nr_bps)
		(void)t_remove_bp(s, GDB_BP_SW, s->bps[s->nr_bps - 1].addr, 0);
	s->nr_hw = 0;
}

static void t_detach(void *o)
{
	struct gdbstub *s = o;

	remove_all(s);
	for (unsigned int i = 0; i < s->nr_vcpus; i++) {
		s->run[i] = true;
		s->step[i] = false;
	}
	resume_vcpus(s, false);
}

static void t_kill(void *o)
{
	struct gdbstub *s = o;

	pr_warn("gdb: the debugger killed the VM");
	vmm_request_stop(s->vmm, STOP_SIGNAL, SIGKILL);
}

static const struct gdb_target target = {
	.nr_threads = t_nr_threads,
	.read_regs = t_read_regs,
	.write_regs = t_write_regs,
	.reg_location = t_reg_location,
	.read_mem = t_read_mem,
	.write_mem = t_write_mem,
	.insert_bp = t_insert_bp,
	.remove_bp = t_remove_bp,
	.resume = t_resume,
	.detach = t_detach,
	.kill = t_kill,
	.target_xml = arch_gdb_target_xml,
};

/* ---- the thread ----------------------------------------------------------------------------- */

static void send_all(void *o, const void *buf, size_t len)
{
	struct gdbstub *s = o;
	const uint8_t *p = buf;

	while (len && s->conn_fd >= 0) {
		ssize_t n = send(s->conn_fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* gone: the read side notices */
		p += n;
		len -= (size_t)n;
	}
}

/* All vCPUs are stopped after a debug exit: tell gdb why. */
static void report_debug_stop(struct gdbstub *s)
{
	struct kvm_debug_exit_arch info;
	struct gdb_stop st = { .thread = 1, .signal = 5 };
	unsigned int vcpu;
	int slot;

	if (!vmm_debug_take(s->vmm, &vcpu, &info))
		return; /* a stale wake-up */
	if (vmm_debug_halt(s->vmm))
		return;
	st.thread = vcpu + 1;
	slot = arch_gdb_hw_hit(&info);
	if (slot >= 0 && (unsigned int)slot < s->nr_hw && s->hw[slot].type != GDB_BP_HW) {
		st.watch = true;
		st.watch_type = s->hw[slot].type;
		st.watch_addr = s->hw[slot].hw.addr;
	}
	gdb_rsp_stopped(s->rsp, &st);
}

/* After the exit reply gdb still asks a question or two before it lets go of the target (a
 * closed socket would make it report a broken pipe instead of the exit): answer them (with
 * errors) until it disconnects, for LINGER_MS at most. */
#define LINGER_MS 2000
static void linger(struct gdbstub *s)
{
	uint64_t end = now_ms() + LINGER_MS;
	uint8_t buf[1024];

	for (uint64_t t = now_ms(); t < end; t = now_ms()) {
		struct pollfd p = { s->conn_fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, (int)(end - t)) <= 0)
			return;
		n = recv(s->conn_fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return;
		(void)gdb_rsp_feed(s->rsp, buf, (size_t)n);
	}
}

static void close_conn(struct gdbstub *s)
{
	gdb_rsp_destroy(s->rsp);
	s->rsp = NULL;
	close(s->conn_fd);
	s->conn_fd = -1;
}

/* One debugger session; returns false when the stub must end. */
static bool serve(struct gdbstub *s)
{
	struct gdb_stop first = { .thread = 1, .signal = 5 };
	uint8_t buf[4096];

	s->rsp = gdb_rsp_create(&target, s, send_all, s);
	if (!s->rsp) {
		close(s->conn_fd);
		s->conn_fd = -1;
		return true;
	}
	if (vmm_debug_halt(s->vmm)) {
		gdb_rsp_exited(s->rsp, 0);
		close_conn(s);
		return false;
	}
	(void)vmm_debug_take(s->vmm, &(unsigned int){ 0 }, &(struct kvm_debug_exit_arch){ 0 });
	gdb_rsp_stopped(s->rsp, &first);
	for (;;) {
		struct pollfd p[3] = { { s->conn_fd, POLLIN, 0 }, { s->quit_fd, POLLIN, 0 },
				       { vmm_debug_event_fd(s->vmm), POLLIN, 0 } };
		enum gdb_event ev;
		ssize_t n;
		uint64_t v;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("gdb: poll: %s", strerror(errno));
			close_conn(s);
			return false;
		}
		if (p[1].revents) {
			gdb_rsp_exited(s->rsp, s->exit_status);
			linger(s);
			close_conn(s);
			return false;
		}
		if (p[2].revents) {
			if (read(p[2].fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				pr_debug("gdb: event fd: %s", strerror(errno));
			if (gdb_rsp_running(s->rsp))
				report_debug_stop(s);
		}
		if (!p[0].revents)
			continue;
		n = recv(s->conn_fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_info("gdb: the debugger went away: the VM runs on");
			/* As a detach; stop first, so no vCPU is left single-stepping or with a
			 * hardware breakpoint armed that nobody would answer. */
			if (gdb_rsp_running(s->rsp) && vmm_debug_halt(s->vmm)) {
				close_conn(s);
				return false;
			}
			t_detach(s);
			close_conn(s);
			return true;
		}
		ev = gdb_rsp_feed(s->rsp, buf, (size_t)n);
		if (ev == GDB_EV_INTERRUPT && vmm_debug_halt(s->vmm) == 0) {
			struct gdb_stop st = { .thread = 1, .signal = 2 };
			struct kvm_debug_exit_arch info;
			unsigned int vcpu;

			/* A breakpoint that raced with the interrupt wins: it says more. */
			if (vmm_debug_take(s->vmm, &vcpu, &info))
				st = (struct gdb_stop){ .thread = vcpu + 1, .signal = 5 };
			gdb_rsp_stopped(s->rsp, &st);
		}
		if (ev == GDB_EV_DETACHED || ev == GDB_EV_KILLED) {
			close_conn(s);
			return ev == GDB_EV_DETACHED;
		}
	}
}

static void *stub_thread(void *p)
{
	struct gdbstub *s = p;

	if (sandbox_enter(SANDBOX_GDB))
		return NULL; /* logged; no debugger is accepted */
	for (;;) {
		struct pollfd pf[2] = { { s->listen_fd, POLLIN, 0 }, { s->quit_fd, POLLIN, 0 } };

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		s->conn_fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (s->conn_fd < 0)
			continue;
		pr_info("gdb: debugger connected: all vCPUs stopped");
		if (!serve(s))
			break;
	}
	return NULL;
}

int gdbstub_start(struct gdbstub **out, struct vmm *vmm, const char *spec, bool wait, char *err,
		  size_t err_size)
{
	struct gdbstub *s = calloc(1, sizeof(*s));
	int e;

	if (!s)
		return -ENOMEM;
	s->vmm = vmm;
	s->listen_fd = s->conn_fd = -1;
	s->nr_vcpus = vmm_nr_vcpus(vmm);
	if (s->nr_vcpus > GDB_MAX_THREADS)
		s->nr_vcpus = GDB_MAX_THREADS;
	e = gdbstub_parse(spec, &s->addr, err, err_size);
	if (e)
		goto fail;
	s->quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->quit_fd < 0) {
		e = -errno;
		snprintf(err, err_size, "--gdb: eventfd: %s", strerror(-e));
		goto fail;
	}
	e = vmm_debug_enable(vmm, wait);
	if (e) {
		snprintf(err, err_size, "--gdb: %s", strerror(-e));
		goto fail_q;
	}
	e = listen_on(s, err, err_size);
	if (e)
		goto fail_q;
	e = -pthread_create(&s->thread, NULL, stub_thread, s);
	if (e) {
		snprintf(err, err_size, "--gdb: cannot start the stub's thread: %s", strerror(-e));
		goto fail_l;
	}
	pthread_setname_np(s->thread, "kiln-gdb");
	s->thread_started = true;
	*out = s;
	return 0;
fail_l:
	close(s->listen_fd);
	if (!s->addr.tcp)
		unlink(s->addr.path);
fail_q:
	close(s->quit_fd);
fail:
	free(s);
	return e;
}

void gdbstub_stop(struct gdbstub *s, int status)
{
	uint64_t one = 1;

	if (!s)
		return;
	s->exit_status = status;
	if (s->thread_started) {
		if (write(s->quit_fd, &one, sizeof(one)) < 0)
			pr_debug("gdb: quit fd: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	if (s->conn_fd >= 0)
		close_conn(s);
	close(s->listen_fd);
	if (!s->addr.tcp)
		unlink(s->addr.path);
	close(s->quit_fd);
	free(s);
}
