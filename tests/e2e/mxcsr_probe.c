/* mxcsr_probe.c: does this CPU raise #GP on ldmxcsr with a reserved bit set, as the SDM says?
 *
 * Real x86 CPUs do (Intel SDM vol. 2B, LDMXCSR: "#GP(0) if any reserved bits are set"; Linux
 * turns the user-mode #GP into SIGSEGV). QEMU's TCG loads the value silently, so under it the
 * guest check of tests/guests/mxcsr.c fails through no fault of kiln's. run-guest.sh
 * --skip-unless runs this first: exit 0 when the CPU faults (the guest check can run), exit 77
 * with the reason on stdout when it does not. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MXCSR_DEFAULT 0x1f80u
#define MXCSR_RESERVED_BIT 0x10000u /* bits 31:16 are reserved on every CPU */
#define EXIT_SKIP 77

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

int main(void)
{
	struct sigaction sa;
	volatile unsigned int bad = MXCSR_RESERVED_BIT | MXCSR_DEFAULT;
	unsigned int saved;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL)) {
		perror("mxcsr_probe: sigaction");
		return 1;
	}
	__asm__ volatile("stmxcsr %0" : "=m"(saved));
	if (sigsetjmp(fault_jmp, 1) == 0) {
		__asm__ volatile("ldmxcsr %0" : : "m"(bad));
		__asm__ volatile("ldmxcsr %0" : : "m"(saved)); /* it loaded: put MXCSR back */
		printf("this CPU does not raise #GP on ldmxcsr with reserved bits (an emulator such as "
		       "QEMU TCG); the guest check needs one that does\n");
		return EXIT_SKIP;
	}
	printf("ldmxcsr 0x%x raised #GP (SIGSEGV), as on real CPUs\n", bad);
	return 0;
}
