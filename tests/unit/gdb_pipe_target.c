/* gdb_pipe_target.c: the protocol core (src/gdb/rsp.c) on stdin/stdout with kiln's real x86-64
 * target description and register layout (src/arch/x86/gdb.c) over fake registers and memory,
 * for Debian's gdb to connect to with `target remote | gdb_pipe_target` (tests/unit/gdb-pipe.sh):
 * gdb must accept the description, find every register where kiln puts it, and drive threads,
 * breakpoints, steps and the exit without /dev/kvm.
 *
 * The fake: 2 threads; thread 1 at RIP 0x401000 with CR3 0x1000 and fs_base 0xf5000, thread 2 at
 * 0xfff0; 4 KiB of memory at 0x401000 holding i & 0xff at offset i. A step advances RIP by one;
 * a continue stops at the lowest software breakpoint above RIP, else runs until interrupted (the
 * interrupt stops thread 2) when RAX is 0x1234, else exits with 33. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "gdb/rsp.h"

#define MEM_BASE 0x401000u
#define MEM_SIZE 4096u
#define REGNO_RIP 16
#define REGNO_CR3 61
#define REGNO_FS_BASE 57

static uint8_t regs[3][1024];
static size_t regs_len;
static uint8_t mem[MEM_SIZE];
static uint64_t bps[16];
static unsigned int nr_bps;
static int pending; /* 1: stopped at a stop below; 2: exited */
static struct gdb_stop stop;

static void set_reg(unsigned int th, unsigned int regno, uint64_t v)
{
	size_t off, len;

	if (arch_gdb_reg_location(regno, &off, &len) == 0)
		for (size_t i = 0; i < len && i < 8; i++)
			regs[th][off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_reg(unsigned int th, unsigned int regno)
{
	size_t off, len;
	uint64_t v = 0;

	if (arch_gdb_reg_location(regno, &off, &len) == 0)
		for (size_t i = 0; i < len && i < 8; i++)
			v |= (uint64_t)regs[th][off + i] << (8 * i);
	return v;
}

static unsigned int nr_threads(void *o)
{
	(void)o;
	return 2;
}

static int read_regs(void *o, unsigned int th, uint8_t *buf, size_t size)
{
	(void)o;
	if (size < regs_len)
		return -ENOSPC;
	memcpy(buf, regs[th], regs_len);
	return (int)regs_len;
}

static int write_regs(void *o, unsigned int th, const uint8_t *buf, size_t len)
{
	(void)o;
	if (len != regs_len)
		return -EINVAL;
	memcpy(regs[th], buf, len);
	return 0;
}

static int reg_location(void *o, unsigned int regno, size_t *off, size_t *len)
{
	(void)o;
	return arch_gdb_reg_location(regno, off, len);
}

static int read_mem(void *o, unsigned int th, uint64_t addr, uint8_t *buf, size_t len)
{
	(void)o, (void)th;
	if (addr < MEM_BASE || addr - MEM_BASE >= MEM_SIZE)
		return -EFAULT;
	if (len > MEM_SIZE - (addr - MEM_BASE))
		len = MEM_SIZE - (addr - MEM_BASE);
	memcpy(buf, mem + (addr - MEM_BASE), len);
	return (int)len;
}

static int write_mem(void *o, unsigned int th, uint64_t addr, const uint8_t *buf, size_t len)
{
	(void)o, (void)th;
	if (addr < MEM_BASE || addr - MEM_BASE >= MEM_SIZE || len > MEM_SIZE - (addr - MEM_BASE))
		return -EFAULT;
	memcpy(mem + (addr - MEM_BASE), buf, len);
	return 0;
}

static int insert_bp(void *o, enum gdb_bp_type type, uint64_t addr, uint64_t kind)
{
	(void)o, (void)kind;
	if (type != GDB_BP_SW)
		return -ENOTSUP;
	if (nr_bps == 16)
		return -ENOSPC;
	bps[nr_bps++] = addr;
	return 0;
}

static int remove_bp(void *o, enum gdb_bp_type type, uint64_t addr, uint64_t kind)
{
	(void)o, (void)kind;
	if (type != GDB_BP_SW)
		return -ENOTSUP;
	for (unsigned int i = 0; i < nr_bps; i++)
		if (bps[i] == addr) {
			bps[i] = bps[--nr_bps];
			return 0;
		}
	return -ENOENT;
}

static void resume(void *o, const enum gdb_action *a)
{
	uint64_t rip = get_reg(1, REGNO_RIP), best = UINT64_MAX;

	(void)o;
	if (a[1] == GDB_STEP) {
		set_reg(1, REGNO_RIP, rip + 1);
		stop = (struct gdb_stop){ .thread = 1, .signal = 5 };
		pending = 1;
		return;
	}
	for (unsigned int i = 0; i < nr_bps; i++)
		if (bps[i] > rip && bps[i] < best)
			best = bps[i];
	if (best == UINT64_MAX) {
		/* no breakpoint ahead: "runs" until interrupted, or exits if RAX says so */
		pending = get_reg(1, 0) == 0x1234 ? 0 : 2;
		return;
	}
	set_reg(1, REGNO_RIP, best);
	stop = (struct gdb_stop){ .thread = 1, .signal = 5 };
	pending = 1;
}

static void detach(void *o)
{
	(void)o;
}

static void kill_(void *o)
{
	(void)o;
}

static void send_out(void *o, const void *buf, size_t len)
{
	(void)o;
	if (write(STDOUT_FILENO, buf, len) != (ssize_t)len)
		_exit(1);
}

static const struct gdb_target target = {
	.nr_threads = nr_threads,
	.read_regs = read_regs,
	.write_regs = write_regs,
	.reg_location = reg_location,
	.read_mem = read_mem,
	.write_mem = write_mem,
	.insert_bp = insert_bp,
	.remove_bp = remove_bp,
	.resume = resume,
	.detach = detach,
	.kill = kill_,
	.target_xml = arch_gdb_target_xml,
};

int main(void)
{
	struct gdb_rsp *r = gdb_rsp_create(&target, NULL, send_out, NULL);
	size_t off, len;
	uint8_t buf[4096];

	if (!r)
		return 1;
	for (unsigned int regno = 0; arch_gdb_reg_location(regno, &off, &len) == 0; regno++)
		if (off + len > regs_len)
			regs_len = off + len;
	for (unsigned int i = 0; i < MEM_SIZE; i++)
		mem[i] = (uint8_t)i;
	set_reg(1, REGNO_RIP, MEM_BASE);
	set_reg(1, REGNO_CR3, 0x1000);
	set_reg(1, REGNO_FS_BASE, 0xf5000);
	set_reg(2, REGNO_RIP, 0xfff0);
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		enum gdb_event ev;

		if (n <= 0)
			break;
		ev = gdb_rsp_feed(r, buf, (size_t)n);
		if (ev == GDB_EV_INTERRUPT) {
			stop = (struct gdb_stop){ .thread = 2, .signal = 2 };
			pending = 1;
		}
		if (pending == 1)
			gdb_rsp_stopped(r, &stop);
		else if (pending == 2)
			gdb_rsp_exited(r, 33);
		pending = 0;
		if (ev == GDB_EV_DETACHED || ev == GDB_EV_KILLED)
			break;
	}
	gdb_rsp_destroy(r);
	return 0;
}
