/* backend.h: the host end of a network interface: where a virtio-net device's frames go and come
 * from (a TAP device: tap.c; user-mode networking through libslirp: slirp.c). */
#ifndef KILN_DEVICES_NET_BACKEND_H
#define KILN_DEVICES_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"
#include "util/checked.h"

/* Every frame crosses the backend with the 12-byte virtio_net_hdr_v1 (virtio 1.2, 5.1.6) in
 * front: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers, all
 * little-endian. num_buffers is ignored on send and 0 on receive. */
#define NET_HDR_LEN 12
/* The largest frame after the header: a 64 KiB GSO segment plus Ethernet and VLAN headers. */
#define NET_FRAME_MAX (65535 + 14 + 4)

/* Offloads the guest accepts on receive (the TAP's TUNSETOFFLOAD bits, linux/if_tun.h). */
#define NET_OFFLOAD_CSUM 0x01
#define NET_OFFLOAD_TSO4 0x02
#define NET_OFFLOAD_TSO6 0x04
#define NET_OFFLOAD_TSO_ECN 0x08

struct net_backend;

struct net_backend_ops {
	/* Sends one frame (header first, spread over iov[0..nr)). Returns 0, or -errno: the frame
	 * is dropped (-EAGAIN: the host side is full). Called on the I/O thread with the device's
	 * lock held; must not block. */
	int (*send)(struct net_backend *be, const struct iovec *iov, unsigned int nr);
	/* Takes the next frame for the guest into buf (len >= NET_HDR_LEN + NET_FRAME_MAX).
	 * Returns its length, header included, -EAGAIN when none is waiting, or another -errno.
	 * Same thread rules as send. */
	ssize_t (*recv)(struct net_backend *be, void *buf, size_t len);
	/* The offloads the guest accepts on receive (NET_OFFLOAD_*), once it has negotiated them
	 * (0 after a reset). Returns 0 or -errno. May be NULL when offloads == false. */
	int (*set_offload)(struct net_backend *be, unsigned int offloads);
	/* Frees the backend; the I/O thread has stopped. */
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	/* Becomes readable when frames for the guest may be waiting. The device watches it,
	 * edge-triggered, on the I/O thread, and calls recv() until -EAGAIN or until the guest has
	 * no buffers left (then the guest's next RX kick resumes). */
	int rx_fd;
	/* Whether frames may carry partial checksums and GSO both ways (the TAP's vnet header
	 * does); without it the device offers the guest no checksum or segmentation offload. */
	bool offloads;
};

/* Opens (or, when missing and kiln may, creates) the TAP device `name` with a vnet header and
 * non-blocking I/O. Returns 0, or -errno with a one-line reason naming the device in err. */
int __must_check net_tap_open(struct net_backend **out, const char *name, char *err,
			      size_t err_size);

/* User-mode networking for `n` (n->backend == NET_BACKEND_USER) through libslirp: DHCP, DNS
 * forwarding to the host's resolver, outbound TCP/UDP through host sockets, n->hostfwd. Runs its
 * own thread. Returns 0, or -errno with a one-line reason in err. */
int __must_check net_slirp_open(struct net_backend **out, const struct vmm_net *n,
				const uint8_t guest_mac[6], char *err, size_t err_size);

#endif
