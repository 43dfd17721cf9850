/* config.h: the validated, plain-data description of a VM; the CLI (and later the API and config
 * file) fill it, the builder turns it into a VM. */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/memory.h"
#include "kvm/vm.h"
#include "util/checked.h"

#define CONFIG_ERR_MAX 320
#define CONFIG_DEFAULT_MEM (128ull << 20)
#define CONFIG_MIN_MEM (1ull << 20)
/* x86 xAPIC ids are 8 bits and 0xff is broadcast. */
#define CONFIG_MAX_VCPUS 254

struct vmm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;     /* NULL: none */
	uint64_t mem_size;
	enum gmem_backing mem_backing;
	unsigned int nr_vcpus;
	bool flat;
	bool debug_exit;
	uint16_t debug_exit_port;
	bool stats;
	bool on_reboot_restart; /* --on-reboot=restart: a guest reboot starts the VM again */
	enum irqchip_mode irqchip;
	const char *kvm_path; /* NULL: /dev/kvm */
	const char *serial_out_path; /* NULL: stdout */
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

/* Checks what can be checked without the host: a kernel is given, memory is page-aligned and at
 * least 1 MiB, 1..254 vCPUs. Returns 0 or -EINVAL with a one-line message in err. */
int __must_check config_validate(const struct vmm_config *cfg, char *err);

#endif
