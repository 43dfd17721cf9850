/* bus.h: port-I/O and MMIO address spaces: non-overlapping device ranges and access dispatch. */
#ifndef KILN_KVM_BUS_H
#define KILN_KVM_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/checked.h"

/* Handlers get the offset into their range and 1, 2, 4 or 8 bytes of little-endian data. For
 * reads the buffer is zeroed before the call, so a handler that fills fewer bytes leaks nothing. */
typedef void (*bus_read_fn)(void *opaque, uint64_t offset, void *data, unsigned int size);
typedef void (*bus_write_fn)(void *opaque, uint64_t offset, const void *data, unsigned int size);

struct bus_range {
	uint64_t base;
	uint64_t len;
	const char *name; /* device name, used in logs and exit statistics */
	bus_read_fn read; /* NULL: reads return all ones */
	bus_write_fn write; /* NULL: writes are dropped */
	void *opaque;
};

struct bus;

/* Creates an empty bus called `name` ("pio" or "mmio"), with addresses below `limit` (0x10000 for
 * port I/O, 0 for the full 64-bit space). Returns 0 or -ENOMEM. */
int __must_check bus_create(struct bus **out, const char *name, uint64_t limit);
void bus_destroy(struct bus *bus);

/* Adds a device range. Returns 0, -EINVAL for an empty, wrapping or out-of-limit range, -EEXIST when
 * it overlaps a registered range, -ENOMEM. Registration happens while the VM is built, before any
 * vCPU thread starts; the bus is immutable while vCPUs run, so handlers cannot disappear under a
 * running access. Hot-plug will need reference counts here. */
int __must_check bus_register(struct bus *bus, uint64_t base, uint64_t len, const char *name,
			      bus_read_fn read, bus_write_fn write, void *opaque);

/* The range containing the whole access [addr, addr+size), or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, unsigned int size);

/* Dispatch one access. Return the range that handled it, or NULL when no device claims the whole
 * access: then a read returns all ones and a write is dropped; the caller counts and logs it. */
const struct bus_range *bus_read(const struct bus *bus, uint64_t addr, void *data, unsigned int size);
const struct bus_range *bus_write(const struct bus *bus, uint64_t addr, const void *data,
				  unsigned int size);

const char *bus_name(const struct bus *bus);

/* bus_register() for the builders: on failure writes one line naming the device and its range
 * to err ("NAME: port I/O range 0x3f8-0x3ff overlaps another device" for -EEXIST, which means a
 * configuration error). Returns bus_register()'s result. */
int __must_check bus_attach(struct bus *bus, uint64_t base, uint64_t len, const char *name,
			    bus_read_fn rd, bus_write_fn wr, void *opaque, char *err,
			    size_t err_size);

#endif
