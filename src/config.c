/* config.c: defaults, number parsing and validation of struct vmm_config. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


void config_init(struct vmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CONFIG_DEFAULT_MEM;
	cfg->mem_backing = MEM_BACKING_MEMFD;
	cfg->nr_vcpus = 1;
	cfg->debug_exit_port = CONFIG_DEBUG_EXIT_PORT;
	cfg->irqchip = IRQCHIP_SPLIT;
	cfg->virtio_discovery = VIRTIO_DISCOVERY_BOTH;
}

int config_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 20;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default: return -EINVAL;
		}
		end++;
		if (*end && strcasecmp(end, "iB") != 0 && strcasecmp(end, "B") != 0)
			return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int config_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = (unsigned long)v;
	return 0;
}

static int validate_nets(const struct vmm_config *cfg, char *err, size_t err_size);
static int validate_vsock(const struct vmm_config *cfg, char *err, size_t err_size);

int config_validate(const struct vmm_config *cfg, char *err, size_t err_size)
{
	if (!cfg->kernel_path) {
		snprintf(err, err_size, "no guest given: use -k/--kernel FILE");
		return -EINVAL;
	}
	if (cfg->mem_size == 0) {
		snprintf(err, err_size, "-m/--memory: guest memory cannot be 0");
		return -EINVAL;
	}
	if (cfg->mem_size < CONFIG_MIN_MEM) {
		snprintf(err, err_size, "-m/--memory: %llu bytes is below the 1 MiB minimum",
			 (unsigned long long)cfg->mem_size);
		return -EINVAL;
	}
	if (cfg->mem_size % 4096) {
		snprintf(err, err_size, "-m/--memory: %llu bytes is not a multiple of 4 KiB",
			 (unsigned long long)cfg->mem_size);
		return -EINVAL;
	}
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > CONFIG_MAX_VCPUS) {
		snprintf(err, err_size, "-c/--cpus: %u vCPUs is out of range (1 to %u)",
			 cfg->nr_vcpus, CONFIG_MAX_VCPUS);
		return -EINVAL;
	}
	if (cfg->nr_nets > CONFIG_MAX_NETS) {
		snprintf(err, err_size, "--net: %u network interfaces, at most %u", cfg->nr_nets,
			 CONFIG_MAX_NETS);
		return -EINVAL;
	}
	if (cfg->nr_disks > CONFIG_MAX_DISKS || config_nr_virtio(cfg) > CONFIG_MAX_VIRTIO) {
		snprintf(err, err_size, "%s: %u virtio devices, at most %u (disks, console, rng and "
			 "network interfaces together)", cfg->nr_nets ? "--disk/--net" : "--disk",
			 config_nr_virtio(cfg), CONFIG_MAX_VIRTIO);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct vmm_disk *d = &cfg->disks[i];

		if (!d->path || !d->path[0]) {
			snprintf(err, err_size, "--disk: disk %u has no path", i);
			return -EINVAL;
		}
		if (d->id && strlen(d->id) > CONFIG_DISK_ID_MAX) {
			snprintf(err, err_size, "--disk %s: id '%s' is longer than %u bytes",
				 d->path, d->id, CONFIG_DISK_ID_MAX);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (d->id && cfg->disks[j].id && !strcmp(d->id, cfg->disks[j].id)) {
				snprintf(err, err_size, "--disk %s: id '%s' is used twice",
					 d->path, d->id);
				return -EINVAL;
			}
		}
	}
	if (validate_nets(cfg, err, err_size))
		return -EINVAL;
	return cfg->has_vsock ? validate_vsock(cfg, err, err_size) : 0;
}

unsigned int config_nr_virtio(const struct vmm_config *cfg)
{
	return cfg->nr_disks + cfg->virtio_console + cfg->rng + cfg->nr_nets + cfg->has_vsock;
}

int config_parse_disk(const char *arg, struct vmm_disk *d, char **storage, char *err,
		      size_t err_size)
{
	size_t n = strlen(arg);
	char *copy = malloc(n + 1), *tok, *save = NULL;

	*storage = NULL;
	if (!copy) {
		snprintf(err, err_size, "--disk: out of memory");
		return -EINVAL;
	}
	memcpy(copy, arg, n + 1);
	*d = (struct vmm_disk){ 0 };
	if (!copy[0] || copy[0] == ',') {
		snprintf(err, err_size, "--disk '%s': no image path (PATH[,ro][,id=NAME]"
			 "[,cache=none|writeback][,io=auto|io_uring|sync])", arg);
		goto fail;
	}
	d->path = strtok_r(copy, ",", &save);
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ro")) {
			d->ro = true;
		} else if (!strcmp(tok, "rw")) {
			d->ro = false;
		} else if (!strncmp(tok, "id=", 3) && tok[3]) {
			d->id = tok + 3;
			if (strlen(d->id) > CONFIG_DISK_ID_MAX) {
				snprintf(err, err_size, "--disk %s: id '%s' is longer than %u bytes",
					 d->path, d->id, CONFIG_DISK_ID_MAX);
				goto fail;
			}
		} else if (!strcmp(tok, "cache=none")) {
			d->cache = DISK_CACHE_NONE;
		} else if (!strcmp(tok, "cache=writeback")) {
			d->cache = DISK_CACHE_WRITEBACK;
		} else if (!strcmp(tok, "io=auto")) {
			d->io = DISK_IO_AUTO;
		} else if (!strcmp(tok, "io=io_uring")) {
			d->io = DISK_IO_URING;
		} else if (!strcmp(tok, "io=sync")) {
			d->io = DISK_IO_SYNC;
		} else {
			snprintf(err, err_size, "--disk %s: unknown option '%s' (ro, id=NAME, "
				 "cache=none|writeback, io=auto|io_uring|sync)", d->path, tok);
			goto fail;
		}
	}
	*storage = copy;
	return 0;
fail:
	free(copy);
	*d = (struct vmm_disk){ 0 };
	return -EINVAL;
}

/* ---- network interfaces --------------------------------------------------------------------- */

static unsigned int hex_digit(char c)
{
	return isdigit((unsigned char)c) ? (unsigned int)(c - '0')
					 : (unsigned int)(tolower((unsigned char)c) - 'a' + 10);
}

int config_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t v[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (unsigned int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return -EINVAL;
		v[i] = (uint8_t)(hex_digit(p[0]) << 4 | hex_digit(p[1]));
	}
	memcpy(mac, v, sizeof(v));
	return 0;
}

void config_format_mac(const uint8_t mac[6], char out[CONFIG_MAC_STR])
{
	snprintf(out, CONFIG_MAC_STR, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
}

const char *config_bad_mac(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	/* IEEE 802: the I/G bit, the lowest bit of the first byte, marks a group address. */
	if (mac[0] & 1)
		return "is a multicast address";
	if (!memcmp(mac, zero, sizeof(zero)))
		return "is all zeros";
	return NULL;
}

const char *config_bad_ifname(const char *name)
{
	/* Linux's dev_valid_name() (net/core/dev.c) is the rule the TUNSETIFF call applies later. */
	if (!name || !name[0])
		return "is empty";
	if (strlen(name) > CONFIG_IFNAME_MAX)
		return "is longer than 15 bytes";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "is not a device name";
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return "contains '/', ':' or whitespace";
	return NULL;
}

static uint32_t prefix_mask(unsigned int prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

/* "A.B.C.D" (inet_pton's strict dotted quad) into host byte order. */
static int parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static void format_ipv4(uint32_t addr, char out[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(addr) };

	if (!inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN))
		out[0] = '\0';
}

static int parse_user_net(const char *what, const char *v, struct vmm_net *n, char *err,
			  size_t err_size)
{
	const char *slash = strchr(v, '/');
	char addr[INET_ADDRSTRLEN];
	unsigned long prefix;
	uint32_t net;
	int e;

	if (!slash || (size_t)(slash - v) >= sizeof(addr)) {
		snprintf(err, err_size, "--net %s: net '%s' is not A.B.C.D/PREFIX", what, v);
		return -EINVAL;
	}
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = '\0';
	if (parse_ipv4(addr, &net)) {
		snprintf(err, err_size, "--net %s: net '%s': '%s' is not an IPv4 address", what, v,
			 addr);
		return -EINVAL;
	}
	e = config_parse_uint(slash + 1, CONFIG_NET_USER_MIN_PREFIX, CONFIG_NET_USER_MAX_PREFIX,
			      &prefix);
	if (e) {
		snprintf(err, err_size, "--net %s: net '%s': prefix '%s' is %s (%u to %u)", what, v,
			 slash + 1, e == -ERANGE ? "out of range" : "not a number",
			 CONFIG_NET_USER_MIN_PREFIX, CONFIG_NET_USER_MAX_PREFIX);
		return -EINVAL;
	}
	if (net & ~prefix_mask((unsigned int)prefix)) {
		format_ipv4(net & prefix_mask((unsigned int)prefix), addr);
		snprintf(err, err_size, "--net %s: net '%s' has host bits set (the network is %s/%lu)",
			 what, v, addr, prefix);
		return -EINVAL;
	}
	n->user_net = net;
	n->user_prefix = (unsigned int)prefix;
	return 0;
}

/* Splits "ADDR:PORT" (ADDR may be empty) in place. */
static bool split_addr_port(char *s, char **addr, char **port)
{
	char *colon = strchr(s, ':');

	if (!colon || strchr(colon + 1, ':'))
		return false;
	*colon = '\0';
	*addr = s;
	*port = colon + 1;
	return true;
}

/* One hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT. The guest address, when
 * given, goes to *guest (-1 when empty) for the caller to check once net= is known. */
static int parse_hostfwd(const char *what, const char *v, struct vmm_hostfwd *f, int64_t *guest,
			 char *err, size_t err_size)
{
	char buf[64], *proto = buf, *rest, *dash, *haddr, *hport, *gaddr, *gport;
	unsigned long port;
	uint32_t g;

	*f = (struct vmm_hostfwd){ 0 };
	*guest = -1;
	if (strlen(v) >= sizeof(buf) || !(rest = strchr(strcpy(buf, v), ':')))
		goto syntax;
	*rest++ = '\0';
	if (!(dash = strchr(rest, '-')))
		goto syntax;
	*dash = '\0';
	if (!split_addr_port(rest, &haddr, &hport) || !split_addr_port(dash + 1, &gaddr, &gport))
		goto syntax;
	if (!strcmp(proto, "udp")) {
		f->udp = true;
	} else if (proto[0] && strcmp(proto, "tcp")) {
		snprintf(err, err_size, "--net %s: hostfwd '%s': protocol '%s' is not tcp or udp",
			 what, v, proto);
		return -EINVAL;
	}
	if (haddr[0] && parse_ipv4(haddr, &f->host_addr)) {
		snprintf(err, err_size, "--net %s: hostfwd '%s': host address '%s' is not an IPv4 "
			 "address", what, v, haddr);
		return -EINVAL;
	}
	if (config_parse_uint(hport, 1, 65535, &port)) {
		snprintf(err, err_size, "--net %s: hostfwd '%s': host port '%s' is not a port "
			 "(1 to 65535)", what, v, hport);
		return -EINVAL;
	}
	f->host_port = (uint16_t)port;
	if (gaddr[0]) {
		if (parse_ipv4(gaddr, &g)) {
			snprintf(err, err_size, "--net %s: hostfwd '%s': guest address '%s' is not an "
				 "IPv4 address", what, v, gaddr);
			return -EINVAL;
		}
		*guest = g;
	}
	if (config_parse_uint(gport, 1, 65535, &port)) {
		snprintf(err, err_size, "--net %s: hostfwd '%s': guest port '%s' is not a port "
			 "(1 to 65535)", what, v, gport);
		return -EINVAL;
	}
	f->guest_port = (uint16_t)port;
	return 0;
syntax:
	snprintf(err, err_size, "--net %s: hostfwd '%s' is not "
		 "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", what, v);
	return -EINVAL;
}

/* A given GUESTADDR must be inside net and be the guest's DHCP address, where every forward
 * goes (kiln keeps no per-forward guest address). */
static int check_guest_addr(const char *what, const char *fwd, int64_t guest,
			    const struct vmm_net *n, char *err, size_t err_size)
{
	uint32_t mask = prefix_mask(n->user_prefix), dhcp = n->user_net + CONFIG_NET_USER_GUEST_HOST;
	char g[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN], want[INET_ADDRSTRLEN];

	if (guest < 0 || (uint32_t)guest == dhcp)
		return 0;
	format_ipv4((uint32_t)guest, g);
	format_ipv4(n->user_net, net);
	format_ipv4(dhcp, want);
	if (((uint32_t)guest & mask) != n->user_net)
		snprintf(err, err_size, "--net %s: hostfwd '%s': guest address %s is outside net "
			 "%s/%u", what, fwd, g, net, n->user_prefix);
	else
		snprintf(err, err_size, "--net %s: hostfwd '%s': guest address %s is not the guest's "
			 "DHCP address %s (leave it empty)", what, fwd, g, want);
	return -EINVAL;
}

static int parse_mtu(const char *what, const char *v, struct vmm_net *n, char *err,
		     size_t err_size)
{
	unsigned long mtu;
	int e = config_parse_uint(v, CONFIG_NET_MIN_MTU, 65535, &mtu);

	if (e) {
		snprintf(err, err_size, "--net %s: mtu '%s' is %s (%u to 65535)", what, v,
			 e == -ERANGE ? "out of range" : "not a number", CONFIG_NET_MIN_MTU);
		return -EINVAL;
	}
	n->mtu = (uint16_t)mtu;
	return 0;
}

static int parse_net_mac(const char *what, const char *v, struct vmm_net *n, char *err,
			 size_t err_size)
{
	const char *why;

	if (config_parse_mac(v, n->mac)) {
		snprintf(err, err_size, "--net %s: mac '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)",
			 what, v);
		return -EINVAL;
	}
	if ((why = config_bad_mac(n->mac))) {
		snprintf(err, err_size, "--net %s: mac '%s' %s", what, v, why);
		return -EINVAL;
	}
	n->has_mac = true;
	return 0;
}

int config_format_net_user(const struct vmm_net *n, char *out, size_t size)
{
	char addr[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
	size_t len;
	int w;

	format_ipv4(n->user_net, addr);
	w = snprintf(out, size, "user,net=%s/%u", addr, n->user_prefix);
	for (unsigned int i = 0; w >= 0 && (size_t)w < size && i < n->nr_hostfwd; i++) {
		const struct vmm_hostfwd *f = &n->hostfwd[i];

		len = (size_t)w;
		host[0] = '\0';
		if (f->host_addr)
			format_ipv4(f->host_addr, host);
		w = snprintf(out + len, size - len, ",hostfwd=%s:%s:%u-:%u", f->udp ? "udp" : "tcp",
			     host, f->host_port, f->guest_port);
		w = w < 0 ? w : w + (int)len;
	}
	return w >= 0 && (size_t)w < size ? 0 : -ENOSPC;
}

#define NET_USAGE "tap=NAME[,mac=MAC][,mtu=N] or user[,net=A.B.C.D/P][,hostfwd=...][,mac=MAC][,mtu=N]"

int config_parse_net(const char *arg, unsigned int index, struct vmm_net *n, char **storage,
		     char *err, size_t err_size)
{
	size_t len = strlen(arg);
	char id[16], *buf, *copy, *what, *tok, *save = NULL;
	const char *fwd_tok[CONFIG_MAX_HOSTFWD];
	int64_t fwd_guest[CONFIG_MAX_HOSTFWD];
	const char *why;
	int id_len = snprintf(id, sizeof(id), "eth%u", index);

	*storage = NULL;
	*n = (struct vmm_net){ 0 };
	buf = malloc((size_t)id_len + 1 + len + 1);
	if (!buf) {
		snprintf(err, err_size, "--net: out of memory");
		return -EINVAL;
	}
	memcpy(buf, id, (size_t)id_len + 1);
	copy = buf + id_len + 1;
	memcpy(copy, arg, len + 1);
	n->id = buf;
	if (!copy[0] || copy[0] == ',') {
		snprintf(err, err_size, "--net '%s': no backend (" NET_USAGE ")", arg);
		goto fail;
	}
	what = strtok_r(copy, ",", &save);
	if (!strncmp(what, "tap=", 4)) {
		n->backend = NET_BACKEND_TAP;
		n->tap = what + 4;
		if ((why = config_bad_ifname(n->tap))) {
			snprintf(err, err_size, "--net %s: TAP name '%s' %s", what, n->tap, why);
			goto fail;
		}
	} else if (!strcmp(what, "user")) {
		n->backend = NET_BACKEND_USER;
		n->user_net = CONFIG_NET_USER_NET;
		n->user_prefix = CONFIG_NET_USER_PREFIX;
	} else if (!strcmp(what, "tap")) {
		snprintf(err, err_size, "--net '%s': no TAP name (tap=NAME)", arg);
		goto fail;
	} else {
		snprintf(err, err_size, "--net '%s': '%s' is not a backend (" NET_USAGE ")", arg, what);
		goto fail;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		bool user = n->backend == NET_BACKEND_USER;

		if (!strncmp(tok, "mac=", 4)) {
			if (parse_net_mac(what, tok + 4, n, err, err_size))
				goto fail;
		} else if (!strncmp(tok, "mtu=", 4)) {
			if (parse_mtu(what, tok + 4, n, err, err_size))
				goto fail;
		} else if (user && !strncmp(tok, "net=", 4)) {
			if (parse_user_net(what, tok + 4, n, err, err_size))
				goto fail;
		} else if (user && !strncmp(tok, "hostfwd=", 8)) {
			unsigned int i = n->nr_hostfwd;

			if (i >= CONFIG_MAX_HOSTFWD) {
				snprintf(err, err_size, "--net %s: hostfwd '%s': more than %u forwards",
					 what, tok + 8, CONFIG_MAX_HOSTFWD);
				goto fail;
			}
			if (parse_hostfwd(what, tok + 8, &n->hostfwd[i], &fwd_guest[i], err, err_size))
				goto fail;
			fwd_tok[i] = tok + 8;
			n->nr_hostfwd++;
		} else {
			snprintf(err, err_size, "--net %s: unknown option '%s' (%s)", what, tok,
				 user ? "net=A.B.C.D/P, hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-"
					"[GUESTADDR]:GUESTPORT, mac=MAC, mtu=N"
				      : "mac=MAC, mtu=N");
			goto fail;
		}
	}
	/* After every net=, wherever it came. */
	for (unsigned int i = 0; i < n->nr_hostfwd; i++)
		if (check_guest_addr(what, fwd_tok[i], fwd_guest[i], n, err, err_size))
			goto fail;
	*storage = buf;
	return 0;
fail:
	free(buf);
	*n = (struct vmm_net){ 0 };
	return -EINVAL;
}

/* Whether two forwards would bind the same host socket. */
static bool same_host_port(const struct vmm_hostfwd *a, const struct vmm_hostfwd *b)
{
	return a->udp == b->udp && a->host_port == b->host_port &&
	       (a->host_addr == b->host_addr || !a->host_addr || !b->host_addr);
}

static int validate_user_net(const struct vmm_config *cfg, unsigned int i, char *err,
			     size_t err_size)
{
	const struct vmm_net *n = &cfg->nets[i];
	char net[INET_ADDRSTRLEN];

	if (n->user_prefix < CONFIG_NET_USER_MIN_PREFIX || n->user_prefix > CONFIG_NET_USER_MAX_PREFIX) {
		snprintf(err, err_size, "--net %s: net prefix %u is out of range (%u to %u)", n->id,
			 n->user_prefix, CONFIG_NET_USER_MIN_PREFIX, CONFIG_NET_USER_MAX_PREFIX);
		return -EINVAL;
	}
	if (n->user_net & ~prefix_mask(n->user_prefix)) {
		format_ipv4(n->user_net, net);
		snprintf(err, err_size, "--net %s: net %s/%u has host bits set", n->id, net,
			 n->user_prefix);
		return -EINVAL;
	}
	if (n->nr_hostfwd > CONFIG_MAX_HOSTFWD) {
		snprintf(err, err_size, "--net %s: %u hostfwd rules, at most %u", n->id, n->nr_hostfwd,
			 CONFIG_MAX_HOSTFWD);
		return -EINVAL;
	}
	for (unsigned int a = 0; a < n->nr_hostfwd; a++) {
		const struct vmm_hostfwd *f = &n->hostfwd[a];

		if (!f->host_port || !f->guest_port) {
			snprintf(err, err_size, "--net %s: hostfwd %u has port 0", n->id, a);
			return -EINVAL;
		}
		/* Every earlier forward of every user-mode interface, this one's included. */
		for (unsigned int j = 0; j <= i; j++) {
			const struct vmm_net *m = &cfg->nets[j];

			if (m->backend != NET_BACKEND_USER)
				continue;
			for (unsigned int b = 0; b < (j == i ? a : m->nr_hostfwd); b++) {
				if (same_host_port(f, &m->hostfwd[b])) {
					snprintf(err, err_size, "--net %s: host port %u/%s is forwarded "
						 "twice (also by %s)", n->id, f->host_port,
						 f->udp ? "udp" : "tcp", m->id);
					return -EINVAL;
				}
			}
		}
	}
	return 0;
}

static int validate_nets(const struct vmm_config *cfg, char *err, size_t err_size)
{
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		const struct vmm_net *n = &cfg->nets[i];
		char mac[CONFIG_MAC_STR];
		const char *why;

		if (!n->id || !n->id[0] || strlen(n->id) > CONFIG_NET_ID_MAX) {
			snprintf(err, err_size, "--net: interface %u: id '%s' must be 1 to %u bytes", i,
				 n->id ? n->id : "", CONFIG_NET_ID_MAX);
			return -EINVAL;
		}
		config_format_mac(n->mac, mac);
		if (n->backend == NET_BACKEND_TAP) {
			if ((why = config_bad_ifname(n->tap))) {
				snprintf(err, err_size, "--net %s: TAP name '%s' %s", n->id,
					 n->tap ? n->tap : "", why);
				return -EINVAL;
			}
		} else if (n->backend == NET_BACKEND_USER) {
			if (validate_user_net(cfg, i, err, err_size))
				return -EINVAL;
		} else {
			snprintf(err, err_size, "--net %s: unknown backend %d", n->id, (int)n->backend);
			return -EINVAL;
		}
		if (n->has_mac && (why = config_bad_mac(n->mac))) {
			snprintf(err, err_size, "--net %s: mac %s %s", n->id, mac, why);
			return -EINVAL;
		}
		if (n->mtu && n->mtu < CONFIG_NET_MIN_MTU) {
			snprintf(err, err_size, "--net %s: mtu %u is out of range (%u to 65535)", n->id,
				 n->mtu, CONFIG_NET_MIN_MTU);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			const struct vmm_net *m = &cfg->nets[j];

			if (!strcmp(n->id, m->id)) {
				snprintf(err, err_size, "--net: id '%s' is used twice", n->id);
				return -EINVAL;
			}
			if (n->backend == NET_BACKEND_TAP && m->backend == NET_BACKEND_TAP &&
			    !strcmp(n->tap, m->tap)) {
				snprintf(err, err_size, "--net %s: TAP '%s' is also used by %s", n->id,
					 n->tap, m->id);
				return -EINVAL;
			}
			if (n->has_mac && m->has_mac && !memcmp(n->mac, m->mac, sizeof(n->mac))) {
				snprintf(err, err_size, "--net %s: mac %s is also used by %s", n->id, mac,
					 m->id);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* ---- the vsock device ----------------------------------------------------------------------- */

const char *config_bad_vsock_cid(long long cid)
{
	if (cid >= 0 && cid < CONFIG_VSOCK_MIN_CID)
		return "is reserved (0: hypervisor, 1: local, 2: host; a guest has 3 to 4294967294)";
	if (cid < 0 || cid > CONFIG_VSOCK_MAX_CID)
		return "is out of range (3 to 4294967294)";
	return NULL;
}

const char *config_bad_vsock_uds(const char *path)
{
	if (!path || !path[0])
		return "is empty";
	if (strlen(path) > CONFIG_VSOCK_UDS_MAX)
		return "is longer than 96 bytes (the guest's connections go to <uds>_<port>, which "
		       "must fit a Unix socket address)";
	return NULL;
}

/* A path in a message: at most 120 bytes of it, so the reason after it is never cut off. */
#define VSOCK_PATH_FMT "'%.120s%s'"
#define VSOCK_PATH_ARG(p) (p), strlen(p) > 120 ? "..." : ""

#define VSOCK_USAGE "cid=N,uds=PATH"

int config_parse_vsock(const char *arg, struct vmm_vsock *v, char **storage, char *err,
		       size_t err_size)
{
	static const char id[] = CONFIG_VSOCK_DEFAULT_ID;
	size_t len = strlen(arg);
	char *buf, *copy, *tok, *save = NULL;
	const char *cid = NULL, *why;
	unsigned long n;
	int e;

	*storage = NULL;
	*v = (struct vmm_vsock){ 0 };
	buf = malloc(sizeof(id) + len + 1);
	if (!buf) {
		snprintf(err, err_size, "--vsock: out of memory");
		return -EINVAL;
	}
	memcpy(buf, id, sizeof(id));
	copy = buf + sizeof(id);
	memcpy(copy, arg, len + 1);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "cid=", 4)) {
			if (cid) {
				snprintf(err, err_size, "--vsock: cid given twice ('%s' and '%s')",
					 cid, tok + 4);
				goto fail;
			}
			cid = tok + 4;
		} else if (!strncmp(tok, "uds=", 4)) {
			if (v->uds_path) {
				snprintf(err, err_size, "--vsock: uds given twice (" VSOCK_PATH_FMT
					 " and " VSOCK_PATH_FMT ")", VSOCK_PATH_ARG(v->uds_path),
					 VSOCK_PATH_ARG(tok + 4));
				goto fail;
			}
			v->uds_path = tok + 4;
		} else {
			snprintf(err, err_size, "--vsock: unknown option '%s' (" VSOCK_USAGE ")", tok);
			goto fail;
		}
	}
	if (!cid || !v->uds_path) {
		snprintf(err, err_size, "--vsock '%s': no %s (" VSOCK_USAGE ")", arg,
			 !cid ? "cid=" : "uds=");
		goto fail;
	}
	/* Decimal only: a CID is a number the user reads back from the guest (ss, socat), not a
	 * bit pattern. */
	e = config_parse_uint(cid, 0, UINT32_MAX, &n);
	if (e == -EINVAL) {
		snprintf(err, err_size, "--vsock: cid '%s' is not a decimal number (3 to 4294967294)",
			 cid);
		goto fail;
	}
	if ((why = e ? config_bad_vsock_cid(-1) : config_bad_vsock_cid((long long)n))) {
		snprintf(err, err_size, "--vsock: cid '%s' %s", cid, why);
		goto fail;
	}
	if ((why = config_bad_vsock_uds(v->uds_path))) {
		snprintf(err, err_size, "--vsock: uds " VSOCK_PATH_FMT " %s",
			 VSOCK_PATH_ARG(v->uds_path), why);
		goto fail;
	}
	v->id = buf;
	v->guest_cid = (uint32_t)n;
	*storage = buf;
	return 0;
fail:
	free(buf);
	*v = (struct vmm_vsock){ 0 };
	return -EINVAL;
}

static int validate_vsock(const struct vmm_config *cfg, char *err, size_t err_size)
{
	const struct vmm_vsock *v = &cfg->vsock;
	const char *why;

	if (!v->id || !v->id[0] || strlen(v->id) > CONFIG_VSOCK_ID_MAX) {
		snprintf(err, err_size, "--vsock: id '%s' must be 1 to %u bytes", v->id ? v->id : "",
			 CONFIG_VSOCK_ID_MAX);
		return -EINVAL;
	}
	if ((why = config_bad_vsock_cid(v->guest_cid))) {
		snprintf(err, err_size, "--vsock %s: cid %u %s", v->id, v->guest_cid, why);
		return -EINVAL;
	}
	if ((why = config_bad_vsock_uds(v->uds_path))) {
		snprintf(err, err_size, "--vsock %s: uds " VSOCK_PATH_FMT " %s", v->id,
			 VSOCK_PATH_ARG(v->uds_path ? v->uds_path : ""), why);
		return -EINVAL;
	}
	return 0;
}

const char *config_cpu_template_name(const char *name)
{
	static const char *const names[] = { "None", "T2", "C3" };

	for (size_t i = 0; name && i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i]) == 0)
			return names[i];
	return NULL;
}

int config_parse_bitmap(const char *s, unsigned int width, struct cpu_bitmap *out)
{
	unsigned int digits = 0;
	uint64_t filter = 0, value = 0;

	if (!s || (width != 32 && width != 64))
		return -EINVAL;
	if (s[0] == '0' && s[1] == 'b')
		s += 2;
	else if (s[0] == '0' && s[1] == 'x')
		return -EINVAL; /* a hex number, not a bitmap of 0, x, 1 and 0 */
	for (; *s; s++) {
		if (*s == '_')
			continue;
		if (*s != '0' && *s != '1' && *s != 'x')
			return -EINVAL;
		if (++digits > width)
			return -EINVAL;
		filter = (filter << 1) | (*s != 'x');
		value = (value << 1) | (*s == '1');
	}
	if (digits == 0)
		return -EINVAL;
	out->filter = filter;
	out->value = value;
	return 0;
}

int config_parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	int base = 10;
	char *end;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (s[0] == '0' && s[1] == 'b')
		base = 2, s += 2;
	if (!isxdigit((unsigned char)s[0]))
		return -EINVAL; /* no sign, no space, no empty number */
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static const char *const cpuid_regs[] = { "eax", "ebx", "ecx", "edx" };

int config_parse_cpuid_mask(const char *arg, struct cpu_cpuid_mod *m, char *err, size_t err_size)
{
	char buf[160], *leaf, *reg, *val, *dot, *bit = NULL;

	memset(m, 0, sizeof(*m));
	if (!arg || strlen(arg) >= sizeof(buf)) {
		snprintf(err, err_size, "--cpuid-mask: '%.40s...' is too long", arg ? arg : "");
		return -EINVAL;
	}
	strcpy(buf, arg);
	leaf = buf;
	reg = strchr(buf, ':');
	val = reg ? strchr(reg, '=') : NULL;
	if (!reg || !val) {
		snprintf(err, err_size,
			 "--cpuid-mask: '%s' is not LEAF[.SUBLEAF]:REG=BITMAP or LEAF[.SUBLEAF]:REG.BIT=0|1",
			 arg);
		return -EINVAL;
	}
	*reg++ = '\0';
	*val++ = '\0';
	if ((dot = strchr(leaf, '.'))) {
		*dot++ = '\0';
		if (config_parse_u32(dot, &m->subleaf)) {
			snprintf(err, err_size, "--cpuid-mask: subleaf '%s' in '%s' is not a number",
				 dot, arg);
			return -EINVAL;
		}
	}
	if (config_parse_u32(leaf, &m->leaf)) {
		snprintf(err, err_size, "--cpuid-mask: leaf '%s' in '%s' is not a number", leaf, arg);
		return -EINVAL;
	}
	if ((dot = strchr(reg, '.'))) {
		*dot = '\0';
		bit = dot + 1;
	}
	m->reg = 4;
	for (uint8_t i = 0; i < ARRAY_SIZE(cpuid_regs); i++)
		if (strcmp(reg, cpuid_regs[i]) == 0)
			m->reg = i;
	if (m->reg == 4) {
		snprintf(err, err_size,
			 "--cpuid-mask: register '%s' in '%s' is not eax, ebx, ecx or edx", reg, arg);
		return -EINVAL;
	}
	if (bit) {
		unsigned long b;

		if (config_parse_uint(bit, 0, 31, &b)) {
			snprintf(err, err_size, "--cpuid-mask: bit '%s' in '%s' is not 0 to 31", bit,
				 arg);
			return -EINVAL;
		}
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
			snprintf(err, err_size, "--cpuid-mask: value '%s' of bit %lu in '%s' is not 0 or 1",
				 val, b, arg);
			return -EINVAL;
		}
		m->bits.filter = 1ull << b;
		m->bits.value = val[0] == '1' ? 1ull << b : 0;
		return 0;
	}
	if (config_parse_bitmap(val, 32, &m->bits)) {
		snprintf(err, err_size,
			 "--cpuid-mask: bitmap '%s' in '%s' is not 0b followed by 1 to 32 of 0, 1, x or _",
			 val, arg);
		return -EINVAL;
	}
	return 0;
}
