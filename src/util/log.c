/* log.c: levelled logging and rate limiting. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_WARN;
static int log_fd = STDERR_FILENO;
static int log_show_level, log_show_origin;
static char log_module[64];

void log_set_level(enum log_level level) { __atomic_store_n(&log_level, level, __ATOMIC_RELAXED); }
enum log_level log_get_level(void) { return __atomic_load_n(&log_level, __ATOMIC_RELAXED); }
void log_set_fd(int fd) { __atomic_store_n(&log_fd, fd, __ATOMIC_RELAXED); }
int log_get_fd(void) { return __atomic_load_n(&log_fd, __ATOMIC_RELAXED); }

void log_set_format(bool show_level, bool show_origin, const char *module)
{
	__atomic_store_n(&log_show_level, show_level, __ATOMIC_RELAXED);
	__atomic_store_n(&log_show_origin, show_origin, __ATOMIC_RELAXED);
	snprintf(log_module, sizeof(log_module), "%s", module ? module : "");
}

static const char *const level_prefix[] = {
	[LOG_ERROR] = "",
	[LOG_WARN] = "warning: ",
	[LOG_INFO] = "",
	[LOG_DEBUG] = "debug: ",
};

static const char *const level_name[] = {
	[LOG_ERROR] = "Error",
	[LOG_WARN] = "Warning",
	[LOG_INFO] = "Info",
	[LOG_DEBUG] = "Debug",
};

/* Copies `src` into dst (`size` bytes, NUL-terminated, truncated to fit) with control bytes
 * written as \xNN: messages quote file contents and user values, which must not reach a
 * terminal as escape sequences or split one line into two. Returns the length written. */
static size_t escape(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src && n + 1 < size; src++) {
		unsigned char ch = (unsigned char)*src;

		if (ch < 0x20 || ch == 0x7f) {
			if (n + 5 >= size)
				break;
			n += (size_t)snprintf(dst + n, size - n, "\\x%02x", ch);
		} else {
			dst[n++] = (char)ch;
		}
	}
	dst[n] = '\0';
	return n;
}

__attribute__((format(printf, 5, 0))) static void log_vmsg(enum log_level level, const char *file,
							    int line, bool stderr_too,
							    const char *fmt, va_list ap)
{
	char buf[1024], msg[1024];
	int n;
	int fd = __atomic_load_n(&log_fd, __ATOMIC_RELAXED);

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* A fatal error reaches stderr whatever the logger says: written there when the log goes
	 * elsewhere or its level (Off) would drop it. */
	if (stderr_too && (fd != STDERR_FILENO || (int)level > log_get_level())) {
		/* Plain, as errors before any logger: "kiln: <message>". */
		n = snprintf(buf, sizeof(buf), "kiln: ");
		n += (int)escape(buf + n, sizeof(buf) - (size_t)n - 1, msg);
		buf[n++] = '\n';
		if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
			/* nothing more to do */
		}
	}
	if ((int)level > log_get_level())
		return;
	if (log_module[0] && !strstr(file, log_module))
		return;
	if (__atomic_load_n(&log_show_level, __ATOMIC_RELAXED))
		n = snprintf(buf, sizeof(buf), "kiln: [%s] ", level_name[level]);
	else
		n = snprintf(buf, sizeof(buf), "kiln: %s", level_prefix[level]);
	if (__atomic_load_n(&log_show_origin, __ATOMIC_RELAXED))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s:%d: ", file, line);
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	n += (int)escape(buf + n, sizeof(buf) - (size_t)n - 1, msg);
	buf[n++] = '\n';
	/* One write so lines from several threads never interleave. */
	if (write(fd, buf, (size_t)n) < 0)
		return;
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, file, line, false, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, file, line, true, fmt, ap);
	va_end(ap);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool ratelimit_allow(struct ratelimit *rl, uint64_t *suppressed)
{
	uint64_t t = now_ns();
	bool ok;

	while (__atomic_exchange_n(&rl->lock, 1, __ATOMIC_ACQUIRE))
		;
	if (rl->last_ns == 0)
		rl->last_ns = t;
	if (t - rl->last_ns >= rl->interval_ns) {
		uint64_t refill = (t - rl->last_ns) / rl->interval_ns;
		rl->tokens = refill >= rl->burst ? rl->burst : rl->tokens + (uint32_t)refill;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_ns = t;
	}
	ok = rl->tokens > 0;
	if (ok) {
		rl->tokens--;
		if (suppressed)
			*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	__atomic_store_n(&rl->lock, 0, __ATOMIC_RELEASE);
	return ok;
}
