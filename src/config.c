/* config.c: defaults, number parsing and validation of struct vmm_config. */
#include "config.h"

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
	cfg->mem_backing = MEM_BACKING_ANON;
	cfg->nr_vcpus = 1;
	cfg->debug_exit_port = CONFIG_DEBUG_EXIT_PORT;
	cfg->irqchip = IRQCHIP_SPLIT;
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
	if (cfg->nr_disks > CONFIG_MAX_DISKS || config_nr_virtio(cfg) > CONFIG_MAX_VIRTIO) {
		snprintf(err, err_size, "--disk: %u virtio devices, at most %u (disks, console "
			 "and rng together)", config_nr_virtio(cfg), CONFIG_MAX_VIRTIO);
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
	return 0;
}

unsigned int config_nr_virtio(const struct vmm_config *cfg)
{
	return cfg->nr_disks + cfg->virtio_console + cfg->rng + cfg->nr_nets;
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
