/* mb_hello: multiboot ELF32 kernel; checks the boot magic and prints the multiboot information it was given. */
#include "exit.h"
#include "multiboot.h"

#define MAX_STRING 256
#define MAX_MMAP_ENTRIES 64
#define MAX_MODULES 16

void kmain(u32 magic, const struct multiboot_info *mbi);

static void print_mmap(const struct multiboot_info *mbi)
{
	serial_puts("mmap:\n");
	uptr p = mbi->mmap_addr;
	uptr end = p + mbi->mmap_length;
	for (int n = 0; n < MAX_MMAP_ENTRIES && p < end; n++) {
		const struct multiboot_mmap_entry *e = (const void *)p;
		serial_puts("  base=");
		serial_put_hex(e->base_addr);
		serial_puts(" len=");
		serial_put_hex(e->length);
		serial_puts(" type=");
		serial_put_dec(e->type);
		serial_putc('\n');
		p += e->size + 4;
	}
}

/* First bytes of a module as text: up to 16, stopping at newline or NUL, unprintables as '.'. */
static void print_module_text(const char *text, u32 size)
{
	for (u32 i = 0; i < size && i < 16; i++) {
		char c = text[i];
		if (c == '\n' || c == 0)
			break;
		serial_putc(c >= 0x20 && c < 0x7f ? c : '.');
	}
}

static void print_modules(const struct multiboot_info *mbi)
{
	serial_puts("mods=");
	serial_put_dec(mbi->mods_count);
	serial_putc('\n');
	if (mbi->mods_count == 0)
		return;
	const struct multiboot_module *mod = (const void *)(uptr)mbi->mods_addr;
	u32 size = mod->mod_end - mod->mod_start;
	serial_puts("mod0 size=");
	serial_put_dec(size);
	serial_puts(" string=");
	if (mod->string)
		serial_putsn((const char *)(uptr)mod->string, MAX_STRING);
	serial_puts(" first=");
	print_module_text((const char *)(uptr)mod->mod_start, size);
	serial_putc('\n');
	for (u32 i = 1; i < mbi->mods_count && i < MAX_MODULES; i++) {
		serial_puts("mod");
		serial_put_dec(i);
		serial_puts(" size=");
		serial_put_dec(mod[i].mod_end - mod[i].mod_start);
		serial_putc('\n');
	}
}

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");
	serial_puts("magic ok\n");
	serial_puts("flags=");
	serial_put_hex_w(mbi->flags, 8);
	serial_putc('\n');

	if (mbi->flags & MBI_FLAG_MEM) {
		serial_puts("mem_lower=");
		serial_put_dec(mbi->mem_lower);
		serial_puts(" mem_upper=");
		serial_put_dec(mbi->mem_upper);
		serial_putc('\n');
	}
	if (mbi->flags & MBI_FLAG_CMDLINE) {
		serial_puts("cmdline=");
		serial_putsn((const char *)(uptr)mbi->cmdline, MAX_STRING);
		serial_putc('\n');
	}
	if (mbi->flags & MBI_FLAG_LOADER) {
		serial_puts("loader=");
		serial_putsn((const char *)(uptr)mbi->boot_loader_name, MAX_STRING);
		serial_putc('\n');
	}
	if (mbi->flags & MBI_FLAG_MMAP)
		print_mmap(mbi);
	if (mbi->flags & MBI_FLAG_MODS)
		print_modules(mbi);

	guest_success();
}
