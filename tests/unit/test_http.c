/* test_http.c: the API's HTTP request parser on whole, partial and hostile requests. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "control/http.h"

static struct http_req req;

static enum http_result parse(const char *text, size_t max_body)
{
	return http_parse(text, strlen(text), max_body, &req);
}

Test(http, whole_request_with_body)
{
	const char *t = "PUT /drives/rootfs?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
			"Content-Type: application/json\r\n\r\n{}";

	cr_assert_eq(parse(t, 100), HTTP_DONE, "%s", req.reason);
	cr_assert_str_eq(req.method, "PUT");
	cr_assert_str_eq(req.path, "/drives/rootfs", "the query string is dropped");
	cr_assert_eq(req.body_len, 2);
	cr_assert_eq(req.head_len, strlen(t) - 2);
	cr_assert(req.keep_alive);
}

Test(http, partial_requests_need_more)
{
	const char *t = "PUT /logger HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"level\":";

	/* Every prefix: never DONE, never an error. */
	for (size_t n = 0; n < strlen(t); n++)
		cr_assert_eq(http_parse(t, n, 100, &req), HTTP_NEED_MORE, "prefix %zu: %s", n,
			     req.reason);
	cr_assert_eq(http_parse("GET / HTTP/1.0\n\n", 16, 0, &req), HTTP_DONE, "bare LF lines");
	cr_assert_not(req.keep_alive, "HTTP/1.0 closes");
}

Test(http, connection_and_expect)
{
	cr_assert_eq(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0), HTTP_DONE);
	cr_assert_not(req.keep_alive);
	cr_assert_eq(parse("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 10),
		     HTTP_NEED_MORE);
	cr_assert(req.expect_continue);
	cr_assert_neq(req.head_len, 0, "the head is known before the body");
}

static void bad(const char *text, int status, const char *reason)
{
	cr_assert_eq(parse(text, 51200), HTTP_ERROR, "accepted: %s", text);
	cr_assert_eq(req.status, status, "%s: %d (%s)", text, req.status, req.reason);
	cr_assert(strstr(req.reason, reason), "reason '%s' lacks '%s'", req.reason, reason);
}

Test(http, malformed)
{
	bad("\x01\x02garbage", 400, "byte 0x01 in the method");
	bad("GET\r\n\r\n", 400, "malformed request line");
	bad("GET / HTTP/1.1 extra\r\n\r\n", 400, "HTTP/1.0 or HTTP/1.1");
	bad("GET / HTTP/2.0\r\n\r\n", 505, "2.0 is not supported");
	bad("GET / HTTQ/1.1\r\n\r\n", 400, "HTTP/1.0 or HTTP/1.1");
	bad("GET / HTTP/1.9\r\n\r\n", 505, "1.9");
	bad("GET x HTTP/1.1\r\n\r\n", 400, "start with '/'");
	bad("GET /\x7f HTTP/1.1\r\n\r\n", 400, "0x7f in the target");
	bad("PUT / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n", 400, "too large");
	bad("PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, "too large");
	bad("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "not a number");
	bad("PUT / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400, "empty");
	bad("PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "conflicting");
	bad("PUT / HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 400, "limit of 51200");
	bad("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "'chunked'");
	bad("GET / HTTP/1.1\r\nX: 1\r\n 2\r\n\r\n", 400, "folded");
	bad("GET / HTTP/1.1\r\nnocolon\r\n\r\n", 400, "Name: value");
	bad("GET / HTTP/1.1\r\nX\x01Y: 1\r\n\r\n", 400, "header name");
	bad("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, "CR or NUL");
	bad("GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417, "magic");
}

Test(http, oversized_head)
{
	size_t n = HTTP_MAX_HEAD + 100;
	char *t = malloc(n + 1);

	memcpy(t, "GET / HTTP/1.1\r\nX: ", 19);
	memset(t + 19, 'a', n - 19);
	t[n] = '\0';
	cr_assert_eq(http_parse(t, n, 0, &req), HTTP_ERROR, "no end of line, over the limit");
	cr_assert_eq(req.status, 431);
	memset(t, 'A', n); /* a method that never ends */
	cr_assert_eq(http_parse(t, 20, 0, &req), HTTP_ERROR);
	cr_assert_eq(req.status, 400);
	free(t);
	cr_assert_str_eq(http_status_text(431), "Request Header Fields Too Large");
}
