/*
 * snap_count: multiboot ELF32; counts at ring 3, printing "count 0", "count 1", ... one line each
 * over the serial port, then SUCCESS after `count=N` lines (default 100000000). The snapshot
 * tests (tests/api, group snapshot) pause it in the middle, save it, kill kiln and restore it in
 * a new process: the output of the two processes together must be exactly lines 0..N-1, with no
 * gap and no repeat. The counter lives in guest memory and in registers at ring 3, so both the
 * memory file and the vCPU state (a user-mode RIP, segment and stack) must come back.
 */
#include "ring3.h"
#include "kstring.h"
#include "multiboot.h"

void kmain(u32 magic, const struct multiboot_info *mbi);
void user_main(void);

#define DEFAULT_COUNT 100000000u

static volatile u32 count = DEFAULT_COUNT;

void device_irq(void)
{
	guest_fail("unexpected device interrupt");
}

void user_main(void)
{
	for (volatile u32 i = 0; i < count; i++) {
		serial_puts("count ");
		serial_put_dec(i);
		serial_putc('\n');
	}
	guest_success();
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");
	if ((mbi->flags & MBI_FLAG_CMDLINE)) {
		const char *v = cmdline_find((const char *)(uptr)mbi->cmdline, "count=");
		int ok = 0;
		u32 n = v ? parse_dec(v, &ok) : 0;

		if (v && (!ok || n == 0))
			guest_fail("bad count= value");
		if (v)
			count = n;
	}
	ring3_trap_exceptions();
	enter_ring3();
}
