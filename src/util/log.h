/* log.h: levelled, printf-checked logging to stderr, with a rate limiter for guest-triggerable messages. */
#ifndef KILN_UTIL_LOG_H
#define KILN_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Messages above this level are dropped. Default LOG_WARN; set once by main before threads start. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Writes one line "kiln: <prefix><message>\n" to stderr in a single write(2), so lines from
 * concurrent threads never interleave. Never fails (errors writing stderr are ignored). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Token bucket for messages a guest can trigger at will: at most `burst` messages, then one
 * per `interval_ms`. Thread-safe. Counts what it suppressed so the next allowed message can say so. */
struct ratelimit {
	uint64_t interval_ns;
	uint32_t burst;
	uint32_t tokens;
	uint64_t last_ns;
	uint64_t suppressed;
	int lock; /* spin flag; messages are rare enough */
};

#define RATELIMIT_INIT(interval_ms, burst_) \
	{ .interval_ns = (uint64_t)(interval_ms) * 1000000ull, .burst = (burst_), .tokens = (burst_) }

/* Returns true when a message may be printed now; *suppressed (may be NULL) receives how many
 * were dropped since the last allowed one. */
bool ratelimit_allow(struct ratelimit *rl, uint64_t *suppressed);

#define pr_warn_ratelimited(rl, fmt, ...)                                                       \
	do {                                                                                    \
		uint64_t dropped_;                                                              \
		if (ratelimit_allow((rl), &dropped_)) {                                         \
			if (dropped_)                                                           \
				pr_warn(fmt " (%llu similar messages suppressed)", ##__VA_ARGS__, \
					(unsigned long long)dropped_);                          \
			else                                                                    \
				pr_warn(fmt, ##__VA_ARGS__);                                    \
		}                                                                               \
	} while (0)

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

#endif
