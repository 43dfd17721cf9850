/* cli.c: getopt_long parsing of kiln's command line. */
#include "control/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "control/api.h"
#include "control/gdbstub.h"
#include "control/spec.h"
#include "devices/debug_exit.h"
#include "version.h"

void cli_print_help(FILE *f)
{
	fprintf(f,
		"kiln %s: a microVM monitor on Linux KVM\n"
		"\n"
		"usage: kiln run -k GUEST [options]   boot a guest and wait for it to stop\n"
		"       kiln run --help               options of 'run'\n"
		"       kiln --api-sock PATH [--config-file FILE] [options]\n"
		"                                     serve the Firecracker-compatible API\n"
		"       kiln --config-file FILE [--no-api] [options]\n"
		"                                     boot the VM a Firecracker config file describes\n"
		"       kiln [--id ID] [options]      serve the API on /run/firecracker.socket\n"
		"       kiln top --api-sock PATH [--symbols FILE] [--json]\n"
		"                                     live VM-exit view of a running kiln\n"
		"                                     (kiln top --help)\n"
		"       kiln --help | --version\n"
		"\n"
		"Options of the API and config-file forms:\n"
		"  --api-sock PATH        serve HTTP on this Unix socket (created 0600, removed on exit)\n"
		"  --api-sock-force       replace an existing file at PATH\n"
		"  --config-file FILE     Firecracker-format JSON: boot-source, machine-config, logger,\n"
		"                         metrics, serial; the VM starts at once\n"
		"  --id ID                instance id reported by GET /: 1 to 64 letters, digits or\n"
		"                         hyphens (default anonymous-instance)\n"
		"  --no-api               with --config-file: no API socket\n"
		"  --log-path PATH        logger output: a file (created), character device or FIFO\n"
		"                         (FIFOs are opened read-write, non-blocking)\n"
		"  --level LEVEL          Off, Error, Warning, Info, Debug or Trace\n"
		"  --show-level, --show-log-origin  prefix log lines with [Level] and file:line\n"
		"  --module TEXT          log only messages from source paths containing TEXT\n"
		"  --metrics-path PATH    metrics output (file, character device or FIFO)\n"
		"  --http-api-max-payload-size N  largest request body in bytes (default 51200)\n"
		"  --no-seccomp           no seccomp filters (logged as a warning); by default each\n"
		"                         thread (owner, API, I/O, vCPU, gdb) has its own allowlist\n"
		"                         and a forbidden system call kills kiln with SIGSYS\n"
		"  --seccomp-filter FILE  JSON filters replacing the built-in ones (docs/security.md)\n"
		"  --seccomp-allow-inet   the owner and I/O threads may open AF_INET/AF_INET6\n"
		"                         sockets, as user-mode networking needs: for one the API\n"
		"                         adds (kiln_net) or a snapshot/load brings\n"
		"  --boot-timer           accepted for Firecracker's tools (no boot-timer device yet)\n"
		"  --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N\n"
		"                         the jailer's launch times: kiln logs its start-up time\n"
		"                         (Info) when the API is up\n"
		"  --debug-exit[=PORT], --irqchip=MODE, --virtio-discovery=MODE, --stats,\n"
		"  --on-reboot=ACTION, -v, -q:\n"
		"                         as for 'kiln run'\n"
		"\n"
		"Exit status: 0 guest powered off or reset; (v << 1) | 1 debug-exit write of v;\n"
		"2 bad command line or guest image; 4 guest crashed; 6 host or KVM failure;\n"
		"128+N stopped by signal N. See README.md.\n",
		KILN_VERSION);
}

void cli_print_run_help(FILE *f)
{
	fprintf(f,
		"usage: kiln run -k GUEST [options]\n"
		"       kiln run --restore SNAPSHOT --mem-file FILE|--mem-uffd SOCKET [options]\n"
		"\n"
		"%s"
		"\n"
		"  -k, --kernel FILE      guest image to boot (required)\n"
		"      --flat             FILE is a raw real-mode binary: loaded at 0x10000,\n"
		"                         entered at CS=DS=ES=SS=0x1000, IP=0, SP=0x8000\n"
		"  -i, --initrd FILE      initrd (Linux, PVH); multiboot kernels get it as module 0\n"
		"  -p, --cmdline TEXT     kernel command line (multiboot: appended to the path)\n"
		"  -m, --memory SIZE      guest RAM, with K/M/G/T suffix; a bare number is MiB\n"
		"                         (default 128M)\n"
		"  -c, --cpus N           number of vCPUs (default 1); secondary vCPUs wait for\n"
		"                         INIT/SIPI from the boot vCPU\n"
		"      --disk PATH[,ro][,id=NAME][,cache=none|writeback][,io=auto|io_uring|sync]\n"
		"                         virtio-blk on a raw image (repeatable); ro: writes fail;\n"
		"                         id: serial for GET_ID (20 bytes); cache=none: O_DIRECT;\n"
		"                         io: backend (auto: io_uring, else sync)\n"
		"      --console virtio|serial  where stdin goes: hvc0 (virtio-console) or the UART\n"
		"                         (default serial); guest output goes to stdout either way\n"
		"      --rng              virtio-rng fed from the host's getrandom()\n"
		"      --net tap=NAME[,mac=MAC][,mtu=N]\n"
		"      --net user[,net=A.B.C.D/P][,hostfwd=[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT]...[,mac=MAC][,mtu=N]\n"
		"                         virtio-net on a host TAP device or user-mode networking\n"
		"                         (libslirp; repeatable: eth0, eth1, ...); user mode is for\n"
		"                         convenience and development, TAP for performance\n"
		"      --vsock cid=N,uds=PATH  virtio-vsock: the guest's CID N (3 to 4294967294) and\n"
		"                         the host's Unix socket PATH (96 bytes at most; guest\n"
		"                         connections to port P go to PATH_P); one device at most\n"
		"      --cpu-template NAME|FILE  the CPU model's template: None (default), T2 or C3\n"
		"                         (Firecracker's feature masks), or FILE, a custom template\n"
		"                         in Firecracker's JSON (cpuid_modifiers, msr_modifiers);\n"
		"                         KVM's async page fault features are hidden unless a\n"
		"                         template or mask offers them; docs/cpu-templates.md\n"
		"      --cpuid-mask LEAF[.SUBLEAF]:REG=BITMAP | LEAF[.SUBLEAF]:REG.BIT=0|1\n"
		"                         change CPUID bits after the template (repeatable): REG is\n"
		"                         eax, ebx, ecx or edx; BITMAP 0b then up to 32 of 0 (clear),\n"
		"                         1 (set), x (keep), _ (ignored), most significant first,\n"
		"                         missing leading digits are x; e.g. 0x1:ecx.21=0 hides x2APIC\n"
		"      --debug-exit[=PORT]  isa-debug-exit device (default port 0xf4): a guest\n"
		"                         write of v ends kiln with status (v << 1) | 1\n"
		"      --irqchip=MODE     split (default: local APICs in KVM, IOAPIC and PIC in\n"
		"                         kiln) or kernel (KVM's in-kernel irqchip and PIT)\n"
		"      --virtio-discovery=MODE  how a Linux guest finds the virtio devices: both\n"
		"                         (default: the DSDT and virtio_mmio.device= on the command\n"
		"                         line) or acpi (the DSDT only; the command line too with\n"
		"                         acpi=off)\n"
		"      --stats            print VM-exit statistics per vCPU when the guest stops\n"
		"      --enable-thp       guest RAM is anonymous memory with transparent huge pages\n"
		"                         (madvise MADV_HUGEPAGE), not the default memfd: faster to\n"
		"                         boot, 2 MiB of host memory per 2 MiB the guest touches;\n"
		"                         docs/design.md\n"
		"      --gdb unix:PATH | tcp:[HOST:]PORT\n"
		"                         serve the GDB remote protocol there (tcp: 127.0.0.1\n"
		"                         unless HOST is given); vCPUs are gdb threads, all-stop;\n"
		"                         see docs/gdb.md\n"
		"      --gdb-wait         with --gdb: the vCPUs wait before their first instruction\n"
		"                         until the debugger continues them\n"
		"      --restore SNAPSHOT --mem-file FILE\n"
		"                         restore a snapshot (PUT /snapshot/create's state and\n"
		"                         memory files) instead of booting, and run it; the\n"
		"                         snapshot describes the VM (no -k); docs/snapshot.md\n"
		"      --mem-uffd SOCKET  with --restore, instead of --mem-file: guest memory is\n"
		"                         served by the page-fault handler listening at SOCKET\n"
		"                         (userfaultfd, Firecracker's Uffd backend)\n"
		"      --on-reboot=ACTION exit (default: kiln exits 0) or restart (boot the VM\n"
		"                         again from the same configuration)\n"
		"      --api-sock PATH    also serve the API on this Unix socket (--api-sock-force,\n"
		"                         --id as above)\n"
		"      --no-seccomp       no seccomp filters (logged as a warning); by default each\n"
		"                         thread has its own allowlist (docs/security.md)\n"
		"      --seccomp-filter FILE  JSON filters replacing the built-in ones\n"
		"      --seccomp-allow-inet  AF_INET/AF_INET6 sockets for user-mode networking that\n"
		"                         --net does not give (a snapshot's, the API's kiln_net)\n"
		"  -v, --verbose          more messages (twice: debug)\n"
		"  -q, --quiet            errors only\n"
		"  -h, --help             this help\n"
		"\n"
		"When stdin is a terminal it is put in raw mode; type Ctrl-a x to quit kiln.\n",
		arch_guest_formats_help);
}

enum { OPT_FLAT = 256, OPT_DEBUG_EXIT, OPT_IRQCHIP, OPT_STATS, OPT_KVM_PATH, OPT_API_SOCK,
       OPT_API_FORCE, OPT_CONFIG_FILE, OPT_ID, OPT_ON_REBOOT, OPT_DISK, OPT_CONSOLE, OPT_RNG,
       OPT_NET, OPT_VSOCK, OPT_CPU_TEMPLATE, OPT_CPUID_MASK, OPT_NO_API, OPT_NO_SECCOMP,
       OPT_SECCOMP_FILTER, OPT_SECCOMP_ALLOW_INET,
       OPT_LOG_PATH, OPT_LEVEL, OPT_SHOW_LEVEL, OPT_SHOW_ORIGIN, OPT_MODULE, OPT_METRICS_PATH,
       OPT_BOOT_TIMER, OPT_MAX_PAYLOAD, OPT_START_TIME, OPT_START_TIME_CPU, OPT_PARENT_CPU_TIME,
       OPT_VIRTIO_DISCOVERY, OPT_GDB, OPT_GDB_WAIT, OPT_RESTORE, OPT_MEM_FILE,
       OPT_MEM_UFFD, OPT_ENABLE_THP };

/* The --disk, --net and --vsock arguments' copies (config_parse_disk(), config_parse_net(),
 * config_parse_vsock()): kept until the next parse or exit. */
static char *disk_storage[CONFIG_MAX_DISKS];
static char *net_storage[CONFIG_MAX_NETS];
static char *vsock_storage;

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'p' },
	{ "memory", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "flat", no_argument, NULL, OPT_FLAT },
	{ "debug-exit", optional_argument, NULL, OPT_DEBUG_EXIT },
	{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
	{ "virtio-discovery", required_argument, NULL, OPT_VIRTIO_DISCOVERY },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "enable-thp", no_argument, NULL, OPT_ENABLE_THP },
	{ "kvm-device", required_argument, NULL, OPT_KVM_PATH },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "api-sock-force", no_argument, NULL, OPT_API_FORCE },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "id", required_argument, NULL, OPT_ID },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "net", required_argument, NULL, OPT_NET },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "gdb", required_argument, NULL, OPT_GDB },
	{ "gdb-wait", no_argument, NULL, OPT_GDB_WAIT },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "mem-file", required_argument, NULL, OPT_MEM_FILE },
	{ "mem-uffd", required_argument, NULL, OPT_MEM_UFFD },
	{ "cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE },
	{ "cpuid-mask", required_argument, NULL, OPT_CPUID_MASK },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
	{ "seccomp-allow-inet", no_argument, NULL, OPT_SECCOMP_ALLOW_INET },
	{ "log-path", required_argument, NULL, OPT_LOG_PATH },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
	{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "start-time-us", required_argument, NULL, OPT_START_TIME },
	{ "start-time-cpu-us", required_argument, NULL, OPT_START_TIME_CPU },
	{ "parent-cpu-time-us", required_argument, NULL, OPT_PARENT_CPU_TIME },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Options that describe the VM itself: only for 'kiln run' (the API and config file describe it
 * otherwise). */
static bool vm_option(int c)
{
	return c == 'k' || c == 'i' || c == 'p' || c == 'm' || c == 'c' || c == OPT_FLAT ||
	       c == OPT_DISK || c == OPT_CONSOLE || c == OPT_RNG || c == OPT_NET || c == OPT_VSOCK ||
	       c == OPT_CPU_TEMPLATE || c == OPT_CPUID_MASK ||
	       c == OPT_GDB || c == OPT_GDB_WAIT || c == OPT_RESTORE || c == OPT_MEM_FILE ||
	       c == OPT_MEM_UFFD;
}

/* --cpu-template NAME|FILE: a static template's name, else a custom template's JSON file. */
static int parse_cpu_template(const char *arg, struct vmm_config *cfg, char *err, size_t err_size)
{
	const char *name = config_cpu_template_name(arg);
	char why[JSON_ERR_MAX];
	json_error_t jerr;
	json_t *doc;
	int e;

	if (name) {
		cfg->cpu_template = strcmp(name, "None") ? name : NULL;
		cfg->has_cpu_custom = false;
		return 0;
	}
	if (!strchr(arg, '/') && !strchr(arg, '.') && access(arg, F_OK) != 0) {
		snprintf(err, err_size, "--cpu-template: '%s' is neither a CPU template (%s) nor a file",
			 arg, CONFIG_CPU_TEMPLATES);
		return -EINVAL;
	}
	doc = json_load_file(arg, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		if (jerr.line < 0)
			snprintf(err, err_size, "--cpu-template %s: %s", arg, jerr.text);
		else
			snprintf(err, err_size, "--cpu-template %s: invalid JSON: %s (line %d, column %d)",
				 arg, jerr.text, jerr.line, jerr.column);
		return -EINVAL;
	}
	e = spec_parse_cpu_template(doc, &cfg->cpu_custom, why, sizeof(why));
	json_decref(doc);
	if (e) {
		snprintf(err, err_size, "--cpu-template %s: %s", arg, why);
		return -EINVAL;
	}
	cfg->has_cpu_custom = true;
	cfg->cpu_template = NULL;
	return 0;
}

/* A decimal unsigned 64-bit number, as Rust's u64::parse (Firecracker's flags). */
static int parse_u64(const char *opt, const char *arg, uint64_t *out, char *err, size_t err_size)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end || errno) {
		snprintf(err, err_size, "--%s: '%s' is not a number (0 to 18446744073709551615)", opt,
			 arg);
		return -EINVAL;
	}
	return 0;
}

/* Parses `kiln run ARGS` (top_level false) or `kiln --api-sock ... ARGS` (top_level true). */
static int parse_options(int argc, char **argv, bool top_level, struct vmm_config *cfg,
			 struct controller_opts *opts, enum cli_action *action, int *verbosity,
			 char *err, size_t err_size)
{
	unsigned long v;
	int c, e;

	for (unsigned int i = 0; i < CONFIG_MAX_DISKS; i++) {
		free(disk_storage[i]);
		disk_storage[i] = NULL;
	}
	for (unsigned int i = 0; i < CONFIG_MAX_NETS; i++) {
		free(net_storage[i]);
		net_storage[i] = NULL;
	}
	free(vsock_storage);
	vsock_storage = NULL;
	optind = 0; /* full getopt reset, so tests can call us repeatedly */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:k:i:p:m:c:vqh", run_options, NULL)) != -1) {
		if (top_level && vm_option(c)) {
			snprintf(err, err_size,
				 "%s: only with 'kiln run' (with --api-sock or --config-file the API or "
				 "the config file describes the VM)",
				 argv[optind - (optarg && optarg == argv[optind - 1] ? 2 : 1)]);
			return -EINVAL;
		}
		switch (c) {
		case 'k':
			cfg->kernel_path = optarg;
			break;
		case OPT_DISK:
			if (cfg->nr_disks >= CONFIG_MAX_DISKS) {
				snprintf(err, err_size, "--disk %s: more than %u disks", optarg,
					 CONFIG_MAX_DISKS);
				return -EINVAL;
			}
			if (config_parse_disk(optarg, &cfg->disks[cfg->nr_disks],
					      &disk_storage[cfg->nr_disks], err, err_size))
				return -EINVAL;
			cfg->nr_disks++;
			break;
		case OPT_NET:
			if (cfg->nr_nets >= CONFIG_MAX_NETS) {
				snprintf(err, err_size, "--net %s: more than %u network interfaces",
					 optarg, CONFIG_MAX_NETS);
				return -EINVAL;
			}
			if (config_parse_net(optarg, cfg->nr_nets, &cfg->nets[cfg->nr_nets],
					     &net_storage[cfg->nr_nets], err, err_size))
				return -EINVAL;
			cfg->nr_nets++;
			break;
		case OPT_VSOCK:
			/* One device, as Firecracker's: a second --vsock is a mistake, not an
			 * update. */
			if (cfg->has_vsock) {
				snprintf(err, err_size,
					 "--vsock %s: given twice (one vsock device at most)", optarg);
				return -EINVAL;
			}
			if (config_parse_vsock(optarg, &cfg->vsock, &vsock_storage, err, err_size))
				return -EINVAL;
			cfg->has_vsock = true;
			break;
		case OPT_CPU_TEMPLATE:
			if (parse_cpu_template(optarg, cfg, err, err_size))
				return -EINVAL;
			break;
		case OPT_CPUID_MASK:
			if (cfg->cpu_masks.nr_cpuid >= CONFIG_MAX_CPUID_MODS) {
				snprintf(err, err_size, "--cpuid-mask %s: more than %u masks", optarg,
					 CONFIG_MAX_CPUID_MODS);
				return -EINVAL;
			}
			if (config_parse_cpuid_mask(optarg,
						    &cfg->cpu_masks.cpuid[cfg->cpu_masks.nr_cpuid],
						    err, err_size))
				return -EINVAL;
			cfg->cpu_masks.nr_cpuid++;
			break;
		case OPT_CONSOLE:
			if (strcmp(optarg, "virtio") && strcmp(optarg, "serial")) {
				snprintf(err, err_size,
					 "--console: '%s' is not a console (virtio or serial)", optarg);
				return -EINVAL;
			}
			cfg->virtio_console = !strcmp(optarg, "virtio");
			break;
		case OPT_RNG:
			cfg->rng = true;
			break;
		case 'i':
			cfg->initrd_path = optarg;
			break;
		case 'p':
			cfg->cmdline = optarg;
			break;
		case 'm':
			e = config_parse_size(optarg, &cfg->mem_size);
			if (e) {
				snprintf(err, err_size,
					 "-m/--memory: '%s' is %s (use a number with K, M or G, e.g. 512M)",
					 optarg, e == -ERANGE ? "too large" : "not a size");
				return -EINVAL;
			}
			break;
		case 'c':
			e = config_parse_uint(optarg, 0, CONFIG_MAX_VCPUS + 1ul, &v);
			if (e == -EINVAL) {
				snprintf(err, err_size, "-c/--cpus: '%s' is not a number", optarg);
				return -EINVAL;
			}
			if (e == -ERANGE) {
				snprintf(err, err_size, "-c/--cpus: %s vCPUs is out of range (1 to %u)",
					 optarg, CONFIG_MAX_VCPUS);
				return -EINVAL;
			}
			cfg->nr_vcpus = (unsigned int)v;
			break;
		case OPT_FLAT:
			cfg->flat = true;
			break;
		case OPT_DEBUG_EXIT:
			cfg->debug_exit = true;
			if (optarg) {
				char *end;

				errno = 0;
				v = strtoul(optarg, &end, 0);
				if (!*optarg || *end || errno || v > 0xffff - (DEBUG_EXIT_WIDTH - 1)) {
					snprintf(err, err_size,
						 "--debug-exit: '%s' is not an I/O port (0 to 0x%x)", optarg,
						 0xffff - (DEBUG_EXIT_WIDTH - 1));
					return -EINVAL;
				}
				cfg->debug_exit_port = (uint16_t)v;
			}
			break;
		case OPT_IRQCHIP:
			if (strcmp(optarg, "split") == 0)
				cfg->irqchip = IRQCHIP_SPLIT;
			else if (strcmp(optarg, "kernel") == 0)
				cfg->irqchip = IRQCHIP_KERNEL;
			else {
				snprintf(err, err_size,
					 "--irqchip: '%s' is not a mode (split or kernel)", optarg);
				return -EINVAL;
			}
			break;
		case OPT_VIRTIO_DISCOVERY:
			if (strcmp(optarg, "both") == 0)
				cfg->virtio_discovery = VIRTIO_DISCOVERY_BOTH;
			else if (strcmp(optarg, "acpi") == 0)
				cfg->virtio_discovery = VIRTIO_DISCOVERY_ACPI;
			else {
				snprintf(err, err_size,
					 "--virtio-discovery: '%s' is not a mode (both or acpi)",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_STATS:
			cfg->stats = true;
			break;
		case OPT_ENABLE_THP:
			cfg->mem_backing = MEM_BACKING_ANON_THP;
			break;
		case OPT_GDB: {
			struct gdb_addr a;

			if (gdbstub_parse(optarg, &a, err, err_size))
				return -EINVAL;
			cfg->gdb = optarg;
			break;
		}
		case OPT_RESTORE:
			opts->restore_path = optarg;
			break;
		case OPT_MEM_FILE:
		case OPT_MEM_UFFD:
			if (opts->restore_mem) {
				snprintf(err, err_size, "--mem-file, --mem-uffd: give one, once");
				return -EINVAL;
			}
			opts->restore_mem = optarg;
			opts->restore_uffd = c == OPT_MEM_UFFD;
			break;
		case OPT_GDB_WAIT:
			cfg->gdb_wait = true;
			break;
		case OPT_KVM_PATH:
			cfg->kvm_path = optarg;
			break;
		case OPT_API_SOCK:
			opts->api_sock = optarg;
			break;
		case OPT_API_FORCE:
			opts->api_sock_force = true;
			break;
		case OPT_CONFIG_FILE:
			if (!top_level) {
				snprintf(err, err_size,
					 "--config-file: not with 'kiln run' (use kiln --config-file FILE)");
				return -EINVAL;
			}
			opts->config_file = optarg;
			break;
		case OPT_ON_REBOOT:
			if (strcmp(optarg, "exit") == 0)
				cfg->on_reboot_restart = false;
			else if (strcmp(optarg, "restart") == 0)
				cfg->on_reboot_restart = true;
			else {
				snprintf(err, err_size,
					 "--on-reboot: '%s' is not an action (exit or restart)", optarg);
				return -EINVAL;
			}
			break;
		case OPT_ID:
			/* Firecracker's validate_instance_id(): the jailer makes a directory of it. */
			if (!*optarg || strlen(optarg) > 64 ||
			    optarg[strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						  "0123456789-")]) {
				snprintf(err, err_size,
					 "--id: '%s' must be 1 to 64 letters, digits or hyphens", optarg);
				return -EINVAL;
			}
			opts->id = optarg;
			break;
		case OPT_NO_API:
			opts->no_api = true;
			break;
		case OPT_NO_SECCOMP:
			opts->no_seccomp = true;
			break;
		case OPT_SECCOMP_ALLOW_INET:
			opts->seccomp_allow_inet = true;
			break;
		case OPT_SECCOMP_FILTER:
			opts->seccomp_filter = optarg;
			break;
		case OPT_LOG_PATH:
			opts->log_path = optarg;
			break;
		case OPT_LEVEL:
			opts->level = optarg;
			break;
		case OPT_SHOW_LEVEL:
			opts->show_level = true;
			break;
		case OPT_SHOW_ORIGIN:
			opts->show_origin = true;
			break;
		case OPT_MODULE:
			opts->module = optarg;
			break;
		case OPT_METRICS_PATH:
			opts->metrics_path = optarg;
			break;
		case OPT_BOOT_TIMER:
			opts->boot_timer = true;
			break;
		case OPT_MAX_PAYLOAD: {
			uint64_t n;

			if (parse_u64("http-api-max-payload-size", optarg, &n, err, err_size))
				return -EINVAL;
			if (n == 0 || n > CLI_MAX_PAYLOAD_LIMIT) {
				snprintf(err, err_size,
					 "--http-api-max-payload-size: %s bytes is out of range (1 to %u)",
					 optarg, CLI_MAX_PAYLOAD_LIMIT);
				return -EINVAL;
			}
			opts->max_payload = (size_t)n;
			break;
		}
		case OPT_START_TIME:
			if (parse_u64("start-time-us", optarg, &opts->start_time_us, err, err_size))
				return -EINVAL;
			opts->has_start_time = true;
			break;
		case OPT_START_TIME_CPU:
			if (parse_u64("start-time-cpu-us", optarg, &opts->start_time_cpu_us, err,
				      err_size))
				return -EINVAL;
			opts->has_start_time_cpu = true;
			break;
		case OPT_PARENT_CPU_TIME:
			if (parse_u64("parent-cpu-time-us", optarg, &opts->parent_cpu_time_us, err,
				      err_size))
				return -EINVAL;
			opts->has_parent_cpu_time = true;
			break;
		case 'v':
			(*verbosity)++;
			break;
		case 'q':
			*verbosity = -1;
			break;
		case 'h':
			*action = top_level ? CLI_HELP : CLI_RUN_HELP;
			return 0;
		case ':':
			snprintf(err, err_size, "%s: missing value", argv[optind - 1]);
			return -EINVAL;
		default: {
			const char *arg = argv[optind - 1];

			if (strncmp(arg, "--", 2) == 0 && optopt)
				snprintf(err, err_size, "option '%.*s' takes no value", (int)strcspn(arg, "="),
					 arg);
			else if (optopt && optopt < 256)
				snprintf(err, err_size, "unknown option '-%c' (see kiln run --help)",
					 optopt);
			else
				snprintf(err, err_size, "unknown option '%s' (see kiln run --help)", arg);
			return -EINVAL;
		}
		}
	}
	if (optind < argc) {
		snprintf(err, err_size, "unexpected argument '%s' (the guest is given with -k)",
			 argv[optind]);
		return -EINVAL;
	}
	if (!opts->restore_path != !opts->restore_mem) {
		snprintf(err, err_size, "%s", opts->restore_path ? "--restore: needs --mem-file FILE or --mem-uffd SOCKET"
				 : opts->restore_uffd ? "--mem-uffd: needs --restore SNAPSHOT"
						      : "--mem-file: needs --restore SNAPSHOT");
		return -EINVAL;
	}
	if (opts->restore_path && (cfg->kernel_path || cfg->initrd_path || cfg->cmdline ||
				   cfg->flat || cfg->nr_disks || cfg->nr_nets || cfg->rng ||
				   cfg->has_vsock || cfg->gdb || opts->config_file ||
				   cfg->mem_backing == MEM_BACKING_ANON_THP)) {
		snprintf(err, err_size, "--restore: the snapshot describes the VM; not with -k, -i, -p, "
					"--flat, --disk, --net, --rng, --vsock, --gdb, --enable-thp or "
					"--config-file");
		return -EINVAL;
	}
	if (cfg->gdb_wait && !cfg->gdb) {
		snprintf(err, err_size, "--gdb-wait: needs --gdb unix:PATH or --gdb tcp:[HOST:]PORT");
		return -EINVAL;
	}
	if (opts->no_seccomp && opts->seccomp_filter) {
		snprintf(err, err_size, "--seccomp-filter: not with --no-seccomp");
		return -EINVAL;
	}
	if (opts->api_sock_force && !opts->api_sock) {
		snprintf(err, err_size, "--api-sock-force: needs --api-sock PATH");
		return -EINVAL;
	}
	if (opts->no_api && !opts->config_file) {
		/* Firecracker's: --no-api requires --config-file. */
		snprintf(err, err_size, "--no-api: needs --config-file FILE (nothing else describes "
					"the VM)");
		return -EINVAL;
	}
	if (opts->no_api && opts->api_sock) {
		snprintf(err, err_size, "--no-api: not with --api-sock %s", opts->api_sock);
		return -EINVAL;
	}
	/* Firecracker serves its API on /run/firecracker.socket unless told otherwise; kiln does
	 * too when neither a socket nor a config file is given (kiln --config-file FILE alone
	 * runs without an API, as --no-api). */
	if (top_level && !opts->api_sock && !opts->config_file)
		opts->api_sock = CLI_DEFAULT_API_SOCK;
	*action = top_level ? CLI_SERVE : CLI_RUN;
	opts->start_now = !top_level || opts->config_file;
	return 0;
}

int cli_parse(int argc, char **argv, struct vmm_config *cfg, struct controller_opts *opts,
	      enum cli_action *action, int *verbosity, char *err, size_t err_size)
{
	*opts = (struct controller_opts){ .id = "anonymous-instance", .max_payload = API_MAX_BODY };
	*verbosity = 0;
	if (argc < 2) {
		snprintf(err, err_size, "no command given (try kiln --help)");
		return -EINVAL;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		*action = CLI_HELP;
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		*action = CLI_VERSION;
		return 0;
	}
	if (strcmp(argv[1], "top") == 0) {
		*action = CLI_TOP; /* top_main() parses the rest */
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return parse_options(argc - 1, argv + 1, false, cfg, opts, action, verbosity, err,
				     err_size);
	if (argv[1][0] == '-')
		return parse_options(argc, argv, true, cfg, opts, action, verbosity, err, err_size);
	snprintf(err, err_size, "unknown command '%s' (try kiln --help)", argv[1]);
	return -EINVAL;
}
