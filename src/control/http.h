/* http.h: a strict HTTP/1.x request parser for the API (one request at a time from a byte
 * buffer). Every malformed request maps to a status and a one-line reason, so the server can
 * answer it in JSON; nothing here allocates or blocks. */
#ifndef KILN_CONTROL_HTTP_H
#define KILN_CONTROL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD 8192   /* request line and headers, bytes: more is 431 */
#define HTTP_MAX_METHOD 16
#define HTTP_MAX_TARGET 1024 /* request target, bytes: more is 414 */

enum http_result {
	HTTP_NEED_MORE, /* the head (or body) is not complete yet */
	HTTP_DONE,      /* a whole request: see struct http_req */
	HTTP_ERROR,     /* malformed: answer `status` with `reason`, then close the connection */
};

struct http_req {
	char method[HTTP_MAX_METHOD + 1];
	char path[HTTP_MAX_TARGET + 1]; /* the target without its query string */
	size_t head_len;                /* bytes of request line and headers, blank line included */
	size_t body_len;                /* Content-Length (0 without one) */
	bool keep_alive;                /* HTTP/1.1 without "Connection: close" */
	bool expect_continue;           /* "Expect: 100-continue" */
	int status;                     /* with HTTP_ERROR: 400, 411, 413, 414, 431, 501, 505 */
	char reason[160];               /* with HTTP_ERROR: one line for fault_message */
};

/* Parses the request at the start of buf[0..len). HTTP_DONE when the head and `body_len` bytes
 * of body are all in the buffer (the body starts at buf + head_len); HTTP_NEED_MORE when more
 * bytes are needed (the head is checked as far as it goes, so garbage fails at once, and a body
 * over `max_body` fails as soon as its Content-Length is known). */
enum http_result http_parse(const char *buf, size_t len, size_t max_body, struct http_req *req);

/* "Bad Request" for 400, ... ("Unknown" for codes it does not know). */
const char *http_status_text(int status);

#endif
