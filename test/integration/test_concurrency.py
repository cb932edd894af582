# SPDX-License-Identifier: Apache-2.0
"""Issue 7: many D-Bus clients, each on its own connection and thread, call
Mount/Unmount/Get on the same slots at once.  Exactly one Mount wins and the
others get Busy or NotPermitted; the winner's image is the one mounted; the
state never wedges: afterwards each slot mounts and unmounts normally."""
import os
import random
import shutil
import threading
import time

import pytest

from gi.repository import GLib

import servers
import vmtest
from test_cycles import Client
from vmtest import DBusError, Nbdkit, sha256_file

# racing clients exercise the error paths: under ASan/UBSan
pytestmark = pytest.mark.asan

CLIENTS = 12
REFUSALS = ("System.Error.EBUSY",
            "System.Error.EPERM")


def at_once(bus, slot, n, action):
    """n threads, each with its own connection, run action(client, i) together;
    returns [(i, result or DBusError name)]."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        c = Client(bus, slot)
        try:
            barrier.wait(30)
            try:
                results[i] = action(c, i)
            except DBusError as e:
                results[i] = e.name
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a client hangs"
    return results


def one_winner(results):
    winners = [i for i, r in enumerate(results) if r is True]
    others = [r for r in results if r is not True]
    assert len(winners) == 1, results
    assert all(r in REFUSALS for r in others), results
    return winners[0]


def test_one_mount_wins_proxy(service_factory, bus, iso):
    svc = service_factory({"Slot_0": (0, 0)})
    slot = svc.slots["Slot_0"]
    server = Nbdkit(slot.socket, iso)
    try:
        for round_ in range(3):
            one_winner(at_once(bus, slot, CLIENTS, lambda c, i: c.call("Mount")))
            assert slot.wait_completion(60) == 0
            # while Active every further Mount is NotPermitted, Get answers
            gets = at_once(bus, slot, CLIENTS, lambda c, i: c.call("Mount") if i % 2 else
                           c.conn.call_sync(vmtest.BUS_NAME, slot.path,
                                            "org.freedesktop.DBus.Properties", "Get",
                                            GLib.Variant("(ss)", (vmtest.IFACE + "Process", "Active")),
                                            None, 0, 10000, None).unpack()[0])
            assert all(r is True if i % 2 == 0 else r == REFUSALS[1] for i, r in enumerate(gets)), gets
            one_winner(at_once(bus, slot, CLIENTS, lambda c, i: c.call("Unmount")))
            assert slot.wait_completion(60) == 0
            slot.assert_clean()
        dev_ok(slot, iso)
    finally:
        server.stop()


def test_one_legacy_mount_wins_and_its_url_is_mounted(service_factory, bus, ca, srv_dir):
    """Each client asks for another URL; the one that won is the one the slot shows."""
    images = os.path.join(srv_dir, "images")
    os.makedirs(images, exist_ok=True)
    vmtest.make_iso(os.path.join(images, "c0.iso"), 1, "CONC")
    for i in range(1, CLIENTS):
        shutil.copy(os.path.join(images, "c0.iso"), os.path.join(images, f"c{i}.iso"))
    with servers.Nginx(srv_dir, ca, images, port=8743, http_port=8780, name="nginx-conc") as nginx:
        svc = service_factory({"Slot_2": (1, 2, {"Timeout": 90})}, extra={"CAFile": ca.ca_file})
        slot = svc.slots["Slot_2"]
        urls = [nginx.url(f"open/c{i}.iso", host="images.test") for i in range(CLIENTS)]
        results = at_once(bus, slot, CLIENTS,
                          lambda c, i: c.call("Mount", GLib.Variant("(s)", (urls[i],))))
        winner = one_winner(results)
        assert slot.wait_completion(120) == 0, svc.log_text()
        assert slot.get("MountPoint", "ImageURL") == urls[winner]
        one_winner(at_once(bus, slot, CLIENTS, lambda c, i: c.call("Unmount")))
        assert slot.wait_completion(60) == 0
        slot.assert_clean()


def test_a_storm_of_mixed_calls_never_wedges(service_factory, bus, iso, iso_b):
    """Clients call Mount, Unmount and Get at random on two slots for a while;
    every answer is True, Busy or NotPermitted (or a property value), and the
    slots end up serving normally."""
    svc = service_factory({"Slot_0": (0, 0), "Slot_1": (0, 1)})
    slots = [svc.slots["Slot_0"], svc.slots["Slot_1"]]
    servers = [Nbdkit(slots[0].socket, iso), Nbdkit(slots[1].socket, iso_b)]
    answers = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + 40

    def storm(slot, seed):
        rnd = random.Random(seed)
        c = Client(bus, slot)
        try:
            while time.monotonic() < stop_at:
                what = rnd.choice(("Mount", "Unmount", "Get"))
                try:
                    if what == "Get":
                        v = c.conn.call_sync(vmtest.BUS_NAME, slot.path,
                                             "org.freedesktop.DBus.Properties", "GetAll",
                                             GLib.Variant("(s)", (vmtest.IFACE + "Process",)),
                                             None, 0, 10000, None).unpack()[0]
                        r = "props" if set(v) == {"Active", "ExitCode"} else repr(v)
                    else:
                        r = c.call(what)
                except DBusError as e:
                    r = e.name
                with lock:
                    answers[(what, r)] = answers.get((what, r), 0) + 1
                time.sleep(rnd.uniform(0, 0.3))
        finally:
            c.close()

    try:
        threads = [threading.Thread(target=storm, args=(slots[i % 2], i), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a client hangs"
        print(answers)
        allowed = {True, "props", *REFUSALS}
        assert all(r in allowed for _, r in answers), answers
        assert answers.get(("Mount", True)), "no Mount ever started"
        # settle: whatever is under way finishes; a mounted slot is unmounted
        for s in slots:
            vmtest.wait_for(f"{s.name} to settle as Ready", lambda: ready_after_unmount(s), 120, 0.5)
            s.assert_clean()
        assert svc.proc.poll() is None
        s0 = slots[0]
        s0.forget_completions()
        dev_ok(s0, iso)
    finally:
        for s in servers:
            s.stop()


def ready_after_unmount(slot):
    """Unmount until the slot says NotPermitted (Ready): an accepted Unmount
    unmounts an Active slot, Busy means an operation is under way."""
    try:
        slot.call(slot.mode, "Unmount")
        return False
    except DBusError as e:
        assert e.name in REFUSALS, e.name
        return e.name == "System.Error.EPERM"


def dev_ok(slot, image):
    slot.forget_completions()
    assert slot.mount() is True and slot.wait_completion(60) == 0
    dev = slot.wait_host_device()
    assert sha256_file(dev, os.path.getsize(image)) == sha256_file(image)
    assert slot.unmount() is True and slot.wait_completion(60) == 0
    slot.assert_clean()
