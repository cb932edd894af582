# SPDX-License-Identifier: Apache-2.0
"""Issue 3: the service end to end in Proxy mode, through the real chain:
the web server's part (bmcweb_standin.py: bmcweb + jsnbd with bmcweb's message
limit, or nbdkit where any NBD server will do) -> nbd-client -> /dev/nbdN -> USB gadget ->
dummy_hcd -> the host's usb-storage -> /dev/srN or /dev/sdX."""
import errno
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import vmtest
from bmcweb_standin import BmcwebJsnbd
from vmtest import DBusError, Nbdkit, SilentServer, sha256_file, wait_for


def mount_ok(slot):
    assert slot.mount() is True
    result = slot.wait_completion()
    assert result == 0, f"Completion {vmtest.errno_name(result)}\n{slot.service.log_text()}"


def unmount_ok(slot):
    assert slot.unmount() is True
    result = slot.wait_completion()
    assert result == 0, f"Completion {vmtest.errno_name(result)}\n{slot.service.log_text()}"
    slot.assert_clean()


def test_objects_and_introspection_match_the_xml(service):
    objects = service.managed_objects()
    assert sorted(objects) == sorted(s.path for s in service.slots.values())
    for s in service.slots.values():
        props = objects[s.path]
        mp = props[vmtest.IFACE + "MountPoint"]
        assert mp["EndpointId"] == (f"/nbd/{s.device[-1]}" if s.mode == "Proxy" else "")
        assert mp["Device"] == s.device and mp["Socket"] == s.socket
        assert mp["Mode"] == (0 if s.mode == "Proxy" else 1)
        assert mp["Timeout"] == 30 and mp["BlockSize"] == 512
        assert props[vmtest.IFACE + "Process"] == {"Active": False, "ExitCode": -1}
        assert props[vmtest.IFACE + "Stats"] == {"ReadIO": 0, "WriteIO": 0}

    # what the service introspects is what the XML in the repo says
    xml_path = os.path.join(vmtest.REPO, "supervisor/xyz.openbmc_project.VirtualMedia.xml")
    want = {i.get("name"): i for i in ET.parse(xml_path).getroot().iter("interface")}
    for s in service.slots.values():
        reply = s.conn.call_sync(vmtest.BUS_NAME, s.path, "org.freedesktop.DBus.Introspectable",
                                 "Introspect", None, None, 0, 5000, None)
        got = {i.get("name"): i for i in ET.fromstring(reply.unpack()[0]).iter("interface")
               if i.get("name").startswith(vmtest.IFACE)}
        expected = {"Process", "MountPoint", "Stats", s.mode}
        assert sorted(got) == sorted(vmtest.IFACE + e for e in expected)
        for name, iface in got.items():
            def members(node):
                return sorted((m.tag, m.get("name"), m.get("type"), m.get("access"),
                               tuple((a.get("type"), a.get("direction")) for a in m.iter("arg")))
                              for m in node)
            assert members(iface) == members(want[name]), name


def test_proxy_mount_iso_as_cdrom_and_unmount(service, iso):
    slot = service.slots["Slot_0"]
    server = BmcwebJsnbd(slot.socket, iso)
    try:
        t0 = time.monotonic()
        mount_ok(slot)
        t_completion = time.monotonic() - t0
        assert slot.get("Process", "Active") is True
        assert slot.get("MountPoint", "WriteProtected") is True
        assert slot.get("MountPoint", "MediaType") == "CD"
        assert True in slot.changed("Active"), "no PropertiesChanged for Active"
        assert "CD" in slot.changed("MediaType")

        dev = slot.wait_host_device()
        t_readable = time.monotonic() - t0
        assert os.path.basename(dev).startswith("sr"), f"an ISO must be a CD-ROM, got {dev}"
        assert sha256_file(dev, os.path.getsize(iso)) == sha256_file(iso)
        assert os.path.isdir(slot.gadget_dir())
        with open(os.path.join(slot.gadget_dir(), "functions/mass_storage.usb0/lun.0/cdrom")) as f:
            assert f.read().strip() == "1"
        print(f"Mount -> Completion {t_completion * 1000:.0f} ms, -> readable {t_readable:.2f} s")
        assert server.closed is None, server.closed

        unmount_ok(slot)
        assert slot.get("Process", "Active") is False
        assert slot.get("Process", "ExitCode") == 0
        assert False in slot.changed("Active")
        assert slot.get("MountPoint", "MediaType") == ""
    finally:
        server.stop()


def test_proxy_disk_image_is_a_usb_stick(service, disk):
    slot = service.slots["Slot_1"]
    server = BmcwebJsnbd(slot.socket, disk)
    try:
        mount_ok(slot)
        assert slot.get("MountPoint", "MediaType") == "USBStick"
        dev = slot.wait_host_device()
        assert os.path.basename(dev).startswith("sd"), dev
        assert sha256_file(dev, os.path.getsize(disk)) == sha256_file(disk)
        assert server.closed is None, server.closed
        unmount_ok(slot)
    finally:
        server.stop()


def test_two_proxy_slots_at_once(service, iso, iso_b):
    a, b = service.slots["Slot_0"], service.slots["Slot_1"]
    servers = [BmcwebJsnbd(a.socket, iso), BmcwebJsnbd(b.socket, iso_b)]
    try:
        assert a.mount() is True and b.mount() is True
        assert a.wait_completion() == 0
        assert b.wait_completion() == 0
        da, db = a.wait_host_device(), b.wait_host_device()
        assert da != db
        assert sha256_file(da, os.path.getsize(iso)) == sha256_file(iso)
        assert sha256_file(db, os.path.getsize(iso_b)) == sha256_file(iso_b)
        unmount_ok(a)
        # b is untouched by a's unmount
        assert sha256_file(db, os.path.getsize(iso_b)) == sha256_file(iso_b)
        unmount_ok(b)
    finally:
        for s in servers:
            s.stop()


def test_wrong_state_calls_are_refused(service, iso):
    slot = service.slots["Slot_0"]
    with pytest.raises(DBusError) as e:
        slot.unmount()
    assert e.value.name == "System.Error.EPERM"

    # Activating: a web server that accepts and never answers keeps the slot there
    stuck = SilentServer(slot.socket)
    try:
        assert slot.mount() is True
        for call in (slot.mount, slot.unmount):
            with pytest.raises(DBusError) as e:
                call()
            assert e.value.name == "System.Error.EBUSY"
    finally:
        stuck.stop()  # nbd-client gives up: the mount fails, the slot is clean
    result = slot.wait_completion()
    assert result != 0
    assert slot.get("Process", "Active") is False
    slot.assert_clean()

    server = Nbdkit(slot.socket, iso)
    try:
        mount_ok(slot)
        with pytest.raises(DBusError) as e:
            slot.mount()
        assert e.value.name == "System.Error.EPERM"
        unmount_ok(slot)
    finally:
        server.stop()


def test_nobody_listening(service, iso):
    slot = service.slots["Slot_0"]
    # no socket at all
    if os.path.exists(slot.socket):
        os.unlink(slot.socket)
    assert slot.mount() is True
    assert slot.wait_completion() == errno.ENOENT
    slot.assert_clean()
    assert slot.get("Process", "Active") is False
    assert slot.get("Process", "ExitCode") != 0

    # a socket file nobody listens on (the web server has gone)
    dead = SilentServer(slot.socket)
    dead.sock.close()
    try:
        assert slot.mount() is True
        assert slot.wait_completion() == errno.ECONNREFUSED
        slot.assert_clean()
    finally:
        dead.stop()

    # the slot is usable again
    server = Nbdkit(slot.socket, iso)
    try:
        mount_ok(slot)
        unmount_ok(slot)
    finally:
        server.stop()
    assert "nbd-client could not connect" in service.log_text()


def test_watchdog_ends_a_stuck_mount(service_factory):
    svc = service_factory({"Slot_0": (0, 0, {"Timeout": 1})})
    slot = svc.slots["Slot_0"]
    stuck = SilentServer(slot.socket)
    try:
        t0 = time.monotonic()
        assert slot.mount() is True
        result = slot.wait_completion(30)
        elapsed = time.monotonic() - t0
        assert result == errno.ETIMEDOUT, vmtest.errno_name(result)
        assert 5.5 < elapsed < 12, elapsed  # Timeout + 5 s, and the cleanup
        slot.assert_clean()
        assert slot.get("Process", "Active") is False
    finally:
        stuck.stop()


def test_invalid_config_is_refused_naming_the_key(workdir):
    cfg = vmtest.write_config(os.path.join(workdir, "bad.json"),
                              {"Slot_0": (0, 0, {"BlockSize": 513})})
    r = subprocess.run([os.path.join(vmtest.BUILD, "vmedia-supervisor"), "--config", cfg],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert f"{cfg}: MountPoints.Slot_0.BlockSize" in r.stderr, r.stderr

    cfg = vmtest.write_config(os.path.join(workdir, "dup.json"),
                              {"Slot_0": (0, 0), "Slot_1": (0, 1, {"NBDDevice": "/dev/nbd0"})})
    r = subprocess.run([os.path.join(vmtest.BUILD, "vmedia-supervisor"), "--config", cfg],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "MountPoints.Slot_1.NBDDevice" in r.stderr and "Slot_0" in r.stderr, r.stderr


def test_stopping_the_service_cleans_mounted_slots(service_factory, iso):
    svc = service_factory({"Slot_0": (0, 0)})
    slot = svc.slots["Slot_0"]
    server = Nbdkit(slot.socket, iso)
    try:
        mount_ok(slot)
        slot.wait_host_device()
        assert svc.stop() == 0
        slot.assert_clean()
    finally:
        server.stop()


def test_media_policy_forces_the_presentation(service_factory, iso, disk):
    """Media: "disk" shows an ISO as a USB stick, "cdrom" a raw image as a CD-ROM."""
    svc = service_factory({"Slot_0": (0, 0, {"Media": "disk"}), "Slot_1": (0, 1, {"Media": "cdrom"})})
    as_disk, as_cd = svc.slots["Slot_0"], svc.slots["Slot_1"]
    servers = [Nbdkit(as_disk.socket, iso), Nbdkit(as_cd.socket, disk)]
    try:
        mount_ok(as_disk)
        mount_ok(as_cd)
        assert as_disk.get("MountPoint", "MediaType") == "USBStick"
        assert as_cd.get("MountPoint", "MediaType") == "CD"
        d1, d2 = as_disk.wait_host_device(), as_cd.wait_host_device()
        assert os.path.basename(d1).startswith("sd") and os.path.basename(d2).startswith("sr")
        assert sha256_file(d1, os.path.getsize(iso)) == sha256_file(iso)
        assert sha256_file(d2, os.path.getsize(disk)) == sha256_file(disk)
        unmount_ok(as_disk)
        unmount_ok(as_cd)
    finally:
        for s in servers:
            s.stop()


def test_a_device_held_open_elsewhere_is_released_before_the_slot_is_ready(service, iso):
    """Another BMC process (a blkid, a dd) that has the NBD device open when
    the slot is unmounted keeps the device's size: the kernel clears it only
    at the last close.  The worker says so, keeps disconnecting, and answers
    the Unmount once the device is free -- not before, not never."""
    slot = service.slots["Slot_0"]
    server = Nbdkit(slot.socket, iso)
    try:
        mount_ok(slot)
        holder = os.open(slot.device, os.O_RDONLY)
        try:
            assert slot.unmount() is True
            wait_for("the worker to say the device is held",
                     lambda: "is still attached" in service.log_text(), 30)
            slot.pump()
            assert not slot.completions, "Completion while the device was still attached"
            assert slot.nbd_size() > 0
        finally:
            os.close(holder)
        result = slot.wait_completion(30)
        assert result == 0, f"Completion {vmtest.errno_name(result)}\n{service.log_text()}"
        slot.assert_clean()
        assert slot.get("Process", "Active") is False
    finally:
        server.stop()
