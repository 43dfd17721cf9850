/* ioapic_stub.h: an IOAPIC backend that routes and triggers nothing, for tests that drive the
 * IOAPIC's registers alone (tests/unit/test_snapshot.c, tests/fuzz/fuzz_legacy.c). */
#ifndef KILN_TESTS_IOAPIC_STUB_H
#define KILN_TESTS_IOAPIC_STUB_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/ioapic.h"

static int ioapic_stub_route(void *opaque, unsigned int pin, bool valid, uint64_t addr,
			     uint32_t data, bool push)
{
	(void)opaque, (void)pin, (void)valid, (void)addr, (void)data, (void)push;
	return 0;
}

static int ioapic_stub_trigger(void *opaque, unsigned int pin)
{
	(void)opaque, (void)pin;
	return 0;
}

static const struct ioapic_backend ioapic_stub_backend = { ioapic_stub_route, ioapic_stub_trigger,
							   NULL };

#endif
