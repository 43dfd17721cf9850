/* uhttp.c: the arm64 tier's HTTP client for kiln's API socket (L1 has no curl): sends one request
 * and prints the response's status line and body.
 *
 * usage: uhttp SOCKET METHOD PATH [BODY]
 * Exit status: 0 a response came (whatever its status), 1 no connection or no response. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[4096], resp[8192];
	const char *body = argc > 4 ? argv[4] : "";
	size_t got = 0;
	ssize_t n;
	int fd, len;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: uhttp SOCKET METHOD PATH [BODY]\n");
		return 1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror(argv[1]);
		return 1;
	}
	len = snprintf(req, sizeof(req),
		       "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		       argv[2], argv[3], strlen(body), body);
	if (len < 0 || len >= (int)sizeof(req) || write(fd, req, (size_t)len) != len) {
		fprintf(stderr, "uhttp: cannot send the request\n");
		return 1;
	}
	while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	resp[got] = '\0';
	if (!got) {
		fprintf(stderr, "uhttp: no response\n");
		return 1;
	}
	char *eol = strstr(resp, "\r\n"), *sep = strstr(resp, "\r\n\r\n");

	if (eol)
		printf("%.*s\n", (int)(eol - resp), resp);
	if (sep)
		printf("%s\n", sep + 4);
	return 0;
}
