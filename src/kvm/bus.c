/* bus.c: sorted, non-overlapping device ranges with binary-search dispatch. */
#include "kvm/bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bus {
	const char *name;
	uint64_t limit;
	struct bus_range *ranges; /* sorted by base */
	unsigned int nr, cap;
};

int bus_create(struct bus **out, const char *name, uint64_t limit)
{
	struct bus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return -ENOMEM;
	bus->name = name;
	bus->limit = limit;
	*out = bus;
	return 0;
}

void bus_destroy(struct bus *bus)
{
	if (!bus)
		return;
	free(bus->ranges);
	free(bus);
}

const char *bus_name(const struct bus *bus) { return bus->name; }

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name, bus_read_fn read,
		 bus_write_fn write, void *opaque)
{
	uint64_t end;
	unsigned int pos;

	if (len == 0 || add_overflow(base, len - 1, &end) || (bus->limit && end >= bus->limit))
		return -EINVAL;
	for (pos = 0; pos < bus->nr; pos++) {
		if (ranges_overlap(base, len, bus->ranges[pos].base, bus->ranges[pos].len))
			return -EEXIST;
		if (bus->ranges[pos].base > base)
			break;
	}
	for (unsigned int i = pos; i < bus->nr; i++)
		if (ranges_overlap(base, len, bus->ranges[i].base, bus->ranges[i].len))
			return -EEXIST;
	if (bus->nr == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 8;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->nr - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){
		.base = base, .len = len, .name = name, .read = read, .write = write, .opaque = opaque,
	};
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, unsigned int size)
{
	unsigned int lo = 0, hi = bus->nr;
	uint64_t last;

	if (size == 0 || add_overflow(addr, (uint64_t)size - 1, &last))
		return NULL;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return last - r->base < r->len ? r : NULL;
	}
	return NULL;
}

const struct bus_range *bus_read(const struct bus *bus, uint64_t addr, void *data, unsigned int size)
{
	const struct bus_range *r = bus_find(bus, addr, size);

	if (!r) {
		memset(data, 0xff, size);
		return NULL;
	}
	memset(data, 0, size);
	if (r->read)
		r->read(r->opaque, addr - r->base, data, size);
	else
		memset(data, 0xff, size);
	return r;
}

const struct bus_range *bus_write(const struct bus *bus, uint64_t addr, const void *data,
				  unsigned int size)
{
	const struct bus_range *r = bus_find(bus, addr, size);

	if (r && r->write)
		r->write(r->opaque, addr - r->base, data, size);
	return r;
}

int bus_attach(struct bus *bus, uint64_t base, uint64_t len, const char *name, bus_read_fn rd,
	       bus_write_fn wr, void *opaque, char *err, size_t err_size)
{
	int e = bus_register(bus, base, len, name, rd, wr, opaque);

	if (e == -EEXIST)
		snprintf(err, err_size, "%s: %s range 0x%llx-0x%llx overlaps another device", name,
			 bus_name(bus), (unsigned long long)base, (unsigned long long)(base + len - 1));
	else if (e)
		snprintf(err, err_size, "%s: cannot register %s range 0x%llx: %s", name,
			 bus_name(bus), (unsigned long long)base, strerror(-e));
	return e;
}
