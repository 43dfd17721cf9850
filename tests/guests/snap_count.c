/*
 * snap_count: multiboot ELF32; counts, printing "count 0", "count 1", ... one line each over the
 * serial port, then SUCCESS after `count=N` lines (default 100000000). The snapshot tests
 * (tests/api, group snapshot) pause it in the middle, save it, kill kiln and restore it in a new
 * process: the output of the two processes together must be exactly lines 0..N-1, with no gap
 * and no repeat. The counter lives in guest memory and in registers, so both the memory file
 * and the vCPU state must come back.
 *
 * The boot CPU counts at ring 3. With `cpus=2` it first starts the second CPU (INIT, SIPI, SIPI
 * to a real-mode trampoline that enters 32-bit protected mode), and the two take turns: the
 * boot CPU prints the even numbers, the second CPU (at ring 0) the odd ones, each waiting for
 * the other's turn. Any line after a restore then needs both vCPUs to have come back right.
 */
#include "ring3.h"
#include "kstring.h"
#include "multiboot.h"

void kmain(u32 magic, const struct multiboot_info *mbi);
void user_main(void);
void ap_main(void);

#define DEFAULT_COUNT 100000000u
#define TRAMPOLINE 0x30000u /* below 1 MiB, above kiln's boot structures (0x0-0x1ffff) */
#define SIPI_VECTOR (TRAMPOLINE >> 12)

static volatile u32 count = DEFAULT_COUNT;
static volatile u32 cpus = 1;
static volatile u32 next; /* the next number to print: even ones are the boot CPU's */
u8 ap_stack[8192] __attribute__((aligned(16)));

/* The second CPU starts here in real mode (CS = SIPI_VECTOR << 8, IP = 0), loads a flat GDT of
 * its own and jumps to ap_entry32 in protected mode. */
__asm__(".pushsection .rodata.trampoline, \"a\"\n"
	".code16\n"
	"tramp_start:\n"
	"	cli\n"
	"	movw %cs, %ax\n"
	"	movw %ax, %ds\n"
	"	lgdtl (tramp_gdtr - tramp_start)\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $ap_entry32\n"
	"	.balign 8\n"
	"tramp_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00cf9b000000ffff\n" /* 0x08: flat 32-bit code */
	"	.quad 0x00cf93000000ffff\n" /* 0x10: flat data */
	"tramp_gdtr:\n"
	"	.word 23\n"
	"	.long 0x30000 + (tramp_gdt - tramp_start)\n"
	"tramp_end:\n"
	".code32\n"
	".popsection\n"
	".pushsection .text\n"
	"ap_entry32:\n"
	"	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movw %ax, %fs\n"
	"	movw %ax, %gs\n"
	"	movl $(ap_stack + 8192), %esp\n"
	"	call ap_main\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	".popsection\n");

extern const char tramp_start[], tramp_end[];

void device_irq(void)
{
	guest_fail("unexpected device interrupt");
}

static void print(u32 n)
{
	serial_puts("count ");
	serial_put_dec(n);
	serial_putc('\n');
}

/* The second CPU: the odd numbers. */
void ap_main(void)
{
	for (;;) {
		u32 n = next;

		if (n >= count)
			for (;;)
				__asm__ volatile("hlt");
		if (!(n & 1)) {
			cpu_relax();
			continue;
		}
		print(n);
		next = n + 1;
	}
}

void user_main(void)
{
	for (;;) {
		u32 n = next;

		if (n >= count)
			break;
		if (cpus > 1 && (n & 1)) {
			cpu_relax();
			continue;
		}
		print(n);
		next = n + 1;
	}
	guest_success();
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");
	if ((mbi->flags & MBI_FLAG_CMDLINE)) {
		const char *cmdline = (const char *)(uptr)mbi->cmdline;
		const char *v = cmdline_find(cmdline, "count=");
		int ok = 0;
		u32 n = v ? parse_dec(v, &ok) : 0;

		if (v && (!ok || n == 0))
			guest_fail("bad count= value");
		if (v)
			count = n;
		v = cmdline_find(cmdline, "cpus=");
		n = v ? parse_dec(v, &ok) : 1;
		if (v && (!ok || n < 1 || n > 2))
			guest_fail("bad cpus= value (1 or 2)");
		cpus = n;
	}
	ring3_trap_exceptions();
	if (cpus > 1) {
		k_memcpy((void *)TRAMPOLINE, tramp_start, (u32)(tramp_end - tramp_start));
		lapic_enable();
		lapic_send_ipi(0, ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | ICR_DELIVERY_INIT);
		lapic_send_ipi(0, ICR_ALL_EXCLUDING_SELF | ICR_DELIVERY_STARTUP | SIPI_VECTOR);
		lapic_send_ipi(0, ICR_ALL_EXCLUDING_SELF | ICR_DELIVERY_STARTUP | SIPI_VECTOR);
	}
	enter_ring3();
}
