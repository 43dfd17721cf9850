/* gdb_fake.h: a fake target for the GDB protocol core (src/gdb/rsp.c), shared by the unit tests
 * (test_gdb_rsp.c) and the fuzzer (tests/fuzz/fuzz_gdb_rsp.c): two threads of 4 registers of 8
 * bytes, 4 KiB of memory at FAKE_MEM_BASE, and a record of what the protocol asked for. */
#ifndef KILN_TESTS_GDB_FAKE_H
#define KILN_TESTS_GDB_FAKE_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gdb/rsp.h"

#define FAKE_THREADS 2
#define FAKE_REGS 4
#define FAKE_MEM_BASE 0x1000u
#define FAKE_MEM_SIZE 4096u

struct fake {
	uint8_t regs[FAKE_THREADS + 1][FAKE_REGS * 8];
	uint8_t mem[FAKE_MEM_SIZE];
	enum gdb_action actions[GDB_MAX_THREADS + 1];
	unsigned int resumes, detaches, kills, inserts, removes;
	enum gdb_bp_type last_type;
	uint64_t last_addr, last_kind;
	unsigned int last_thread; /* of the last register or memory access */
	/* what was sent */
	char out[1 << 16];
	size_t out_len;
};

static unsigned int fake_nr_threads(void *o)
{
	(void)o;
	return FAKE_THREADS;
}

static int fake_read_regs(void *o, unsigned int th, uint8_t *buf, size_t size)
{
	struct fake *f = o;

	if (th < 1 || th > FAKE_THREADS)
		abort(); /* the protocol must never pass a thread that does not exist */
	if (size < sizeof(f->regs[th]))
		return -ENOSPC;
	f->last_thread = th;
	memcpy(buf, f->regs[th], sizeof(f->regs[th]));
	return (int)sizeof(f->regs[th]);
}

static int fake_write_regs(void *o, unsigned int th, const uint8_t *buf, size_t len)
{
	struct fake *f = o;

	if (th < 1 || th > FAKE_THREADS)
		abort();
	if (len != sizeof(f->regs[th]))
		return -EINVAL;
	f->last_thread = th;
	memcpy(f->regs[th], buf, len);
	return 0;
}

static int fake_reg_location(void *o, unsigned int regno, size_t *off, size_t *len)
{
	(void)o;
	if (regno >= FAKE_REGS)
		return -ENOENT;
	*off = 8 * regno;
	*len = 8;
	return 0;
}

static int fake_read_mem(void *o, unsigned int th, uint64_t addr, uint8_t *buf, size_t len)
{
	struct fake *f = o;
	size_t n;

	if (th < 1 || th > FAKE_THREADS || len == 0)
		abort();
	if (addr < FAKE_MEM_BASE || addr - FAKE_MEM_BASE >= FAKE_MEM_SIZE)
		return -EFAULT;
	n = FAKE_MEM_SIZE - (addr - FAKE_MEM_BASE);
	n = n < len ? n : len;
	memcpy(buf, f->mem + (addr - FAKE_MEM_BASE), n);
	f->last_thread = th;
	return (int)n;
}

static int fake_write_mem(void *o, unsigned int th, uint64_t addr, const uint8_t *buf, size_t len)
{
	struct fake *f = o;

	if (th < 1 || th > FAKE_THREADS || len == 0)
		abort();
	if (addr < FAKE_MEM_BASE || addr - FAKE_MEM_BASE > FAKE_MEM_SIZE ||
	    len > FAKE_MEM_SIZE - (addr - FAKE_MEM_BASE))
		return -EFAULT;
	memcpy(f->mem + (addr - FAKE_MEM_BASE), buf, len);
	f->last_thread = th;
	return 0;
}

static int fake_insert_bp(void *o, enum gdb_bp_type type, uint64_t addr, uint64_t kind)
{
	struct fake *f = o;

	if (type == GDB_WATCH_READ)
		return -ENOTSUP;
	f->inserts++;
	f->last_type = type;
	f->last_addr = addr;
	f->last_kind = kind;
	return 0;
}

static int fake_remove_bp(void *o, enum gdb_bp_type type, uint64_t addr, uint64_t kind)
{
	struct fake *f = o;

	f->removes++;
	f->last_type = type;
	f->last_addr = addr;
	f->last_kind = kind;
	return addr == 0xdead ? -ENOENT : 0;
}

static void fake_resume(void *o, const enum gdb_action *a)
{
	struct fake *f = o;

	f->resumes++;
	memcpy(f->actions, a, sizeof(f->actions));
}

static void fake_detach(void *o)
{
	((struct fake *)o)->detaches++;
}

static void fake_kill(void *o)
{
	((struct fake *)o)->kills++;
}

static void fake_send(void *o, const void *buf, size_t len)
{
	struct fake *f = o;

	if (len > sizeof(f->out) - 1 - f->out_len)
		f->out_len = 0; /* keep the latest only */
	if (len > sizeof(f->out) - 1)
		abort(); /* no packet is that long */
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
	f->out[f->out_len] = 0;
}

static const char fake_xml[] = "<target><architecture>fake</architecture></target>";

static const struct gdb_target fake_target = {
	.nr_threads = fake_nr_threads,
	.read_regs = fake_read_regs,
	.write_regs = fake_write_regs,
	.reg_location = fake_reg_location,
	.read_mem = fake_read_mem,
	.write_mem = fake_write_mem,
	.insert_bp = fake_insert_bp,
	.remove_bp = fake_remove_bp,
	.resume = fake_resume,
	.detach = fake_detach,
	.kill = fake_kill,
	.target_xml = fake_xml,
};

#endif
