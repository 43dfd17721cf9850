/* cpuid_probe: reports CPUID leaves and checks the bits a CPU template must hide or show, as the
 * command line asks (docs/cpu-templates.md). Space-separated checks, numbers in hex:
 *   show=LEAF.SUB               print the four registers
 *   clear=LEAF.SUB:REG:MASK     every bit of MASK reads 0     (REG: eax, ebx, ecx, edx)
 *   set=LEAF.SUB:REG:MASK       every bit of MASK reads 1
 *   eq=LEAF.SUB:REG:VALUE       the register reads VALUE
 *   msr=ADDR:MASK:VALUE         rdmsr ADDR, masked, reads VALUE
 *   x2apic=gp|ok                setting IA32_APIC_BASE.EXTD raises #GP (x2APIC hidden) or works
 * Then "cpuid: N checks passed" and SUCCESS, or FAIL naming the check. */
#include "entry.h"
#include "kstring.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_EXTD (1u << 10)

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, type_attr;
	u16 off_mid;
	u32 off_hi, zero;
} PACKED;

static struct idt_gate idt[32] __attribute__((aligned(16)));

void kmain(u64 probe, const char *cmdline);
void gp_handler(void);

/* #GP handler: back to after_wrmsr on the interrupted stack (no iret, which some hosts cannot
 * emulate at ring 0), as mxcsr.c does. */
__asm__(".text\n"
	".globl gp_handler\n"
	"gp_handler:\n"
	"	movq 32(%rsp), %rsp\n"
	"	jmp after_wrmsr\n");

static void cpuid(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

/* Returns 1 when wrmsr raised #GP. Not inlined: its labels must exist once. */
static __attribute__((noinline)) u32 try_wrmsr(u32 msr, u64 v)
{
	u32 faulted;

	__asm__ volatile("xorl %0, %0\n\t"
			 "wrmsr\n\t"
			 "jmp 1f\n"
			 ".globl after_wrmsr\n"
			 "after_wrmsr:\n\t"
			 "movl $1, %0\n"
			 "1:\n"
			 : "=&r"(faulted)
			 : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))
			 : "memory");
	return faulted;
}

static const char *regs[4] = { "eax", "ebx", "ecx", "edx" };

/* Hex number at *s (optional 0x), up to 16 digits; advances *s. Fails the guest if none. */
static u64 hex(const char **s, const char *tok)
{
	u64 v = 0;
	int n = 0;

	if ((*s)[0] == '0' && (*s)[1] == 'x')
		*s += 2;
	for (;; (*s)++, n++) {
		char c = **s;
		u32 d;

		if (c >= '0' && c <= '9')
			d = (u32)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (u32)(c - 'a' + 10);
		else
			break;
		if (n == 16)
			break;
		v = (v << 4) | d;
	}
	if (n == 0) {
		serial_puts("cpuid: bad number in ");
		serial_puts(tok);
		serial_putc('\n');
		guest_fail("bad command line");
	}
	return v;
}

static void expect_char(const char **s, char c, const char *tok)
{
	if (**s != c) {
		serial_puts("cpuid: expected '");
		serial_putc(c);
		serial_puts("' in ");
		serial_puts(tok);
		serial_putc('\n');
		guest_fail("bad command line");
	}
	(*s)++;
}

static void put_leaf(u32 leaf, u32 sub)
{
	serial_put_hex(leaf);
	serial_putc('.');
	serial_put_hex(sub);
}

static void x2apic_check(int want_gp)
{
	struct {
		u16 limit;
		u64 base;
	} PACKED idtr = { sizeof(idt) - 1, (u64)(uptr)idt };
	u64 handler = (u64)(uptr)gp_handler, base = rdmsr(MSR_APIC_BASE);
	u16 cs;
	u32 gp;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[13] = (struct idt_gate){ .off_lo = (u16)handler, .sel = cs, .type_attr = 0x8e,
				     .off_mid = (u16)(handler >> 16), .off_hi = (u32)(handler >> 32) };
	__asm__ volatile("lidt %0" : : "m"(idtr));
	gp = try_wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	serial_puts("cpuid: x2APIC enable ");
	serial_puts(gp ? "raised #GP\n" : "worked\n");
	if (want_gp && !gp)
		guest_fail("x2APIC is hidden but IA32_APIC_BASE.EXTD could be set");
	if (!want_gp && (gp || !(rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD)))
		guest_fail("x2APIC is offered but IA32_APIC_BASE.EXTD could not be set");
}

/* One check token, at most 96 bytes (copied so it can be printed alone). */
static void check(const char *tok)
{
	const char *s = tok;
	u32 r[4], leaf, sub, reg = 4;
	u64 mask;
	int kind; /* 0 show, 1 clear, 2 set, 3 eq */

	if (k_strncmp(s, "x2apic=", 7) == 0) {
		x2apic_check(k_strncmp(s + 7, "gp", 2) == 0);
		return;
	}
	if (k_strncmp(s, "msr=", 4) == 0) {
		u64 got, value;
		u32 addr;

		s += 4;
		addr = (u32)hex(&s, tok);
		expect_char(&s, ':', tok);
		mask = hex(&s, tok);
		expect_char(&s, ':', tok);
		value = hex(&s, tok);
		got = rdmsr(addr) & mask;
		serial_puts("cpuid: msr ");
		serial_put_hex(addr);
		serial_puts(" & ");
		serial_put_hex(mask);
		serial_puts(" = ");
		serial_put_hex(got);
		serial_putc('\n');
		if (got != value)
			guest_fail(tok);
		return;
	}
	if (k_strncmp(s, "show=", 5) == 0)
		kind = 0, s += 5;
	else if (k_strncmp(s, "clear=", 6) == 0)
		kind = 1, s += 6;
	else if (k_strncmp(s, "set=", 4) == 0)
		kind = 2, s += 4;
	else if (k_strncmp(s, "eq=", 3) == 0)
		kind = 3, s += 3;
	else
		return;
	leaf = (u32)hex(&s, tok);
	expect_char(&s, '.', tok);
	sub = (u32)hex(&s, tok);
	cpuid(leaf, sub, r);
	serial_puts("cpuid ");
	put_leaf(leaf, sub);
	if (kind == 0) {
		for (int i = 0; i < 4; i++) {
			serial_putc(' ');
			serial_puts(regs[i]);
			serial_putc('=');
			serial_put_hex_w(r[i], 8);
		}
		serial_putc('\n');
		return;
	}
	expect_char(&s, ':', tok);
	for (u32 i = 0; i < 4; i++)
		if (k_strncmp(s, regs[i], 3) == 0)
			reg = i;
	if (reg == 4)
		guest_fail("bad register in the command line");
	s += 3;
	expect_char(&s, ':', tok);
	mask = hex(&s, tok);
	serial_putc(' ');
	serial_puts(regs[reg]);
	serial_putc('=');
	serial_put_hex_w(r[reg], 8);
	serial_puts(kind == 1 ? " clear " : kind == 2 ? " set " : " eq ");
	serial_put_hex(mask);
	if ((kind == 1 && (r[reg] & mask) != 0) || (kind == 2 && (r[reg] & mask) != mask) ||
	    (kind == 3 && r[reg] != mask)) {
		serial_puts(": wrong\n");
		guest_fail(tok);
	}
	serial_puts(": ok\n");
}

void kmain(u64 probe, const char *cmdline)
{
	char tok[97];
	u32 checks = 0;

	check_entry_stack(probe);
	if (!cmdline)
		guest_fail("no command line");
	for (uptr i = 0; i < 4096 && cmdline[i];) {
		uptr n = 0;

		while (cmdline[i] == ' ')
			i++;
		while (cmdline[i + n] && cmdline[i + n] != ' ' && i + n < 4096)
			n++;
		if (n == 0)
			break;
		if (n >= sizeof(tok))
			guest_fail("a check longer than 96 bytes");
		k_memcpy(tok, cmdline + i, n);
		tok[n] = '\0';
		if (k_strncmp(tok, "show=", 5) != 0)
			checks++;
		check(tok);
		i += n;
	}
	serial_puts("cpuid: ");
	serial_put_dec(checks);
	serial_puts(" checks passed\n");
	guest_success();
}
