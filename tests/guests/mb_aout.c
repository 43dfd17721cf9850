/* mb_aout: multiboot a.out-kludge raw binary; checks the boot magic and that the loader zeroed .bss. */
#include "exit.h"
#include "multiboot.h"

void kmain(u32 magic, const struct multiboot_info *mbi);

/* Lies past load_end_addr, so only the loader's bss_end_addr zeroing makes it zero. */
static volatile u32 bss_words[1024];

void kmain(u32 magic, const struct multiboot_info *mbi)
{
	(void)mbi;
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		guest_fail("EAX does not hold the multiboot magic 0x2badb002");
	if (bss_words[0] != 0 || bss_words[1] != 0 || bss_words[511] != 0 || bss_words[1023] != 0)
		guest_fail(".bss was not zeroed by the loader");
	serial_puts("kiln multiboot a.out: hello\n");
	guest_success();
}
