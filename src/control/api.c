/* api.c: libmicrohttpd on a Unix socket, with a request queue drained by the VM's owner thread. */
#include "control/api.h"

#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* libmicrohttpd is loaded only when the API is used: linked normally it brings GnuTLS and eight
 * more libraries into every kiln process, which cost ~2 ms and ~2.7 MiB at start-up even for a
 * VM started from the command line with no API at all. */
static struct {
	void *handle;
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd;

static int mhd_load(char *err, size_t err_size)
{
	void *h;

	if (mhd.handle)
		return 0;
	h = dlopen(KILN_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, err_size, "--api-sock: cannot load %s: %s (install libmicrohttpd12)",
			 KILN_MHD_SONAME, dlerror());
		return -ENOENT;
	}
#define MHD_SYM(field, name)                                                                   \
	if (!(*(void **)&mhd.field = dlsym(h, name))) {                                         \
		snprintf(err, err_size, "--api-sock: %s lacks %s", KILN_MHD_SONAME, name);     \
		dlclose(h);                                                                     \
		return -ENOENT;                                                                 \
	}
	MHD_SYM(start_daemon, "MHD_start_daemon");
	MHD_SYM(stop_daemon, "MHD_stop_daemon");
	MHD_SYM(create_response_from_buffer, "MHD_create_response_from_buffer");
	MHD_SYM(add_response_header, "MHD_add_response_header");
	MHD_SYM(queue_response, "MHD_queue_response");
	MHD_SYM(destroy_response, "MHD_destroy_response");
#undef MHD_SYM
	mhd.handle = h;
	return 0;
}

/* One HTTP request from first byte to response; lives on the server thread's stack of calls. */
struct api_call {
	struct api_request req;
	char *method, *path;
	char *data;
	size_t len;
	bool too_large;
	bool done;
	bool replying; /* response queued, not yet fully sent */
	pthread_cond_t cond;
	struct api_call *next;
};

struct api_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	int event_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_mutex_t lock;
	struct api_call *head, *tail; /* waiting for the owner thread */
	bool closing;
	unsigned int replying;        /* responses queued and not yet sent */
	pthread_cond_t replies_sent;
	unsigned long requests, errors;
	size_t max_body;
};

static void fault(struct api_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fault(struct api_request *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->fault, sizeof(req->fault), fmt, ap);
	va_end(ap);
	req->status = MHD_HTTP_BAD_REQUEST;
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

static enum MHD_Result send_reply(struct api_server *api, struct MHD_Connection *conn,
				  struct api_request *req)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	char *text = NULL;
	unsigned int status = req->status ? (unsigned int)req->status : MHD_HTTP_NO_CONTENT;

	if (status >= 400 && !req->reply)
		req->reply = json_pack("{s:s}", "fault_message", req->fault[0] ? req->fault : "error");
	if (req->reply && status != MHD_HTTP_NO_CONTENT)
		text = json_dumps(req->reply, JSON_COMPACT);
	resp = mhd.create_response_from_buffer(text ? strlen(text) : 0, text ? text : (char *)"",
					       MHD_RESPMEM_MUST_COPY);
	free(text);
	if (!resp)
		return MHD_NO;
	if (status != MHD_HTTP_NO_CONTENT)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	r = mhd.queue_response(conn, status, resp);
	mhd.destroy_response(resp);
	pthread_mutex_lock(&api->lock);
	api->requests++;
	if (status >= 400)
		api->errors++;
	pthread_mutex_unlock(&api->lock);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api_server *api = cls;
	struct api_call *call = *con_cls;
	enum MHD_Result r;

	(void)version;
	if (!call) {
		call = calloc(1, sizeof(*call));
		if (!call)
			return MHD_NO;
		call->method = strdup(method);
		call->path = strdup(url);
		pthread_cond_init(&call->cond, NULL);
		*con_cls = call;
		return MHD_YES;
	}
	if (*upload_size) {
		if (call->too_large || call->len + *upload_size > api->max_body) {
			call->too_large = true;
			call->len += *upload_size; /* keep counting for the message, store nothing */
		} else {
			char *p = realloc(call->data, call->len + *upload_size + 1);

			if (!p)
				return MHD_NO;
			memcpy(p + call->len, upload, *upload_size);
			call->data = p;
			call->len += *upload_size;
			call->data[call->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	call->req.method = call->method;
	call->req.path = call->path;
	if (!call->method || !call->path) {
		fault(&call->req, "out of memory");
	} else if (call->too_large) {
		fault(&call->req,
		      "Request payload with size %zu is larger than the limit of %zu allowed by server.",
		      call->len, api->max_body);
	} else if (call->len) {
		json_error_t jerr;

		call->req.body = json_loadb(call->data, call->len, JSON_REJECT_DUPLICATES, &jerr);
		if (!call->req.body)
			fault(&call->req, "invalid JSON body: %s (line %d, column %d)", jerr.text,
			      jerr.line, jerr.column);
	}
	if (!call->req.status)
		run_on_owner(api, call);
	r = send_reply(api, conn, &call->req);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_server *api = cls;
	struct api_call *call = *con_cls;

	(void)conn;
	(void)toe;
	if (!call)
		return;
	if (call->replying) {
		pthread_mutex_lock(&api->lock);
		api->replying--;
		pthread_cond_broadcast(&api->replies_sent);
		pthread_mutex_unlock(&api->lock);
	}
	json_decref(call->req.body);
	json_decref(call->req.reply);
	pthread_cond_destroy(&call->cond);
	free(call->method);
	free(call->path);
	free(call->data);
	free(call);
	*con_cls = NULL;
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
	e = mhd_load(err, err_size);
	if (e)
		return e;
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	pthread_mutex_init(&api->lock, NULL);
	pthread_cond_init(&api->replies_sent, NULL);
	snprintf(api->path, sizeof(api->path), "%s", path);
	api->max_body = max_body;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	api->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	api->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (api->event_fd < 0 || api->listen_fd < 0) {
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
	api->daemon = mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
				       on_request, api, MHD_OPTION_LISTEN_SOCKET, api->listen_fd,
				       MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
				       MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!api->daemon) {
		e = -EIO;
		snprintf(err, err_size, "--api-sock: cannot start the HTTP server on '%s'", path);
		goto fail_unlink;
	}
	*out = api;
	return 0;

fail_unlink:
	unlink(path);
fail:
	if (api->listen_fd >= 0)
		close(api->listen_fd);
	if (api->event_fd >= 0)
		close(api->event_fd);
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
	mhd.stop_daemon(api->daemon); /* also closes the listen socket it was given */
	close(api->event_fd);
	pthread_cond_destroy(&api->replies_sent);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
