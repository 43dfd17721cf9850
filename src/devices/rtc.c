/* rtc.c: CMOS clock: time and date in BCD, 24-hour mode, from the host's UTC clock. */
#include "devices/rtc.h"

#include <stdbool.h>
#include <string.h>

#define REG_SECONDS 0x00
#define REG_MINUTES 0x02
#define REG_HOURS 0x04
#define REG_WEEKDAY 0x06
#define REG_DAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32
#define REG_B_24H 0x02
#define REG_B_BINARY 0x04
#define REG_D_VRT 0x80 /* valid RAM and time */
#define INDEX_MASK 0x7f /* bit 7 of the index port is the NMI mask */

static time_t host_now(void)
{
	return time(NULL);
}

void rtc_init(struct rtc *rtc, time_t (*now)(void))
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->now = now ? now : host_now;
	rtc->st.cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate; update not in progress */
	rtc->st.cmos[REG_B] = REG_B_24H;
	rtc->st.cmos[REG_D] = REG_D_VRT;
}

void rtc_destroy(struct rtc *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}

void rtc_save(struct rtc *rtc, struct rtc_state *st)
{
	pthread_mutex_lock(&rtc->lock);
	*st = rtc->st;
	pthread_mutex_unlock(&rtc->lock);
}

void rtc_load(struct rtc *rtc, const struct rtc_state *st)
{
	pthread_mutex_lock(&rtc->lock);
	rtc->st = *st;
	pthread_mutex_unlock(&rtc->lock);
}

static uint8_t encode(const struct rtc *rtc, unsigned int v)
{
	return (rtc->st.cmos[REG_B] & REG_B_BINARY) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned int decode(const struct rtc *rtc, uint8_t v)
{
	return (rtc->st.cmos[REG_B] & REG_B_BINARY) ? v : (unsigned int)((v >> 4) * 10 + (v & 0xf));
}

static bool is_clock_reg(uint8_t reg)
{
	return reg <= REG_YEAR || reg == REG_CENTURY;
}

/* Lock held. */
static uint8_t clock_read(const struct rtc *rtc, uint8_t reg)
{
	time_t t = rtc->now() + rtc->st.offset_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (reg) {
	case REG_SECONDS: return encode(rtc, (unsigned int)tm.tm_sec);
	case REG_MINUTES: return encode(rtc, (unsigned int)tm.tm_min);
	case REG_HOURS: return encode(rtc, (unsigned int)tm.tm_hour);
	case REG_WEEKDAY: return encode(rtc, (unsigned int)tm.tm_wday + 1);
	case REG_DAY: return encode(rtc, (unsigned int)tm.tm_mday);
	case REG_MONTH: return encode(rtc, (unsigned int)tm.tm_mon + 1);
	case REG_YEAR: return encode(rtc, (unsigned int)(tm.tm_year % 100));
	case REG_CENTURY: return encode(rtc, (unsigned int)(tm.tm_year + 1900) / 100);
	default: return rtc->st.cmos[reg]; /* alarm registers: plain RAM */
	}
}

/* Lock held: the guest sets one field of the clock; keep the rest and move the offset. */
static void clock_write(struct rtc *rtc, uint8_t reg, uint8_t v)
{
	time_t host = rtc->now(), t = host + rtc->st.offset_s;
	unsigned int x = decode(rtc, v);
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (reg) {
	case REG_SECONDS: tm.tm_sec = (int)x; break;
	case REG_MINUTES: tm.tm_min = (int)x; break;
	case REG_HOURS: tm.tm_hour = (int)x; break;
	case REG_DAY: tm.tm_mday = (int)x; break;
	case REG_MONTH: tm.tm_mon = (int)x - 1; break;
	case REG_YEAR: tm.tm_year = (tm.tm_year / 100) * 100 + (int)x; break;
	case REG_CENTURY: tm.tm_year = (int)x * 100 + tm.tm_year % 100 - 1900; break;
	default: rtc->st.cmos[reg] = v; return; /* weekday and alarms */
	}
	rtc->st.offset_s = (int64_t)(timegm(&tm) - host);
}

void rtc_io_read(void *opaque, uint64_t offset, void *data, unsigned int size)
{
	struct rtc *rtc = opaque;
	uint8_t v, reg;

	(void)size;
	pthread_mutex_lock(&rtc->lock);
	reg = rtc->st.index & INDEX_MASK;
	if (offset == 0)
		v = rtc->st.index;
	else if (is_clock_reg(reg))
		v = clock_read(rtc, reg);
	else if (reg == REG_C)
		v = 0; /* no interrupt flags: kiln raises no RTC interrupts */
	else
		v = rtc->st.cmos[reg];
	pthread_mutex_unlock(&rtc->lock);
	*(uint8_t *)data = v;
}

void rtc_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size)
{
	struct rtc *rtc = opaque;
	uint8_t v = *(const uint8_t *)data, reg;

	(void)size;
	pthread_mutex_lock(&rtc->lock);
	reg = rtc->st.index & INDEX_MASK;
	if (offset == 0)
		rtc->st.index = v;
	else if (is_clock_reg(reg))
		clock_write(rtc, reg, v);
	else if (reg == REG_A)
		rtc->st.cmos[REG_A] = v & 0x7f; /* UIP is read-only */
	else if (reg == REG_B)
		rtc->st.cmos[REG_B] = v; /* 24h/binary modes honoured; SET does not freeze reads */
	else if (reg != REG_C && reg != REG_D)
		rtc->st.cmos[reg] = v;
	pthread_mutex_unlock(&rtc->lock);
}
