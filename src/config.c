/* config.c: defaults, number parsing and validation of struct vmm_config. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devices/debug_exit.h"

void config_init(struct vmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CONFIG_DEFAULT_MEM;
	cfg->mem_backing = GMEM_BACKING_ANON;
	cfg->nr_vcpus = 1;
	cfg->debug_exit_port = DEBUG_EXIT_DEFAULT_PORT;
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

int config_validate(const struct vmm_config *cfg, char *err)
{
	if (!cfg->kernel_path) {
		snprintf(err, CONFIG_ERR_MAX, "no guest given: use -k/--kernel FILE");
		return -EINVAL;
	}
	if (cfg->mem_size == 0) {
		snprintf(err, CONFIG_ERR_MAX, "-m/--memory: guest memory cannot be 0");
		return -EINVAL;
	}
	if (cfg->mem_size < CONFIG_MIN_MEM) {
		snprintf(err, CONFIG_ERR_MAX, "-m/--memory: %llu bytes is below the 1 MiB minimum",
			 (unsigned long long)cfg->mem_size);
		return -EINVAL;
	}
	if (cfg->mem_size % 4096) {
		snprintf(err, CONFIG_ERR_MAX, "-m/--memory: %llu bytes is not a multiple of 4 KiB",
			 (unsigned long long)cfg->mem_size);
		return -EINVAL;
	}
	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > CONFIG_MAX_VCPUS) {
		snprintf(err, CONFIG_ERR_MAX, "-c/--cpus: %u vCPUs is out of range (1 to %u)",
			 cfg->nr_vcpus, CONFIG_MAX_VCPUS);
		return -EINVAL;
	}
	return 0;
}
