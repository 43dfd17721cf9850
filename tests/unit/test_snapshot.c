/* test_snapshot.c: what snapshots rely on without KVM: each board device's state round-trips
 * (save, load into a fresh device, save again: equal), a refused load changes nothing, guest RAM
 * restored from a memory file is private to the process (MAP_PRIVATE), and the API's snapshot
 * bodies are checked field by field. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/spec.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "kvm/memory.h"
#include "snapshot.h"
#include "../ioapic_stub.h"

static void io_wr(struct ioapic *io, uint32_t reg, uint32_t v)
{
	ioapic_mmio_write(io, 0x00, &reg, 4);
	ioapic_mmio_write(io, 0x10, &v, 4);
}

Test(snapshot_devices, ioapic_round_trip)
{
	struct ioapic *a, *b;
	struct ioapic_state s1, s2;

	cr_assert_eq(ioapic_create(&a, &ioapic_stub_backend), 0);
	cr_assert_eq(ioapic_create(&b, &ioapic_stub_backend), 0);
	ioapic_set_id(a, 3);
	io_wr(a, 0x10 + 2 * 4, 0x00008031); /* pin 4: vector 0x31, level */
	io_wr(a, 0x10 + 2 * 4 + 1, 0x01000000);
	io_wr(a, 0x10 + 2 * 9, 0x00000042);
	ioapic_set_irq(a, 9, 1);
	ioapic_save(a, &s1);
	cr_assert_eq(ioapic_load(b, &s1), 0);
	ioapic_save(b, &s2);
	cr_expect_eq(memcmp(&s1, &s2, sizeof(s1)), 0);
	cr_expect_eq(ioapic_get_rte(b, 4), ioapic_get_rte(a, 4));
	ioapic_destroy(a);
	ioapic_destroy(b);
}

static void pic_wr(struct pic_chip *c, unsigned int off, uint8_t v)
{
	pic_io_write(c, off, &v, 1);
}

Test(snapshot_devices, pic_round_trip_and_refusal)
{
	struct pic_state a, b, bad;

	pic_init(&a);
	pic_init(&b);
	pic_wr(&a.chip[0], 0, 0x11); /* ICW1, ICW4 needed */
	pic_wr(&a.chip[0], 1, 0x20); /* ICW2: vector base */
	cr_assert_eq(a.chip[0].init_step, 2, "in the middle of the initialisation");
	cr_assert_eq(pic_load(&b, &a), 0);
	cr_expect_eq(memcmp(&a, &b, sizeof(a)), 0);
	pic_wr(&b.chip[0], 1, 0x04); /* ICW3 continues where the saved one stopped */
	cr_expect_eq(b.chip[0].init_step, 3);
	bad = a;
	bad.chip[1].init_step = 4;
	cr_expect_eq(pic_load(&b, &bad), -EINVAL);
	cr_expect_eq(b.chip[1].init_step, 0, "a refused load changes nothing");
}

Test(snapshot_devices, i8042_round_trip_and_refusal)
{
	struct i8042 a, b;
	struct i8042_state s1, s2, bad;
	uint8_t v = 0x20;

	i8042_init(&a, NULL, (struct irq_line){ 0 });
	i8042_init(&b, NULL, (struct irq_line){ 0 });
	i8042_cmd_write(&a, 0, &v, 1);    /* read the configuration byte: one byte queued */
	i8042_ctrl_alt_del(&a);            /* four more */
	i8042_data_read(&a, 0, &v, 1);     /* head moves */
	i8042_save(&a, &s1);
	cr_assert_eq(s1.count, 4);
	cr_assert_eq(i8042_load(&b, &s1), 0);
	i8042_save(&b, &s2);
	cr_expect_eq(memcmp(&s1, &s2, sizeof(s1)), 0);
	i8042_data_read(&b, 0, &v, 1);
	cr_expect_eq(v, 0x14, "the restored buffer reads on: Ctrl's make code");
	bad = s1;
	bad.count = I8042_BUF_SIZE + 1;
	cr_expect_eq(i8042_load(&b, &bad), -EINVAL);
	bad = s1;
	bad.head = I8042_BUF_SIZE;
	cr_expect_eq(i8042_load(&b, &bad), -EINVAL);
	i8042_destroy(&a);
	i8042_destroy(&b);
}

static time_t fixed_now(void)
{
	return 1700000000;
}

Test(snapshot_devices, rtc_round_trip)
{
	struct rtc a, b;
	struct rtc_state s1, s2;
	uint8_t v;

	rtc_init(&a, fixed_now);
	rtc_init(&b, fixed_now);
	v = 0x40; /* CMOS byte 0x40: guest scratch */
	rtc_io_write(&a, 0, &v, 1);
	v = 0x5a;
	rtc_io_write(&a, 1, &v, 1);
	rtc_save(&a, &s1);
	rtc_load(&b, &s1);
	rtc_save(&b, &s2);
	cr_expect_eq(memcmp(&s1, &s2, sizeof(s1)), 0);
	rtc_io_read(&b, 1, &v, 1);
	cr_expect_eq(v, 0x5a, "the index register came back too");
	rtc_destroy(&a);
	rtc_destroy(&b);
}

Test(snapshot_devices, serial_round_trip_is_exact)
{
	struct serial *a, *b;
	struct serial_state s1, s2;
	uint8_t v;

	cr_assert_eq(serial_create(&a, -1, (struct irq_line){ 0 }, NULL, NULL), 0);
	cr_assert_eq(serial_create(&b, -1, (struct irq_line){ 0 }, NULL, NULL), 0);
	v = 0x83;
	serial_io_write(a, 3, &v, 1); /* LCR with DLAB */
	v = 0x01;
	serial_io_write(a, 0, &v, 1);
	v = 0x03;
	serial_io_write(a, 3, &v, 1);
	v = 0x0f;
	serial_io_write(a, 1, &v, 1); /* IER: every interrupt, THRE pending */
	cr_assert_eq(serial_rx_push(a, (const uint8_t *)"abc", 3), 3);
	serial_save(a, &s1);
	cr_assert_eq(serial_load(b, &s1), 0);
	serial_save(b, &s2);
	cr_expect_eq(memcmp(&s1, &s2, sizeof(s1)), 0);
	serial_destroy(a);
	serial_destroy(b);
}

/* ---- guest RAM from a memory file ------------------------------------------------------------ */

Test(snapshot_memory, memory_file_is_mapped_private)
{
	char path[] = "/tmp/test_snapshot_mem.XXXXXX";
	int fd = mkstemp(path);
	const uint64_t size = 2u << 20;
	struct gmem *gm;
	uint8_t page[4096], b = 0;

	cr_assert_geq(fd, 0);
	unlink(path);
	memset(page, 0xab, sizeof(page));
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	cr_assert_eq(pwrite(fd, page, sizeof(page), 4096), (ssize_t)sizeof(page));
	cr_assert_eq(gmem_create_from_file(&gm, size, 1u << 20, fd), 0);
	cr_assert_eq(gmem_nr_regions(gm), 2, "1 MiB below the hole, 1 MiB from 4 GiB");
	cr_expect_eq(*(uint8_t *)gmem_ptr(gm, 4096, 1), 0xab);
	cr_expect_eq(*(uint8_t *)gmem_ptr(gm, 0, 1), 0);
	cr_assert_eq(gmem_write(gm, 4096, "x", 1), 0);
	cr_assert_eq(gmem_write(gm, 0x100000000ull, "y", 1), 0);
	cr_assert_eq(pread(fd, &b, 1, 4096), 1);
	cr_expect_eq(b, 0xab, "the guest's write stays private to the process");
	cr_assert_eq(pread(fd, &b, 1, 1u << 20), 1);
	cr_expect_eq(b, 0, "the region at 4 GiB is the file's second MiB, unchanged");
	gmem_destroy(gm);
	close(fd);
}

/* ---- guest RAM into a memory file -------------------------------------------------------------- */

#define MIB (1ull << 20)
#define GPA_4G 0x100000000ull

/* 2 MiB of guest RAM around a 1 MiB hole start (1 MiB below it, 1 MiB from 4 GiB), with the same
 * pages written: page 1, a page at 4 GiB + 8 KiB, and page 5 written and then zeroed again. */
static struct gmem *touched_ram(enum mem_backing backing)
{
	struct gmem *gm;
	uint8_t page[4096];

	cr_assert_eq(gmem_create(&gm, 2 * MIB, MIB, backing), 0);
	memset(page, 0xc3, sizeof(page));
	cr_assert_eq(gmem_write(gm, 4096, page, sizeof(page)), 0);
	cr_assert_eq(gmem_write(gm, GPA_4G + 8192, "kiln", 4), 0);
	cr_assert_eq(gmem_write(gm, 5 * 4096, page, sizeof(page)), 0);
	memset(page, 0, sizeof(page));
	cr_assert_eq(gmem_write(gm, 5 * 4096, page, sizeof(page)), 0);
	return gm;
}

static char *slurp(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(fstat(fd, st), 0);
	buf = malloc((size_t)st->st_size);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, (size_t)st->st_size, 0), st->st_size);
	close(fd);
	return buf;
}

Test(snapshot_memory, memfd_ram_saves_as_anonymous_ram_does)
{
	char dir[] = "/tmp/test_snapshot_save.XXXXXX", a[64], m[64], err[SNAPSHOT_ERR_MAX];
	struct gmem *anon, *memfd;
	struct stat sa, sm, before, after;
	char *ca, *cm;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/anon", dir);
	snprintf(m, sizeof(m), "%s/memfd", dir);
	anon = touched_ram(MEM_BACKING_ANON);
	memfd = touched_ram(MEM_BACKING_MEMFD);
	cr_assert_eq(fstat(gmem_memfd(memfd), &before), 0);
	cr_assert_eq(snapshot_save_memory(anon, a, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(snapshot_save_memory(memfd, m, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fstat(gmem_memfd(memfd), &after), 0);
	cr_expect_eq(after.st_blocks, before.st_blocks,
		     "saving read no page the guest never touched (a read would allocate it)");
	ca = slurp(a, &sa);
	cm = slurp(m, &sm);
	cr_assert_eq(sm.st_size, (off_t)(2 * MIB));
	cr_assert_eq(sa.st_size, sm.st_size);
	cr_expect_eq(memcmp(ca, cm, (size_t)sa.st_size), 0, "the two files are byte for byte equal");
	cr_expect_eq((uint8_t)cm[4096], 0xc3);
	cr_expect_eq(memcmp(cm + MIB + 8192, "kiln", 4), 0, "the region at 4 GiB follows the first");
	/* Two non-zero pages: the zeroed page and the untouched ones are holes (st_blocks counts
	 * 512-byte units; a file system may round an extent up, never to the whole 2 MiB). */
	cr_expect_leq(sm.st_blocks, 64, "%lld blocks: the file is sparse", (long long)sm.st_blocks);
	free(ca);
	free(cm);
	gmem_destroy(anon);
	gmem_destroy(memfd);
	unlink(a);
	unlink(m);
	rmdir(dir);
}

Test(snapshot_memory, diff_from_memfd_writes_only_the_logged_pages)
{
	char dir[] = "/tmp/test_snapshot_diff.XXXXXX", m[64], err[SNAPSHOT_ERR_MAX];
	uint64_t low[256 / 64] = { 0 }, high[256 / 64] = { 0 };
	uint64_t *const dirty[2] = { low, high };
	struct gmem *gm = touched_ram(MEM_BACKING_MEMFD);
	struct stat st;
	char *c;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(m, sizeof(m), "%s/mem", dir);
	/* The previous memory file: all 0xee. */
	fd = open(m, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	c = malloc(2 * MIB);
	memset(c, 0xee, 2 * MIB);
	cr_assert_eq(pwrite(fd, c, 2 * MIB, 0), (ssize_t)(2 * MIB));
	close(fd);
	free(c);
	low[0] = 1u << 1 | 1u << 5; /* page 1 and the zeroed page 5 */
	high[0] = 1u << 2;	     /* 4 GiB + 8 KiB */
	cr_assert_eq(snapshot_save_memory(gm, m, dirty, err, sizeof(err)), 0, "%s", err);
	c = slurp(m, &st);
	cr_expect_eq((uint8_t)c[0], 0xee, "page 0 was not logged: the previous file's");
	cr_expect_eq((uint8_t)c[4096], 0xc3);
	cr_expect_eq((uint8_t)c[5 * 4096], 0, "a logged page of zeros is written too");
	cr_expect_eq((uint8_t)c[6 * 4096], 0xee);
	cr_expect_eq(memcmp(c + MIB + 8192, "kiln", 4), 0);
	cr_expect_eq((uint8_t)c[MIB + 8192 + 4], 0);
	cr_expect_eq((uint8_t)c[MIB], 0xee);
	free(c);
	gmem_destroy(gm);
	unlink(m);
	rmdir(dir);
}

Test(snapshot_memory, unwritable_memory_file_is_named)
{
	char err[SNAPSHOT_ERR_MAX];
	struct gmem *gm = touched_ram(MEM_BACKING_MEMFD);

	cr_expect_eq(snapshot_save_memory(gm, "/nonexistent-dir/mem", NULL, err, sizeof(err)), -ENOENT);
	cr_expect_not_null(strstr(err, "mem_file_path '/nonexistent-dir/mem'"), "%s", err);
	gmem_destroy(gm);
}

/* ---- the API's bodies -------------------------------------------------------------------------- */

static int create(const char *text, struct spec_snapshot_create *out, char *err)
{
	json_t *b = json_loads(text, 0, NULL);
	int e;

	cr_assert_not_null(b, "%s", text);
	e = spec_snapshot_create(b, out, err, JSON_ERR_MAX);
	json_decref(b);
	return e;
}

static int load(const char *text, struct spec_snapshot_load *out, char *err)
{
	json_t *b = json_loads(text, 0, NULL);
	int e;

	cr_assert_not_null(b, "%s", text);
	e = spec_snapshot_load(b, out, err, JSON_ERR_MAX);
	if (!e) /* the strings point into the body: keep copies for the checks */
		*out = (struct spec_snapshot_load){ strdup(out->snapshot_path), strdup(out->mem_path),
						    out->resume_vm, out->track_dirty_pages, out->uffd };
	json_decref(b);
	return e;
}

Test(snapshot_api, create_bodies)
{
	struct spec_snapshot_create c;
	char err[JSON_ERR_MAX];

	cr_expect_eq(create("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}", &c, err), 0);
	cr_expect_eq(create("{\"snapshot_type\":\"Full\",\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
			    "\"version\":\"1.0.0\"}", &c, err), 0);
	cr_expect_not(c.diff);
	cr_expect_eq(create("{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}",
			    &c, err), 0);
	cr_expect(c.diff);
	cr_expect_eq(create("{\"snapshot_type\":\"Half\",\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}",
			    &c, err), -EINVAL);
	cr_expect_str_eq(err, "snapshot/create: snapshot_type 'Half' is not Full or Diff");
	cr_expect_eq(create("{\"snapshot_path\":\"s\"}", &c, err), -EINVAL);
	cr_expect(strstr(err, "mem_file_path") != NULL, "%s", err);
	cr_expect_eq(create("{\"snapshot_path\":\"\",\"mem_file_path\":\"m\"}", &c, err), -EINVAL);
	cr_expect_str_eq(err, "snapshot/create: snapshot_path is empty");
}

Test(snapshot_api, load_bodies)
{
	struct spec_snapshot_load l;
	char err[JSON_ERR_MAX];

	cr_assert_eq(load("{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_type\":\"File\","
			  "\"backend_path\":\"m\"},\"resume_vm\":true}", &l, err), 0, "%s", err);
	cr_expect_str_eq(l.mem_path, "m");
	cr_expect(l.resume_vm);
	cr_expect_not(l.uffd);
	free((char *)l.snapshot_path);
	free((char *)l.mem_path);
	cr_assert_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m2\",\"enable_diff_snapshots\":false,"
			  "\"network_overrides\":[]}", &l, err), 0, "%s", err);
	cr_expect_str_eq(l.mem_path, "m2");
	cr_expect_not(l.resume_vm);
	cr_expect_not(l.track_dirty_pages);
	free((char *)l.snapshot_path);
	free((char *)l.mem_path);
	cr_assert_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"enable_diff_snapshots\":true}",
			  &l, err), 0, "%s", err);
	cr_expect(l.track_dirty_pages);
	free((char *)l.snapshot_path);
	free((char *)l.mem_path);
	cr_expect_eq(load("{\"snapshot_path\":\"s\"}", &l, err), -EINVAL);
	cr_expect_str_eq(err, "snapshot/load: mem_backend (or the older mem_file_path) is required");
	cr_assert_eq(load("{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_type\":\"Uffd\","
			  "\"backend_path\":\"u\"}}", &l, err), 0, "%s", err);
	cr_expect(l.uffd, "backend_type Uffd: mem_path is the page-fault handler's socket");
	cr_expect_str_eq(l.mem_path, "u");
	free((char *)l.snapshot_path);
	free((char *)l.mem_path);
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_type\":\"Disk\","
			  "\"backend_path\":\"u\"}}", &l, err), -EINVAL);
	cr_expect(strstr(err, "'Disk' is not File or Uffd") != NULL, "%s", err);
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_type\":\"File\"}}", &l, err),
		     -EINVAL);
	cr_expect(strstr(err, "backend_path") != NULL, "%s", err);
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"vsock_override\":{\"uds_path\":7}}",
			  &l, err), -EINVAL);
	cr_expect(strstr(err, "vsock_override") && strstr(err, "uds_path"), "%s", err);
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"vsock_override\":[]}",
			  &l, err), -EINVAL);
	cr_expect_str_eq(err, "snapshot/load: vsock_override is not an object");
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"network_overrides\":{}}",
			  &l, err), -EINVAL);
	cr_expect_str_eq(err, "snapshot/load: network_overrides is not an array");
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"network_overrides\":"
			  "[{\"iface_id\":\"eth0\"}]}", &l, err), -EINVAL);
	cr_expect(strstr(err, "network_overrides[0]") && strstr(err, "host_dev_name"), "%s", err);
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"network_overrides\":"
			  "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"t\",\"x\":1}]}", &l, err), -EINVAL);
	cr_expect(strstr(err, "network_overrides[0]") && strstr(err, "'x'"), "%s", err);
	cr_expect_eq(load("{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"bogus\":1}", &l, err), -EINVAL);
	cr_expect(strstr(err, "bogus") != NULL, "%s", err);
}

/* network_overrides and vsock_override change the saved document before it is applied. */
Test(snapshot_api, overrides)
{
	char err[JSON_ERR_MAX];
	json_t *doc = json_loads("{\"network-interfaces\":[{\"iface_id\":\"a\",\"host_dev_name\":\"tap0\"},"
				 "{\"iface_id\":\"b\",\"host_dev_name\":\"tap1\"}],"
				 "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/old\"}}", 0, NULL);
	json_t *nets = json_loads("[{\"iface_id\":\"b\",\"host_dev_name\":\"clone1\"}]", 0, NULL);
	json_t *twice = json_loads("[{\"iface_id\":\"a\",\"host_dev_name\":\"x\"},"
				   "{\"iface_id\":\"a\",\"host_dev_name\":\"y\"}]", 0, NULL);
	json_t *unknown = json_loads("[{\"iface_id\":\"eth9\",\"host_dev_name\":\"x\"}]", 0, NULL);
	json_t *novsock = json_loads("{\"network-interfaces\":[],\"vsock\":null}", 0, NULL);

	cr_assert(doc && nets && twice && unknown && novsock);
	cr_assert_eq(spec_apply_overrides(doc, &(struct spec_overrides){ nets, "/new" }, err,
					  sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc,
		"network-interfaces"), 1), "host_dev_name")), "clone1");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc,
		"network-interfaces"), 0), "host_dev_name")), "tap0", "the other interface keeps its TAP");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(doc, "vsock"), "uds_path")),
			 "/new");
	cr_expect_eq(spec_apply_overrides(doc, &(struct spec_overrides){ unknown, NULL }, err,
					  sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "snapshot/load: network_overrides: the snapshot has no interface with "
			      "iface_id 'eth9'");
	cr_expect_eq(spec_apply_overrides(doc, &(struct spec_overrides){ twice, NULL }, err,
					  sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "snapshot/load: network_overrides: iface_id 'a' is given twice");
	cr_expect_eq(spec_apply_overrides(novsock, &(struct spec_overrides){ NULL, "/v" }, err,
					  sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "snapshot/load: vsock_override: the snapshot has no vsock device");
	json_decref(doc);
	json_decref(nets);
	json_decref(twice);
	json_decref(unknown);
	json_decref(novsock);
}

/* What snapshot/create saves as section "config" is what snapshot/load applies to a fresh
 * configuration: the document must read back as the same machine. */
Test(snapshot_api, saved_configuration_reads_back)
{
	const char *dir = getenv("KILN_GUEST_DIR");
	char kernel[512], err[JSON_ERR_MAX];
	struct vm_spec a, b;
	json_t *doc, *body;
	char *text;

	cr_assert_not_null(dir);
	snprintf(kernel, sizeof(kernel), "%s/mb_count.elf", dir);
	spec_init(&a, NULL);
	body = json_pack("{s:s, s:s}", "kernel_image_path", kernel, "boot_args", "count=5");
	cr_assert_eq(spec_boot_source(&a, body, err, sizeof(err)), 0, "%s", err);
	json_decref(body);
	body = json_pack("{s:i, s:i}", "vcpu_count", 2, "mem_size_mib", 48);
	cr_assert_eq(spec_machine_config(&a, body, false, err, sizeof(err)), 0, "%s", err);
	json_decref(body);
	doc = spec_to_json(&a);
	json_object_del(doc, "logger");
	json_object_del(doc, "metrics");
	json_object_del(doc, "serial");
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	doc = json_loads(text, 0, NULL);
	spec_init(&b, NULL);
	cr_assert_eq(spec_from_document(&b, doc, err, sizeof(err)), 0, "%s: %s", err, text);
	cr_expect_eq(b.cfg.nr_vcpus, 2);
	cr_expect_eq(b.cfg.mem_size, 48ull << 20);
	cr_expect_str_eq(b.cfg.kernel_path, kernel);
	cr_expect_str_eq(b.cfg.cmdline, "count=5");
	json_decref(doc);
	free(text);
	spec_free(&a);
	spec_free(&b);
}
