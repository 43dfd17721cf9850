/* top.c: `kiln top`: polls GET /vm/exits on a kiln's API socket and shows the exits of each
 * interval like top(1) (ANSI redraw) or as one JSON line per interval (--json). */
#include "control/top.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control/exitview.h"
#include "control/symbols.h"
#include "util/unix_sock.h"

#define TOP_EXIT_USAGE 2
#define TOP_EXIT_HOST 6
#define TOP_IO_TIMEOUT_MS 5000
#define TOP_REPLY_MAX (4 << 20)

void top_print_help(FILE *f)
{
	fprintf(f,
		"usage: kiln top --api-sock PATH [options]\n"
		"\n"
		"The live VM-exit view of a running kiln (started with --api-sock PATH): each\n"
		"interval, exits per second per vCPU by reason, the top ports and MMIO devices,\n"
		"the top guest RIPs causing exits, and the time kiln spent handling each exit kind.\n"
		"Watching turns on exit timing and RIP sampling in the VM; they go off again a few\n"
		"seconds after the last look. Exits are those KVM hands to kiln (userspace).\n"
		"\n"
		"  --api-sock PATH        the kiln's API socket (required)\n"
		"  --symbols FILE         name guest RIPs: an ELF with a symbol table (vmlinux) or a\n"
		"                         System.map\n"
		"  --json                 one JSON object per interval on stdout, no redraw\n"
		"  --interval SECONDS     refresh period, 0.1 to 60 (default 1)\n"
		"  -n, --count N          stop after N intervals (default: until interrupted)\n"
		"  -h, --help             this help\n");
}

/* GET /vm/exits over the Unix socket: the parsed body of a 200 reply, or NULL with err set. */
static json_t *get_exits(const char *sock_path, char *err, size_t err_size)
{
	static const char req[] = "GET /vm/exits HTTP/1.1\r\nHost: localhost\r\n"
				  "Accept: application/json\r\nConnection: close\r\n\r\n";
	size_t len = 0, cap = 65536;
	char *buf = NULL, *body;
	json_t *doc = NULL;
	json_error_t jerr;
	int fd = -1, status;

	fd = unix_sock_connect(sock_path, 0);
	if (fd == -ENAMETOOLONG) {
		snprintf(err, err_size, "--api-sock: path too long: %s", sock_path);
		return NULL;
	}
	if (fd < 0) {
		snprintf(err, err_size, "%s: cannot connect: %s", sock_path, strerror(-fd));
		goto out;
	}
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		snprintf(err, err_size, "%s: cannot send the request: %s", sock_path, strerror(errno));
		goto out;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, TOP_IO_TIMEOUT_MS) <= 0) {
			snprintf(err, err_size, "%s: no reply within %d s", sock_path,
				 TOP_IO_TIMEOUT_MS / 1000);
			goto out;
		}
		if (len == cap) {
			char *nb = cap >= TOP_REPLY_MAX ? NULL : realloc(buf, cap * 2 + 1);

			if (!nb) {
				snprintf(err, err_size, "%s: reply over %d bytes", sock_path,
					 TOP_REPLY_MAX);
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, err_size, "%s: %s", sock_path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !body) {
		snprintf(err, err_size, "%s: not an HTTP reply", sock_path);
		goto out;
	}
	body += 4;
	doc = json_loads(body, 0, &jerr);
	if (status != 200) {
		const char *fault = json_string_value(json_object_get(doc, "fault_message"));

		snprintf(err, err_size, "%s: GET /vm/exits: HTTP %d%s%s", sock_path, status,
			 fault ? ": " : "", fault ? fault : "");
		json_decref(doc);
		doc = NULL;
	} else if (!doc) {
		snprintf(err, err_size, "%s: GET /vm/exits: invalid JSON: %s", sock_path, jerr.text);
	}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return doc;
}

static unsigned int term_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 100;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

enum { OPT_API = 256, OPT_SYMBOLS, OPT_JSON, OPT_INTERVAL };

int top_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "api-sock", required_argument, NULL, OPT_API },
		{ "symbols", required_argument, NULL, OPT_SYMBOLS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *sym_path = NULL;
	struct symtab *syms = NULL;
	struct exitview *view = NULL;
	bool json = false;
	double interval = 1.0;
	long count = -1;
	json_t *prev = NULL;
	char err[512];
	int c, status = 0;
	char *end;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:n:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_API:
			sock = optarg;
			break;
		case OPT_SYMBOLS:
			sym_path = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_INTERVAL:
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(interval >= 0.1 && interval <= 60)) {
				fprintf(stderr, "kiln top: --interval: not a number of seconds from 0.1 "
						"to 60: '%s'\n", optarg);
				return TOP_EXIT_USAGE;
			}
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || count < 1) {
				fprintf(stderr, "kiln top: --count: not a positive integer: '%s'\n",
					optarg);
				return TOP_EXIT_USAGE;
			}
			break;
		case 'h':
			top_print_help(stdout);
			return 0;
		case ':':
			fprintf(stderr, "kiln top: %s: missing value\n", argv[optind - 1]);
			return TOP_EXIT_USAGE;
		default:
			fprintf(stderr, "kiln top: unknown option '%s' (try kiln top --help)\n",
				argv[optind - 1]);
			return TOP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kiln top: unexpected argument '%s'\n", argv[optind]);
		return TOP_EXIT_USAGE;
	}
	if (!sock) {
		fprintf(stderr, "kiln top: --api-sock PATH is required (try kiln top --help)\n");
		return TOP_EXIT_USAGE;
	}
	if (sym_path && symtab_load(&syms, sym_path, err, sizeof(err))) {
		fprintf(stderr, "kiln top: --symbols: %s\n", err);
		return TOP_EXIT_USAGE;
	}
	view = malloc(sizeof(*view));
	prev = view ? get_exits(sock, err, sizeof(err)) : NULL;
	if (!prev) {
		fprintf(stderr, "kiln top: %s\n", view ? err : "out of memory");
		status = TOP_EXIT_HOST;
		goto out;
	}
	for (long i = 0; count < 0 || i < count; i++) {
		json_t *cur;

		sleep_s(interval);
		cur = get_exits(sock, err, sizeof(err));
		if (!cur) {
			fprintf(stderr, "kiln top: %s\n", err);
			status = TOP_EXIT_HOST;
			break;
		}
		if (exitview_compute(prev, cur, syms, view, err, sizeof(err))) {
			fprintf(stderr, "kiln top: %s\n", err);
			json_decref(cur);
			status = TOP_EXIT_HOST;
			break;
		}
		json_decref(prev);
		prev = cur;
		if (json) {
			json_t *o = exitview_json(view);

			json_dumpf(o, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(o);
		} else {
			fputs("\033[H\033[2J", stdout); /* home, clear screen */
			exitview_print(stdout, view, term_cols());
		}
		fflush(stdout);
	}
out:
	json_decref(prev);
	free(view);
	symtab_free(syms);
	return status;
}
