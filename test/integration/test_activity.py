# SPDX-License-Identifier: Apache-2.0
"""Issue 6 (part), issue 13: I/O statistics from /sys/block/nbdN/stat and the
inactivity timeout, on the mainline kernel of the virtual BMC.  ReadIO/WriteIO
are read from /sys when they are read over D-Bus; their changes are announced
at the look interval, and at the first quiet look after the host's I/O."""
import os
import subprocess
import time

import vmtest
from vmtest import Nbdkit


def read_blocks(dev, count, skip=0):
    """count 4 KiB blocks read by the host, past its page cache."""
    subprocess.run(["dd", f"if={dev}", "of=/dev/null", "bs=4096", f"count={count}", f"skip={skip}",
                    "iflag=direct"], check=True, capture_output=True)


def test_read_io_counts_host_reads(service_factory, workdir):
    svc = service_factory({"Slot_0": (0, 0)}, inactivity=0)
    slot = svc.slots["Slot_0"]
    disk = os.path.join(workdir, "stats.img")
    if not os.path.exists(disk):
        vmtest.make_disk(disk, 16)
    server = Nbdkit(slot.socket, disk)
    try:
        assert slot.mount() is True and slot.wait_completion() == 0
        dev = slot.wait_host_device()
        time.sleep(2)  # the host's own probing reads settle
        slot.pump()
        before = slot.get("Stats", "ReadIO")
        # 24 reads of 4 KiB, 512 KiB apart in the middle of the image: the BMC's page
        # cache (the gadget reads /dev/nbdN through it) can neither merge nor prefetch them
        n = 24
        for i in range(n):
            read_blocks(dev, 1, skip=(2 << 20) // 4096 + i * 128)
        after = slot.get("Stats", "ReadIO")  # current when read: no wait
        # each read is at least one NBD read; readahead may split one into a few
        assert before + n <= after <= before + 4 * n, (before, after)
        # announced once the host has gone quiet: a look finds the change (dense
        # looks, 1 s apart, after I/O), the next one finds no more
        vmtest.wait_for("PropertiesChanged for ReadIO",
                        lambda: any(v >= after for v in slot.changed("ReadIO")), 10, 0.1)
        assert slot.get("Stats", "ReadIO") == after
        assert slot.get("Stats", "WriteIO") == 0
        assert slot.get("MountPoint", "RemainingInactivityTimeout") == 0  # disabled here
        assert slot.unmount() is True and slot.wait_completion() == 0
        assert slot.get("Stats", "ReadIO") == 0
    finally:
        server.stop()


def test_idle_slot_is_unmounted_busy_slot_stays(service_factory, iso, workdir):
    svc = service_factory({"Slot_0": (0, 0), "Slot_1": (0, 1)}, inactivity=5)
    idle, busy = svc.slots["Slot_0"], svc.slots["Slot_1"]
    big = os.path.join(workdir, "busy.img")
    if not os.path.exists(big):
        vmtest.make_disk(big, 16)
    servers = [Nbdkit(idle.socket, iso), Nbdkit(busy.socket, big)]
    try:
        assert idle.mount() is True and busy.mount() is True
        assert idle.wait_completion() == 0 and busy.wait_completion() == 0
        t_mounted = time.monotonic()
        dev = busy.wait_host_device()
        assert 0 < idle.get("MountPoint", "RemainingInactivityTimeout") <= 5
        # keep one slot busy with host reads past the timeout
        deadline = t_mounted + 9
        block = 0
        t_gone = None
        while time.monotonic() < deadline:
            # always new data, 256 KiB apart: a read the BMC's page cache serves
            # never reaches the NBD device, and does not count as activity
            read_blocks(dev, 1, skip=block * 64)
            block += 1
            time.sleep(0.5)
            idle.pump()
            if idle.completions and t_gone is None:
                t_gone = time.monotonic() - t_mounted
        # the idle one went (its host device took ~1-2 s to appear, during which the
        # host's probing counts as I/O: allow for it), with Completion and PropertiesChanged
        result = idle.wait_completion(10)
        if t_gone is None:
            t_gone = time.monotonic() - t_mounted
        print(f"the idle slot went {t_gone:.1f} s after its Mount completed")
        assert result == 0
        assert idle.get("Process", "Active") is False and False in idle.changed("Active")
        # 5 s after the host's last I/O: its probing of the new device is I/O too
        assert 4.5 <= t_gone <= 9, t_gone
        idle.assert_clean()
        countdown = idle.changed("RemainingInactivityTimeout")
        assert countdown and countdown[-1] == 0, countdown
        assert "did no I/O for 5 s" in svc.log_text()
        # the busy one is still there
        assert busy.get("Process", "Active") is True
        assert busy.get("Stats", "ReadIO") > 0
        assert busy.unmount() is True and busy.wait_completion() == 0
    finally:
        for s in servers:
            s.stop()


def test_countdown_is_a_deadline(service_factory, iso):
    """RemainingInactivityTimeout counts down when read, with no
    PropertiesChanged while the host is idle (issue 13)."""
    svc = service_factory({"Slot_0": (0, 0)}, inactivity=600)
    slot = svc.slots["Slot_0"]
    server = Nbdkit(slot.socket, iso)
    try:
        assert slot.mount() is True and slot.wait_completion() == 0
        slot.wait_host_device()
        time.sleep(4)  # the host's probing of the new device settles
        announced = len(slot.changed("RemainingInactivityTimeout"))
        assert announced >= 1  # the countdown's start
        first = slot.get("MountPoint", "RemainingInactivityTimeout")
        time.sleep(3)
        second = slot.get("MountPoint", "RemainingInactivityTimeout")
        assert 590 <= first <= 600 and first - 4 <= second <= first - 2, (first, second)
        assert len(slot.changed("RemainingInactivityTimeout")) == announced, \
            slot.changed("RemainingInactivityTimeout")
        assert slot.unmount() is True and slot.wait_completion() == 0
        assert slot.get("MountPoint", "RemainingInactivityTimeout") == 0
        assert slot.changed("RemainingInactivityTimeout")[-1] == 0  # the countdown ended
    finally:
        server.stop()
