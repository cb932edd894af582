# SPDX-License-Identifier: Apache-2.0
"""Issue 12: the service as a drop-in for the reference C++ service, under an
unchanged bmcweb and with the machine's unchanged /etc/virtual-media.json.

Proxy slots are served through a stand-in of bmcweb + the browser's jsnbd that
enforces bmcweb's message limit (bmcweb_standin.py); errors are read by a real
sd-bus client, as bmcweb reads them (sdbus-errno.c)."""
import errno
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest
from gi.repository import Gio, GLib

import servers
import vmtest
from bmcweb_standin import MAX_MESSAGE, BmcwebJsnbd
from vmtest import SilentServer, sha256_file

SUPERVISOR = os.path.join(vmtest.BUILD, "vmedia-supervisor")
HOST = "images.test"

# The reference's shipped /etc/virtual-media.json, key for key.
REFERENCE = {
    "InactivityTimeout": 1800,
    "RetryCount": 3,
    "RetryInterval": 15,
    "MountPoints": {
        f"Slot_{n}": {
            "EndpointId": f"/nbd/{n}" if n < 2 else "",
            "Mode": 0 if n < 2 else 1,
            "NBDDevice": f"nbd{n}",
            "UnixSocket": f"/run/virtual-media/nbd{n}.sock",
            "Timeout": 30 if n < 2 else 90,
            "BlockSize": 512,
        } for n in range(4)
    },
}


def write_json(path, cfg):
    os.makedirs("/run/virtual-media", exist_ok=True)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path


@pytest.fixture
def start_service(bus, workdir, request):
    """The service on a config file given as it is (not vmtest.write_config's)."""
    started = []

    def start(config):
        log = os.path.join(workdir, f"service-{request.node.name}-{len(started)}.log")
        svc = vmtest.Service(bus, config, log)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        rc = svc.stop()
        if getattr(request.node, "rep_call_failed", False):
            print(svc.log_text())
        assert rc == 0, svc.log_text()
        for slot in svc.slots.values():
            slot.assert_clean()


def queue_kb(slot, name):
    with open(f"/sys/block/{os.path.basename(slot.device)}/queue/{name}") as f:
        return int(f.read())


def mount_ok(slot):
    assert slot.mount() is True
    result = slot.wait_completion(60)
    assert result == 0, f"Completion {vmtest.errno_name(result)}\n{slot.service.log_text()}"


def unmount_ok(slot):
    assert slot.unmount() is True
    assert slot.wait_completion(60) == 0
    slot.assert_clean()


# --- the stand-in itself ------------------------------------------------------------------

def nbd_client_handshake(path):
    """The client side of what nbd-client does, just enough to read."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    hello = s.recv(18, socket.MSG_WAITALL)
    assert hello[:8] == b"NBDMAGIC" and struct.unpack(">H", hello[16:])[0] == 3
    s.sendall(struct.pack(">I", 2))  # NO_ZEROES
    s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 0))  # NBD_OPT_GO: unsupported
    rep = s.recv(20, socket.MSG_WAITALL)
    assert struct.unpack(">QIII", rep)[2] == (1 << 31) | 1
    s.sendall(struct.pack(">QII", 0x49484156454F5054, 1, 6) + b"Slot_0")
    size, flags = struct.unpack(">QH", s.recv(10, socket.MSG_WAITALL))
    return s, size, flags


def test_standin_closes_the_session_on_a_reply_over_bmcwebs_limit(workdir, disk):
    """The stand-in is only worth something if it fails as bmcweb does: a read
    of 128 KiB passes (one message of 131 088 bytes), the next, of 128 KiB +
    512, ends the session and calls Unmount."""
    sock = os.path.join(workdir, "standin.sock")
    unmounts = []
    server = BmcwebJsnbd(sock, disk, on_close=lambda: unmounts.append(True))
    try:
        s, size, flags = nbd_client_handshake(sock)
        assert size == os.path.getsize(disk) and flags == 3  # HAS_FLAGS | READ_ONLY
        s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 0, 1, 0, 128 * 1024))
        reply = s.recv(MAX_MESSAGE, socket.MSG_WAITALL)
        assert len(reply) == MAX_MESSAGE and struct.unpack(">IIQ", reply[:16]) == (0x67446698, 0, 1)
        with open(disk, "rb") as f:
            assert reply[16:] == f.read(128 * 1024)
        s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 0, 2, 0, 128 * 1024 + 512))
        assert s.recv(16) == b"", "the session must end"
        assert server.finished.wait(10)
        assert "message too big (131600 bytes" in server.closed
        assert unmounts == [True] and not os.path.exists(sock)
        assert server.export_names() == ["Slot_0"]
    finally:
        server.stop()


# --- Proxy: requests within bmcweb's limit ------------------------------------------------

def test_proxy_reads_64_mib_through_bmcwebs_limit(service_factory, workdir):
    svc = service_factory({"Slot_0": (0, 0), "Slot_2": (1, 2)})
    slot = svc.slots["Slot_0"]
    image = vmtest.make_disk(os.path.join(workdir, "big64.img"), 64)
    unmounts = []
    server = BmcwebJsnbd(slot.socket, image, on_close=lambda: unmounts.append(True))
    try:
        t0 = time.monotonic()
        mount_ok(slot)
        dev = slot.wait_host_device()
        try:
            same = sha256_file(dev, os.path.getsize(image)) == sha256_file(image)
        except OSError as e:  # the media went away under the reader
            same = e
        elapsed = time.monotonic() - t0
        assert server.closed is None, f"bmcweb would have closed the session: {server.closed}"
        assert same is True, same
        assert queue_kb(slot, "max_sectors_kb") == 128
        assert queue_kb(slot, "read_ahead_kb") == 128
        assert not unmounts and slot.get("Process", "Active") is True
        assert 0 < server.largest_request <= 128 * 1024
        print(f"64 MiB through the stand-in: {elapsed:.1f} s, {server.reads} reads, "
              f"largest {server.largest_request // 1024} KiB")
        unmount_ok(slot)
    finally:
        server.stop()
        os.unlink(image)
    # nbd-client asked for an export by name, jsnbd-style servers take it...
    assert server.export_names() == ["Slot_0"]
    # ... and said nothing about the oldstyle protocol
    log = svc.log_text()
    assert "oldstyle" not in log and "default export" not in log, log


def test_nbdkit_takes_the_export_name_quietly(service_factory, iso):
    svc = service_factory({"Slot_0": (0, 0)})
    slot = svc.slots["Slot_0"]
    server = vmtest.Nbdkit(slot.socket, iso)
    try:
        mount_ok(slot)
        dev = slot.wait_host_device()
        assert sha256_file(dev, os.path.getsize(iso)) == sha256_file(iso)
        unmount_ok(slot)
    finally:
        server.stop()
    log = svc.log_text()
    assert "started nbd-client" in log and "oldstyle" not in log and "default export" not in log


# --- the reference's config, as it is ------------------------------------------------------

@pytest.fixture(scope="module")
def https_images(srv_dir):
    d = os.path.join(srv_dir, "images")
    os.makedirs(d, exist_ok=True)
    vmtest.make_disk(os.path.join(d, "disk.img"), 4)
    return d


@pytest.fixture(scope="module")
def system_trusts_ca(ca):
    """The machine's CA store trusts the image server (the reference's config
    has no CAFile): the VM's /etc is its own overlay."""
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    saved = open(bundle, "rb").read() if os.path.exists(bundle) else None
    with open(bundle, "ab") as out, open(ca.ca_file, "rb") as pem:
        out.write(b"\n" + pem.read())
    yield
    if saved is None:
        os.unlink(bundle)
    else:
        with open(bundle, "wb") as f:
            f.write(saved)


@pytest.fixture(scope="module")
def nginx(srv_dir, ca, https_images):
    with servers.Nginx(srv_dir, ca, https_images) as n:
        yield n


def test_reference_config_mounts_proxy_and_legacy(start_service, workdir, iso, nginx,
                                                  https_images, system_trusts_ca):
    cfg = write_json(os.path.join(workdir, "virtual-media.json"), REFERENCE)
    svc = start_service(cfg)
    log = svc.log_text()
    assert f"configuration: {cfg} (4 slots)" in log, log
    assert log.count("RetryCount, RetryInterval") == 1, log
    assert "browser (Proxy) slot" not in log, log

    proxy, legacy = svc.slots["Slot_0"], svc.slots["Slot_2"]
    assert proxy.get("MountPoint", "Device") == "/dev/nbd0"
    assert legacy.get("MountPoint", "Timeout") == 90
    server = BmcwebJsnbd(proxy.socket, iso)
    try:
        mount_ok(proxy)
        disk = os.path.join(https_images, "disk.img")
        url = nginx.url("/open/disk.img", host=HOST)
        # as bmcweb's InsertMedia: Mount(sbh) with a credentials pipe ("\0\0": none)
        r, w = os.pipe()
        os.write(w, b"\0\0")
        os.close(w)
        fds = Gio.UnixFDList.new_from_array([r])
        assert legacy.call("Legacy", "Mount", GLib.Variant("(sbh)", (url, False, 0)),
                           fd_list=fds)[0] is True
        result = legacy.wait_completion(60)
        assert result == 0, f"{vmtest.errno_name(result)}\n{svc.log_text()}"
        d_proxy, d_legacy = proxy.wait_host_device(), legacy.wait_host_device()
        assert sha256_file(d_proxy, os.path.getsize(iso)) == sha256_file(iso)
        assert sha256_file(d_legacy, os.path.getsize(disk)) == sha256_file(disk)
        # the request size follows the mode
        assert queue_kb(proxy, "max_sectors_kb") == 128 and queue_kb(proxy, "read_ahead_kb") == 128
        assert queue_kb(legacy, "max_sectors_kb") == 1024
        assert queue_kb(legacy, "read_ahead_kb") == 1024
        assert server.closed is None, server.closed
        unmount_ok(proxy)
        unmount_ok(legacy)
    finally:
        server.stop()


# --- what bmcweb derives from each object --------------------------------------------------

def bmcweb_view(objects):
    """bmcweb's reading of GetManagedObjects: objects under Proxy/ and Legacy/
    only; a browser slot (WebSocketEndpoint, "OEM", "Applet") exactly when
    EndpointId is non-empty, else a URL slot."""
    view = {}
    for path, ifaces in objects.items():
        kind = path[len(vmtest.ROOT) + 1:].split("/")[0]
        if kind not in ("Proxy", "Legacy"):
            continue
        ep = ifaces[vmtest.IFACE + "MountPoint"]["EndpointId"]
        view[path] = ("browser", ep) if ep else ("url", None)
    return view


@pytest.mark.parametrize("which", ["shipped", "reference"])
def test_bmcweb_shows_proxy_slots_as_browser_slots_only(start_service, workdir, which):
    if which == "shipped":
        with open(os.path.join(vmtest.REPO, "conf/config.json")) as f:
            cfg_doc = json.load(f)
    else:
        cfg_doc = REFERENCE
    cfg = write_json(os.path.join(workdir, f"{which}.json"), cfg_doc)
    svc = start_service(cfg)
    view = bmcweb_view(svc.managed_objects())
    assert len(view) == len(cfg_doc["MountPoints"]) == 4
    for name, mp in cfg_doc["MountPoints"].items():
        mode = "Proxy" if mp["Mode"] == 0 else "Legacy"
        path = f"{vmtest.ROOT}/{mode}/{name}"
        if mode == "Proxy":
            # bmcweb serves /nbd/<N> for the object whose EndpointId it is
            assert view[path] == ("browser", f"/nbd/{name[len('Slot_'):]}"), view
        else:
            assert view[path] == ("url", None), view
    assert "browser (Proxy) slot" not in svc.log_text()


# --- the mode decides the endpoint ---------------------------------------------------------

def check_config(path):
    return subprocess.run([SUPERVISOR, "--config", path, "--check-config"],
                          capture_output=True, text=True, timeout=10)


def test_endpoint_per_mode(workdir, start_service):
    doc = json.loads(json.dumps(REFERENCE))
    doc["MountPoints"]["Slot_1"]["EndpointId"] = ""
    bad = write_json(os.path.join(workdir, "proxy-no-endpoint.json"), doc)
    r = check_config(bad)
    assert r.returncode == 1
    assert f"{bad}: MountPoints.Slot_1.EndpointId: a Proxy slot" in r.stderr, r.stderr

    doc = json.loads(json.dumps(REFERENCE))
    doc["MountPoints"]["Slot_3"]["EndpointId"] = "/nbd/3"
    old = write_json(os.path.join(workdir, "legacy-endpoint.json"), doc)
    r = check_config(old)
    assert r.returncode == 0, r.stderr
    warning = f"{old}: MountPoints.Slot_3.EndpointId: \"/nbd/3\" on a Legacy slot: " \
              "bmcweb will show it as a browser (Proxy) slot"
    assert warning in r.stderr, r.stderr
    assert "4 slots, valid" in r.stdout
    svc = start_service(old)
    assert warning in svc.log_text()
    assert svc.slots["Slot_3"].get("MountPoint", "EndpointId") == "/nbd/3"


# --- /etc/virtual-media.json when ours is missing ------------------------------------------

def test_reference_path_is_read_when_ours_is_missing(bus, workdir):
    """The VM's /etc is its own overlay: the files of a BMC that swapped
    services, for the build's SYSCONFDIR (/etc)."""
    ours, theirs = "/etc/virtual-media/config.json", "/etc/virtual-media.json"
    assert not os.path.exists(ours) and not os.path.exists(theirs)
    write_json(theirs, REFERENCE)
    log_path = os.path.join(workdir, "fallback.log")
    try:
        r = subprocess.run([SUPERVISOR, "--check-config"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 0 and f"{theirs}: 4 slots, valid" in r.stdout, r
        r = subprocess.run([SUPERVISOR, "--list-slots"], capture_output=True, text=True,
                           timeout=10)
        assert r.stdout.split() == ["Slot_0", "Slot_1", "Slot_2", "Slot_3"], r

        # the service itself (and its workers and helpers, with no --config)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([SUPERVISOR], stdout=log, stderr=subprocess.STDOUT)
        conn = bus.connect()

        def has_name():
            return conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                  "org.freedesktop.DBus", "NameHasOwner",
                                  GLib.Variant("(s)", (vmtest.BUS_NAME,)), None,
                                  Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
        try:
            vmtest.wait_for("the service's bus name", has_name, 15)
            text = open(log_path).read()
            assert f"configuration: {theirs} (4 slots)" in text, text
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(40) == 0, open(log_path).read()

        # both present: ours wins
        os.makedirs(os.path.dirname(ours), exist_ok=True)
        shutil.copy(os.path.join(vmtest.REPO, "conf/config.json"), ours)
        r = subprocess.run([SUPERVISOR, "--check-config"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 0 and f"{ours}: 4 slots, valid" in r.stdout, r
    finally:
        for p in (ours, theirs):
            if os.path.exists(p):
                os.unlink(p)


# --- errors an sd-bus client can read -------------------------------------------------------

@pytest.fixture(scope="module")
def sdbus_errno(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("sdbus") / "sdbus-errno")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libsystemd"],
                           capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-Wall", "-Werror", "-o", out,
                    os.path.join(vmtest.REPO, "test/integration/sdbus-errno.c")] + flags,
                   check=True)
    return out


def sd_call(prog, bus, slot, method, url=None):
    args = [prog, bus.address, slot.path, vmtest.IFACE + slot.mode, method]
    if url:
        args.append(url)
    out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
    fields = dict(f.split("=", 1) for f in out.split())
    return int(fields["errno"]), fields["name"]


def test_sdbus_client_reads_the_errno(service_factory, bus, sdbus_errno, iso):
    svc = service_factory({"Slot_0": (0, 0), "Slot_2": (1, 2)})
    slot, legacy = svc.slots["Slot_0"], svc.slots["Slot_2"]
    # Ready: Unmount is refused
    assert sd_call(sdbus_errno, bus, slot, "Unmount") == (errno.EPERM, "System.Error.EPERM")
    # bad arguments: a string where the fd belongs
    assert sd_call(sdbus_errno, bus, legacy, "Mount", "https://127.0.0.1/x.iso") == \
        (errno.EINVAL, "System.Error.EINVAL")
    # Activating: a web server that never answers
    stuck = SilentServer(slot.socket)
    try:
        assert sd_call(sdbus_errno, bus, slot, "Mount") == (0, "")
        assert sd_call(sdbus_errno, bus, slot, "Mount") == (errno.EBUSY, "System.Error.EBUSY")
        assert sd_call(sdbus_errno, bus, slot, "Unmount") == (errno.EBUSY, "System.Error.EBUSY")
    finally:
        stuck.stop()
    assert slot.wait_completion(60) != 0
    vmtest.wait_for("Slot_0 to be Ready", slot.worker_ready, 30)
    # Active: Mount is refused
    server = BmcwebJsnbd(slot.socket, iso)
    try:
        mount_ok(slot)
        assert sd_call(sdbus_errno, bus, slot, "Mount") == (errno.EPERM, "System.Error.EPERM")
        unmount_ok(slot)
    finally:
        server.stop()
