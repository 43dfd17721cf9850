/* fuzz_gdb_rsp.c: libFuzzer target for the GDB remote-protocol core (src/gdb/rsp.c), which reads
 * whatever anyone who reaches the --gdb socket sends. A fake target (tests/unit/gdb_fake.h)
 * abort()s when the protocol hands it a thread that does not exist or an empty memory access,
 * and when a reply is longer than the largest packet; ASan catches the rest. When the protocol
 * resumes the target or asks for an interrupt, the target "stops" at once, so stop replies and
 * packets in both states are exercised.
 *
 * Input layout: [0] feed size: the rest is fed in pieces of (input[0] % 64) + 1 bytes, as a
 * socket may split it; [1,..) the bytes gdb would send. tests/fuzz/make_corpus.py writes seeds. */
#include <stdint.h>
#include <string.h>

#include "../unit/gdb_fake.h"

static struct fake f;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdb_rsp *r;
	size_t piece;
	unsigned int stops = 0;

	if (size < 1)
		return 0;
	memset(&f, 0, sizeof(f));
	r = gdb_rsp_create(&fake_target, &f, fake_send, &f);
	if (!r)
		return 0;
	piece = (size_t)(data[0] % 64) + 1;
	for (size_t off = 1; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;
		enum gdb_event ev = gdb_rsp_feed(r, data + off, n);

		if (ev == GDB_EV_RESUMED || ev == GDB_EV_INTERRUPT || gdb_rsp_running(r)) {
			struct gdb_stop st = {
				.thread = 1 + stops % FAKE_THREADS,
				.signal = ev == GDB_EV_INTERRUPT ? 2 : 5,
				.watch = stops & 1,
				.watch_type = (enum gdb_bp_type)(stops % 5),
				.watch_addr = stops * 0x1000ull,
			};

			/* every other time, leave it running so packets meet a running target */
			if (ev == GDB_EV_INTERRUPT || (stops++ & 2) == 0)
				gdb_rsp_stopped(r, &st);
		}
		if (ev == GDB_EV_DETACHED || ev == GDB_EV_KILLED)
			break;
	}
	gdb_rsp_exited(r, (int)size);
	gdb_rsp_destroy(r);
	return 0;
}
