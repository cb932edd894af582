#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The "raw chain" smoke test, run as root INSIDE the virtual BMC (test/smoke/run
# starts it there): the data path of the Virtual Media service assembled by
# hand, without the service.
#
#   ISO file -> nbdkit (unix socket) -> nbd-client -> /dev/nbd0
#     -> USB mass-storage gadget (configfs, CD-ROM mode) on dummy_udc.0
#     -> the "host" side of dummy_hcd: usb-storage -> /dev/srN
#
# then reads the ISO back through /dev/srN, compares checksums, tears
# everything down in order and checks that nothing is left.  Prints one
# "TIME <step> <seconds>" line per step (the baseline later benchmarks compare
# to) and PASS/FAIL lines; exits non-zero on failure.
set -euo pipefail

NBD=${SMOKE_NBD:-/dev/nbd0}
UDC=${SMOKE_UDC:-dummy_udc.0}
GADGET=/sys/kernel/config/usb_gadget/${SMOKE_GADGET:-g1}
# Vendor (8 chars), product (16) and revision (4) of the SCSI INQUIRY answer;
# the host side finds its block device by them.
INQ_VENDOR=VMSMOKE
INQ_PRODUCT="RAWCHAIN-$$"
INQ_REV=0001
ISO_MIB=${SMOKE_ISO_MIB:-16}
WAIT=${SMOKE_WAIT:-30} # seconds for any single thing to appear

WORK="" NBDKIT_PID="" NBDCLIENT_PID="" FAILED=0 T_TOTAL=0
# Every process we started, to check at the end that none is left.
STARTED_PIDS=()

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*" >&2
	FAILED=1
	exit 1
}
info() { echo "  $*"; }

# Run "step NAME command..." and print how long it took.
step() {
	local name=$1 t
	shift
	t=$(now)
	"$@"
	echo "TIME $name $(elapsed "$t")"
}

# Poll a condition (a command) every 50 ms for up to $WAIT seconds.
wait_for() { # description command...
	local what=$1 i
	shift
	for ((i = 0; i < WAIT * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	fail "timed out after ${WAIT}s waiting for $what"
}

# ----------------------------------------------------------------- steps
check_prerequisites() {
	[[ $(id -u) == 0 ]] || fail "must run as root (inside test/vm/run)"
	local t
	for t in xorriso nbdkit nbd-client sha256sum; do
		command -v "$t" >/dev/null || fail "$t not installed"
	done
	[[ -b $NBD ]] || fail "$NBD missing (nbd module not loaded?)"
	[[ -e /sys/class/udc/$UDC ]] || fail "UDC $UDC missing (dummy_hcd not loaded?)"
	[[ -d /sys/kernel/config/usb_gadget ]] || fail "configfs/libcomposite not available"
	[[ ! -e $GADGET ]] || fail "$GADGET exists already"
	[[ $(<"/sys/block/${NBD#/dev/}/size") == 0 ]] || fail "$NBD is in use"
	pass "prerequisites"
}

make_iso() {
	mkdir -p "$WORK/iso"
	head -c "$((ISO_MIB * 1024 * 1024))" /dev/urandom >"$WORK/iso/payload.bin"
	echo "virtual media raw-chain smoke test" >"$WORK/iso/README.TXT"
	xorriso -as mkisofs -quiet -V VMSMOKE -J -R -o "$WORK/test.iso" "$WORK/iso" 2>/dev/null
	ISO_SIZE=$(stat -c %s "$WORK/test.iso")
	# f_mass_storage refuses CD-ROM images below 300 blocks of 2048 bytes.
	((ISO_SIZE >= 300 * 2048)) || fail "ISO too small ($ISO_SIZE bytes)"
	((ISO_SIZE % 2048 == 0)) || fail "ISO size $ISO_SIZE is not a multiple of 2048"
	ISO_SUM=$(sha256sum <"$WORK/test.iso" | cut -d' ' -f1)
	info "ISO $ISO_SIZE bytes, sha256 $ISO_SUM"
}

start_nbdkit() {
	# Without -f nbdkit binds its socket, forks and returns: clients can
	# connect from then on.  The background child writes the pid file a
	# moment later, so wait for it.
	nbdkit --unix "$WORK/nbd.sock" --pidfile "$WORK/nbdkit.pid" --readonly \
		file "$WORK/test.iso"
	wait_for "nbdkit's pid file" test -s "$WORK/nbdkit.pid"
	NBDKIT_PID=$(<"$WORK/nbdkit.pid")
	STARTED_PIDS+=("$NBDKIT_PID")
	[[ -S $WORK/nbd.sock ]] || fail "nbdkit socket missing"
	info "nbdkit pid $NBDKIT_PID"
}

nbd_size() { cat "/sys/block/${NBD#/dev/}/size"; }
nbd_connected() { (($(nbd_size) > 0)); }

attach_nbd() {
	# -n: stay in the foreground (the service watches this process);
	# -L: ioctl, not netlink (with netlink 3.24 exits right after setup).
	nbd-client -u "$WORK/nbd.sock" "$NBD" -n -L -b 512 >"$WORK/nbd-client.log" 2>&1 &
	NBDCLIENT_PID=$!
	STARTED_PIDS+=("$NBDCLIENT_PID")
	wait_for "$NBD to get a size" nbd_connected
	local bytes=$(($(nbd_size) * 512))
	((bytes == ISO_SIZE)) || fail "$NBD has $bytes bytes, the ISO $ISO_SIZE"
	info "nbd-client pid $NBDCLIENT_PID, $NBD $bytes bytes"
}

create_gadget() {
	local f=$GADGET/functions/mass_storage.usb0
	mkdir "$GADGET"
	echo 0x1d6b >"$GADGET/idVendor"
	echo 0x0104 >"$GADGET/idProduct"
	mkdir "$GADGET/strings/0x409"
	echo "smoke-$$" >"$GADGET/strings/0x409/serialnumber"
	echo "Virtual Media smoke test" >"$GADGET/strings/0x409/manufacturer"
	echo "Raw chain" >"$GADGET/strings/0x409/product"
	mkdir "$GADGET/configs/c.1"
	mkdir "$GADGET/configs/c.1/strings/0x409"
	echo "Mass storage" >"$GADGET/configs/c.1/strings/0x409/configuration"
	mkdir "$f"
	echo 1 >"$f/lun.0/removable"
	echo 1 >"$f/lun.0/ro"
	echo 1 >"$f/lun.0/cdrom"
	printf '%-8s%-16s%-4s' "$INQ_VENDOR" "$INQ_PRODUCT" "$INQ_REV" >"$f/lun.0/inquiry_string"
	echo "$NBD" >"$f/lun.0/file"
	ln -s "$f" "$GADGET/configs/c.1/"
}

bind_udc() {
	echo "$UDC" >"$GADGET/UDC"
}

# The SCSI block device whose INQUIRY vendor/model are ours.
find_host_dev() {
	local d vendor model
	for d in /sys/class/block/*/device/model; do
		[[ -r $d ]] || continue
		model=$(<"$d")
		vendor=$(<"${d%/model}/vendor")
		if [[ ${vendor%% *} == "$INQ_VENDOR" && ${model%% *} == "$INQ_PRODUCT" ]]; then
			d=${d%/device/model}
			echo "/dev/${d##*/}"
			return 0
		fi
	done
	return 1
}

host_dev_appeared() { HOST_DEV=$(find_host_dev); }
# Readable: the medium is in and the first block comes back.
host_dev_readable() {
	[[ -b $HOST_DEV ]] && dd if="$HOST_DEV" of=/dev/null bs=2048 count=1 status=none 2>/dev/null
}

wait_host_device() {
	wait_for "a block device with INQUIRY '$INQ_VENDOR $INQ_PRODUCT'" host_dev_appeared
	info "host side: $HOST_DEV ($(readlink -f "/sys/class/block/${HOST_DEV#/dev/}/device/driver" | xargs basename))"
}

wait_readable() {
	wait_for "$HOST_DEV to be readable" host_dev_readable
}

# Cold sequential read of the whole image through the host-side device: the
# throughput of the chain (nbdkit, nbd, gadget, dummy_hcd, usb-storage, sr).
read_throughput() {
	local t secs
	t=$(now)
	dd if="$HOST_DEV" of=/dev/null bs=1M count="$((ISO_SIZE / 1048576))" status=none
	secs=$(elapsed "$t")
	info "read $((ISO_SIZE / 1048576)) MiB in ${secs}s: $(awk -v b="$((ISO_SIZE / 1048576))" -v s="$secs" 'BEGIN { printf "%.1f", b / s }') MiB/s"
}

compare_checksum() {
	local sum
	sum=$(head -c "$ISO_SIZE" "$HOST_DEV" | sha256sum | cut -d' ' -f1)
	[[ $sum == "$ISO_SUM" ]] || fail "checksum through $HOST_DEV: $sum, expected $ISO_SUM"
	pass "sha256 of $ISO_SIZE bytes read through $HOST_DEV matches the ISO"
}

is_cdrom() {
	[[ ${HOST_DEV#/dev/} == sr* ]] || fail "exposed as $HOST_DEV, not as a CD-ROM (srN)"
	pass "exposed as a CD-ROM ($HOST_DEV)"
}

# ---------------------------------------------------------------- teardown
unbind_udc() {
	[[ -e $GADGET/UDC ]] || return 0
	echo "" >"$GADGET/UDC"
}

remove_gadget() {
	[[ -d $GADGET ]] || return 0
	rm -f "$GADGET/configs/c.1/mass_storage.usb0"
	# configfs: rmdir, children first; the lun.0 of a function goes with it.
	rmdir "$GADGET/configs/c.1/strings/0x409" 2>/dev/null || true
	rmdir "$GADGET/configs/c.1" 2>/dev/null || true
	rmdir "$GADGET/functions/mass_storage.usb0" 2>/dev/null || true
	rmdir "$GADGET/strings/0x409" 2>/dev/null || true
	rmdir "$GADGET"
}

detach_nbd() {
	[[ -n $NBDCLIENT_PID ]] || return 0
	nbd-client -d "$NBD" >/dev/null 2>&1 || true
	# nbd-client -n returns once the device is disconnected.
	local i
	for ((i = 0; i < WAIT * 20; i++)); do
		kill -0 "$NBDCLIENT_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$NBDCLIENT_PID" 2>/dev/null; then
		kill "$NBDCLIENT_PID" 2>/dev/null || true
		fail "nbd-client did not exit after nbd-client -d"
	fi
	wait "$NBDCLIENT_PID" 2>/dev/null || true
	NBDCLIENT_PID=""
}

stop_nbdkit() {
	[[ -n $NBDKIT_PID ]] || return 0
	kill "$NBDKIT_PID" 2>/dev/null || true
	local i
	for ((i = 0; i < WAIT * 20; i++)); do
		kill -0 "$NBDKIT_PID" 2>/dev/null || break
		sleep 0.05
	done
	NBDKIT_PID=""
}

check_clean() {
	local ok=1
	[[ ! -e $GADGET ]] || { echo "FAIL: $GADGET still exists" >&2; ok=0; }
	[[ $(nbd_size) == 0 ]] || { echo "FAIL: $NBD still has a size" >&2; ok=0; }
	local pid
	for pid in "${STARTED_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			echo "FAIL: process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) still running" >&2
			ok=0
		fi
	done
	if [[ -n ${HOST_DEV:-} && -e /sys/class/block/${HOST_DEV#/dev/} ]]; then
		echo "FAIL: $HOST_DEV still present on the host side" >&2
		ok=0
	fi
	# "function" names the bound gadget driver; empty when the UDC is free.
	[[ -z $(<"/sys/class/udc/$UDC/function") ]] ||
		{ echo "FAIL: $UDC still bound to '$(<"/sys/class/udc/$UDC/function")'" >&2; ok=0; }
	((ok)) || fail "teardown left things behind"
	pass "teardown left nothing behind"
}

wait_host_dev_gone() {
	[[ -n ${HOST_DEV:-} ]] || return 0
	wait_for "$HOST_DEV to disappear" test ! -e "/sys/class/block/${HOST_DEV#/dev/}"
}

# On any failure: undo what was done, quietly, in the same order.
emergency_teardown() {
	local rc=$?
	trap - EXIT
	set +e
	if ((rc != 0 || FAILED)); then
		echo "--- raw chain failed (exit $rc); cleaning up" >&2
		[[ -s ${WORK:-/nonexistent}/nbd-client.log ]] && sed 's/^/nbd-client: /' "$WORK/nbd-client.log" >&2
		unbind_udc 2>/dev/null
		remove_gadget 2>/dev/null
		detach_nbd 2>/dev/null
		stop_nbdkit 2>/dev/null
		echo "FAIL: raw chain" >&2
	fi
	[[ -n $WORK ]] && rm -rf "$WORK"
	exit "$rc"
}

main() {
	trap emergency_teardown EXIT
	WORK=$(mktemp -d /tmp/raw-chain.XXXXXX)
	T_TOTAL=$(now)
	check_prerequisites
	step make-iso make_iso
	local t_chain
	t_chain=$(now)
	step nbdkit-start start_nbdkit
	step nbd-attach attach_nbd
	step gadget-create create_gadget
	local t_bind
	t_bind=$(now)
	step udc-bind bind_udc
	step host-device-appears wait_host_device
	step host-device-readable wait_readable
	echo "TIME udc-bind-to-readable $(elapsed "$t_bind")"
	echo "TIME chain-setup-to-readable $(elapsed "$t_chain")"
	is_cdrom
	step read-sequential read_throughput
	step compare-checksum compare_checksum
	local t_down
	t_down=$(now)
	step udc-unbind unbind_udc
	step host-device-gone wait_host_dev_gone
	step gadget-remove remove_gadget
	step nbd-detach detach_nbd
	step nbdkit-stop stop_nbdkit
	echo "TIME teardown $(elapsed "$t_down")"
	check_clean
	echo "TIME total $(elapsed "$T_TOTAL")"
	echo "PASS: raw chain"
}

main "$@"
