# SPDX-License-Identifier: Apache-2.0
"""A process of the service that is stuck for good (SIGSTOP stands in for a
worker waiting on a kernel that never answers, such as a dead share's
unmount) must not keep the service from stopping, nor a new instance's
worker from stopping while it waits for the stuck one's slot."""
import os
import signal
import subprocess
import time

import faultlib
import vmtest


def start(bus, workdir, name):
    cfg = vmtest.write_config(os.path.join(workdir, f"config-{name}.json"), {"Slot_0": (0, 0)})
    return vmtest.Service(bus, cfg, os.path.join(workdir, f"service-{name}.log"))


def mounted_worker(svc, workdir):
    """Mount Slot_0 (a worker runs only while its slot is used): its worker's
    pid and the NBD server, to be stopped by the caller."""
    slot = svc.slots["Slot_0"]
    disk = os.path.join(workdir, "stuck.img")
    if not os.path.exists(disk):
        vmtest.make_disk(disk, 4)
    server = vmtest.Nbdkit(slot.socket, disk)
    assert slot.mount() is True and slot.wait_completion() == 0
    return faultlib.worker_pid(slot), server


def test_a_stuck_worker_is_killed_when_the_service_stops(bus, workdir):
    svc = start(bus, workdir, "stuck-stop")
    worker, server = mounted_worker(svc, workdir)
    os.kill(worker, signal.SIGSTOP)
    t0 = time.monotonic()
    rc = svc.stop(timeout=60)
    elapsed = time.monotonic() - t0
    log = svc.log_text()
    print(f"stopped in {elapsed:.1f} s with status {rc}")
    assert rc == 1, f"a stop that had to kill a worker is no clean stop:\n{log}"
    assert 24 <= elapsed <= 40, log
    assert "did not clean up within 25 s: killing them" in log, log
    assert faultlib.proc_state(worker) == "gone"
    # what the killed worker left (the gadget, the attached device) is the next
    # instance's to clean: it starts with a worker that does just that
    server.stop()
    svc = start(bus, workdir, "stuck-after")
    slot = svc.slots["Slot_0"]

    def clean():
        try:
            slot.assert_clean()
            return True
        except AssertionError:
            return False
    vmtest.wait_for("the killed worker's leftovers to be cleaned", clean, 30)
    assert svc.stop() == 0


def test_a_worker_waiting_for_a_stuck_predecessor_stops(bus, workdir):
    old = start(bus, workdir, "stuck-old")
    stuck, server = mounted_worker(old, workdir)
    os.kill(stuck, signal.SIGSTOP)  # it holds the slot's lock
    os.kill(old.proc.pid, signal.SIGKILL)
    old.proc.wait(10)
    log_path = os.path.join(workdir, "service-stuck-new.log")
    with open(log_path, "wb") as log:
        new = subprocess.Popen([os.path.join(vmtest.BUILD, "vmedia-supervisor"), "--config",
                                old.config], stdout=log, stderr=subprocess.STDOUT)
    try:
        def text():
            with open(log_path, "rb") as f:
                return f.read().decode(errors="replace")
        vmtest.wait_for("the new worker to wait for the stuck one",
                        lambda: "waiting for the previous worker of the slot" in text(), 30)
        t0 = time.monotonic()
        new.send_signal(signal.SIGTERM)
        rc = new.wait(20)
        print(f"the new instance stopped in {time.monotonic() - t0:.1f} s")
        assert rc == 0, text()
        assert "cannot lock the slot: Connection reset by peer" in text(), text()
    finally:
        if new.poll() is None:
            new.kill()
            new.wait()
        os.kill(stuck, signal.SIGCONT)
    # let go, the stuck worker finds its supervisor gone and cleans up
    vmtest.wait_for("the old worker to exit", lambda: faultlib.proc_state(stuck) in ("gone", "Z"), 30)
    old.log.close()
    server.stop()
