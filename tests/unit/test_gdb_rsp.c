/* test_gdb_rsp.c: the GDB remote-protocol core (src/gdb/rsp.c) against a fake target
 * (gdb_fake.h): framing, checksums, escaping, no run-length encoding, every packet kiln serves,
 * and malformed packets answered with errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gdb_fake.h"

static struct fake f;
static struct gdb_rsp *r;

static void setup(void)
{
	memset(&f, 0, sizeof(f));
	for (unsigned int t = 1; t <= FAKE_THREADS; t++)
		for (unsigned int i = 0; i < sizeof(f.regs[t]); i++)
			f.regs[t][i] = (uint8_t)(t * 0x10 + i);
	for (unsigned int i = 0; i < FAKE_MEM_SIZE; i++)
		f.mem[i] = (uint8_t)i;
	r = gdb_rsp_create(&fake_target, &f, fake_send, &f);
	cr_assert(r);
}

static void teardown(void)
{
	gdb_rsp_destroy(r);
}

TestSuite(gdb_rsp, .init = setup, .fini = teardown);

/* Sends `payload` as one well-formed packet and returns the event. */
static enum gdb_event feed_pkt_n(const char *payload, size_t len)
{
	static uint8_t buf[2 * GDB_PACKET_MAX + 8];
	size_t n = gdb_rsp_encode((const uint8_t *)payload, len, buf);

	f.out_len = 0;
	f.out[0] = 0;
	return gdb_rsp_feed(r, buf, n);
}

/* Sends `payload` framed but not escaped (what a broken or hostile client may send). */
static void feed_raw(const char *payload)
{
	char buf[256];
	uint8_t sum = 0;
	int n;

	for (const char *p = payload; *p; p++)
		sum += (uint8_t)*p;
	n = snprintf(buf, sizeof(buf), "$%s#%02x", payload, sum);
	f.out_len = 0;
	f.out[0] = 0;
	gdb_rsp_feed(r, (const uint8_t *)buf, (size_t)n);
}

static enum gdb_event feed_pkt(const char *payload)
{
	return feed_pkt_n(payload, strlen(payload));
}

/* The payload of the one reply after the ack, checksum verified and escapes undone. */
static const char *reply(void)
{
	static char out[GDB_PACKET_MAX + 1];
	const char *p = f.out;
	uint8_t sum = 0;
	size_t n = 0;
	unsigned int cs;

	cr_assert_eq(p[0], '+', "no ack in '%s'", f.out);
	p++;
	cr_assert_eq(*p, '$', "no packet in '%s'", f.out);
	for (p++; *p && *p != '#'; p++) {
		sum += (uint8_t)*p;
		cr_assert_neq(*p, '*', "run-length encoding sent");
		if (*p == '}') {
			sum += (uint8_t)p[1];
			out[n++] = (char)(p[1] ^ 0x20);
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = 0;
	cr_assert_eq(*p, '#');
	cr_assert_eq(sscanf(p + 1, "%2x", &cs), 1);
	cr_assert_eq(cs, sum, "bad checksum in '%s'", f.out);
	return out;
}

/* `payload` as a packet, for comparing what the protocol sent unasked (stop replies). */
static const char *encoded(const char *payload)
{
	static char out[256];
	size_t n = gdb_rsp_encode((const uint8_t *)payload, strlen(payload), (uint8_t *)out);

	out[n] = 0;
	return out;
}

static void expect_reply(const char *pkt, const char *want)
{
	feed_pkt(pkt);
	cr_assert_str_eq(reply(), want, "'%s' answered '%s', not '%s'", pkt, f.out, want);
}

Test(gdb_rsp, encode_checksum_and_escapes)
{
	uint8_t out[32];
	size_t n = gdb_rsp_encode((const uint8_t *)"OK", 2, out);

	cr_assert_eq(n, 6);
	cr_assert_arr_eq(out, "$OK#9a", 6);
	n = gdb_rsp_encode((const uint8_t *)"a#$}*", 5, out);
	/* each special byte becomes '}' and byte ^ 0x20 */
	cr_assert_eq(n, 1 + 9 + 3);
	cr_assert_arr_eq(out, "$a}\x03}\x04}]}\x0a#", 11);
}

Test(gdb_rsp, bad_checksum_is_nacked_and_ignored)
{
	const char *bad = "$g#00";

	gdb_rsp_feed(r, (const uint8_t *)bad, strlen(bad));
	cr_assert_str_eq(f.out, "-");
	cr_assert_eq(f.last_thread, 0, "a packet with a bad checksum was acted on");
	f.out_len = 0;
	gdb_rsp_feed(r, (const uint8_t *)"$g#zz", 5);
	cr_assert_str_eq(f.out, "-");
}

Test(gdb_rsp, nack_resends_the_last_packet)
{
	char first[128];

	feed_pkt("qC");
	strcpy(first, f.out + 1);
	f.out_len = 0;
	gdb_rsp_feed(r, (const uint8_t *)"-", 1);
	cr_assert_str_eq(f.out, first);
}

Test(gdb_rsp, qsupported_and_target_xml)
{
	char want[64];
	const char *x;

	feed_pkt("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
	x = reply();
	snprintf(want, sizeof(want), "PacketSize=%x;", GDB_PACKET_MAX);
	cr_assert(strstr(x, want), "%s", x);
	cr_assert(strstr(x, "qXfer:features:read+"), "%s", x);
	expect_reply("qXfer:features:read:target.xml:0,8", "m<target>");
	expect_reply("qXfer:features:read:target.xml:8,1000", "l<architecture>fake</architecture></target>");
	expect_reply("qXfer:features:read:target.xml:1000,10", "l");
	expect_reply("qXfer:features:read:other.xml:0,10", "E00");
	expect_reply("qXfer:features:read:target.xml:zz,10", "E16");
	expect_reply("qXfer:features:read:target.xml:0", "E16");
}

Test(gdb_rsp, stop_reason_and_threads)
{
	struct gdb_stop st = { .thread = 2, .signal = 5 };

	expect_reply("?", "T05thread:1;");
	expect_reply("qfThreadInfo", "m1,2");
	expect_reply("qsThreadInfo", "l");
	expect_reply("qC", "QC1");
	expect_reply("T2", "OK");
	expect_reply("T3", "E02");
	expect_reply("T0", "E02");
	expect_reply("Hg2", "OK");
	expect_reply("qC", "QC2");
	expect_reply("Hg3", "E16");
	expect_reply("Hx1", "E16");
	expect_reply("Hc-1", "OK");
	gdb_rsp_stopped(r, &st); /* not running: recorded, nothing sent */
	expect_reply("?", "T05thread:2;");
}

Test(gdb_rsp, registers)
{
	char want[2 * FAKE_REGS * 8 + 1];
	char pkt[2 * FAKE_REGS * 8 + 2];

	for (unsigned int i = 0; i < FAKE_REGS * 8; i++)
		sprintf(want + 2 * i, "%02x", f.regs[1][i]);
	expect_reply("g", want);
	cr_assert_eq(f.last_thread, 1);
	expect_reply("Hg2", "OK");
	for (unsigned int i = 0; i < FAKE_REGS * 8; i++)
		sprintf(want + 2 * i, "%02x", f.regs[2][i]);
	expect_reply("g", want);
	cr_assert_eq(f.last_thread, 2);

	pkt[0] = 'G';
	memset(pkt + 1, 'a', 2 * FAKE_REGS * 8);
	pkt[1 + 2 * FAKE_REGS * 8] = 0;
	expect_reply(pkt, "OK");
	cr_assert_eq(f.regs[2][0], 0xaa);
	cr_assert_eq(f.regs[1][0], 0x10, "G wrote the wrong thread");
	expect_reply("G0011", "E16");    /* wrong length (the target says) */
	expect_reply("G001", "E16");     /* odd */
	expect_reply("Gzz", "E16");

	expect_reply("p1", "aaaaaaaaaaaaaaaa");
	expect_reply("P1=0102030405060708", "OK");
	cr_assert_eq(f.regs[2][8], 1);
	cr_assert_eq(f.regs[2][15], 8);
	expect_reply("p1", "0102030405060708");
	expect_reply("p4", "E02");
	expect_reply("pffffffffff", "E16");
	expect_reply("P1=01", "E16");
	expect_reply("P1", "E16");
	expect_reply("p", "E16");
	expect_reply("g1", "E16");
}

Test(gdb_rsp, memory)
{
	expect_reply("m1000,4", "00010203");
	expect_reply("m1ffe,8", "feff"); /* short read at the end */
	expect_reply("m0,4", "E0e");
	expect_reply("m1000,0", "E16");
	expect_reply("m1000", "E16");
	expect_reply("mzz,4", "E16");
	expect_reply("m11111111111111111,4", "E16"); /* more than 64 bits */
	expect_reply("M1000,2:abcd", "OK");
	cr_assert_eq(f.mem[0], 0xab);
	cr_assert_eq(f.mem[1], 0xcd);
	expect_reply("M1000,2:abc", "E16");
	expect_reply("M1000,2:abcdef", "E16");
	expect_reply("M1000,2abcd", "E16");
	expect_reply("M0,1:00", "E0e");
	expect_reply("X1000,0:", "OK");
	/* binary: '}' escapes the next byte ^ 0x20; feed_pkt's encoder escapes '#', '$', '}' */
	feed_pkt_n("X1002,3:a#}", 11);
	cr_assert_str_eq(reply(), "OK");
	cr_assert_eq(f.mem[2], 'a');
	cr_assert_eq(f.mem[3], '#');
	cr_assert_eq(f.mem[4], '}', "an escaped '}' arrives as '}'");
	feed_raw("X1002,1:}"); /* escape at the end */
	cr_assert_str_eq(reply(), "E16");
	feed_raw("X1002,1:}]"); /* an escaped '}' */
	cr_assert_str_eq(reply(), "OK");
	cr_assert_eq(f.mem[2], '}');
	expect_reply("X1002,2:a", "E16");  /* length mismatch */
}

Test(gdb_rsp, breakpoints)
{
	expect_reply("Z0,401000,1", "OK");
	cr_assert_eq(f.last_type, GDB_BP_SW);
	cr_assert_eq(f.last_addr, 0x401000);
	expect_reply("Z2,2000,4", "OK");
	cr_assert_eq(f.last_type, GDB_WATCH_WRITE);
	cr_assert_eq(f.last_kind, 4);
	expect_reply("Z3,2000,4", ""); /* the target cannot: "not supported" */
	expect_reply("Z4,2000,8", "OK");
	expect_reply("z1,2000,1", "OK");
	cr_assert_eq(f.last_type, GDB_BP_HW);
	expect_reply("z0,dead,1", "E02");
	expect_reply("Z5,0,1", "E16");
	expect_reply("Z0,1000", "E16");
	expect_reply("Z0,1000,1;X1,0", "E16"); /* target-side conditions */
	expect_reply("Z", "E16");
}

Test(gdb_rsp, vcont_resume_interrupt_and_stop)
{
	struct gdb_stop st = { .thread = 2, .signal = 5, .watch = true,
			       .watch_type = GDB_WATCH_WRITE, .watch_addr = 0x1234 };
	enum gdb_event ev;

	expect_reply("vCont?", "vCont;c;C;s;S;t");
	ev = feed_pkt("vCont;s:2;c");
	cr_assert_eq(ev, GDB_EV_RESUMED);
	cr_assert_str_eq(f.out, "+", "a resume must not be answered before the stop");
	cr_assert_eq(f.resumes, 1);
	cr_assert_eq(f.actions[1], GDB_CONT);
	cr_assert_eq(f.actions[2], GDB_STEP);
	cr_assert(gdb_rsp_running(r));
	/* nothing but the interrupt byte is served while running */
	expect_reply("g", "E01");
	f.out_len = 0;
	cr_assert_eq(gdb_rsp_feed(r, (const uint8_t *)"\x03", 1), GDB_EV_INTERRUPT);
	gdb_rsp_stopped(r, &st);
	cr_assert_str_eq(f.out, encoded("T05thread:2;watch:1234;"));
	cr_assert(!gdb_rsp_running(r));
	/* 0x03 while stopped is ignored */
	f.out_len = 0;
	cr_assert_eq(gdb_rsp_feed(r, (const uint8_t *)"\x03", 1), GDB_EV_NONE);
	cr_assert_eq(f.out_len, 0);

	ev = feed_pkt("vCont;c:1");
	cr_assert_eq(ev, GDB_EV_RESUMED);
	cr_assert_eq(f.actions[1], GDB_CONT);
	cr_assert_eq(f.actions[2], GDB_STAY, "a thread no action names stays stopped");
	st = (struct gdb_stop){ .thread = 1, .signal = 2 };
	f.out_len = 0;
	gdb_rsp_stopped(r, &st);
	cr_assert_str_eq(f.out, encoded("T02thread:1;"));

	cr_assert_eq(feed_pkt("vCont;C05:p1.2;t"), GDB_EV_RESUMED);
	cr_assert_eq(f.actions[2], GDB_CONT);
	cr_assert_eq(f.actions[1], GDB_STAY);
	gdb_rsp_stopped(r, &st);

	expect_reply("vCont;x", "E16");
	expect_reply("vCont;s:3", "E16");
	expect_reply("vCont;s:0", "E16");
	expect_reply("vCont;c:", "E16");
	expect_reply("vCont;", "E16");
	expect_reply("vContx", "");
	cr_assert_eq(f.resumes, 3, "a malformed vCont resumed the target");

	/* legacy c and s */
	cr_assert_eq(feed_pkt("s"), GDB_EV_RESUMED);
	cr_assert_eq(f.actions[1], GDB_STEP);
	cr_assert_eq(f.actions[2], GDB_STAY);
	gdb_rsp_stopped(r, &st);
	expect_reply("c1000", "E16");
}

Test(gdb_rsp, exit_detach_kill)
{
	cr_assert_eq(feed_pkt("vCont;c"), GDB_EV_RESUMED);
	f.out_len = 0;
	gdb_rsp_exited(r, 3);
	cr_assert_str_eq(f.out, encoded("W03"));
	expect_reply("g", "E01");

	gdb_rsp_destroy(r);
	r = gdb_rsp_create(&fake_target, &f, fake_send, &f);
	cr_assert_eq(feed_pkt("D"), GDB_EV_DETACHED);
	cr_assert_str_eq(reply(), "OK");
	cr_assert_eq(f.detaches, 1);

	gdb_rsp_destroy(r);
	r = gdb_rsp_create(&fake_target, &f, fake_send, &f);
	cr_assert_eq(feed_pkt("k"), GDB_EV_KILLED);
	cr_assert_eq(f.kills, 1);
}

Test(gdb_rsp, unknown_empty_and_oversized)
{
	static char big[GDB_PACKET_MAX + 100];

	expect_reply("qOffsets", "");
	expect_reply("vMustReplyEmpty", "");
	expect_reply("!", "");
	expect_reply("", "");
	memset(big, 'm', sizeof(big) - 1);
	expect_reply(big, "E01");
	/* noise and acks between packets are ignored, and the next packet still works */
	f.out_len = 0;
	gdb_rsp_feed(r, (const uint8_t *)"+++xyz", 6);
	cr_assert_eq(f.out_len, 0);
	expect_reply("qC", "QC1");
}
