/* tap.c: a host TAP device as a network interface's backend, with the virtio-net header carried
 * through IFF_VNET_HDR so checksum and segmentation offloads cross untouched. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/net/backend.h"
#include "util/log.h"

#define TUN_PATH "/dev/net/tun"

struct tap {
	struct net_backend be;
	char name[IFNAMSIZ];
};

static int tap_send(struct net_backend *be, const struct iovec *iov, unsigned int nr)
{
	ssize_t n = writev(be->rx_fd, iov, (int)nr);

	return n < 0 ? -errno : 0;
}

static ssize_t tap_recv(struct net_backend *be, void *buf, size_t len)
{
	ssize_t n = read(be->rx_fd, buf, len);

	return n < 0 ? -errno : n;
}

static int tap_set_offload(struct net_backend *be, unsigned int offloads)
{
	/* NET_OFFLOAD_* are the TUN_F_* bits. */
	return ioctl(be->rx_fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0 ? -errno : 0;
}

static void tap_destroy(struct net_backend *be)
{
	struct tap *t = (struct tap *)be;

	if (be->rx_fd >= 0)
		close(be->rx_fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.recv = tap_recv,
	.set_offload = tap_set_offload,
	.destroy = tap_destroy,
};

_Static_assert(NET_OFFLOAD_CSUM == TUN_F_CSUM && NET_OFFLOAD_TSO4 == TUN_F_TSO4 &&
		       NET_OFFLOAD_TSO6 == TUN_F_TSO6 && NET_OFFLOAD_TSO_ECN == TUN_F_TSO_ECN,
	       "NET_OFFLOAD_* are TUN_F_*");

int net_tap_open(struct net_backend **out, const char *name, char *err, size_t err_size)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	unsigned int features = 0;
	int hdr = NET_HDR_LEN, e;
	bool existed;
	struct tap *t;

	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		snprintf(err, err_size, "--net tap=%s: a TAP name is 1 to %d bytes", name,
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->be = (struct net_backend){ .ops = &tap_ops, .rx_fd = -1, .offloads = true };
	snprintf(t->name, sizeof(t->name), "%s", name);
	existed = if_nametoindex(name) != 0;
	t->be.rx_fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->be.rx_fd < 0) {
		e = -errno;
		snprintf(err, err_size, "tap %s: cannot open %s: %s%s", name, TUN_PATH,
			 strerror(-e), e == -ENOENT ? " (load the tun module)" : "");
		goto fail;
	}
	if (ioctl(t->be.rx_fd, TUNGETFEATURES, &features) == 0 && !(features & IFF_VNET_HDR)) {
		e = -ENOTSUP;
		snprintf(err, err_size, "tap %s: this kernel's TUN driver lacks IFF_VNET_HDR", name);
		goto fail;
	}
	memcpy(ifr.ifr_name, t->name, sizeof(t->name));
	if (ioctl(t->be.rx_fd, TUNSETIFF, &ifr) < 0) {
		e = -errno;
		snprintf(err, err_size, "tap %s: cannot %s it: %s%s", name,
			 existed ? "attach to" : "create", strerror(-e),
			 e == -EPERM	? (existed ? " (not its owner: see ip tuntap add ... user)"
						   : " (creating a TAP needs CAP_NET_ADMIN; or create it "
						     "first: ip tuntap add dev NAME mode tap user USER)")
			 : e == -EBUSY	? " (another process has it open)"
			 : e == -EINVAL ? " (is it a TUN device, or a TAP without vnet_hdr?)"
					: "");
		goto fail;
	}
	if (ioctl(t->be.rx_fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(t->be.rx_fd, TUNSETOFFLOAD, 0UL) < 0) {
		e = -errno;
		snprintf(err, err_size, "tap %s: cannot set up the vnet header: %s", name,
			 strerror(-e));
		goto fail;
	}
	if (!existed)
		pr_warn("net: created TAP device %s; it goes away when kiln exits (give it an address "
			"and bring it up: ip addr add ADDR dev %s; ip link set %s up)",
			name, name, name);
	*out = &t->be;
	return 0;
fail:
	tap_destroy(&t->be);
	return e;
}
