/* rtc.h: MC146818 CMOS real-time clock (ports 0x70/0x71), reading the host's wall-clock time. */
#ifndef KILN_DEVICES_RTC_H
#define KILN_DEVICES_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define RTC_PORT 0x70
#define RTC_NR_PORTS 2
#define RTC_CMOS_SIZE 128

/* Plain data for snapshots: the index register and CMOS RAM. The time registers are not stored:
 * they are computed from the host clock (plus the offset a guest set) on every read. */
struct rtc_state {
	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	int64_t offset_s; /* guest time minus host time, from guest writes to the clock */
};

struct rtc {
	pthread_mutex_t lock;
	struct rtc_state st;
	time_t (*now)(void); /* host clock; tests substitute a fixed one */
};

void rtc_init(struct rtc *rtc, time_t (*now)(void));
void rtc_destroy(struct rtc *rtc);
void rtc_io_read(void *opaque, uint64_t offset, void *data, unsigned int size);
void rtc_io_write(void *opaque, uint64_t offset, const void *data, unsigned int size);

/* Snapshot hooks: copy the state out / in (every byte pattern is a valid state). */
void rtc_save(struct rtc *rtc, struct rtc_state *st);
void rtc_load(struct rtc *rtc, const struct rtc_state *st);

#endif
