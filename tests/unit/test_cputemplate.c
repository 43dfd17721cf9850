/* test_cputemplate.c: CPU templates (docs/cpu-templates.md) as pure functions: Firecracker's
 * bitmap strings, --cpuid-mask, the custom-template JSON (control/spec.c), and kiln's defaults,
 * T2, C3, custom modifiers and masks applied to a CPUID entry array (arch/x86/cputemplate.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/cputemplate.h"
#include "config.h"
#include "control/spec.h"

static char err[JSON_ERR_MAX];

/* ---- bitmaps, numbers, --cpuid-mask ------------------------------------------------------- */

Test(bitmap, firecracker_documented_example)
{
	struct cpu_bitmap b;

	/* docs/cpu_templates/cpu-templates.md: clear 0x0ffc390d, set 0x000306f2, keep the rest. */
	cr_assert_eq(config_parse_bitmap("0bxxxx000000000011xx00011011110010", 32, &b), 0);
	cr_assert_eq(b.filter, 0x0ffc390d | 0x000306f2);
	cr_assert_eq(b.value, 0x000306f2);
}

Test(bitmap, short_forms_separators_and_width)
{
	struct cpu_bitmap b;

	cr_assert_eq(config_parse_bitmap("0b101", 32, &b), 0, "contracted: leading digits are x");
	cr_assert_eq(b.filter, 0x7);
	cr_assert_eq(b.value, 0x5);
	cr_assert_eq(config_parse_bitmap("0b1_x0_x", 32, &b), 0, "_ separates");
	cr_assert_eq(b.filter, 0xa);
	cr_assert_eq(b.value, 0x8);
	cr_assert_eq(config_parse_bitmap("10", 32, &b), 0, "0b is optional, as Firecracker's");
	cr_assert_eq(b.value, 2);
	char s64[70] = "0b1";
	memset(s64 + 3, '0', 63);
	s64[66] = '\0';
	cr_assert_eq(config_parse_bitmap(s64, 64, &b), 0, "64 digits for an MSR");
	cr_assert_eq(b.filter, ~0ull);
	cr_assert_eq(b.value, 1ull << 63);
	cr_assert_eq(config_parse_bitmap(s64, 32, &b), -EINVAL, "64 digits for a 32-bit register");
	const char *bad[] = { "", "0b", "0b___", "0b012", "0bX", "0b 1", "0x10", "-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(config_parse_bitmap(bad[i], 32, &b), -EINVAL, "'%s' refused", bad[i]);
	cr_assert_eq(config_parse_bitmap("0b1", 16, &b), -EINVAL, "width 32 or 64 only");
}

Test(bitmap, numbers)
{
	uint32_t v;

	cr_assert_eq(config_parse_u32("0x40000001", &v), 0);
	cr_assert_eq(v, 0x40000001);
	cr_assert_eq(config_parse_u32("0b101", &v), 0);
	cr_assert_eq(v, 5);
	cr_assert_eq(config_parse_u32("17", &v), 0);
	cr_assert_eq(v, 17);
	cr_assert_eq(config_parse_u32("0xffffffff", &v), 0);
	const char *bad[] = { "", "0x", "0x100000000", "-1", " 1", "1 ", "one", "0b2", "1a" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(config_parse_u32(bad[i], &v), -EINVAL, "'%s' refused", bad[i]);
}

Test(cpuid_mask, forms)
{
	struct cpu_cpuid_mod m;

	cr_assert_eq(config_parse_cpuid_mask("0x1:ecx.21=0", &m, err, sizeof(err)), 0, "%s", err);
	cr_assert(m.leaf == 1 && m.subleaf == 0 && m.reg == 2 && !m.has_flags);
	cr_assert_eq(m.bits.filter, 1u << 21);
	cr_assert_eq(m.bits.value, 0);
	cr_assert_eq(config_parse_cpuid_mask("0x40000001:eax.4=1", &m, err, sizeof(err)), 0);
	cr_assert(m.leaf == 0x40000001 && m.reg == 0 && m.bits.filter == 0x10 && m.bits.value == 0x10);
	cr_assert_eq(config_parse_cpuid_mask("7.0x1:edx=0b1x0", &m, err, sizeof(err)), 0, "%s", err);
	cr_assert(m.leaf == 7 && m.subleaf == 1 && m.reg == 3 && m.bits.filter == 5 && m.bits.value == 4);
}

Test(cpuid_mask, bad_input_names_the_part)
{
	static const struct {
		const char *arg, *msg;
	} bad[] = {
		{ "0x1", "is not LEAF[.SUBLEAF]:REG=BITMAP" },
		{ "0x1:ecx", "is not LEAF[.SUBLEAF]:REG=BITMAP" },
		{ "zz:ecx=0b0", "leaf 'zz'" },
		{ "0x1.q:ecx=0b0", "subleaf 'q'" },
		{ "0x1:rax=0b0", "register 'rax'" },
		{ "0x1:ecx.32=0", "bit '32'" },
		{ "0x1:ecx.-1=0", "bit '-1'" },
		{ "0x1:ecx.3=2", "value '2' of bit 3" },
		{ "0x1:ecx=0b0000000000000000000000000000000000", "bitmap '0b0000" },
		{ "0x1:ecx=", "bitmap ''" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cpu_cpuid_mod m;

		err[0] = '\0';
		cr_assert_eq(config_parse_cpuid_mask(bad[i].arg, &m, err, sizeof(err)), -EINVAL, "%s",
			     bad[i].arg);
		cr_assert(strstr(err, bad[i].msg) && strncmp(err, "--cpuid-mask: ", 14) == 0,
			  "'%s': message '%s' lacks '%s'", bad[i].arg, err, bad[i].msg);
		cr_assert_null(strchr(err, '\n'), "one line");
	}
}

Test(cpu_template, names)
{
	cr_assert_str_eq(config_cpu_template_name("T2"), "T2");
	cr_assert_str_eq(config_cpu_template_name("C3"), "C3");
	cr_assert_str_eq(config_cpu_template_name("None"), "None");
	cr_assert_null(config_cpu_template_name("t2"), "case-sensitive, as Firecracker's enum");
	cr_assert_null(config_cpu_template_name("T2S"));
	cr_assert_null(config_cpu_template_name(NULL));
	cr_assert_null(x86_static_template("None"));
	cr_assert_not_null(x86_static_template("T2"));
	cr_assert_not_null(x86_static_template("C3"));
}

/* ---- custom template JSON ----------------------------------------------------------------- */

static struct cpu_mods mods;

static int parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	int e;

	cr_assert_not_null(j, "bad test JSON: %s", jerr.text);
	err[0] = '\0';
	e = spec_parse_cpu_template(j, &mods, err, sizeof(err));
	json_decref(j);
	return e;
}

Test(custom_template, firecracker_schema)
{
	cr_assert_eq(parse("{\"cpuid_modifiers\": [{\"leaf\": \"0x7\", \"subleaf\": \"0x0\", \"flags\": 1,"
			   " \"modifiers\": [{\"register\": \"ebx\", \"bitmap\": \"0b1x0\"},"
			   " {\"register\": \"edx\", \"bitmap\": \"0b1\"}]}],"
			   " \"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"0b0x1\"}],"
			   " \"kvm_capabilities\": []}"),
		     0, "%s", err);
	cr_assert_eq(mods.nr_cpuid, 2, "one entry per register modifier");
	cr_assert(mods.cpuid[0].leaf == 7 && mods.cpuid[0].subleaf == 0 && mods.cpuid[0].flags == 1 &&
		  mods.cpuid[0].has_flags && mods.cpuid[0].reg == 1);
	cr_assert(mods.cpuid[0].bits.filter == 5 && mods.cpuid[0].bits.value == 4);
	cr_assert(mods.cpuid[1].leaf == 7 && mods.cpuid[1].reg == 3 && mods.cpuid[1].bits.value == 1);
	cr_assert_eq(mods.nr_msr, 1);
	cr_assert(mods.msr[0].addr == 0x10a && mods.msr[0].bits.filter == 5 && mods.msr[0].bits.value == 1);
	cr_assert_eq(parse("{}"), 0, "an empty template is a template");
	cr_assert_eq(mods.nr_cpuid + mods.nr_msr, 0);
}

Test(custom_template, bad_input_names_the_field)
{
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "[]", "cpu-config" },
		{ "{\"cpuid_modifier\": []}", "cpuid_modifier" },
		{ "{\"cpuid_modifiers\": {}}", "cpuid_modifiers: expected an array" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0\", \"modifiers\": []}]}", "flags" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": 1, \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []}]}", "leaf" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"x1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": []}]}",
		  "cpuid_modifiers[0].leaf 'x1'" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"1\", \"subleaf\": \"0\", \"flags\": 9, \"modifiers\": []}]}",
		  "cpuid_modifiers[0].flags 9" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": 3}]}",
		  "cpuid_modifiers[0].modifiers: expected an array" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\":"
		  " [{\"register\": \"eax\", \"bitmap\": \"0b1\"}, {\"register\": \"rip\", \"bitmap\": \"0b1\"}]}]}",
		  "cpuid_modifiers[0].modifiers[1].register 'rip'" },
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"1\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\":"
		  " [{\"register\": \"eax\", \"bitmap\": \"0b12\"}]}]}",
		  "cpuid_modifiers[0].modifiers[0].bitmap '0b12'" },
		{ "{\"msr_modifiers\": [{\"addr\": \"0x10\"}]}", "bitmap" },
		{ "{\"msr_modifiers\": [{\"addr\": \"0x1_0\", \"bitmap\": \"0b1\"}]}", "msr_modifiers[0].addr '0x1_0'" },
		{ "{\"kvm_capabilities\": [\"!56\"]}", "kvm_capabilities" },
		{ "{\"vcpu_features\": [{\"index\": 0, \"bitmap\": \"0b1\"}]}", "vcpu_features: only for aarch64" },
		{ "{\"reg_modifiers\": [{}]}", "reg_modifiers: only for aarch64" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i].json), -EINVAL, "%s", bad[i].json);
		cr_assert(strstr(err, bad[i].msg) && strncmp(err, "cpu-config", 10) == 0,
			  "%s: message '%s' lacks '%s'", bad[i].json, err, bad[i].msg);
		cr_assert_eq(mods.nr_cpuid + mods.nr_msr, 0, "nothing kept from a refused template");
	}
}

Test(custom_template, too_many_modifiers)
{
	size_t n = (CONFIG_MAX_CPUID_MODS + 1) * 160 + 128;
	char *s = malloc(n), *p = s;

	p += sprintf(p, "{\"cpuid_modifiers\": [");
	for (unsigned int i = 0; i <= CONFIG_MAX_CPUID_MODS; i++)
		p += sprintf(p, "%s{\"leaf\": \"%u\", \"subleaf\": \"0\", \"flags\": 0, \"modifiers\": "
			     "[{\"register\": \"eax\", \"bitmap\": \"0b1\"}]}", i ? "," : "", i);
	sprintf(p, "]}");
	cr_assert_eq(parse(s), -EINVAL);
	cr_assert(strstr(err, "more than 128 register modifiers"), "%s", err);
	free(s);
}

/* ---- applying to a CPUID table ------------------------------------------------------------ */

static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(c->entries[0]));

	c->nent = 8;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x000806f8,
						   .ecx = 0xffffffff, .edx = 0xffffffff };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0, .flags = 1,
						   .ebx = 0xffffffff, .ecx = 0xffffffff, .edx = 0xffffffff };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 7, .index = 1, .flags = 1,
						   .eax = 0xffffffff };
	c->entries[4] = (struct kvm_cpuid_entry2){ .function = 0xd, .index = 0, .flags = 1, .eax = 0x2ff };
	c->entries[5] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001,
						   .ebx = 0x4b4d564b };
	c->entries[6] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0x01ffffff };
	c->entries[7] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0xffffffff,
						   .edx = 0xffffffff };
	return c;
}

Test(apply, defaults_hide_async_pf_and_unknown_kvm_features)
{
	struct kvm_cpuid2 *c = table();

	x86_cpuid_apply_defaults(c);
	cr_assert_eq(c->entries[6].eax & ((1u << 4) | (1u << 10) | (1u << 14)), 0,
		     "ASYNC_PF, ASYNC_PF_VMEXIT, ASYNC_PF_INT hidden");
	cr_assert_eq(c->entries[6].eax, 0x0103baeb, "the other listed features kept, bits 18-23 dropped");
	cr_assert_eq(c->entries[1].ecx, 0xffffffff, "other leaves untouched");
	cr_assert_eq(c->entries[5].ebx, 0x4b4d564b);
	free(c);
}

Test(apply, modifier_sets_clears_keeps_and_sets_flags)
{
	struct kvm_cpuid2 *c = table();
	struct cpu_mods m = { .nr_cpuid = 2 };

	m.cpuid[0] = (struct cpu_cpuid_mod){ .leaf = 1, .reg = 2, .bits = { 0x00200003, 0x1 } };
	m.cpuid[1] = (struct cpu_cpuid_mod){ .leaf = 7, .subleaf = 1, .reg = 0, .has_flags = true,
					     .flags = 0, .bits = { 0xf0, 0x50 } };
	cr_assert_eq(x86_cpuid_apply_mods(c, &m, false, "t", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c->entries[1].ecx, 0xffdffffd, "bit 21 and 1 cleared, bit 0 set, rest kept");
	cr_assert_eq(c->entries[1].edx, 0xffffffff, "another register untouched");
	cr_assert_eq(c->entries[3].eax, 0xffffff5f, "subleaf 1 changed");
	cr_assert_eq(c->entries[3].flags, 0, "flags from the modifier");
	cr_assert_eq(c->entries[2].ebx, 0xffffffff, "subleaf 0 untouched");
	cr_assert_eq(c->entries[2].flags, 1);
	free(c);
}

Test(apply, missing_leaf_is_an_error_unless_skipped)
{
	struct kvm_cpuid2 *c = table();
	struct cpu_mods m = { .nr_cpuid = 2 };

	m.cpuid[0] = (struct cpu_cpuid_mod){ .leaf = 1, .reg = 2, .bits = { 1, 0 } };
	m.cpuid[1] = (struct cpu_cpuid_mod){ .leaf = 7, .subleaf = 2, .reg = 0, .bits = { 1, 0 } };
	cr_assert_eq(x86_cpuid_apply_mods(c, &m, false, "cpu-config", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "cpu-config: CPUID leaf 0x7 subleaf 0x2 is not in this host's supported set");
	free(c);
	c = table();
	cr_assert_eq(x86_cpuid_apply_mods(c, &m, true, "T2", err, sizeof(err)), 0);
	cr_assert_eq(c->entries[1].ecx, 0xfffffffe, "the present leaf still changed");
	free(c);
}

static struct vmm_config cfg;

Test(apply, t2_hides_what_firecracker_t2_hides)
{
	struct kvm_cpuid2 *c = table(), *g;

	config_init(&cfg);
	cfg.cpu_template = "T2";
	g = x86_cpuid_for_config(c, &cfg, err, sizeof(err));
	cr_assert_not_null(g, "%s", err);
	cr_assert_eq(g->entries[1].ecx, ~0x0004cdfcu, "leaf 1 ECX: DTES64, MONITOR, VMX, EIST... hidden");
	cr_assert_eq(g->entries[1].ecx & (1u << 21), 1u << 21, "x2APIC kept (T2 offers it)");
	cr_assert_eq(g->entries[1].edx, ~0xe8640000u);
	cr_assert_eq(g->entries[1].eax, 0x000806f8, "the host's signature kept");
	cr_assert_eq(g->entries[2].ebx, ~0xffefd814u, "leaf 7 EBX: AVX-512 and friends hidden");
	cr_assert_eq(g->entries[2].ecx, ~0x40415f5eu);
	cr_assert_eq(g->entries[2].edx, ~0x11cu);
	cr_assert_eq(g->entries[4].eax, 0x7, "XCR0: AVX-512, MPX and PKRU states hidden");
	cr_assert_eq(g->entries[7].ecx, ~0x20000100u);
	cr_assert_eq(g->entries[7].edx, ~0x04000000u, "1 GiB pages hidden");
	cr_assert_eq(g->entries[6].eax & 0x4410, 0, "kiln's defaults still apply");
	cr_assert_eq(c->entries[1].ecx, 0xffffffff, "the supported set is not changed");
	free(g);
	cfg.cpu_template = "C3";
	g = x86_cpuid_for_config(c, &cfg, err, sizeof(err));
	cr_assert_not_null(g, "%s", err);
	cr_assert_eq(g->entries[1].ecx, ~0x0040dd3cu, "C3: MOVBE hidden too");
	cr_assert_eq(g->entries[2].ebx, ~0xffafdd3cu);
	cr_assert_eq(g->entries[7].ecx, ~0x120u);
	free(g);
	free(c);
}

Test(apply, custom_replaces_static_and_masks_come_last)
{
	struct kvm_cpuid2 *c = table(), *g;

	config_init(&cfg);
	cfg.cpu_template = "T2";
	cfg.has_cpu_custom = true; /* set after T2: T2 is not applied */
	cfg.cpu_custom.nr_cpuid = 1;
	cfg.cpu_custom.cpuid[0] = (struct cpu_cpuid_mod){ .leaf = 1, .reg = 2, .bits = { 1u << 21, 0 } };
	cfg.cpu_masks.nr_cpuid = 2;
	cfg.cpu_masks.cpuid[0] = (struct cpu_cpuid_mod){ .leaf = 0x40000001, .reg = 0,
							 .bits = { 0x10, 0x10 } };
	cfg.cpu_masks.cpuid[1] = (struct cpu_cpuid_mod){ .leaf = 1, .reg = 2, .bits = { 0x3, 0x2 } };
	g = x86_cpuid_for_config(c, &cfg, err, sizeof(err));
	cr_assert_not_null(g, "%s", err);
	cr_assert_eq(g->entries[1].ecx, ~((1u << 21) | 1u), "custom hid x2APIC, mask cleared bit 0, no T2");
	cr_assert_eq(g->entries[6].eax & 0x4410, 0x10, "a mask offers ASYNC_PF again, after the defaults");
	free(g);
	cfg.cpu_masks.cpuid[1].leaf = 0x8fffff00;
	cr_assert_null(x86_cpuid_for_config(c, &cfg, err, sizeof(err)));
	cr_assert_str_eq(err, "--cpuid-mask: CPUID leaf 0x8fffff00 subleaf 0x0 is not in this host's supported set");
	free(c);
}

/* ---- machine-config's cpu_template and cpu-config: the last one set wins ------------------ */

static int put(struct vm_spec *s, const char *section, const char *text, bool patch)
{
	json_t *j = json_loads(text, 0, NULL);
	int e;

	cr_assert_not_null(j);
	err[0] = '\0';
	e = strcmp(section, "cpu-config") == 0 ? spec_cpu_config(s, j, err, sizeof(err))
					       : spec_machine_config(s, j, patch, err, sizeof(err));
	json_decref(j);
	return e;
}

Test(spec, static_and_custom_templates_last_one_wins)
{
	static struct vm_spec s;
	const char *custom = "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
			     " \"modifiers\": [{\"register\": \"ecx\", \"bitmap\": \"0b0\"}]}]}";

	spec_init(&s, NULL);
	cr_assert_eq(put(&s, "machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}", false), 0, "%s", err);
	cr_assert_str_eq(s.cfg.cpu_template, "T2");
	cr_assert_eq(put(&s, "cpu-config", custom, false), 0, "%s", err);
	cr_assert(s.cfg.has_cpu_custom && !s.cfg.cpu_template && s.cfg.cpu_custom.nr_cpuid == 1);
	cr_assert_eq(put(&s, "machine-config", "{\"vcpu_count\": 2}", true), 0, "%s", err);
	cr_assert(s.cfg.has_cpu_custom, "a PATCH without cpu_template keeps the custom template");
	cr_assert_eq(put(&s, "cpu-config", "{\"cpuid_modifiers\": 1}", false), -EINVAL);
	cr_assert(s.cfg.has_cpu_custom && s.cfg.cpu_custom.nr_cpuid == 1, "a refused PUT changes nothing");
	cr_assert_eq(put(&s, "machine-config", "{\"cpu_template\": \"C3\"}", true), 0, "%s", err);
	cr_assert(!s.cfg.has_cpu_custom && strcmp(s.cfg.cpu_template, "C3") == 0);
	cr_assert_eq(put(&s, "machine-config", "{\"cpu_template\": \"None\"}", true), 0, "%s", err);
	cr_assert_null(s.cfg.cpu_template);
	cr_assert_eq(put(&s, "machine-config", "{\"cpu_template\": \"t2\"}", true), -EINVAL);
	cr_assert_null(s.cfg.cpu_template, "a refused cpu_template changes nothing");
	spec_free(&s);
}

Test(spec, config_file_cpu_config_inline_or_path_after_machine_config)
{
	static struct vm_spec s;
	char path[] = "/tmp/kiln-test-template-XXXXXX", doc[512];
	int fd = mkstemp(path);
	const char *tmpl = "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
			   " \"modifiers\": [{\"register\": \"ecx\", \"bitmap\": \"0b0\"}]}]}";

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, tmpl, strlen(tmpl)), (ssize_t)strlen(tmpl));
	close(fd);
	for (int form = 0; form < 3; form++) {
		json_t *j;
		int e;

		if (form == 0)
			snprintf(doc, sizeof(doc), "{\"cpu-config\": %s, ", tmpl);
		else if (form == 1)
			snprintf(doc, sizeof(doc), "{\"cpu-config\": \"%s\", ", path);
		else
			snprintf(doc, sizeof(doc), "{\"cpu-config\": \"/nonexistent/t.json\", ");
		strcat(doc, "\"boot-source\": {\"kernel_image_path\": \"/proc/self/exe\"},"
			    " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}}");
		j = json_loads(doc, 0, NULL);
		cr_assert_not_null(j, "%s", doc);
		spec_init(&s, NULL);
		err[0] = '\0';
		e = spec_from_document(&s, j, err, sizeof(err));
		json_decref(j);
		if (form < 2) {
			cr_assert_eq(e, 0, "form %d: %s", form, err);
			cr_assert(s.cfg.has_cpu_custom && !s.cfg.cpu_template && s.cfg.cpu_custom.nr_cpuid == 1,
				  "form %d: the custom template wins over a later machine-config", form);
		} else {
			cr_assert_eq(e, -EINVAL);
			cr_assert(strstr(err, "cpu-config: '/nonexistent/t.json'"), "%s", err);
		}
		spec_free(&s);
	}
	unlink(path);
}

Test(spec, vm_config_reports_the_custom_template_round_trip)
{
	static struct vm_spec s;
	static struct cpu_mods again;
	json_t *doc;

	spec_init(&s, NULL);
	doc = spec_to_json(&s);
	cr_assert(json_is_null(json_object_get(doc, "cpu-config")), "null without a custom template");
	json_decref(doc);
	cr_assert_eq(put(&s, "cpu-config",
			 "{\"cpuid_modifiers\": [{\"leaf\": \"0x7\", \"subleaf\": \"0x1\", \"flags\": 1,"
			 " \"modifiers\": [{\"register\": \"ebx\", \"bitmap\": \"0b1x0\"},"
			 " {\"register\": \"edx\", \"bitmap\": \"0b1_0000_0000_0000_0000_0000_0000_0000\"}]}],"
			 " \"msr_modifiers\": [{\"addr\": \"0x1a0\", \"bitmap\": \"0b11xxxxxxxxxxx\"}]}",
			 false), 0, "%s", err);
	doc = spec_to_json(&s);
	json_t *cc = json_object_get(doc, "cpu-config");
	cr_assert(json_is_object(cc));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(
				 json_array_get(json_object_get(cc, "cpuid_modifiers"), 0), "modifiers"), 0),
							     "bitmap")),
			 "0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1x0", "full-width bitmap, MSB first");
	cr_assert_eq(spec_parse_cpu_template(cc, &again, err, sizeof(err)), 0, "%s", err);
	const struct cpu_mods *m = &s.cfg.cpu_custom;

	cr_assert(again.nr_cpuid == 2 && m->nr_cpuid == 2 && again.nr_msr == 1 && m->nr_msr == 1);
	for (unsigned int i = 0; i < 2; i++)
		cr_assert(again.cpuid[i].leaf == m->cpuid[i].leaf &&
			  again.cpuid[i].subleaf == m->cpuid[i].subleaf &&
			  again.cpuid[i].flags == m->cpuid[i].flags && again.cpuid[i].reg == m->cpuid[i].reg &&
			  again.cpuid[i].bits.filter == m->cpuid[i].bits.filter &&
			  again.cpuid[i].bits.value == m->cpuid[i].bits.value, "modifier %u parses back", i);
	cr_assert(again.msr[0].addr == 0x1a0 && again.msr[0].bits.filter == m->msr[0].bits.filter &&
		  again.msr[0].bits.value == 0x1800 && m->msr[0].bits.value == 0x1800);
	json_decref(doc);
	spec_free(&s);
}
