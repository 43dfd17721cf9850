/* config.h: the validated, plain-data description of a VM; the CLI (and later the API and config
 * file) fill it, the builder turns it into a VM. */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"
#include "util/rate_limiter.h"

#define CONFIG_ERR_MAX 320
#define CONFIG_DEFAULT_MEM (128ull << 20)
#define CONFIG_MIN_MEM (1ull << 20)
/* x86 xAPIC ids are 8 bits and 0xff is broadcast. */
#define CONFIG_MAX_VCPUS 254

/* virtio-mmio devices: at most this many (disks, console, rng and network interfaces together);
 * see docs/virtio.md. */
#define CONFIG_MAX_VIRTIO 16
#define CONFIG_MAX_DISKS CONFIG_MAX_VIRTIO
#define CONFIG_DISK_ID_MAX 20 /* virtio-blk GET_ID bytes */

/* The interrupt controllers (x86: where the IOAPIC and PIC live). */
enum irqchip_mode {
	IRQCHIP_SPLIT = 0, /* local APICs in KVM, IOAPIC and PIC in kiln (default) */
	IRQCHIP_KERNEL,    /* KVM's full in-kernel irqchip (PIC, IOAPIC, LAPIC) plus its PIT */
};

/* How a Linux guest learns where the virtio-mmio devices are (docs/virtio.md). */
enum virtio_discovery {
	/* LNRO0005 devices in the DSDT and virtio_mmio.device= on a Linux kernel's command line
	 * (default): a kernel that uses ACPI reads the first (and refuses the second's copy of each
	 * device: its registers are taken), one that does not (no CONFIG_ACPI, or acpi=off) the
	 * second, with the MP table's interrupts, and so does one whose namespace does not load
	 * (no CONFIG_PCI), with the MADT's ISA interrupts; each device is probed once either way */
	VIRTIO_DISCOVERY_BOTH = 0,
	VIRTIO_DISCOVERY_ACPI, /* the DSDT only (the command line too with acpi=off) */
};

/* How guest RAM is backed (kvm/memory.c). A memfd by default: a snapshot copies its pages to
 * the memory file in the kernel (copy_file_range), only those the guest has touched, and it is
 * what vhost-user will share. Anonymous memory is what a snapshot restores into with the Uffd
 * backend; file/hugetlbfs backing slots in here without changing any caller. */
enum mem_backing {
	MEM_BACKING_ANON = 0,
	MEM_BACKING_MEMFD,
	MEM_BACKING_ANON_THP, /* enable_thp: anonymous, MADV_HUGEPAGE (docs/design.md) */
};

/* The isa-debug-exit port when --debug-exit gives none (QEMU's default). */
#define CONFIG_DEBUG_EXIT_PORT 0xf4

enum disk_cache {
	DISK_CACHE_WRITEBACK = 0, /* through the host page cache; flush = fdatasync */
	DISK_CACHE_NONE,          /* O_DIRECT */
};

/* How a disk's requests reach the image (devices/virtio/blk.c). */
enum disk_io {
	DISK_IO_AUTO = 0, /* io_uring when the host allows it, else sync */
	DISK_IO_URING,
	DISK_IO_SYNC,
};

/* One --disk: a virtio-blk device on a raw image. */
struct vmm_disk {
	const char *path;
	const char *id; /* NULL: no serial */
	bool ro;
	enum disk_cache cache;
	enum disk_io io;
	struct rate_limiter_cfg rate_limiter; /* the API's drives[].rate_limiter; zero: none */
};

/* Network interfaces (virtio-net, devices/virtio/net.c). */
#define CONFIG_MAX_NETS 8
#define CONFIG_NET_ID_MAX 64    /* iface_id, as Firecracker's API allows */
#define CONFIG_MAX_HOSTFWD 8    /* --net user,hostfwd=... per interface */
#define CONFIG_NET_DEFAULT_MTU 1500
#define CONFIG_NET_MIN_MTU 68       /* IPv4's minimum (RFC 791) */
#define CONFIG_NET_USER_NET 0x0a000200u /* --net user: 10.0.2.0/24 unless net= says otherwise */
#define CONFIG_NET_USER_PREFIX 24
#define CONFIG_NET_USER_MIN_PREFIX 8
#define CONFIG_NET_USER_MAX_PREFIX 27 /* the guest is host 15 of the network */
#define CONFIG_NET_USER_GUEST_HOST 15 /* the guest's DHCP address: network + 15 (10.0.2.15) */
#define CONFIG_IFNAME_MAX 15          /* IFNAMSIZ - 1 */

/* (Not "enum net_backend": C gives enums and structs one tag namespace, and struct net_backend
 * is the backend itself, devices/net/backend.h.) */
enum net_backend_kind {
	NET_BACKEND_TAP = 0, /* a host TAP device: --net tap=NAME, the API's host_dev_name */
	NET_BACKEND_USER,    /* user-mode networking through libslirp: --net user */
};

/* One port forward of --net user: host address:port to the guest's port. */
struct vmm_hostfwd {
	bool udp;
	uint32_t host_addr; /* IPv4, host byte order; 0 for any (INADDR_ANY) */
	uint16_t host_port;
	uint16_t guest_port;
};

/* One network interface: eth0, eth1, ... in the order given. */
struct vmm_net {
	const char *id;          /* iface_id (API) or "ethN" (CLI) */
	enum net_backend_kind backend;
	const char *tap;         /* TAP: the host device's name (IFNAMSIZ - 1 bytes at most) */
	bool has_mac;
	uint8_t mac[6];          /* guest_mac; without it kiln picks a locally administered one */
	uint16_t mtu;            /* 68..65535; 0: CONFIG_NET_DEFAULT_MTU */
	/* user: the guest's IPv4 network (10.0.2.0/24 unless given) and port forwards */
	uint32_t user_net;       /* host byte order */
	unsigned int user_prefix;
	struct vmm_hostfwd hostfwd[CONFIG_MAX_HOSTFWD];
	unsigned int nr_hostfwd;
	/* The API's rx_rate_limiter (frames to the guest) and tx_rate_limiter (from it); zero: none */
	struct rate_limiter_cfg rx_rate_limiter, tx_rate_limiter;
};

/* The vsock device (virtio-vsock, docs/vsock.md). A guest-initiated connection to port P goes to
 * the host's Unix socket "<uds_path>_<P>", with P up to 10 decimal digits; sun_path holds 108
 * bytes with the NUL (107 usable), so uds_path may have 107 - 11 = 96 bytes. */
#define CONFIG_VSOCK_UDS_MAX 96
#define CONFIG_VSOCK_ID_MAX 64      /* vsock_id (API), as iface_id */
#define CONFIG_VSOCK_MIN_CID 3u     /* 0: hypervisor, 1: local, 2: the host (VMADDR_CID_HOST) */
#define CONFIG_VSOCK_MAX_CID 0xfffffffeu /* 0xffffffff is VMADDR_CID_ANY */
#define CONFIG_VSOCK_DEFAULT_ID "vsock0"

/* The vsock device (one at most, as with Firecracker): its guest CID and the host's Unix
 * socket that bridges it (docs/vsock.md). */
struct vmm_vsock {
	const char *id;       /* vsock_id (API, optional), else "vsock0" */
	uint32_t guest_cid;   /* 3 .. 0xfffffffe */
	const char *uds_path; /* CONFIG_VSOCK_UDS_MAX bytes at most */
};

/* CPU templates (docs/cpu-templates.md): what the guest's CPU model offers, as Firecracker's
 * custom CPU templates describe it. The generic core only carries the modifiers; the architecture
 * applies them (x86: CPUID and MSRs, src/arch/x86/cputemplate.c). */

/* Firecracker's RegisterValueFilter: the bits set in `filter` take their values from `value`; the
 * others keep the value the host offers. A bitmap string "0b1x0..." (config_parse_bitmap())
 * gives 1 and 0 as filter bits, x as none. */
struct cpu_bitmap {
	uint64_t filter, value;
};

/* One CPUID register modifier (Firecracker's cpuid_modifiers, one per register): the entry of
 * `leaf` and `subleaf` (which must exist in the host's supported set), register `reg` (0 eax,
 * 1 ebx, 2 ecx, 3 edx). With has_flags the entry's KVM flags become `flags`. */
struct cpu_cpuid_mod {
	uint32_t leaf, subleaf, flags;
	bool has_flags;
	uint8_t reg;
	struct cpu_bitmap bits;
};

/* One MSR modifier (Firecracker's msr_modifiers): the vCPU's MSR `addr` at boot. */
struct cpu_msr_mod {
	uint32_t addr;
	struct cpu_bitmap bits;
};

#define CONFIG_MAX_CPUID_MODS 128
#define CONFIG_MAX_MSR_MODS 32

/* A list of modifiers, applied in order (a later one wins on the same bits). */
struct cpu_mods {
	unsigned int nr_cpuid, nr_msr;
	struct cpu_cpuid_mod cpuid[CONFIG_MAX_CPUID_MODS];
	struct cpu_msr_mod msr[CONFIG_MAX_MSR_MODS];
};

struct vmm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;     /* NULL: none */
	uint64_t mem_size;
	enum mem_backing mem_backing;
	unsigned int nr_vcpus;
	bool flat;
	bool debug_exit;
	uint16_t debug_exit_port;
	bool stats;
	bool track_dirty_pages; /* KVM dirty logging on guest RAM, for Diff snapshots */
	bool on_reboot_restart; /* --on-reboot=restart: a guest reboot starts the VM again */
	enum irqchip_mode irqchip;
	enum virtio_discovery virtio_discovery; /* --virtio-discovery */
	const char *kvm_path; /* NULL: /dev/kvm */
	const char *serial_out_path; /* NULL: stdout */
	struct vmm_disk disks[CONFIG_MAX_DISKS];
	unsigned int nr_disks;
	bool virtio_console; /* --console virtio: stdin goes to hvc0 */
	bool rng;            /* --rng */
	struct rate_limiter_cfg rng_rate_limiter; /* the API's entropy.rate_limiter; zero: none */
	struct token_bucket_cfg serial_rate_limiter; /* serial.rate_limiter: bytes out; zero: none */
	struct vmm_net nets[CONFIG_MAX_NETS];
	unsigned int nr_nets;
	bool has_vsock; /* --vsock, the API's PUT /vsock */
	const char *gdb; /* --gdb unix:PATH | tcp:[HOST:]PORT (checked by gdbstub_parse()); NULL */
	bool gdb_wait;   /* --gdb-wait: vCPUs wait for the debugger before the first instruction */
	struct vmm_vsock vsock;
	/* The CPU template: a static one by name (config_cpu_template_name(); NULL: None), or a
	 * custom one (has_cpu_custom: PUT /cpu-config, --cpu-template FILE), whichever was set
	 * last; then the --cpuid-mask masks on top. */
	const char *cpu_template;
	bool has_cpu_custom;
	struct cpu_mods cpu_custom;
	struct cpu_mods cpu_masks;
};

/* Defaults: 128 MiB, 1 vCPU, split irqchip, no debug-exit. */
void config_init(struct vmm_config *cfg);

/* Parses a memory size: a decimal number with an optional K, M, G or T suffix (case-insensitive,
 * optionally followed by "iB" or "B"); a bare number means MiB, as in QEMU. Returns 0, -EINVAL
 * (not a size) or -ERANGE (overflows 64 bits). */
int __must_check config_parse_size(const char *s, uint64_t *out);

/* Parses a decimal count in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int __must_check config_parse_uint(const char *s, unsigned long min, unsigned long max,
				   unsigned long *out);

/* Parses a --disk argument, PATH[,ro][,id=NAME][,cache=none|writeback][,io=auto|io_uring|sync],
 * into *d. The path and id are copied into one allocation returned in *storage (the caller frees
 * it after the VM is gone). Returns 0 or -EINVAL with a one-line message in err. */
int __must_check config_parse_disk(const char *arg, struct vmm_disk *d, char **storage, char *err,
				   size_t err_size);

/* Parses a --net argument into *n (id "ethN" for N = `index`):
 *   tap=NAME[,mac=MAC][,mtu=N]
 *   user[,net=A.B.C.D/P][,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,mac=][,mtu=]
 * As QEMU's hostfwd: an empty protocol is tcp, an empty HOSTADDR any address. GUESTADDR is
 * stored nowhere: a forward always goes to the guest's DHCP address (the network's address plus
 * CONFIG_NET_USER_GUEST_HOST, QEMU's 10.0.2.15), so GUESTADDR must be empty or that address.
 * Strings are copied into one allocation returned in *storage (freed by the caller after the VM
 * is gone). Returns 0 or -EINVAL with a one-line message naming the bad part in err. */
int __must_check config_parse_net(const char *arg, unsigned int index, struct vmm_net *n,
				  char **storage, char *err, size_t err_size);

/* Writes a user-mode interface's backend as config_parse_net() reads it back,
 * "user,net=A.B.C.D/P[,hostfwd=PROTO:[HOSTADDR]:HOSTPORT-:GUESTPORT]..." (no mac= or mtu=: the
 * API has fields for them): the API's kiln_net. Returns 0, or -ENOSPC when `size` is too small. */
#define CONFIG_NET_USER_STR 512
int __must_check config_format_net_user(const struct vmm_net *n, char *out, size_t size);

/* Parses a --vsock argument, cid=N,uds=PATH (both required, each once, in either order), into
 * *v with id "vsock0". N is decimal, CONFIG_VSOCK_MIN_CID to CONFIG_VSOCK_MAX_CID; PATH is 1 to
 * CONFIG_VSOCK_UDS_MAX bytes (it cannot contain a comma). Strings are copied into one allocation
 * returned in *storage (freed by the caller after the VM is gone). Returns 0 or -EINVAL with a
 * one-line message naming the field and value in err (*v cleared, nothing to free). */
int __must_check config_parse_vsock(const char *arg, struct vmm_vsock *v, char **storage,
				    char *err, size_t err_size);

/* Why `cid` cannot be a guest's vsock CID (0 to 2 are reserved; 0xffffffff is VMADDR_CID_ANY and
 * anything above is not 32 bits), or NULL when it can. */
const char *config_bad_vsock_cid(long long cid);

/* Why `path` cannot be the vsock device's Unix socket (empty, or longer than
 * CONFIG_VSOCK_UDS_MAX bytes), or NULL when it can. */
const char *config_bad_vsock_uds(const char *path);

/* Parses a MAC address "aa:bb:cc:dd:ee:ff" (hex digits, either case). Returns 0 or -EINVAL. */
int __must_check config_parse_mac(const char *s, uint8_t mac[6]);

/* Writes `mac` as "aa:bb:cc:dd:ee:ff" (lower case, as Firecracker reports guest_mac). */
#define CONFIG_MAC_STR 18
void config_format_mac(const uint8_t mac[6], char out[CONFIG_MAC_STR]);

/* Why `mac` cannot be a guest's address (multicast, or all zeros), or NULL when it can. */
const char *config_bad_mac(const uint8_t mac[6]);

/* Why `name` cannot be a host network device's name (empty, longer than 15 bytes, or a name
 * Linux refuses: '/', ':', whitespace, "." or ".."), or NULL when it can. */
const char *config_bad_ifname(const char *name);

/* The static CPU templates kiln has (docs/cpu-templates.md), as Firecracker's machine-config
 * names them: "None", "T2", "C3". */
#define CONFIG_CPU_TEMPLATES "None, T2, C3"

/* The canonical name of static CPU template `name` (exact, case-sensitive, as Firecracker's),
 * or NULL when kiln has no such template. "None" gives "None". */
const char *config_cpu_template_name(const char *name);

/* Parses a Firecracker register bitmap: an optional "0b", then 1 to `width` (32 or 64) of '0',
 * '1' and 'x' (most significant first; missing leading digits are 'x'), with '_' allowed as a
 * separator anywhere after the prefix. "0x..." is refused (a hex number is no bitmap). Returns 0
 * or -EINVAL. */
int __must_check config_parse_bitmap(const char *s, unsigned int width, struct cpu_bitmap *out);

/* Parses a 32-bit number as Firecracker's templates write leaves and addresses: "0x" hex or
 * "0b" binary (and, as kiln's CLI also allows, plain decimal). Returns 0 or -EINVAL. */
int __must_check config_parse_u32(const char *s, uint32_t *out);

/* Parses a --cpuid-mask argument into *m:
 *   LEAF[.SUBLEAF]:REG=BITMAP   (BITMAP as config_parse_bitmap(), 32 bits)
 *   LEAF[.SUBLEAF]:REG.BIT=0|1  (one bit, BIT 0 to 31)
 * LEAF and SUBLEAF as config_parse_u32() (SUBLEAF 0 when absent); REG eax, ebx, ecx or edx.
 * Returns 0 or -EINVAL with a one-line message naming the bad part in err. */
int __must_check config_parse_cpuid_mask(const char *arg, struct cpu_cpuid_mod *m, char *err,
					 size_t err_size);

/* Number of virtio-mmio devices `cfg` asks for. */
unsigned int config_nr_virtio(const struct vmm_config *cfg);

/* Checks what can be checked without the host: a kernel is given, memory is page-aligned and at
 * least 1 MiB, 1..254 vCPUs, the virtio devices fit, the network interfaces (filled by
 * config_parse_net() or by the API) have distinct ids, TAP names, MACs and host ports, each part
 * in range, and the vsock device (when has_vsock) has an id, a CID and a socket path in range.
 * Returns 0 or -EINVAL with a one-line message in err. */
int __must_check config_validate(const struct vmm_config *cfg, char *err, size_t err_size);

#endif
