/*
 * exit_pace: a known exit pattern for the live exit view (kiln top, tests/e2e/exit_top.py):
 * PACE_HZ one-byte writes per second to port 0x80, for PACE_SECONDS, then SUCCESS.
 *
 * The pace comes from the TSC, calibrated against the CMOS clock's seconds (the guest's only
 * wall clock, which kiln keeps with the host's): a 2-second calibration, then each write waits
 * for its own deadline, so a late write does not make the ones after it late. All the writes come
 * from pace_out(), so its address is the top exit RIP (the test checks its symbol).
 */
#include "entry.h"

#define PACE_PORT 0x80
#define PACE_HZ 1000
#define PACE_SECONDS 120
#define RTC_INDEX 0x70
#define RTC_DATA 0x71

void kmain(u64 probe);
void pace_out(u8 v);

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

__attribute__((noinline)) void pace_out(u8 v)
{
	outb(PACE_PORT, v);
}

static u8 rtc_seconds(void)
{
	for (;;) {
		outb(RTC_INDEX, 0x0a);
		if (inb(RTC_DATA) & 0x80) /* update in progress: the seconds are about to change */
			continue;
		outb(RTC_INDEX, 0x00);
		return inb(RTC_DATA);
	}
}

/* Spins until the RTC's seconds change; returns the TSC then. */
static u64 next_second(void)
{
	u8 s = rtc_seconds();

	while (rtc_seconds() == s)
		;
	return rdtsc();
}

void kmain(u64 probe)
{
	u64 t0, hz, next, step;

	check_entry_stack(probe);
	t0 = next_second();
	next_second();
	hz = (next_second() - t0) / 2;
	if (hz < 1000000)
		guest_fail("exit_pace: TSC under 1 MHz against the RTC");
	serial_puts("exit_pace: tsc 0x");
	serial_put_hex_w(hz, 10);
	serial_puts(" Hz; pacing 1000 writes/s to port 0x80\n");
	step = hz / PACE_HZ;
	next = rdtsc();
	for (u32 n = 0; n < PACE_HZ * PACE_SECONDS; n++) {
		while (rdtsc() < next)
			__asm__ volatile("pause");
		pace_out((u8)n);
		next += step;
	}
	serial_puts("exit_pace: done\n");
	guest_success();
}
