/* http.c: the API's HTTP/1.x request parser (RFC 9112 subset: Content-Length bodies only). */
#include "control/http.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static enum http_result fail(struct http_req *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum http_result fail(struct http_req *req, int status, const char *fmt, ...)
{
	va_list ap;

	req->status = status;
	va_start(ap, fmt);
	vsnprintf(req->reason, sizeof(req->reason), fmt, ap);
	va_end(ap);
	return HTTP_ERROR;
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Next line of buf[*pos..len): sets *line and *n to the line without its CRLF (or bare LF). False when no
 * line end is there yet. A CR not followed by LF is left in the line (and refused later). */
static bool next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *n)
{
	const char *nl = memchr(buf + *pos, '\n', len - *pos);

	if (!nl)
		return false;
	*line = buf + *pos;
	*n = (size_t)(nl - *line);
	if (*n && (*line)[*n - 1] == '\r')
		(*n)--;
	*pos = (size_t)(nl - buf) + 1;
	return true;
}

/* Checks the beginning of an incomplete request line, so garbage is refused before a newline. */
static enum http_result check_partial_line(const char *p, size_t n, struct http_req *req)
{
	size_t i = 0;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i > HTTP_MAX_METHOD)
		return fail(req, 400, "malformed request line: the method is longer than %d bytes",
			    HTTP_MAX_METHOD);
	if (i < n && p[i] != ' ')
		return fail(req, 400, "malformed request line: byte 0x%02x in the method",
			    (unsigned char)p[i]);
	return HTTP_NEED_MORE;
}

static enum http_result parse_request_line(const char *p, size_t n, struct http_req *req)
{
	const char *sp1 = memchr(p, ' ', n), *sp2, *target, *version, *q;
	size_t mlen, tlen, vlen;

	if (!sp1)
		return fail(req, 400, "malformed request line (METHOD /path HTTP/1.1)");
	mlen = (size_t)(sp1 - p);
	if (mlen == 0 || mlen > HTTP_MAX_METHOD)
		return fail(req, 400, "malformed request line: bad method");
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)p[i]))
			return fail(req, 400, "malformed request line: byte 0x%02x in the method",
				    (unsigned char)p[i]);
	target = sp1 + 1;
	sp2 = memchr(target, ' ', n - (size_t)(target - p));
	if (!sp2)
		return fail(req, 400, "malformed request line (METHOD /path HTTP/1.1)");
	tlen = (size_t)(sp2 - target);
	version = sp2 + 1;
	vlen = n - (size_t)(version - p);
	if (tlen == 0 || target[0] != '/')
		return fail(req, 400, "malformed request line: the target must start with '/'");
	if (tlen > HTTP_MAX_TARGET)
		return fail(req, 414, "the request target is longer than %d bytes", HTTP_MAX_TARGET);
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f)
			return fail(req, 400, "malformed request line: byte 0x%02x in the target",
				    (unsigned char)target[i]);
	/* A well-formed HTTP/d.d other than 1.0 and 1.1 is 505; anything else is malformed. */
	if (vlen != 8 || memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' ||
	    version[6] != '.' || version[7] < '0' || version[7] > '9')
		return fail(req, 400,
			    "malformed request line: the version must be HTTP/1.0 or HTTP/1.1");
	if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
		return fail(req, 505, "HTTP version %.3s is not supported (HTTP/1.0 or HTTP/1.1)",
			    version + 5);
	memcpy(req->method, p, mlen);
	req->method[mlen] = '\0';
	q = memchr(target, '?', tlen);
	if (q)
		tlen = (size_t)(q - target);
	memcpy(req->path, target, tlen);
	req->path[tlen] = '\0';
	req->keep_alive = version[7] == '1';
	return HTTP_DONE;
}

static bool value_is(const char *v, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(v, want, n) == 0;
}

static enum http_result parse_header(const char *p, size_t n, struct http_req *req,
				     bool *has_length)
{
	const char *colon = memchr(p, ':', n), *v;
	size_t name_len, vn;

	if (n && (p[0] == ' ' || p[0] == '\t'))
		return fail(req, 400, "malformed header: folded header lines are not allowed");
	if (!colon || colon == p)
		return fail(req, 400, "malformed header line (Name: value)");
	name_len = (size_t)(colon - p);
	for (size_t i = 0; i < name_len; i++)
		if (!is_tchar((unsigned char)p[i]))
			return fail(req, 400, "malformed header: byte 0x%02x in a header name",
				    (unsigned char)p[i]);
	v = colon + 1;
	vn = n - name_len - 1;
	while (vn && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	for (size_t i = 0; i < vn; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return fail(req, 400, "malformed header: control byte 0x%02x in a value",
				    (unsigned char)v[i]);
	if (name_len == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
		uint64_t len = 0;

		if (vn == 0)
			return fail(req, 400, "invalid Content-Length: empty");
		for (size_t i = 0; i < vn; i++) {
			if (v[i] < '0' || v[i] > '9')
				return fail(req, 400, "invalid Content-Length: '%.*s' is not a number",
					    (int)(vn > 40 ? 40 : vn), v);
			if (len > (UINT64_MAX - 9) / 10)
				return fail(req, 400, "invalid Content-Length: '%.*s' is too large",
					    (int)(vn > 40 ? 40 : vn), v);
			len = len * 10 + (uint64_t)(v[i] - '0');
		}
		if (*has_length && len != req->body_len)
			return fail(req, 400, "conflicting Content-Length headers");
		if (len > SIZE_MAX)
			return fail(req, 400, "invalid Content-Length: too large");
		req->body_len = (size_t)len;
		*has_length = true;
	} else if (name_len == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
		/* RFC 9112 6.1: an unknown transfer coding is 501; kiln takes Content-Length
		 * bodies only (as Firecracker's server), so every coding is unknown. */
		return fail(req, 501, "Transfer-Encoding '%.*s' is not supported (send Content-Length)",
			    (int)(vn > 40 ? 40 : vn), v);
	} else if (name_len == 10 && strncasecmp(p, "Connection", 10) == 0) {
		if (value_is(v, vn, "close"))
			req->keep_alive = false;
		else if (value_is(v, vn, "keep-alive"))
			req->keep_alive = true;
	} else if (name_len == 6 && strncasecmp(p, "Expect", 6) == 0) {
		if (value_is(v, vn, "100-continue"))
			req->expect_continue = true;
		else if (vn)
			return fail(req, 417, "Expect '%.*s' is not supported",
				    (int)(vn > 40 ? 40 : vn), v);
	}
	return HTTP_DONE;
}

enum http_result http_parse(const char *buf, size_t len, size_t max_body, struct http_req *req)
{
	size_t pos = 0, n;
	const char *line;
	bool has_length = false;
	enum http_result r;

	memset(req, 0, sizeof(*req));
	/* Empty lines before a request are tolerated (RFC 9112 2.2). */
	while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++;
	if (!next_line(buf, len, &pos, &line, &n)) {
		if (len > HTTP_MAX_HEAD)
			return fail(req, 431, "the request head is larger than %d bytes",
				    HTTP_MAX_HEAD);
		return check_partial_line(buf + pos, len - pos, req);
	}
	if ((r = parse_request_line(line, n, req)) != HTTP_DONE)
		return r;
	for (;;) {
		if (!next_line(buf, len, &pos, &line, &n)) {
			if (len > HTTP_MAX_HEAD)
				return fail(req, 431, "the request head is larger than %d bytes",
					    HTTP_MAX_HEAD);
			return HTTP_NEED_MORE;
		}
		if (pos > HTTP_MAX_HEAD)
			return fail(req, 431, "the request head is larger than %d bytes",
				    HTTP_MAX_HEAD);
		if (n == 0)
			break;
		if (memchr(line, '\r', n) || memchr(line, '\0', n))
			return fail(req, 400, "malformed header: a CR or NUL byte inside a line");
		if ((r = parse_header(line, n, req, &has_length)) != HTTP_DONE)
			return r;
	}
	req->head_len = pos;
	if (req->body_len > max_body)
		return fail(req, 400,
			    "Request payload with size %zu is larger than the limit of %zu allowed by "
			    "server.",
			    req->body_len, max_body);
	if (len - pos < req->body_len)
		return HTTP_NEED_MORE;
	return HTTP_DONE;
}
