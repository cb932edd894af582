# SPDX-License-Identifier: Apache-2.0
"""Issue 6 (part), issue 13: with no slot active the service sleeps.  Slots
configured, nothing mounted: the supervisor is the service's only process (a
worker and its gadget-helper run only while their slot is used) and does not
run at all over a window (no timers, no polling), counted from every thread's
context switches in /proc (wakeups.py)."""
import os

import vmtest
from vmtest import Nbdkit
from wakeups import service_processes, wakeup_threads

WINDOW_S = 15
SETTLE_S = 2  # the answers to the test's own calls are delivered


def assert_asleep(svc, seconds=WINDOW_S):
    procs = service_processes(svc.proc.pid)
    # the supervisor alone: no worker, no gadget-helper for an idle slot
    assert list(procs.values()) == ["vmedia-supervis"], procs
    ran = wakeup_threads(procs, seconds)
    assert ran == {}, "woke up in %d s: %s" % (seconds, ", ".join(
        f"{procs[p]}[{p}] thread {tid} '{name}': {n}" for (p, tid, name), n in sorted(ran.items())))
    return procs


def test_no_wakeups_with_no_slot_active(service_factory):
    svc = service_factory({"Slot_0": (0, 0), "Slot_1": (0, 1), "Slot_2": (1, 2), "Slot_3": (1, 3)})
    vmtest.Slot.pump(svc.slots["Slot_0"], SETTLE_S)
    procs = assert_asleep(svc)
    print(f"{len(procs)} processes, 0 wake-ups in {WINDOW_S} s")


def test_no_wakeups_after_a_mount_is_undone(service_factory, iso):
    """A mount starts a worker and its gadget-helper, timers (the look at the
    host's I/O, the inactivity deadline) and threads (the media detection):
    all of them are gone after Unmount."""
    svc = service_factory({"Slot_0": (0, 0), "Slot_1": (0, 1)}, inactivity=600)
    slot = svc.slots["Slot_0"]
    server = Nbdkit(slot.socket, iso)
    try:
        assert slot.mount() is True and slot.wait_completion() == 0
        slot.wait_host_device()
        assert slot.unmount() is True and slot.wait_completion() == 0
    finally:
        server.stop()
    slot.pump(SETTLE_S)
    vmtest.wait_for("the slot's worker to exit", lambda: not svc.workers(), 10)
    assert_asleep(svc)
