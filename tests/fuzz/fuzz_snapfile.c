/* fuzz_snapfile.c: libFuzzer target for the snapshot state file's reader (util/snapfile.c). The
 * input is a state file. When its first byte is odd, the size field and checksum are fixed up
 * first, so mutations reach the section walk behind the checksum. Checks that every section the
 * reader accepts lies inside the file and that every refusal has a one-line reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	char err[SNAP_ERR_MAX] = "";
	struct snap_reader *r = NULL;
	const char *names[] = { "config", "vm", "vcpu0", "vcpu0.msrs", "serial", "" };
	size_t len;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE && (buf[0] & 1)) {
		buf[0] = 'K';
		for (int i = 0; i < 8; i++)
			buf[32 + i] = (uint8_t)((uint64_t)size >> (8 * i));
		put32(buf + size - 8, (uint32_t)crc32(0L, buf, (uInt)(size - 8)));
		memcpy(buf + size - 4, "KEND", 4);
	}
	if (snap_reader_from_buffer(&r, buf, size, "x86_64", err, sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			const uint8_t *p = snap_get(r, names[i], &len);

			if (p && len) {
				volatile uint8_t last = p[len - 1]; /* ASan: inside the reader's copy */
				(void)last;
			}
		}
	} else if (!err[0] || strchr(err, '\n')) {
		abort();
	}
	snap_reader_destroy(r);
	free(buf);
	return 0;
}
