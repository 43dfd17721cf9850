/* io_thread.h: one epoll thread per VM that services device eventfds (queue kicks, completions). */
#ifndef KILN_UTIL_IO_THREAD_H
#define KILN_UTIL_IO_THREAD_H

#include <stdint.h>

#include "util/checked.h"

/* Called on the I/O thread when `fd` is readable; `events` are the epoll events. */
typedef void (*io_handler_fn)(void *opaque, uint32_t events);

struct io_thread;

/* Returns 0 or -errno. */
int __must_check io_thread_create(struct io_thread **out);
/* Watches `fd` for input. Only before io_thread_start(). Returns 0 or -errno. */
int __must_check io_thread_add(struct io_thread *t, int fd, io_handler_fn fn, void *opaque);
/* The same, edge-triggered: `fn` runs when `fd` becomes readable again, so it must read until
 * EAGAIN, or have another event (a queue kick) that makes it read the rest. */
int __must_check io_thread_add_edge(struct io_thread *t, int fd, io_handler_fn fn, void *opaque);
/* Starts the thread, named `name`. Returns 0 or -errno. */
int __must_check io_thread_start(struct io_thread *t, const char *name);
/* Quiesces the thread (a snapshot): returns once it is waiting between handlers, and no handler
 * runs until io_thread_resume(). A thread not started, or stopped, is quiet already. Owner
 * thread only; pairs with io_thread_resume(). */
void io_thread_pause(struct io_thread *t);
void io_thread_resume(struct io_thread *t);
/* Stops and joins the thread: no handler runs after it returns. Idempotent. */
void io_thread_stop(struct io_thread *t);
/* Stops it if needed and frees it. Safe on NULL. */
void io_thread_destroy(struct io_thread *t);

#endif
