/* init.c: /init of the arm64 device tree boot check (arm64-dt-boot.sh), cross-compiled static for
 * aarch64. It reports what Linux made of kiln's device tree, one "KILN-DT key=value" line each:
 * the CPUs online, the command line (from /chosen/bootargs), the console, and, when the kernel's
 * virtio_mmio and virtio-rng modules are in the initrd, the virtio devices found on the tree's
 * virtio_mmio nodes and bytes read from /dev/hwrng (which needs the device's SPI to work); then it
 * powers off through PSCI SYSTEM_OFF. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show_file(const char *key, const char *path)
{
	char buf[512] = "";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("KILN-DT %s=%s\n", key, f ? buf : "(none)");
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
}

static void on_alarm(int sig)
{
	(void)sig;
	printf("KILN-DT hwrng=timeout\n");
	power_off();
}

/* Loads a module shipped in the initrd; false when it is not there or the kernel refuses it. */
static int load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = syscall(SYS_finit_module, fd, "", 0) == 0;
	if (!ok)
		perror(path);
	close(fd);
	return ok;
}

int main(void)
{
	unsigned char rnd[16];
	int fd;
	ssize_t n;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	printf("KILN-DT init=running\n");
	show_file("cpus", "/sys/devices/system/cpu/online");
	show_file("cmdline", "/proc/cmdline");
	show_file("consoles", "/proc/consoles");
	show_file("model", "/proc/device-tree/model");
	if (!load("/virtio_mmio.ko") || !load("/virtio-rng.ko")) {
		printf("KILN-DT modules=none\n");
		power_off();
		return 1;
	}
	printf("KILN-DT modules=loaded\n");
	printf("KILN-DT virtio=%d\n", count_dir("/sys/bus/virtio/devices"));
	show_file("virtio0-device", "/sys/bus/virtio/devices/virtio0/device");
	fflush(stdout);
	signal(SIGALRM, on_alarm);
	alarm(30);
	fd = open("/dev/hwrng", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, rnd, sizeof(rnd));
	printf("KILN-DT hwrng=%zd\n", n);
	power_off();
	return 1;
}
