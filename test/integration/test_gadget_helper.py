# SPDX-License-Identifier: Apache-2.0
"""The gadget-helper against the real configfs: it does what the config allows
and refuses everything else, with an error and no side effect."""
import os
import socket
import struct
import subprocess

import pytest

import vmtest
from vmtest import Nbdkit, sha256_file

HELLO, CLEANUP, CREATE, REMOVE, RESULT = 1, 200, 201, 202, 300
CDROM, DISK = 1, 0


def s(text):
    b = text.encode() + b"\0"
    return struct.pack("<I", len(b)) + b


def msg(mtype, payload=b""):
    return struct.pack("<II", mtype, len(payload)) + payload


class Helper:
    def __init__(self, config):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([os.path.join(vmtest.BUILD, "vmedia-gadget-helper"),
                                      "--config", config], close_fds=False,
                                     stderr=subprocess.PIPE, text=True,
                                     preexec_fn=lambda: os.dup2(theirs.fileno(), 3))
        theirs.close()
        self.sock.settimeout(10)

    def request(self, raw):
        self.sock.send(raw)
        reply = self.sock.recv(8192)
        mtype, length = struct.unpack_from("<II", reply)
        assert mtype == RESULT and length == len(reply) - 8
        (error,) = struct.unpack_from("<i", reply, 8)
        (n,) = struct.unpack_from("<I", reply, 12)
        return error, reply[16:16 + n - 1].decode()

    def finish(self):
        self.sock.close()
        _, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err


@pytest.fixture
def config(workdir):
    return vmtest.write_config(os.path.join(workdir, "helper.json"),
                               {"Slot_0": (0, 0), "Slot_1": (0, 1)},
                               extra={"AllowedUDCs": ["dummy_udc.6", "dummy_udc.7"]})


def gadgets():
    return sorted(os.listdir(vmtest.GADGETS))


CRAFTED = [
    ("unknown slot", msg(CREATE, s("Nope") + s("/dev/nbd0") + struct.pack("<II", 1, CDROM)), 2),
    ("another slot's device", msg(CREATE, s("Slot_0") + s("/dev/nbd1") + struct.pack("<II", 1, 1)), 1),
    ("a path outside /dev/nbd*", msg(CREATE, s("Slot_0") + s("/etc/passwd") + struct.pack("<II", 1, 1)), 1),
    ("a path that climbs out", msg(CREATE, s("Slot_0") + s("/dev/nbd0/../sda") + struct.pack("<II", 1, 1)), 1),
    ("bad media", msg(CREATE, s("Slot_0") + s("/dev/nbd0") + struct.pack("<II", 1, 7)), 22),
    ("truncated", msg(CREATE, s("Slot_0") + s("/dev/nbd0") + struct.pack("<I", 1)), 74),
    ("trailing bytes", msg(CLEANUP, s("Slot_0") + b"x"), 74),
    ("string without NUL", msg(CLEANUP, struct.pack("<I", 6) + b"Slot_0"), 74),
    ("embedded NUL", msg(CLEANUP, struct.pack("<I", 8) + b"Slot\x00_0\x00"), 74),
    ("unknown type", msg(999, b""), 74),
    ("remove with nothing exposed", msg(REMOVE, s("Slot_0")), 1),
    ("oversized", msg(CLEANUP, b"\0" * 5000), 74),
    ("garbage", b"\xff" * 5, 74),
]


@pytest.mark.parametrize("name,raw,want", CRAFTED, ids=[c[0] for c in CRAFTED])
def test_refuses_crafted_messages(config, name, raw, want):
    before = gadgets()
    h = Helper(config)
    assert h.request(msg(HELLO, struct.pack("<I", 1))) == (0, "")
    if name in ("oversized", "garbage"):
        # not even a well-formed message: the helper answers and ends
        h.sock.send(raw)
        reply = h.sock.recv(8192)
        assert struct.unpack_from("<i", reply, 8)[0] == want
    else:
        assert h.request(raw) == (want, "")
    rc, err = h.finish()
    assert rc == 1, f"{name}: the helper must end after a refusal ({err})"
    assert gadgets() == before, f"{name}: configfs changed"


def test_creates_on_an_allowed_udc_and_removes(config, workdir, iso):
    server = Nbdkit("/run/vmtest/helper.sock", iso)
    nbd = subprocess.Popen(["nbd-client", "-N", "", "-n", "-L", "-u", server.socket_path,
                            "/dev/nbd0"], stderr=subprocess.DEVNULL)
    try:
        vmtest.wait_for("nbd0", lambda: open("/sys/block/nbd0/size").read().strip() != "0")
        h = Helper(config)
        assert h.request(msg(HELLO, struct.pack("<I", 1))) == (0, "")
        assert h.request(msg(CLEANUP, s("Slot_0"))) == (0, "")
        # a second slot's name after binding to Slot_0 is refused later; first: create
        err, udc = h.request(msg(CREATE, s("Slot_0") + s("/dev/nbd0") + struct.pack("<II", 1, CDROM)))
        assert err == 0 and udc == "dummy_udc.6", (err, udc)
        g = os.path.join(vmtest.GADGETS, "vmedia_Slot_0")
        assert open(os.path.join(g, "UDC")).read().strip() == "dummy_udc.6"
        assert open(os.path.join(g, "functions/mass_storage.usb0/lun.0/file")).read().strip() == "/dev/nbd0"
        dev = vmtest.wait_for("the host's CD-ROM", lambda: vmtest.host_device("Slot_0"))
        assert sha256_file(dev, os.path.getsize(iso)) == sha256_file(iso)
        assert h.request(msg(REMOVE, s("Slot_0"))) == (0, "")
        assert not os.path.exists(g)
        rc, err = h.finish()
        assert rc == 0, err
    finally:
        subprocess.run(["nbd-client", "-d", "/dev/nbd0"], capture_output=True)
        nbd.wait(10)
        server.stop()


def test_service_skips_udcs_taken_by_other_gadgets(service_factory, iso):
    # another function of the BMC (say the KVM's keyboard) holds dummy_udc.0
    other = os.path.join(vmtest.GADGETS, "kvm_hid")
    os.makedirs(other)
    try:
        os.makedirs(os.path.join(other, "functions/mass_storage.0"))
        os.makedirs(os.path.join(other, "configs/c.1"))
        os.symlink(os.path.join(other, "functions/mass_storage.0"),
                   os.path.join(other, "configs/c.1/mass_storage.0"))
        with open(os.path.join(other, "UDC"), "w") as f:
            f.write("dummy_udc.0")
        svc = service_factory({"Slot_0": (0, 0)})
        slot = svc.slots["Slot_0"]
        server = Nbdkit(slot.socket, iso)
        try:
            assert slot.mount() is True and slot.wait_completion() == 0
            udc = open(os.path.join(slot.gadget_dir(), "UDC")).read().strip()
            assert udc != "dummy_udc.0" and udc.startswith("dummy_udc.")
            assert open(os.path.join(other, "UDC")).read().strip() == "dummy_udc.0"
            assert slot.unmount() is True and slot.wait_completion() == 0
        finally:
            server.stop()
    finally:
        with open(os.path.join(other, "UDC"), "w") as f:
            f.write("\n")
        os.unlink(os.path.join(other, "configs/c.1/mass_storage.0"))
        for d in ("configs/c.1", "functions/mass_storage.0", ""):
            os.rmdir(os.path.join(other, d))
