/* probe.c: stands in for kiln under kiln-jailer (tests/jailer/jailer_test.py): prints what a
 * jailed process sees, one KEY=VALUE per line, then, with --wait, blocks until stdin closes so
 * the test can look at it from outside (its cgroup, its namespaces). With --out FILE (for
 * --daemonize, whose stdio is /dev/null) it writes the lines to FILE in the jail instead. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

extern char **environ;

static void dev(FILE *f, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		fprintf(f, "dev %s=missing\n", path);
	else
		fprintf(f, "dev %s=%s %u:%u owner=%u:%u mode=%o\n", path, S_ISCHR(st.st_mode) ? "chr" : "other",
			major(st.st_rdev), minor(st.st_rdev), st.st_uid, st.st_gid, st.st_mode & 07777);
}

int main(int argc, char **argv)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct caps[2];
	struct if_nameindex *ifs;
	struct rlimit rl;
	char cwd[256];
	FILE *f = stdout;
	int bounding = 0, fds = 0, env = 0, wait = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = 1;
		if (!strcmp(argv[i], "--out") && i + 1 < argc && !(f = fopen(argv[i + 1], "w")))
			return 1;
	}
	fprintf(f, "argv=");
	for (int i = 0; i < argc; i++)
		fprintf(f, "%s%s", i ? " " : "", argv[i]);
	fprintf(f, "\npid=%d\nuid=%u euid=%u gid=%u egid=%u groups=%d\n", (int)getpid(), getuid(),
		geteuid(), getgid(), getegid(), getgroups(0, NULL));
	if (syscall(SYS_capget, &hdr, caps) == 0)
		fprintf(f, "cap_eff=%x%08x cap_prm=%x%08x cap_inh=%x%08x\n", caps[1].effective,
			caps[0].effective, caps[1].permitted, caps[0].permitted, caps[1].inheritable,
			caps[0].inheritable);
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			bounding++;
	fprintf(f, "cap_bounding=%d\nno_new_privs=%d\n", bounding, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	fprintf(f, "etc_passwd=%s\n", access("/etc/passwd", F_OK) ? "absent" : "present");
	fprintf(f, "old_root=%s\n", access("/old_root", F_OK) ? "absent" : "present");
	dev(f, "/dev/kvm");
	dev(f, "/dev/net/tun");
	dev(f, "/dev/urandom");
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(f, "nofile=%llu\n", (unsigned long long)rl.rlim_cur);
	getrlimit(RLIMIT_FSIZE, &rl);
	fprintf(f, "fsize=%lld\n", rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur);
	for (int fd = 3; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0 && (!f || fd != fileno(f)))
			fds++;
	fprintf(f, "extra_fds=%d\n", fds);
	for (char **e = environ; e && *e; e++)
		env++;
	fprintf(f, "env=%d\n", env);
	fprintf(f, "cwd=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	fprintf(f, "sid_leader=%d\n", getsid(0) == getpid());
	fprintf(f, "ifs=");
	ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		fprintf(f, "%s%s", i == ifs ? "" : ",", i->if_name);
	fprintf(f, "\nready\n");
	fflush(f);
	if (wait) {
		char c;

		while (read(0, &c, 1) > 0)
			;
	}
	return 0;
}
