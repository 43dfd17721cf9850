/* vcpu.c: vCPU creation, teardown and kicks; the KVM_RUN loop is in exits.c. */
#include "kvm/vcpu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned int id)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->id = id;
	vcpu->fd = ioctl(vm_fd(vm), KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return -errno;
	vcpu->run_size = vm_kvm(vm)->vcpu_mmap_size;
	vcpu->run = mmap(NULL, (size_t)vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		int err = -errno;

		close(vcpu->fd);
		vcpu->fd = -1;
		vcpu->run = NULL;
		return err;
	}
	return 0;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

void vcpu_kick(struct vcpu *vcpu, unsigned long thread)
{
	/* Order matters: immediate_exit first, so a signal delivered while the thread is between
	 * its stop check and KVM_RUN is harmless: KVM_RUN then returns at once with EINTR. */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill((pthread_t)thread, VCPU_KICK_SIGNAL);
}
