/* io_thread.c: the epoll loop behind virtio notifications: kicks in, completions out. */
#include "util/io_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sandbox.h"

/* epoll's data for the pause eventfd; sources carry their index + 1, the stop fd 0. */
#define PAUSE_ID UINT64_MAX

struct io_source {
	int fd;
	io_handler_fn fn;
	void *opaque;
};

struct io_thread {
	int epfd, stop_fd;
	/* io_thread_pause(): pause_fd asks, `paused` answers under `lock`, `hold` keeps the
	 * thread waiting until io_thread_resume() clears it. */
	int pause_fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold, paused, exited;
	struct io_source *src;
	unsigned int nr_src;
	pthread_t thread;
	bool running;
};

int io_thread_create(struct io_thread **out)
{
	struct io_thread *t = calloc(1, sizeof(*t));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	struct epoll_event pev = { .events = EPOLLIN, .data.u64 = PAUSE_ID };

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	t->pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->epfd < 0 || t->stop_fd < 0 || t->pause_fd < 0 ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_fd, &ev) ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->pause_fd, &pev)) {
		int e = -errno;

		io_thread_destroy(t);
		return e;
	}
	*out = t;
	return 0;
}

static int add(struct io_thread *t, int fd, io_handler_fn fn, void *opaque, uint32_t events)
{
	struct io_source *s = realloc(t->src, (t->nr_src + 1) * sizeof(*s));
	struct epoll_event ev = { .events = events };

	if (t->running)
		return -EBUSY;
	if (!s)
		return -ENOMEM;
	t->src = s;
	/* Sources live in an array that may move while sources are added: epoll carries the
	 * index + 1 (0 is the stop fd), never a pointer into it. */
	ev.data.u64 = t->nr_src + 1;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	t->src[t->nr_src++] = (struct io_source){ fd, fn, opaque };
	return 0;
}

int io_thread_add(struct io_thread *t, int fd, io_handler_fn fn, void *opaque)
{
	return add(t, fd, fn, opaque, EPOLLIN);
}

int io_thread_add_edge(struct io_thread *t, int fd, io_handler_fn fn, void *opaque)
{
	return add(t, fd, fn, opaque, EPOLLIN | EPOLLET);
}

/* I/O thread: a pause was asked for: say so and wait for the resume. */
static void wait_paused(struct io_thread *t)
{
	eventfd_t v;

	(void)eventfd_read(t->pause_fd, &v);
	pthread_mutex_lock(&t->lock);
	t->paused = true;
	pthread_cond_broadcast(&t->cond);
	while (t->hold)
		pthread_cond_wait(&t->cond, &t->lock);
	t->paused = false;
	pthread_mutex_unlock(&t->lock);
}

void io_thread_pause(struct io_thread *t)
{
	if (!t || !t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->hold = true;
	pthread_mutex_unlock(&t->lock);
	if (eventfd_write(t->pause_fd, 1)) {
		pr_err("io thread: cannot signal pause: %s", strerror(errno));
		return;
	}
	pthread_mutex_lock(&t->lock);
	while (!t->paused && !t->exited)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

void io_thread_resume(struct io_thread *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->hold = false;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void *io_loop(struct io_thread *t)
{
	struct epoll_event evs[32];

	if (sandbox_enter(SANDBOX_IO))
		return NULL; /* logged; the VM's queues stall and a signal still stops kiln */
	for (;;) {
		int n = epoll_wait(t->epfd, evs, (int)ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("io thread: epoll_wait failed: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64;

			if (!id)
				return NULL;
			if (id == PAUSE_ID) {
				wait_paused(t);
				continue;
			}
			t->src[id - 1].fn(t->src[id - 1].opaque, evs[i].events);
		}
	}
}

/* The thread: its loop, then a word for a pause that waits on it (it may end on an error). */
static void *io_main(void *arg)
{
	struct io_thread *t = arg;

	io_loop(t);
	pthread_mutex_lock(&t->lock);
	t->exited = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int io_thread_start(struct io_thread *t, const char *name)
{
	int e = pthread_create(&t->thread, NULL, io_main, t);

	if (e)
		return -e;
	pthread_setname_np(t->thread, name);
	t->running = true;
	return 0;
}

void io_thread_stop(struct io_thread *t)
{
	if (!t || !t->running)
		return;
	if (eventfd_write(t->stop_fd, 1))
		pr_err("io thread: cannot signal stop: %s", strerror(errno));
	pthread_join(t->thread, NULL);
	t->running = false;
}

void io_thread_destroy(struct io_thread *t)
{
	if (!t)
		return;
	io_thread_stop(t);
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	if (t->pause_fd >= 0)
		close(t->pause_fd);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t->src);
	free(t);
}
