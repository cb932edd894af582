#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The demo, run inside the virtual BMC by `make demo`: the service with the
# shipped configuration, the web server's part played by nbdkit on Slot_0's
# socket, a Mount through D-Bus, and the server host's new CD-ROM.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
work=$(mktemp -d)
BUS=xyz.openbmc_project.VirtualMedia
OBJ=/xyz/openbmc_project/VirtualMedia/Proxy/Slot_0
IF=xyz.openbmc_project.VirtualMedia.Proxy

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	[ -n "${monitor:-}" ] && kill "$monitor" 2>/dev/null || true
	[ -n "${svc:-}" ] && kill "$svc" 2>/dev/null && wait "$svc" 2>/dev/null || true
	[ -n "${web:-}" ] && kill "$web" 2>/dev/null || true
	[ -n "${bus:-}" ] && kill "$bus" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# Wait until the monitor log shows the Nth Completion; print its value.
wait_completion() {
	n=$1 i=0
	while [ "$(grep -c 'Completion' "$work/monitor.log" || true)" -lt "$n" ]; do
		i=$((i + 1)); [ $i -lt 600 ] || { echo "no Completion" >&2; exit 1; }
		sleep 0.05
	done
	grep -A1 'Completion' "$work/monitor.log" | grep -o 'int32 [-0-9]*' | sed -n "${n}p"
}

step "A system bus, and the service with the shipped configuration (conf/config.json)"
cat > "$work/bus.conf" <<EOF
<busconfig><type>system</type><listen>unix:path=$work/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy>
</busconfig>
EOF
dbus-daemon --nofork --config-file="$work/bus.conf" 2> "$work/bus.log" & bus=$!
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus"
while [ ! -S "$work/bus" ]; do sleep 0.05; done
mkdir -p /run/virtual-media
build/vmedia-supervisor --config conf/config.json 2> "$work/service.log" & svc=$!
i=0
until busctl --system list --no-legend 2>/dev/null | grep -q "^$BUS "; do
	i=$((i + 1))
	[ $i -lt 300 ] || { echo "the service did not start:" >&2; cat "$work/service.log" >&2; exit 1; }
	sleep 0.05
done
sleep 0.5 # the workers report ready
busctl --system tree $BUS
busctl --system introspect $BUS $OBJ | sed -n '/^xyz/,$p'

step "The web server's part: nbdkit serves a bootable ISO on Slot_0's socket"
test/demo/make-iso "$work/demo.iso"
ls -l "$work/demo.iso"
nbdkit --foreground --readonly --unix /run/virtual-media/nbd0.sock file "$work/demo.iso" & web=$!
while [ ! -S /run/virtual-media/nbd0.sock ]; do sleep 0.05; done

dbus-monitor --system "type='signal',sender='$BUS',interface='$IF',member='Completion'" \
	> "$work/monitor.log" 2>&1 & monitor=$!
sleep 0.3

step "busctl call ... Proxy Mount"
busctl --system call $BUS $OBJ $IF Mount
echo "Completion: $(wait_completion 1)"
busctl --system get-property $BUS $OBJ xyz.openbmc_project.VirtualMedia.Process Active
busctl --system get-property $BUS $OBJ xyz.openbmc_project.VirtualMedia.MountPoint MediaType

step "The server host sees a new USB CD-ROM"
i=0
until dev=$(grep -l 'VM Slot_0' /sys/block/sr*/device/model 2>/dev/null | head -1) && [ -n "$dev" ] &&
	[ "$(cat "${dev%/device/model}/size")" != 0 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || { echo "no CD-ROM appeared" >&2; exit 1; }
	sleep 0.1
done
blk=/dev/$(basename "${dev%/device/model}")
echo "$blk: $(cat "${dev%/model}/vendor") $(cat "$dev")"
echo "sha256 of the image: $(sha256sum < "$work/demo.iso" | cut -d' ' -f1)"
echo "sha256 of $blk:     $(head -c "$(stat -c %s "$work/demo.iso")" "$blk" | sha256sum | cut -d' ' -f1)"
mkdir -p "$work/mnt"
mount -t iso9660 -o ro "$blk" "$work/mnt"
ls -l "$work/mnt"
echo "--- README.TXT, read on the host:"
cat "$work/mnt/README.TXT"
umount "$work/mnt"

step "busctl call ... Proxy Unmount"
busctl --system call $BUS $OBJ $IF Unmount
echo "Completion: $(wait_completion 2)"
busctl --system get-property $BUS $OBJ xyz.openbmc_project.VirtualMedia.Process Active
if [ -n "$(cat /sys/block/"$(basename "$blk")"/size 2>/dev/null | grep -v '^0$')" ]; then
	echo "the host still sees $blk" >&2; exit 1
fi
echo "the host's CD-ROM is gone; gadgets left: $(ls /sys/kernel/config/usb_gadget | wc -l);" \
	"/dev/nbd0 size: $(cat /sys/block/nbd0/size)"

step "The service's log"
cat "$work/service.log"
echo
echo "demo: OK"
