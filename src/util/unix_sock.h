/* unix_sock.h: the client side of a Unix stream socket: connecting to a path, and sending one
 * message with file descriptors attached (SCM_RIGHTS). */
#ifndef KILN_UTIL_UNIX_SOCK_H
#define KILN_UTIL_UNIX_SOCK_H

#include <stddef.h>

#include "util/checked.h"

/* Connects a new SOCK_STREAM | SOCK_CLOEXEC socket (| `flags`, e.g. SOCK_NONBLOCK, which a
 * listener that does not accept turns into EAGAIN rather than a wait) to the Unix socket at
 * `path`. Returns the socket, or -ENAMETOOLONG when `path` does not fit in a sockaddr_un (longer
 * than unix_sock_path_max() bytes), or -errno of socket() or connect() (ENOENT, ECONNREFUSED, EAGAIN,
 * ...); the caller words the message. */
int __must_check unix_sock_connect(const char *path, int flags);

/* The longest path unix_sock_connect() takes (sun_path less its NUL). */
size_t unix_sock_path_max(void);

#define UNIX_SOCK_MAX_FDS 8

/* Sends `len` bytes from `buf` on `fd` as one message with the `nr_fds` descriptors of `fds`
 * attached (SCM_RIGHTS; 1 to UNIX_SOCK_MAX_FDS), without SIGPIPE. Returns the bytes sent, or
 * -errno; -EINVAL for a bad `nr_fds`. A message below the socket buffer is sent whole or not
 * at all: a caller that needs all of it compares the count with `len`. */
long __must_check unix_sock_send_fds(int fd, const void *buf, size_t len, const int *fds,
				     unsigned int nr_fds);

#endif
