/* api.h: the HTTP/1.1 API server on a Unix socket (kiln's own; control/http.c parses). Requests
 * are parsed on the server's thread and handed to the VM's owner thread through a queue; nothing
 * here touches the VM. */
#ifndef KILN_CONTROL_API_H
#define KILN_CONTROL_API_H

#include <jansson.h>
#include <stdbool.h>

#include "control/json.h"
#include "util/checked.h"

#define API_MAX_BODY 51200 /* bytes, as Firecracker's server */

/* One request as the owner thread sees it; the handler fills status, reply and fault. */
struct api_request {
	const char *method; /* "GET", "PUT", "PATCH", ... */
	const char *path;
	json_t *body;       /* parsed JSON body, NULL when there was none */
	int status;         /* HTTP status; 204 with no reply when left at 0 */
	json_t *reply;      /* response body (the server takes the reference), or NULL */
	char fault[JSON_ERR_MAX]; /* with status 400: {"fault_message": fault} */
};

typedef void (*api_handler_fn)(void *ctx, struct api_request *req);

struct api_server;

/* Creates the socket at `path` (mode 0600; an existing path is an error unless `force`, then it is
 * replaced; a request body over `max_body` bytes gets 400, API_MAX_BODY by default) and starts serving on a thread of its own. Returns 0 or -errno with one line in err. */
int __must_check api_open(struct api_server **out, const char *path, bool force,
			  size_t max_body, char *err, size_t err_size);

/* Readable when requests wait for api_process(). */
int api_fd(const struct api_server *api);

/* Owner thread: runs `handler` on every queued request and releases their HTTP responses. */
void api_process(struct api_server *api, api_handler_fn handler, void *ctx);

/* Number of requests answered, and of those answered with an error status. */
void api_counters(const struct api_server *api, unsigned long *requests, unsigned long *errors);

/* Stops serving: queued and later requests get 400 "kiln is shutting down", the server thread is
 * joined, and the socket file is removed. Safe on NULL. */
void api_close(struct api_server *api);

/* Removes the socket file of a server that is still open: for fatal-signal paths. */
void api_unlink_socket(const struct api_server *api);

#endif
