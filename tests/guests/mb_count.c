/*
 * mb_count: multiboot ELF32; prints "count 0" ... "count N-1", one line each, then SUCCESS.
 *
 * Command line: count=N (lines, default 5000) and delay=D (iterations of a busy loop run before
 * each line, default 0). The API tests pause the VM in the middle of the run and check that
 * the output is still exactly lines 0..N-1 afterwards, with nothing printed while paused.
 *
 * Each byte printed costs two VM exits (LSR poll, THR write): about 0.45 ms a line on the PVM
 * development host, so the default run takes about 2 s there. The busy loop is ring-0 code,
 * emulated there at ~5 us an iteration but native elsewhere: prefer count to delay for length.
 */
#include "exit.h"
#include "kstring.h"
#include "multiboot.h"

#define DEFAULT_COUNT 5000
#define DEFAULT_DELAY 0
#define MAX_COUNT 10000000u  /* bounds the run: a guest left running cannot print forever */
#define MAX_DELAY 100000000u /* per line */

void kmain(u32 magic, const struct multiboot_info *mbi);

/* The value of key (e.g. "count=") on the command line, or dflt; FAIL when it is not a number
 * or above max. */
static u32 cmdline_value(const char *cmdline, const char *key, u32 dflt, u32 max)
{
	const char *v = cmdline ? cmdline_find(cmdline, key) : NULL;
	int ok = 0;
	u32 n;

	if (!v)
		return dflt;
	n = parse_dec(v, &ok);
	if (!ok || n > max) {
		serial_puts("FAIL: bad ");
		serial_puts(key);
		serial_puts(" value\n");
		debug_exit(EXIT_FAIL_CODE);
	}
	return n;
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	const char *cmdline = NULL;

	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");
	if (mbi->flags & MBI_FLAG_CMDLINE)
		cmdline = (const char *)(uptr)mbi->cmdline;

	/* Read both values before printing anything: the command line lives below the kernel. */
	u32 count = cmdline_value(cmdline, "count=", DEFAULT_COUNT, MAX_COUNT);
	u32 delay = cmdline_value(cmdline, "delay=", DEFAULT_DELAY, MAX_DELAY);

	for (u32 i = 0; i < count; i++) {
		/* volatile: the compiler must neither drop nor shorten the loop. */
		for (volatile u32 spin = 0; spin < delay; spin++)
			;
		serial_puts("count ");
		serial_put_dec(i);
		serial_putc('\n');
	}
	guest_success();
}
