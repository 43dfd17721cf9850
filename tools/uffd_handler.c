/* uffd_handler.c: a reference page-fault handler for snapshot/load's Uffd memory backend.
 *
 * usage: kiln-uffd-handler SOCKET MEMFILE
 *
 * Listens on the Unix socket SOCKET, takes one connection from kiln (or Firecracker: the message
 * is theirs, docs/snapshot.md): a JSON array of GuestRegionUffdMapping {base_host_virt_addr, size,
 * offset, page_size} with the userfaultfd attached (SCM_RIGHTS). It maps MEMFILE (a snapshot's
 * memory file) and serves each missing-page fault with UFFDIO_COPY of that page from the file;
 * UFFD_EVENT_REMOVE unregisters the range (the guest gave those pages back: they read as zeros
 * from then on). Exits 0 when kiln closes the connection or the userfaultfd (kiln exited), 1 with
 * one line on stderr on anything else. Prints "ready" on stdout once it listens and "serving N
 * regions" once it has the handshake, so scripts can wait for them. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 16

struct region {
	uint64_t base, size, offset;
};

static struct region regions[MAX_REGIONS];
static unsigned int nr_regions;
static uint64_t page_size;
static const uint8_t *backing;
static uint64_t backing_size;
static unsigned long nr_faults;

/* One message with the fd attached; the JSON text NUL-terminated in buf. */
static int receive(int conn, char *buf, size_t size)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			     .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	ssize_t n;
	int fd = -1;

	do
		n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err(1, "cannot receive the handshake");
	if (n == 0)
		errx(1, "the peer closed the connection before the handshake");
	buf[n] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (fd < 0) {
		fprintf(stderr, "kiln-uffd-handler: the handshake came without a userfaultfd\n");
		exit(1);
	}
	return fd;
}

static void parse(const char *text)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr), *r;
	uint64_t total = 0;
	size_t i;

	if (!json_is_array(doc) || json_array_size(doc) == 0 || json_array_size(doc) > MAX_REGIONS) {
		fprintf(stderr, "kiln-uffd-handler: the handshake is not an array of 1 to %d regions: "
				"%.200s\n", MAX_REGIONS, text);
		exit(1);
	}
	json_array_foreach(doc, i, r) {
		json_t *b = json_object_get(r, "base_host_virt_addr"), *s = json_object_get(r, "size"),
		       *o = json_object_get(r, "offset"), *p = json_object_get(r, "page_size");

		if (!p) /* Firecracker before 1.7 sent only page_size_kib (in bytes) */
			p = json_object_get(r, "page_size_kib");
		if (!json_is_integer(b) || !json_is_integer(s) || !json_is_integer(o) ||
		    !json_is_integer(p)) {
			fprintf(stderr, "kiln-uffd-handler: region %zu lacks a field: %.200s\n", i, text);
			exit(1);
		}
		regions[i] = (struct region){ (uint64_t)json_integer_value(b),
					      (uint64_t)json_integer_value(s),
					      (uint64_t)json_integer_value(o) };
		page_size = (uint64_t)json_integer_value(p);
		if (regions[i].offset > backing_size || regions[i].size > backing_size - regions[i].offset) {
			fprintf(stderr, "kiln-uffd-handler: region %zu (offset %llu, %llu bytes) is beyond "
					"the memory file (%llu bytes)\n", i,
				(unsigned long long)regions[i].offset, (unsigned long long)regions[i].size,
				(unsigned long long)backing_size);
			exit(1);
		}
		total += regions[i].size;
	}
	nr_regions = (unsigned int)json_array_size(doc);
	json_decref(doc);
	if (page_size == 0 || page_size & (page_size - 1)) {
		fprintf(stderr, "kiln-uffd-handler: page_size %llu is not a power of two\n",
			(unsigned long long)page_size);
		exit(1);
	}
	if (total != backing_size) {
		fprintf(stderr, "kiln-uffd-handler: the guest has %llu bytes, the memory file %llu\n",
			(unsigned long long)total, (unsigned long long)backing_size);
		exit(1);
	}
}

/* 0 served (or already there), -EAGAIN to retry after reading more events. */
static int serve(int uffd, uint64_t addr)
{
	uint64_t page = addr & ~(page_size - 1);

	for (unsigned int i = 0; i < nr_regions; i++) {
		const struct region *r = &regions[i];

		if (page < r->base || page - r->base >= r->size)
			continue;
		struct uffdio_copy c = { .dst = page, .src = (uintptr_t)(backing + r->offset + (page - r->base)),
					 .len = page_size };

		nr_faults++;
		if (ioctl(uffd, UFFDIO_COPY, &c) == 0 || errno == EEXIST)
			return 0;
		if (errno == EAGAIN)
			return -EAGAIN; /* a remove event is pending: read it first */
		err(1, "UFFDIO_COPY of 0x%llx", (unsigned long long)page);
	}
	fprintf(stderr, "kiln-uffd-handler: a fault at 0x%llx, outside every region\n",
		(unsigned long long)addr);
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char msg[64 * 1024];
	int lfd, conn, uffd, mfd;
	struct stat st;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: kiln-uffd-handler SOCKET MEMFILE\n");
		return 2;
	}
	mfd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (mfd < 0 || fstat(mfd, &st) < 0)
		err(1, "memory file '%s'", argv[2]);
	backing_size = (uint64_t)st.st_size;
	if (backing_size) {
		backing = mmap(NULL, backing_size, PROT_READ, MAP_PRIVATE, mfd, 0);
		if (backing == MAP_FAILED)
			err(1, "memory file '%s': cannot map it", argv[2]);
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
		err(1, "socket '%s'", argv[1]);
	printf("ready\n");
	fflush(stdout);
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		err(1, "socket '%s': accept", argv[1]);
	close(lfd);
	unlink(argv[1]); /* one VM a handler, as Firecracker's examples */
	uffd = receive(conn, msg, sizeof(msg));
	parse(msg);
	printf("serving %u regions\n", nr_regions);
	fflush(stdout);

	/* Faults, and kiln's end of the connection: its close means kiln exited. */
	for (;;) {
		struct pollfd p[2] = { { .fd = uffd, .events = POLLIN }, { .fd = conn, .events = POLLIN } };
		struct uffd_msg m[64];
		uint64_t deferred[64];
		unsigned int nd = 0;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (p[1].revents) {
			char c;
			ssize_t r = recv(conn, &c, 1, MSG_DONTWAIT);

			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break; /* kiln closed its end: it exited */
		}
		if (p[0].revents & (POLLERR | POLLHUP))
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		n = read(uffd, m, sizeof(m));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof(m[0]); i++) {
			if (m[i].event == UFFD_EVENT_PAGEFAULT) {
				if (serve(uffd, m[i].arg.pagefault.address) == -EAGAIN && nd < 64)
					deferred[nd++] = m[i].arg.pagefault.address;
			} else if (m[i].event == UFFD_EVENT_REMOVE) {
				struct uffdio_range r = { .start = m[i].arg.remove.start,
							  .len = m[i].arg.remove.end - m[i].arg.remove.start };

				if (ioctl(uffd, UFFDIO_UNREGISTER, &r) < 0)
					err(1, "UFFDIO_UNREGISTER");
			}
		}
		/* After the remove events of this batch: a fault kept waiting is served now, or is
		 * raised again by the kernel (it retries the access) and read in a later batch. */
		for (unsigned int i = 0; i < nd; i++)
			(void)serve(uffd, deferred[i]);
	}
	fprintf(stderr, "kiln-uffd-handler: the VM went away; served %lu faults\n", nr_faults);
	return 0;
}
