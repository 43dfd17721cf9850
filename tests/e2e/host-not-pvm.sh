#!/bin/sh
# run-guest.sh --skip-unless probe: exit 0 where KVM is not PVM (the CPU or KVM runs every
# instruction kiln could complete, so kiln must never see one), else exit 77 with the reason.
if [ -d /sys/module/kvm_pvm ]; then
	echo "PVM host: these instructions exit to kiln by design (insn-completed-on-pvm checks that)"
	exit 77
fi
exit 0
