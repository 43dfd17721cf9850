#!/usr/bin/env bash
# acpi-iasl.sh DUMP_BINARY: checks kiln's ACPI tables with ACPICA's own tools (Debian acpica-tools),
# whose table and AML code is the code Linux runs. DUMP_BINARY (tests/unit/acpi_dump.c) builds the
# tables for 2 vCPUs and 2 virtio-mmio devices and writes {rsdp,xsdt,facp,facs,apic,dsdt}.dat. Then:
#   1. `iasl -d` disassembles each table: an error, a checksum warning or no output fails;
#   2. `iasl -oa` compiles each disassembly back and the result must equal the original, but for
#      the checksum and compiler id/revision that iasl rewrites: kiln's bytes are what iasl means;
#   3. the RSDP (which `iasl -d` cannot read on its own) is rebuilt from its fields by iasl's data
#      table compiler, which computes both checksums, and must equal kiln's 36 bytes;
#   4. the disassembly must show the devices, FADT fields, MADT entries and table addresses;
#   5. acpiexec loads FADT, MADT and DSDT, evaluates \_S5 and every _CRS, and enters S5 the
#      legacy way (SLP_TYP and SLP_EN in PM1a_CNT), as Linux's poweroff does.
# Prints every warning and remark the tools gave. Exit 0 pass, 1 fail, 77 skip (no iasl).
set -u

dump=${1:?usage: acpi-iasl.sh DUMP_BINARY}
case $dump in /*) ;; *) dump=$PWD/$dump ;; esac
if ! command -v iasl >/dev/null || ! command -v acpiexec >/dev/null; then
	echo "SKIP: iasl/acpiexec not installed (Debian package acpica-tools)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
# Prints the tool's warning/remark/error lines (the output is in $1), prefixed with the step.
notes() {
	grep -E -i '(warning|remark|error)' "$1" | grep -E -v '[0-9]+ Errors, [0-9]+ Warnings' |
		sed "s/^/  $2: /"
}

addrs=$("$dump" .) || { echo "FAIL: $dump did not build the tables"; exit 1; }
echo "tables: $addrs"
# "RSDP 0x... XSDT 0x... FADT 0x... MADT 0x... DSDT 0x... FACS 0x...": the addresses the dump
# program found by following the pointers from the RSDP.
read -r _ rsdp _ xsdt _ fadt _ madt _ dsdt _ facs <<<"$addrs"
hex16() { printf '%016X' "$(($1))"; }

# 1. Disassemble.
for t in xsdt facp facs apic dsdt; do
	iasl -d "$t.dat" >"$t.d.log" 2>&1 || fail "iasl -d $t.dat exited $?"
	notes "$t.d.log" "iasl -d $t"
	grep -q -i 'error' "$t.d.log" && fail "iasl -d $t.dat reported an error"
	grep -q -i 'checksum' "$t.d.log" && fail "iasl -d $t.dat reported a bad checksum"
	[ -s "$t.dsl" ] || fail "iasl -d $t.dat wrote no $t.dsl"
done

# 2. Compile back and compare (cmp -l counts bytes from 1: 10 is the checksum at offset 9, 29-36
# the compiler id and revision at offsets 28-35).
mkdir rt
for t in xsdt facp facs apic dsdt; do
	[ -s "$t.dsl" ] || continue
	cp "$t.dsl" rt/
	(cd rt && iasl -oa "$t.dsl") >"$t.c.log" 2>&1 || fail "iasl $t.dsl exited $?"
	notes "$t.c.log" "iasl $t.dsl"
	grep -q 'Compilation successful' "$t.c.log" || fail "iasl could not compile $t.dsl back"
	if [ -s "rt/$t.aml" ]; then
		diffs=$(cmp -l "rt/$t.aml" "$t.dat" 2>&1 | awk '$1 != 10 && ($1 < 29 || $1 > 36)')
		[ -z "$diffs" ] || fail "$t.dat differs from iasl's compilation of its disassembly: $diffs"
	fi
done

# 3. The RSDP, field by field (ACPI 6.5, 5.2.5.3).
b=($(od -An -v -tx1 rsdp.dat))
if [ "${#b[@]}" -ne 36 ]; then
	fail "rsdp.dat is ${#b[@]} bytes, not 36"
else
	le() { # offset, size: little-endian hex
		local s="" i
		for ((i = $1 + $2 - 1; i >= $1; i--)); do s+=${b[i]}; done
		echo "${s^^}"
	}
	chars() { # offset, size
		local s="" i
		for ((i = $1; i < $1 + $2; i++)); do s+=$(printf "\\x${b[i]}"); done
		echo "$s"
	}
	cat >rt/rsdp.asl <<-EOF
		[0008]                          Signature : "$(chars 0 8)"
		[0001]                           Checksum : 00
		[0006]                             Oem ID : "$(chars 9 6)"
		[0001]                           Revision : $(le 15 1)
		[0004]                       RSDT Address : $(le 16 4)
		[0004]                             Length : $(le 20 4)
		[0008]                       XSDT Address : $(le 24 8)
		[0001]                  Extended Checksum : 00
		[0003]                           Reserved : $(le 33 3)
	EOF
	(cd rt && iasl rsdp.asl) >rsdp.c.log 2>&1 || fail "iasl rsdp.asl exited $?"
	notes rsdp.c.log "iasl rsdp"
	cmp -s rt/rsdp.aml rsdp.dat || fail "rsdp.dat differs from the RSDP iasl builds from its" \
		"fields: $(cmp -l rt/rsdp.aml rsdp.dat 2>&1 | head -3)"
	[ "$(chars 0 8)" = "RSD PTR " ] || fail "RSDP signature '$(chars 0 8)'"
	[ "$(le 15 1)" = 02 ] || fail "RSDP revision $(le 15 1), want 02"
	[ "$(le 24 8)" = "$(hex16 "$xsdt")" ] || fail "RSDP XSDT address $(le 24 8), the XSDT is at $xsdt"
fi

# 4. What the disassembly must show.
expect() { # file, extended regex, what, [count]
	local n
	n=$(grep -E -c -- "$2" "$1" 2>/dev/null)
	if [ -n "${4:-}" ]; then
		[ "$n" -eq "$4" ] || fail "$1: $3: found $n, want $4"
	else
		[ "$n" -ge 1 ] || fail "$1: no $3"
	fi
}
expect dsdt.dsl 'Name \(\\_S5, Package' '\_S5 package'
expect dsdt.dsl 'Name \(\\_S0, Package' '\_S0 package'
expect dsdt.dsl 'EisaId \("PNP0501"\)' 'COM1 (PNP0501)' 1
expect dsdt.dsl '0x03F8, +// Range Minimum' 'COM1 ports 0x3f8'
expect dsdt.dsl 'EisaId \("PNP0303"\)' 'i8042 keyboard (PNP0303)' 1
expect dsdt.dsl 'EisaId \("PNP0B00"\)' 'RTC (PNP0B00)' 1
expect dsdt.dsl 'Name \(_HID, "LNRO0005"\)' 'virtio-mmio devices (LNRO0005)' 2
expect dsdt.dsl 'Interrupt \(ResourceConsumer, Edge, ActiveHigh, Exclusive' 'virtio-mmio interrupts' 2
expect dsdt.dsl 'Memory32Fixed \(ReadWrite' 'Memory32Fixed for the device below 4 GiB' 1
expect dsdt.dsl 'QWordMemory \(ResourceConsumer' 'QWordMemory for the device above 4 GiB' 1
expect dsdt.dsl 'Name \(_HID, "ACPI0007"' 'processor devices' 2
expect facp.dsl 'Revision : 06' 'FADT revision 6'
expect facp.dsl 'Hardware Reduced \(V5\) : 0' 'Hardware Reduced flag clear'
expect facp.dsl "FACS Address : 0*$(hex16 "$facs" | sed 's/^0*//')\$" 'FACS address (32-bit)' 1
expect facp.dsl 'FACS Address : 0000000000000000' 'X_FIRMWARE_CTRL 0' 1
expect facp.dsl 'SCI Interrupt : 0003' 'SCI on IRQ 3'
expect facp.dsl 'SMI Command Port : 00000000' 'no SMI_CMD'
expect facp.dsl 'PM1A Event Block Address : 00000600' 'PM1a_EVT_BLK 0x600'
expect facp.dsl 'PM1A Control Block Address : 00000604' 'PM1a_CNT_BLK 0x604'
expect facp.dsl 'PM1 Event Block Length : 04' 'PM1_EVT_LEN 4'
expect facp.dsl 'PM1 Control Block Length : 02' 'PM1_CNT_LEN 2'
expect facp.dsl 'Address : 0000000000000600' 'X_PM1a_EVT_BLK port 0x600'
expect facp.dsl 'Address : 0000000000000604' 'X_PM1a_CNT_BLK port 0x604'
expect facp.dsl 'Legacy Devices Supported \(V2\) : 1' 'legacy devices boot flag'
expect facs.dsl 'Signature : "FACS"' 'FACS signature'
expect facs.dsl 'Length : 00000040' 'FACS length 64'
expect facs.dsl 'Version : 02' 'FACS version 2'
expect facp.dsl 'Reset Register Supported \(V2\) : 1' 'Reset Register Supported flag'
expect facp.dsl '8042 Present on ports 60/64 \(V2\) : 1' '8042 boot flag'
expect facp.dsl 'VGA Not Present \(V4\) : 1' 'VGA Not Present boot flag'
expect facp.dsl 'Address : 00000000000003C2' 'reset port 0x3c2'
expect facp.dsl 'Space ID : 01 \[SystemIO\]' 'System I/O registers (reset, PM1a event and control, PM timer)' 4
expect facp.dsl 'PM Timer Block Address : 00000608' 'PM timer port 0x608'
expect facp.dsl 'PM Timer Block Length : 04' 'PM timer length 4'
expect facp.dsl 'Address : 0000000000000608' 'X_PM_TMR_BLK port 0x608'
expect facp.dsl '32-bit PM Timer \(V1\) : 1' 'TMR_VAL_EXT flag'
expect facp.dsl 'Value to cause reset : 01' 'reset value 1'
expect facp.dsl "DSDT Address : 0*$(hex16 "$dsdt" | sed 's/^0*//')\$" 'DSDT addresses (32- and 64-bit)' 2
expect apic.dsl 'Subtable Type : 00 \[Processor Local APIC\]' 'processor local APICs' 2
expect apic.dsl 'Processor Enabled : 1' 'enabled processors' 2
expect apic.dsl 'Subtable Type : 01 \[I/O APIC\]' 'I/O APIC' 1
expect apic.dsl 'Subtable Type : 02 \[Interrupt Source Override\]' 'interrupt source overrides (IRQ 0, SCI)' 2
expect apic.dsl 'Source : 03' 'the SCI override from IRQ 3' 1
expect apic.dsl 'Interrupt : 00000003' 'the SCI override to GSI 3' 1
expect apic.dsl 'Trigger Mode : 3' 'the SCI override: level-triggered' 1
expect apic.dsl 'PC-AT Compatibility : 1' 'PCAT_COMPAT flag'
expect apic.dsl 'I/O Apic ID : 00' 'IOAPIC ID 0' 1
expect apic.dsl 'Subtable Type : 04 \[Local APIC NMI\]' 'local APIC NMI' 1
expect xsdt.dsl "ACPI Table Address   0 : $(hex16 "$fadt")" 'XSDT entry 0 = FADT'
expect xsdt.dsl "ACPI Table Address   1 : $(hex16 "$madt")" 'XSDT entry 1 = MADT'

# 5. ACPICA's interpreter: load, evaluate, enter S5.
cmds='evaluate \_S5_'
for d in COM1 PS2K RTC_ V000 V001; do cmds+="; resources \\_SB.$d"; done
timeout 60 acpiexec -b "$cmds; sleep 5" facp.dat apic.dat dsdt.dat >exec.log 2>&1 ||
	fail "acpiexec exited $?"
grep -E -i '(warning|error|exception)' exec.log | grep -v 'AcpiSetCurrentResources failed: AE_NOT_FOUND' |
	sed 's/^/  acpiexec: /'
grep -E -i '(warning|error|exception)' exec.log | grep -q -v 'AcpiSetCurrentResources failed: AE_NOT_FOUND' &&
	fail "acpiexec reported a problem"
expect exec.log '1 ACPI AML tables successfully acquired and loaded' 'DSDT load'
expect exec.log 'Register values for sleep state S5: Sleep-A: 05' 'S5 SLP_TYP 5'
expect exec.log 'HwLegacySleep .*Entering sleep state \[S5\]' 'legacy (PM1a_CNT) S5 entry'
expect exec.log 'Interrupt List : 4 ?$' 'COM1 IRQ 4'
expect exec.log 'Interrupt List : 1 ?$' 'keyboard IRQ 1'
expect exec.log 'Interrupt List : 8 ?$' 'RTC IRQ 8'
expect exec.log 'Dword00 : 00000005' 'virtio-mmio GSI 5'
expect exec.log 'Dword00 : 00000010' 'virtio-mmio GSI 16'

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed; the tools' output:"
	tail -n +1 ./*.log
	exit 1
fi
echo "PASS: RSDP, XSDT, FADT, FACS, MADT and DSDT accepted by iasl $(iasl -v | grep -o 'version [0-9]*') and acpiexec"
exit 0
