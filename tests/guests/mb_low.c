/* mb_low: a multiboot kernel with a segment at 0x8000 (issue 17), where real-mode tests put
 * their trampolines and kiln's default boot information would be. Checks the low segment arrived
 * intact and runs, and that nothing kiln hands over (information, memory map, command line,
 * module list, strings, entry stack) lies inside the image. */
#include "exit.h"
#include "multiboot.h"

#define LOW_WORDS 512

void kmain(u32 magic, const struct multiboot_info *mbi);
extern char __low_start[], __low_end[], __kernel_start[], __kernel_end[];
extern u32 mb_entry_esp;
extern struct {
	u16 limit;
	u32 base;
} __attribute__((packed)) mb_entry_gdtr;

/* A known pattern the loader must copy, and code that runs from the low segment. */
#define PATTERN(i) (0xa5a50000u ^ ((u32)(i) * 0x01010101u))
#define P4(i) PATTERN(i), PATTERN((i) + 1), PATTERN((i) + 2), PATTERN((i) + 3)
#define P16(i) P4(i), P4((i) + 4), P4((i) + 8), P4((i) + 12)
#define P64(i) P16(i), P16((i) + 16), P16((i) + 32), P16((i) + 48)
#define P256(i) P64(i), P64((i) + 64), P64((i) + 128), P64((i) + 192)
__attribute__((section(".low.data"), used)) static const u32 low_pattern[LOW_WORDS] = {
	P256(0), P256(256)
};

__attribute__((section(".low.text"), noinline)) u32 low_sum(const u32 *p, u32 n);
u32 low_sum(const u32 *p, u32 n)
{
	u32 s = 0;

	for (u32 i = 0; i < n; i++)
		s += p[i] ^ i;
	return s;
}

static void check_outside(const char *what, u32 addr, u32 len)
{
	u32 lo = (u32)(uptr)__low_start, hi = (u32)(uptr)__low_end;
	u32 klo = (u32)(uptr)__kernel_start, khi = (u32)(uptr)__kernel_end;

	serial_puts(what);
	serial_puts(" at ");
	serial_put_hex(addr);
	serial_putc('\n');
	if (addr < hi && addr + len > lo)
		guest_fail("kiln's boot information overlaps the low segment");
	if (addr < khi && addr + len > klo)
		guest_fail("kiln's boot information overlaps the kernel");
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	u32 want = 0, esp;

	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("bad multiboot magic");
	if ((uptr)__low_start != 0x8000)
		guest_fail("linked wrong: the low segment is not at 0x8000");
	for (u32 i = 0; i < LOW_WORDS; i++) {
		if (low_pattern[i] != PATTERN(i))
			guest_fail("the low segment's data is not what the image holds");
		want += PATTERN(i) ^ i;
	}
	if (low_sum(low_pattern, LOW_WORDS) != want)
		guest_fail("code in the low segment computed the wrong sum");
	serial_puts("low segment at 0x8000: intact, its code ran\n");

	check_outside("info", (u32)(uptr)mbi, sizeof(*mbi));
	if (mbi->flags & MBI_FLAG_MMAP)
		check_outside("mmap", mbi->mmap_addr, mbi->mmap_length);
	if (mbi->flags & MBI_FLAG_CMDLINE)
		check_outside("cmdline", mbi->cmdline, 64);
	if (mbi->flags & MBI_FLAG_MODS) {
		const struct multiboot_module *m = (const void *)(uptr)mbi->mods_addr;

		check_outside("mods", mbi->mods_addr, 16 * mbi->mods_count);
		if (mbi->mods_count)
			check_outside("module", m->mod_start, m->mod_end - m->mod_start);
	}
	if (mbi->flags & MBI_FLAG_LOADER)
		check_outside("loader name", mbi->boot_loader_name, 16);
	/* crt0 saved the loader's stack pointer and GDTR before switching to its own. */
	check_outside("entry gdt", mb_entry_gdtr.base, (u32)mb_entry_gdtr.limit + 1);
	if (mb_entry_gdtr.limit < 0x17 ||
	    ((const u32 *)(uptr)mb_entry_gdtr.base)[3] != 0x00cf9b00u)
		guest_fail("the entry GDT has no flat 32-bit code descriptor at 0x08");
	esp = mb_entry_esp;
	check_outside("entry stack top", esp - 1024, 1024);
	serial_puts("cmdline=");
	if (mbi->flags & MBI_FLAG_CMDLINE)
		serial_puts((const char *)(uptr)mbi->cmdline);
	serial_putc('\n');
	guest_success();
}
