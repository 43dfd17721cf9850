/* SPDX-License-Identifier: MIT */
/*
 * floor: the least a KVM monitor has to do to run a 64-bit ELF test guest.
 *
 *   floor GUEST.elf
 *
 * It is the baseline for bench/startup.py: one VM, one 128 MiB memory slot,
 * the guest's PT_LOAD segments copied in, identity-mapped long-mode paging
 * for the first 4 GiB (2 MiB pages), a flat GDT, one vCPU started directly in
 * 64-bit mode at e_entry, and a KVM_RUN loop that understands only port I/O:
 *
 *   out 0x3f8       byte to stdout (16550 THR)
 *   in  0x3fd       0x60 (LSR: THR and transmitter empty)
 *   in  other port  0xff (nothing there)
 *   out 0xf4, v     exit status (v << 1) | 1 (QEMU isa-debug-exit)
 *
 * Any other exit prints its reason and ends with status 1. No interrupt
 * controller, no timer, no CPUID setup, no threads: everything else a real
 * monitor does shows up as the difference between it and this program.
 *
 * Guest-physical layout (see docs/guest-conventions.md, kiln reserves the
 * same 0x0-0x1ffff range for its boot structures):
 *   0x00500          GDT: null, 64-bit code (0x08), data (0x10)
 *   0x01000          PML4
 *   0x02000          PDPT (4 entries used)
 *   0x03000-0x06fff  4 page directories, 2 MiB pages, 0-4 GiB identity
 *   0x20000          initial stack pointer (grows down)
 *   0x100000+        the guest's segments (checked not to overlap the above)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#define MEM_SIZE (128ULL << 20)

#define GDT_ADDR 0x500ULL
#define PML4_ADDR 0x1000ULL
#define PDPT_ADDR 0x2000ULL
#define PD_ADDR 0x3000ULL /* 4 tables, up to 0x6fff */
#define STACK_TOP 0x20000ULL
#define RESERVED_END 0x20000ULL /* guest segments must start at or above */

#define PORT_COM1_THR 0x3f8
#define PORT_COM1_LSR 0x3fd
#define PORT_DEBUG_EXIT 0xf4
#define LSR_THR_EMPTY 0x60

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

static const char *prog = "floor";

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void die_errno(const char *what)
{
	die("%s: %s", what, strerror(errno));
}

/* Copy the PT_LOAD segments of a 64-bit x86 ELF into guest memory. */
static uint64_t load_elf(const char *path, uint8_t *mem)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	const uint8_t *file;
	const Elf64_Ehdr *eh;
	uint64_t entry;

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		die_errno("fstat");
	if ((uint64_t)st.st_size < sizeof(Elf64_Ehdr))
		die("%s: too small for an ELF header", path);
	file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED)
		die_errno("mmap guest file");
	close(fd);

	eh = (const Elf64_Ehdr *)file;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		die("%s: not a little-endian 64-bit x86 ELF", path);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > (uint64_t)st.st_size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size - eh->e_phoff)
		die("%s: bad program header table", path);

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(file + eh->e_phoff) + i;

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		if (ph->p_filesz > ph->p_memsz || ph->p_offset > (uint64_t)st.st_size ||
		    ph->p_filesz > (uint64_t)st.st_size - ph->p_offset)
			die("%s: segment %u lies outside the file", path, i);
		if (ph->p_paddr < RESERVED_END || ph->p_paddr > MEM_SIZE ||
		    ph->p_memsz > MEM_SIZE - ph->p_paddr)
			die("%s: segment %u [%#llx, +%#llx) is outside [%#llx, %#llx)", path, i,
			    (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz,
			    (unsigned long long)RESERVED_END, (unsigned long long)MEM_SIZE);
		memcpy(mem + ph->p_paddr, file + ph->p_offset, ph->p_filesz);
		/* The bytes from p_filesz to p_memsz stay zero: fresh anonymous memory. */
	}
	entry = eh->e_entry;
	munmap((void *)file, (size_t)st.st_size);
	return entry;
}

/* Identity map 0-4 GiB with 2 MiB pages, and a flat GDT. */
static void build_boot_tables(uint8_t *mem)
{
	uint64_t *pml4 = (uint64_t *)(mem + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(mem + PDPT_ADDR);
	uint64_t *gdt = (uint64_t *)(mem + GDT_ADDR);

	pml4[0] = PDPT_ADDR | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t *pd = (uint64_t *)(mem + PD_ADDR + i * 0x1000);

		pdpt[i] = (PD_ADDR + i * 0x1000) | PTE_P | PTE_RW;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = ((i * 512 + j) << 21) | PTE_P | PTE_RW | PTE_PS;
	}

	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffULL; /* 0x08: code, L=1, DPL 0, present, accessed */
	gdt[2] = 0x00cf93000000ffffULL; /* 0x10: data, 4 GiB, writable, accessed */
}

static void set_segments(struct kvm_sregs *s)
{
	struct kvm_segment code = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = 0x08,
		.type = 11, /* execute/read, accessed */
		.present = 1,
		.dpl = 0,
		.db = 0, /* must be 0 when L=1 */
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment data = code;

	data.selector = 0x10;
	data.type = 3; /* read/write, accessed */
	data.db = 1;
	data.l = 0;

	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->gdt.base = GDT_ADDR;
	s->gdt.limit = 3 * 8 - 1;

	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	s->cr3 = PML4_ADDR;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "EXCEPTION";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	case KVM_EXIT_SYSTEM_EVENT: return "SYSTEM_EVENT";
	default: return "?";
	}
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die_errno("write stdout");
		}
		p += w;
		n -= (size_t)w;
	}
}

static void handle_io(struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t size = run->io.size, count = run->io.count;

	if (run->io.direction == KVM_EXIT_IO_IN) {
		/* LSR reads as "transmitter empty"; every other port floats to 0xff. */
		for (uint32_t i = 0; i < size * count; i++)
			data[i] = (run->io.port == PORT_COM1_LSR && i % size == 0) ? LSR_THR_EMPTY
										   : 0xff;
		return;
	}

	switch (run->io.port) {
	case PORT_COM1_THR: {
		uint8_t buf[64];
		uint32_t n = 0;

		/* A 16550 data register is one byte wide: take the low byte of each access. */
		for (uint32_t i = 0; i < count; i++) {
			buf[n++] = data[i * size];
			if (n == sizeof(buf)) {
				write_all(STDOUT_FILENO, buf, n);
				n = 0;
			}
		}
		write_all(STDOUT_FILENO, buf, n);
		break;
	}
	case PORT_DEBUG_EXIT: {
		uint32_t v = 0;

		memcpy(&v, data, size < sizeof(v) ? size : sizeof(v)); /* little endian */
		exit((int)((v << 1) | 1));
	}
	default:
		break; /* writes to anything else go nowhere */
	}
}

int main(int argc, char **argv)
{
	int kvm, vm, vcpu;
	int run_size;
	uint8_t *mem;
	uint64_t entry;
	struct kvm_run *run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_userspace_memory_region region;

	if (argc != 2) {
		fprintf(stderr, "usage: %s GUEST.elf\n", argv[0]);
		return 2;
	}

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die_errno("/dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		die("unexpected KVM API version");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die_errno("KVM_CREATE_VM");

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die_errno("mmap guest memory");
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.flags = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die_errno("KVM_SET_USER_MEMORY_REGION");

	entry = load_elf(argv[1], mem);
	build_boot_tables(mem);

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die_errno("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(*run))
		die_errno("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die_errno("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die_errno("KVM_GET_SREGS");
	set_segments(&sregs);
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die_errno("KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsp = STACK_TOP;
	regs.rflags = 0x2; /* bit 1 is reserved, always set */
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die_errno("KVM_SET_REGS");

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die_errno("KVM_RUN");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(run);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			die("KVM exit FAIL_ENTRY, hardware reason %#llx",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR:
			die("KVM exit INTERNAL_ERROR, suberror %u", run->internal.suberror);
		default:
			die("unexpected KVM exit %u (%s)", run->exit_reason,
			    exit_name(run->exit_reason));
		}
	}
}
