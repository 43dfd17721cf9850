/* mb_smp: multiboot ELF32; the BSP starts the APs with INIT/SIPI/SIPI and counts them via a real-mode trampoline. */
#include "apic.h"
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"

#define TRAMPOLINE 0x30000u /* below 1 MiB, above kiln's boot structures (0x0-0x1ffff) */
#define SIPI_VECTOR (TRAMPOLINE >> 12)
#define MAX_CPUS 64
#define WAIT_LOOPS 100000 /* bounded wait for the APs: each loop is one port write (a VM exit) */

void kmain(u32 magic, const struct multiboot_info *mbi);

/*
 * AP trampoline, copied to TRAMPOLINE. An AP starts here in real mode with
 * CS=SIPI_VECTOR<<8, IP=0. It counts itself in with a locked increment, then
 * halts with interrupts off (mode 0, ap=hlt) or spins forever (mode 1, ap=spin).
 */
__asm__(
	".pushsection .rodata.trampoline, \"a\"\n"
	".code16\n"
	"tramp_start:\n"
	"	cli\n"
	"	movw %cs, %ax\n"
	"	movw %ax, %ds\n"
	"	lock incl (tramp_counter - tramp_start)\n"
	"	cmpb $0, (tramp_mode - tramp_start)\n"
	"	jne 2f\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"2:	jmp 2b\n"
	"	.balign 4\n"
	"tramp_counter: .long 0\n"
	"tramp_mode: .byte 0\n"
	"tramp_end:\n"
	".code32\n"
	".popsection\n");

extern const char tramp_start[], tramp_counter[], tramp_mode[], tramp_end[];

#define TRAMP_OFFSET(sym) ((uptr)(sym) - (uptr)tramp_start)

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");

	/* Parse the command line first: the loader may have put it anywhere below us. */
	u32 want = 2;
	int spin = 0;
	if (mbi->flags & MBI_FLAG_CMDLINE) {
		const char *cmdline = (const char *)(uptr)mbi->cmdline;
		const char *v = cmdline_find(cmdline, "cpus=");
		int ok = 0;
		if (v)
			want = parse_dec(v, &ok);
		if (v && (!ok || want < 1 || want > MAX_CPUS))
			guest_fail("bad cpus= value");
		v = cmdline_find(cmdline, "ap=");
		if (v && word_is(v, "spin"))
			spin = 1;
		else if (v && !word_is(v, "hlt"))
			guest_fail("bad ap= value (want hlt or spin)");
	}
	serial_puts("smp: want ");
	serial_put_dec(want);
	serial_puts(spin ? " CPUs, ap=spin\n" : " CPUs, ap=hlt\n");

	k_memcpy((void *)TRAMPOLINE, tramp_start, TRAMP_OFFSET(tramp_end));
	volatile u32 *counter = (volatile u32 *)(TRAMPOLINE + TRAMP_OFFSET(tramp_counter));
	volatile u8 *mode = (volatile u8 *)(TRAMPOLINE + TRAMP_OFFSET(tramp_mode));
	*counter = 0;
	*mode = (u8)spin;

	lapic_enable();
	if (want > 1) {
		lapic_send_ipi(0, ICR_ALL_EXCLUDING_SELF | ICR_LEVEL_ASSERT | ICR_DELIVERY_INIT);
		lapic_send_ipi(0, ICR_ALL_EXCLUDING_SELF | ICR_DELIVERY_STARTUP | SIPI_VECTOR);
		lapic_send_ipi(0, ICR_ALL_EXCLUDING_SELF | ICR_DELIVERY_STARTUP | SIPI_VECTOR);
	}

	for (u32 i = 0; i < WAIT_LOOPS && *counter < want - 1; i++) {
		cpu_relax();
		io_delay();
	}

	u32 up = *counter + 1;
	if (up < want) {
		serial_puts("FAIL: only ");
		serial_put_dec(up);
		serial_puts(" of ");
		serial_put_dec(want);
		serial_puts(" CPUs up\n");
		debug_exit(EXIT_FAIL_CODE);
	}
	serial_puts("SMP: ");
	serial_put_dec(up);
	serial_puts(" CPUs up\n");
	guest_success();
}
