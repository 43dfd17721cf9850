/* log.h: levelled, printf-checked logging to stderr, with a rate limiter for guest-triggerable messages. */
#ifndef KILN_UTIL_LOG_H
#define KILN_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_OFF = -1, LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Messages above this level are dropped. Default LOG_WARN. The setters below are called by the
 * owner thread; other threads only read, so a change takes effect within a message or two. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Where lines go (default stderr). The caller keeps the fd open while it is in use. */
void log_set_fd(int fd);
int log_get_fd(void);
/* Line decoration: "[Level] " and "file:line: " prefixes; `module` (may be NULL) keeps only
 * messages whose source path contains it. The string is copied. */
void log_set_format(bool show_level, bool show_origin, const char *module);

/* Writes one line "kiln: <prefix><message>\n" in a single write(2), so lines from concurrent
 * threads never interleave; control bytes in the message (user values, file contents) are
 * written as \xNN. Never fails (write errors are ignored). */
void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* An error that ends kiln: logged as pr_err(), and also written to stderr when the log goes
 * elsewhere (a logger's log_path) or its level is Off, so whoever started kiln sees why it
 * stopped. */
void log_fatal(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define pr_fatal(...) log_fatal(__FILE__, __LINE__, __VA_ARGS__)
#define pr_err(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define pr_warn(...) log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define pr_info(...) log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

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

#define pr_ratelimited(pr, rl, fmt, ...)                                                        \
	do {                                                                                    \
		uint64_t dropped_;                                                              \
		if (ratelimit_allow((rl), &dropped_)) {                                         \
			if (dropped_)                                                           \
				pr(fmt " (%llu similar messages suppressed)", ##__VA_ARGS__,    \
				   (unsigned long long)dropped_);                               \
			else                                                                    \
				pr(fmt, ##__VA_ARGS__);                                         \
		}                                                                               \
	} while (0)
#define pr_warn_ratelimited(rl, fmt, ...) pr_ratelimited(pr_warn, rl, fmt, ##__VA_ARGS__)
/* Only spends the rate limit's tokens when info messages are shown (-v). */
#define pr_info_ratelimited(rl, fmt, ...)                                                       \
	do {                                                                                    \
		if (log_get_level() >= LOG_INFO)                                                \
			pr_ratelimited(pr_info, rl, fmt, ##__VA_ARGS__);                        \
	} while (0)

/* Likewise at debug level (-vv). */
#define pr_debug_ratelimited(rl, fmt, ...)                                                      \
	do {                                                                                    \
		if (log_get_level() >= LOG_DEBUG)                                               \
			pr_ratelimited(pr_debug, rl, fmt, ##__VA_ARGS__);                       \
	} while (0)

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

#endif
