/* unix_sock.c: the client side of a Unix stream socket (see unix_sock.h). */
#include "util/unix_sock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

size_t unix_sock_path_max(void)
{
	return sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
}

int unix_sock_connect(const char *path, int flags)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, e;

	if (len > unix_sock_path_max())
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

long unix_sock_send_fds(int fd, const void *buf, size_t len, const int *fds, unsigned int nr_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * UNIX_SOCK_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds) };
	struct cmsghdr *cm;
	ssize_t n;

	if (nr_fds == 0 || nr_fds > UNIX_SOCK_MAX_FDS)
		return -EINVAL;
	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * nr_fds);
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	return n < 0 ? -errno : (long)n;
}
