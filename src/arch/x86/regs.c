/* regs.c: boot GDT, identity paging and the entry register state for each boot mode. */
#include "arch/x86/regs.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"

uint64_t x86_gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (uint64_t)(limit & 0x0000ffffu);
}

struct kvm_segment x86_gdt_to_segment(uint64_t desc, uint16_t selector)
{
	uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	bool g = (desc >> 55) & 1;

	return (struct kvm_segment){
		.base = ((desc >> 16) & 0xffffff) | (((desc >> 56) & 0xff) << 24),
		/* KVM wants the limit in bytes: scale it when G is set. */
		.limit = g ? (limit << 12) | 0xfff : limit,
		.selector = selector,
		.type = (desc >> 40) & 0xf,
		.present = (desc >> 47) & 1,
		.dpl = (desc >> 45) & 3,
		.db = (desc >> 54) & 1,
		.s = (desc >> 44) & 1,
		.l = (desc >> 53) & 1,
		.g = g,
		.avl = (desc >> 52) & 1,
	};
}

static const uint64_t *boot_gdt(void)
{
	static uint64_t gdt[X86_GDT_ENTRIES];

	gdt[0] = 0;
	gdt[X86_GDT_CODE32 / 8] = x86_gdt_entry(X86_GDT_FLAGS_CODE32, 0, 0xfffff);
	gdt[X86_GDT_CODE64 / 8] = x86_gdt_entry(X86_GDT_FLAGS_CODE64, 0, 0xfffff);
	gdt[X86_GDT_DATA / 8] = x86_gdt_entry(X86_GDT_FLAGS_DATA, 0, 0xfffff);
	return gdt;
}

int x86_write_reset_vector(const struct gmem *gm)
{
	/* mov al, 0xfe; out 0x64, al; hlt; jmp $-1: what a BIOS at f000:fff0 would do for a
	 * reboot, through the i8042's reset line. */
	static const uint8_t stub[] = { 0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd };

	return gmem_write(gm, X86_RESET_VECTOR, stub, sizeof(stub));
}

int x86_write_boot_tables(const struct gmem *gm, enum boot_mode mode, uint64_t gdt_addr)
{
	uint64_t pml4[512] = { 0 }, pdpt[512] = { 0 }, pd[512];

	if (mode == BOOT_REAL16)
		return 0;
	if (gmem_write(gm, gdt_addr ? gdt_addr : X86_GDT_ADDR, boot_gdt(),
		       X86_GDT_ENTRIES * sizeof(uint64_t)))
		return -EFAULT;
	if (mode != BOOT_LONG64)
		return 0;
	/* Identity-map the first 4 GiB with 2 MiB pages: RAM below the hole and the APIC pages. */
	pml4[0] = X86_PDPT_ADDR | X86_PTE_P | X86_PTE_RW;
	for (unsigned int i = 0; i < 4; i++)
		pdpt[i] = (X86_PD_ADDR + i * 0x1000ull) | X86_PTE_P | X86_PTE_RW;
	if (gmem_write(gm, X86_PML4_ADDR, pml4, sizeof(pml4)) ||
	    gmem_write(gm, X86_PDPT_ADDR, pdpt, sizeof(pdpt)))
		return -EFAULT;
	for (unsigned int i = 0; i < 4; i++) {
		for (unsigned int j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i << 30 | (uint64_t)j << 21) | X86_PTE_P | X86_PTE_RW | X86_PTE_PS;
		if (gmem_write(gm, X86_PD_ADDR + i * 0x1000ull, pd, sizeof(pd)))
			return -EFAULT;
	}
	return 0;
}

static struct kvm_segment real_segment(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment){ .base = (uint64_t)sel << 4, .limit = 0xffff, .selector = sel,
				     .type = type, .present = 1, .s = 1 };
}

int x86_setup_boot_vcpu(int vcpu_fd, const struct boot_entry *entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2, .rip = entry->rip, .rsp = entry->rsp };
	const uint64_t *gdt = boot_gdt();
	struct kvm_segment code, data;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	/* Caches on: the reset value of CR0 has CD and NW set. */
	sregs.cr0 &= ~(X86_CR0_CD | X86_CR0_NW);
	switch (entry->mode) {
	case BOOT_REAL16:
		sregs.cs = real_segment(entry->real_segment, 0xb);
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = real_segment(entry->real_segment, 0x3);
		break;
	case BOOT_PROT32:
	case BOOT_LONG64:
		sregs.gdt.base = entry->gdt_addr ? entry->gdt_addr : X86_GDT_ADDR;
		sregs.gdt.limit = X86_GDT_ENTRIES * 8 - 1;
		sregs.idt.base = 0;
		sregs.idt.limit = 0;
		if (entry->mode == BOOT_PROT32) {
			code = x86_gdt_to_segment(gdt[X86_GDT_CODE32 / 8], X86_GDT_CODE32);
			/* Multiboot: PE set, PG clear, everything flat (spec 3.2). */
			sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
			sregs.cr4 = 0;
			sregs.efer = 0;
		} else {
			code = x86_gdt_to_segment(gdt[X86_GDT_CODE64 / 8], X86_GDT_CODE64);
			sregs.cr3 = X86_PML4_ADDR;
			sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
			sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
			sregs.efer = X86_EFER_LME | X86_EFER_LMA;
		}
		data = x86_gdt_to_segment(gdt[X86_GDT_DATA / 8], X86_GDT_DATA);
		sregs.cs = code;
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
		regs.rax = entry->eax;
		regs.rbx = entry->ebx;
		regs.rdi = entry->rdi;
		regs.rsi = entry->rsi;
		break;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}
