#!/bin/sh
# run-guest.sh --skip-unless probe: exit 0 on a PVM host (kvm_pvm loaded: KVM's emulator runs
# the guest's ring-0 code and gives up on some instructions, which kiln completes), else exit
# 77 with the reason.
if [ -d /sys/module/kvm_pvm ]; then
	exit 0
fi
echo "not a PVM host: KVM runs these instructions itself (insn-never-exit-on-kvm checks that)"
exit 77
