/* api.c: the API's HTTP/1.1 server on a Unix socket (one thread, control/http.c's parser), with a
 * request queue drained by the VM's owner thread. Every answer, malformed requests' included, is
 * JSON: a Firecracker client parses fault_message whatever went wrong. */
#include "control/api.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control/http.h"
#include "util/log.h"
#include "util/sandbox.h"

#define API_MAX_CONNS 32      /* connections served at once; more are answered 503 and closed */
#define API_IDLE_MS 30000     /* a connection silent this long (mid-request or idle) is closed */
#define API_SEND_MS 5000      /* a client that does not read its answer this long is dropped */

/* One HTTP request as handed to the owner thread. */
struct api_call {
	struct api_request req;
	bool done;
	bool replying; /* answered by the owner, not yet sent */
	pthread_cond_t cond;
	struct api_call *next;
};

struct api_conn {
	int fd; /* -1: free slot */
	char *buf;
	size_t len;
	uint64_t last_ns;
	bool sent_continue;
};

struct api_server {
	int listen_fd;
	int event_fd; /* owner thread: requests wait */
	int stop_fd;  /* server thread: api_close() */
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_mutex_t lock;
	struct api_call *head, *tail; /* waiting for the owner thread */
	bool closing;
	unsigned int replying;        /* responses given and not yet sent */
	pthread_cond_t replies_sent;
	unsigned long requests, errors;
	size_t max_body;
	struct api_conn conns[API_MAX_CONNS];
};

static void fault(struct api_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fault(struct api_request *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->fault, sizeof(req->fault), fmt, ap);
	va_end(ap);
	req->status = 400;
}

/* Lock held: the owner is done with `call`. From this moment its response counts as pending, so
 * api_close() waits for it to be sent even if the server thread has not woken up yet. */
static void finish_call(struct api_server *api, struct api_call *call)
{
	call->done = true;
	call->replying = true;
	api->replying++;
	pthread_cond_signal(&call->cond);
}

/* Server thread: hand the call to the owner thread and wait for its answer. */
static void run_on_owner(struct api_server *api, struct api_call *call)
{
	uint64_t one = 1;

	pthread_mutex_lock(&api->lock);
	if (api->closing) {
		fault(&call->req, "kiln is shutting down");
		pthread_mutex_unlock(&api->lock);
		return;
	}
	call->next = NULL;
	if (api->tail)
		api->tail->next = call;
	else
		api->head = call;
	api->tail = call;
	if (write(api->event_fd, &one, sizeof(one)) < 0)
		(void)0; /* counter full: the owner is being woken anyway */
	while (!call->done)
		pthread_cond_wait(&call->cond, &api->lock);
	pthread_mutex_unlock(&api->lock);
}

void api_process(struct api_server *api, api_handler_fn handler, void *ctx)
{
	uint64_t v;

	if (read(api->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	for (;;) {
		struct api_call *call;

		pthread_mutex_lock(&api->lock);
		call = api->head;
		if (call) {
			api->head = call->next;
			if (!api->head)
				api->tail = NULL;
		}
		pthread_mutex_unlock(&api->lock);
		if (!call)
			return;
		handler(ctx, &call->req);
		pthread_mutex_lock(&api->lock);
		finish_call(api, call);
		pthread_mutex_unlock(&api->lock);
	}
}

/* Sends all of buf on a non-blocking socket, waiting at most API_SEND_MS for a slow reader.
 * Returns 0 or -1 (the caller closes the connection). */
static int send_all(int fd, const char *buf, size_t len)
{
	uint64_t deadline = now_ns() + (uint64_t)API_SEND_MS * 1000000u;

	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			uint64_t t = now_ns();

			if (t >= deadline || poll(&p, 1, (int)((deadline - t) / 1000000u) + 1) <= 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

/* Sends req's answer: status (204 when 0), its JSON reply or {"fault_message": ...}. */
static int send_reply(struct api_server *api, int fd, struct api_request *req, bool keep_alive)
{
	char head[256], *text = NULL;
	int status = req->status ? req->status : 204, n, e;

	if (status >= 400 && !req->reply)
		req->reply = json_pack("{s:s}", "fault_message", req->fault[0] ? req->fault : "error");
	if (req->reply && status != 204)
		text = json_dumps(req->reply, JSON_COMPACT);
	if (status == 204 || !text)
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: kiln\r\n%s%s\r\n", status,
			     http_status_text(status), status == 204 ? "" : "Content-Length: 0\r\n",
			     keep_alive ? "" : "Connection: close\r\n");
	else
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nServer: kiln\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n%s\r\n",
			     status, http_status_text(status), strlen(text),
			     keep_alive ? "" : "Connection: close\r\n");
	e = send_all(fd, head, (size_t)n);
	if (!e && text)
		e = send_all(fd, text, strlen(text));
	free(text);
	pthread_mutex_lock(&api->lock);
	api->requests++;
	if (status >= 400)
		api->errors++;
	pthread_mutex_unlock(&api->lock);
	return e;
}

static void conn_close(struct api_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	*c = (struct api_conn){ .fd = -1 };
}

/* Answers a malformed request and closes the connection: its framing is lost. */
static void reject(struct api_server *api, struct api_conn *c, int status, const char *reason)
{
	struct api_request req = { .status = status };

	snprintf(req.fault, sizeof(req.fault), "%s", reason);
	send_reply(api, c->fd, &req, false);
	json_decref(req.reply);
	conn_close(c);
}

/* One parsed request: to the owner thread (unless its body is bad JSON), then the answer.
 * Returns false when the connection was closed. */
static bool serve(struct api_server *api, struct api_conn *c, const struct http_req *h)
{
	struct api_call call = { .req = { .method = h->method, .path = h->path } };
	const char *body = c->buf + h->head_len;
	bool keep = h->keep_alive;
	int e;

	pthread_cond_init(&call.cond, NULL);
	if (h->body_len) {
		json_error_t jerr;

		call.req.body = json_loadb(body, h->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!call.req.body)
			fault(&call.req, "invalid JSON body: %s (line %d, column %d)", jerr.text,
			      jerr.line, jerr.column);
	}
	if (!call.req.status)
		run_on_owner(api, &call);
	e = send_reply(api, c->fd, &call.req, keep);
	if (call.replying) {
		pthread_mutex_lock(&api->lock);
		api->replying--;
		pthread_cond_broadcast(&api->replies_sent);
		pthread_mutex_unlock(&api->lock);
	}
	json_decref(call.req.body);
	json_decref(call.req.reply);
	pthread_cond_destroy(&call.cond);
	if (e || !keep) {
		conn_close(c);
		return false;
	}
	/* Pipelined bytes of the next request stay in the buffer. */
	c->len -= h->head_len + h->body_len;
	memmove(c->buf, c->buf + h->head_len + h->body_len, c->len);
	c->sent_continue = false;
	return true;
}

/* Parses and serves every whole request in the connection's buffer. */
static void drain(struct api_server *api, struct api_conn *c)
{
	struct http_req h;

	while (c->fd >= 0 && c->len) {
		switch (http_parse(c->buf, c->len, api->max_body, &h)) {
		case HTTP_ERROR:
			reject(api, c, h.status, h.reason);
			return;
		case HTTP_NEED_MORE:
			/* curl and others wait for "100 Continue" before a large body. */
			if (h.head_len && h.expect_continue && !c->sent_continue) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

				c->sent_continue = true;
				if (send_all(c->fd, cont, sizeof(cont) - 1))
					conn_close(c);
			}
			return;
		case HTTP_DONE:
			if (!serve(api, c, &h))
				return;
			break;
		}
	}
}

static void conn_read(struct api_server *api, struct api_conn *c)
{
	/* Room for the largest valid request plus a byte, so an oversized one is seen. */
	size_t limit = HTTP_MAX_HEAD + api->max_body + 1;
	ssize_t n;

	if (c->len >= limit) {
		reject(api, c, 400, "request too large");
		return;
	}
	if (!c->buf) {
		c->buf = malloc(limit);
		if (!c->buf) {
			conn_close(c);
			return;
		}
	}
	n = recv(c->fd, c->buf + c->len, limit - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c); /* the client closed (or reset) it: nothing to answer */
		return;
	}
	c->len += (size_t)n;
	c->last_ns = now_ns();
	drain(api, c);
}

static void accept_one(struct api_server *api)
{
	int fd = accept4(api->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (unsigned int i = 0; i < API_MAX_CONNS; i++) {
		if (api->conns[i].fd < 0) {
			api->conns[i] = (struct api_conn){ .fd = fd, .last_ns = now_ns() };
			return;
		}
	}
	struct api_conn busy = { .fd = fd };

	reject(api, &busy, 503, "too many API connections (at most 32 at once)");
}

static void *server_thread(void *arg)
{
	struct api_server *api = arg;

	/* Before the first connection is accepted (docs/security.md). */
	if (sandbox_enter(SANDBOX_API))
		return NULL; /* logged; clients are never answered, signals still stop kiln */
	for (;;) {
		struct pollfd p[API_MAX_CONNS + 2];
		int map[API_MAX_CONNS + 2];
		nfds_t n = 0;
		uint64_t t;

		p[n++] = (struct pollfd){ .fd = api->stop_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = api->listen_fd, .events = POLLIN };
		for (int i = 0; i < API_MAX_CONNS; i++) {
			if (api->conns[i].fd >= 0) {
				map[n] = i;
				p[n++] = (struct pollfd){ .fd = api->conns[i].fd, .events = POLLIN };
			}
		}
		if (poll(p, n, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN)
			accept_one(api);
		t = now_ns();
		for (nfds_t i = 2; i < n; i++) {
			struct api_conn *c = &api->conns[map[i]];

			if (c->fd != p[i].fd)
				continue;
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(api, c);
			else if (t - c->last_ns > (uint64_t)API_IDLE_MS * 1000000u)
				conn_close(c); /* idle or stalled mid-request: a clean close */
		}
	}
	for (int i = 0; i < API_MAX_CONNS; i++)
		conn_close(&api->conns[i]);
	return NULL;
}

int api_open(struct api_server **out, const char *path, bool force, size_t max_body, char *err,
	     size_t err_size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct api_server *api;
	struct stat st;
	mode_t old_mask;
	int e;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_size, "--api-sock: path '%s' is longer than %zu bytes", path,
			 sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!force) {
			snprintf(err, err_size,
				 "--api-sock: '%s' already exists (a stale socket? remove it or use "
				 "--api-sock-force)",
				 path);
			return -EEXIST;
		}
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, err_size, "--api-sock: '%s' exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	pthread_mutex_init(&api->lock, NULL);
	pthread_cond_init(&api->replies_sent, NULL);
	snprintf(api->path, sizeof(api->path), "%s", path);
	api->max_body = max_body;
	for (int i = 0; i < API_MAX_CONNS; i++)
		api->conns[i].fd = -1;
	api->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	api->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	api->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (api->event_fd < 0 || api->stop_fd < 0 || api->listen_fd < 0) {
		e = -errno;
		snprintf(err, err_size, "--api-sock: cannot create socket: %s", strerror(-e));
		goto fail;
	}
	/* The socket is created 0600 by bind itself: no window where others could connect. */
	old_mask = umask(0177);
	e = bind(api->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	umask(old_mask);
	if (e || listen(api->listen_fd, 64) < 0) {
		e = e ? e : -errno;
		snprintf(err, err_size, "--api-sock: cannot listen on '%s': %s", path, strerror(-e));
		goto fail_unlink;
	}
	e = -pthread_create(&api->thread, NULL, server_thread, api);
	if (e) {
		snprintf(err, err_size, "--api-sock: cannot start the HTTP server thread: %s",
			 strerror(-e));
		goto fail_unlink;
	}
	pthread_setname_np(api->thread, "kiln-api");
	*out = api;
	return 0;

fail_unlink:
	unlink(path);
fail:
	if (api->listen_fd >= 0)
		close(api->listen_fd);
	if (api->event_fd >= 0)
		close(api->event_fd);
	if (api->stop_fd >= 0)
		close(api->stop_fd);
	pthread_cond_destroy(&api->replies_sent);
	pthread_mutex_destroy(&api->lock);
	free(api);
	return e;
}

int api_fd(const struct api_server *api) { return api->event_fd; }

void api_counters(const struct api_server *api, unsigned long *requests, unsigned long *errors)
{
	pthread_mutex_lock((pthread_mutex_t *)&api->lock);
	*requests = api->requests;
	*errors = api->errors;
	pthread_mutex_unlock((pthread_mutex_t *)&api->lock);
}

void api_unlink_socket(const struct api_server *api)
{
	if (api)
		unlink(api->path);
}

void api_close(struct api_server *api)
{
	struct timespec deadline;

	if (!api)
		return;
	pthread_mutex_lock(&api->lock);
	api->closing = true;
	while (api->head) {
		struct api_call *call = api->head;

		api->head = call->next;
		fault(&call->req, "kiln is shutting down");
		finish_call(api, call);
	}
	api->tail = NULL;
	/* Answers already given (the InstanceStart of a guest that ended at once, the calls just
	 * refused) must reach their clients before the server goes: wait for them, briefly. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 1;
	while (api->replying &&
	       pthread_cond_timedwait(&api->replies_sent, &api->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&api->lock);
	unlink(api->path);
	{
		uint64_t one = 1;

		if (write(api->stop_fd, &one, sizeof(one)) < 0)
			(void)0; /* cannot fail on a fresh eventfd */
	}
	pthread_join(api->thread, NULL);
	close(api->listen_fd);
	close(api->stop_fd);
	close(api->event_fd);
	pthread_cond_destroy(&api->replies_sent);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
