/* config.h: the validated, plain-data description of a VM; the CLI (and later the API and config
 * file) fill it, the builder turns it into a VM. */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

#define CONFIG_ERR_MAX 320
#define CONFIG_DEFAULT_MEM (128ull << 20)
#define CONFIG_MIN_MEM (1ull << 20)
/* x86 xAPIC ids are 8 bits and 0xff is broadcast. */
#define CONFIG_MAX_VCPUS 254

/* virtio-mmio devices: at most this many (disks, console, rng together); see docs/virtio.md. */
#define CONFIG_MAX_VIRTIO 16
#define CONFIG_MAX_DISKS CONFIG_MAX_VIRTIO
#define CONFIG_DISK_ID_MAX 20 /* virtio-blk GET_ID bytes */

/* The interrupt controllers (x86: where the IOAPIC and PIC live). */
enum irqchip_mode {
	IRQCHIP_SPLIT = 0, /* local APICs in KVM, IOAPIC and PIC in kiln (default) */
	IRQCHIP_KERNEL,    /* KVM's full in-kernel irqchip (PIC, IOAPIC, LAPIC) plus its PIT */
};

/* How guest RAM is backed (kvm/memory.c). Only anonymous memory today; memfd and file/hugetlbfs
 * backing (needed for snapshots and vhost-user) slot in here without changing any caller. */
enum mem_backing {
	MEM_BACKING_ANON = 0,
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
	bool on_reboot_restart; /* --on-reboot=restart: a guest reboot starts the VM again */
	enum irqchip_mode irqchip;
	const char *kvm_path; /* NULL: /dev/kvm */
	const char *serial_out_path; /* NULL: stdout */
	struct vmm_disk disks[CONFIG_MAX_DISKS];
	unsigned int nr_disks;
	bool virtio_console; /* --console virtio: stdin goes to hvc0 */
	bool rng;            /* --rng */
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

/* Number of virtio-mmio devices `cfg` asks for. */
unsigned int config_nr_virtio(const struct vmm_config *cfg);

/* Checks what can be checked without the host: a kernel is given, memory is page-aligned and at
 * least 1 MiB, 1..254 vCPUs. Returns 0 or -EINVAL with a one-line message in err. */
int __must_check config_validate(const struct vmm_config *cfg, char *err, size_t err_size);

#endif
