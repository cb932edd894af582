# SPDX-License-Identifier: Apache-2.0
"""Issue 6 (nfs:// part): Legacy mounts of an image on the kernel's NFS server
(NFSv4, in the VM), read-only and read-write, through the kernel's NFS client
that the worker drives with mount(2), and a specific errno for each failure."""
import errno
import os
import socket
import time

import pytest

import servers
import vmtest
from test_legacy import completion, mount_s, mount_sbh, unmount_clean
from vmtest import sha256_file

HOST = "images.test"


@pytest.fixture(scope="module")
def nfsd(srv_dir):
    with servers.Nfsd(srv_dir) as n:
        print(f"nfsd: {n.start_seconds:.2f} s")
        images = os.path.join(n.root, "images")
        os.makedirs(images)
        vmtest.make_iso(os.path.join(images, "installer.iso"), 2, "NFS")
        yield n


@pytest.fixture
def nfs_service(service_factory):
    return service_factory({"Slot_2": (1, 2), "Slot_3": (1, 3, {"Timeout": 6})})


def nfs_mounts():
    with open("/proc/mounts") as f:
        return [line for line in f if " nfs4 " in line]


def assert_clean(slot):
    slot.assert_clean()
    assert nfs_mounts() == [], "the export is still mounted"
    assert slot.get("Process", "Active") is False


def test_nfs_read_only(nfs_service, nfsd):
    slot = nfs_service.slots["Slot_2"]
    image = os.path.join(nfsd.root, "images", "installer.iso")
    before = (sha256_file(image), os.stat(image).st_mtime_ns)
    url = f"nfs://{HOST}/images/installer.iso"  # a name: the worker resolves it
    t0 = time.monotonic()
    assert mount_s(slot, url) is True
    result = completion(slot)
    elapsed = time.monotonic() - t0
    assert result == 0, f"{vmtest.errno_name(result)}\n{nfs_service.log_text()}"
    print(f"nfs:// Mount to Completion: {elapsed:.2f} s")
    assert slot.get("MountPoint", "ImageURL") == url
    assert slot.get("MountPoint", "WriteProtected") is True
    assert slot.get("MountPoint", "MediaType") == "CD"
    mounts = nfs_mounts()
    assert len(mounts) == 1, mounts
    fields = mounts[0].split()
    opts = fields[3].split(",")
    assert fields[0] == f"{HOST}:/images", fields
    assert "ro" in opts and "vers=4.2" in opts and "soft" in opts, opts
    dev = slot.wait_host_device()
    assert os.path.basename(dev).startswith("sr")
    assert sha256_file(dev, os.path.getsize(image)) == before[0]
    unmount_clean(slot)
    assert nfs_mounts() == [], "the export is still mounted"
    # the host read it all; the file on the server is as it was
    assert (sha256_file(image), os.stat(image).st_mtime_ns) == before


def test_nfs_read_write(nfs_service, nfsd):
    slot = nfs_service.slots["Slot_2"]
    image = os.path.join(nfsd.root, "images", "rw.img")
    vmtest.make_disk(image, 2)
    before = sha256_file(image)
    assert mount_sbh(slot, "nfs://127.0.0.1/images/rw.img", rw=True) is True
    result = completion(slot)
    assert result == 0, f"{vmtest.errno_name(result)}\n{nfs_service.log_text()}"
    assert slot.get("MountPoint", "WriteProtected") is False
    assert slot.get("MountPoint", "MediaType") == "USBStick"
    assert " rw," in nfs_mounts()[0]
    dev = slot.wait_host_device()
    data = os.urandom(64 * 1024)
    with open(dev, "r+b", buffering=0) as f:
        f.seek(512 * 1024)
        f.write(data)
        os.fsync(f.fileno())
    unmount_clean(slot)
    with open(image, "rb") as f:
        f.seek(512 * 1024)
        assert f.read(len(data)) == data, "the host's write is not in the file on the server"
    assert sha256_file(image) != before


def test_nfs_root_squash_needs_a_world_readable_image(nfs_service, nfsd):
    """An export that squashes root: the worker (root here, an unprivileged
    user in production) is "nobody" there.  A world-readable image mounts; one
    that only its owner may read is refused with EACCES, before nbdkit runs."""
    slot = nfs_service.slots["Slot_2"]
    squashed = nfsd.add_export("squashed", squash_root=True)
    vmtest.make_disk(os.path.join(squashed, "public.img"), 1)
    os.chmod(os.path.join(squashed, "public.img"), 0o644)
    vmtest.make_disk(os.path.join(squashed, "private.img"), 1)
    os.chmod(os.path.join(squashed, "private.img"), 0o600)
    assert mount_s(slot, "nfs://127.0.0.1/squashed/public.img") is True
    result = completion(slot)
    assert result == 0, f"{vmtest.errno_name(result)}\n{nfs_service.log_text()}"
    dev = slot.wait_host_device()
    assert sha256_file(dev) == sha256_file(os.path.join(squashed, "public.img"))
    unmount_clean(slot)
    assert mount_s(slot, "nfs://127.0.0.1/squashed/private.img") is True
    assert completion(slot) == errno.EACCES
    assert_clean(slot)


def test_nfs_failures(nfs_service, nfsd):
    slot = nfs_service.slots["Slot_3"]  # Timeout 6: 3 s for an unanswered server
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", 20490))
    silent.listen(8)  # accepts (the kernel does), never answers
    cases = [
        ("image not found", "nfs://127.0.0.1/images/missing.iso", errno.ENOENT),
        ("path not exported", "nfs://127.0.0.1/not-exported/installer.iso", errno.EACCES),
        ("unknown host", "nfs://no-such-host.invalid/images/installer.iso", errno.EHOSTUNREACH),
        ("nothing listens", "nfs://127.0.0.1:2050/images/installer.iso", errno.ECONNREFUSED),
        ("no answer", "nfs://127.0.0.1:20490/images/installer.iso", errno.ETIMEDOUT),
    ]
    failed = []
    try:
        for name, url, want in cases:
            t0 = time.monotonic()
            assert mount_s(slot, url) is True
            got = completion(slot)
            print(f"{name}: {vmtest.errno_name(got)} after {time.monotonic() - t0:.1f} s")
            if got != want:
                failed.append(f"{name}: got {vmtest.errno_name(got)}, want {vmtest.errno_name(want)}")
            assert_clean(slot)
    finally:
        silent.close()
    assert not failed, "\n".join(failed) + "\n" + nfs_service.log_text()
    log = nfs_service.log_text()
    for words in ("exports no /not-exported", "did not answer within 3 s", "cannot resolve"):
        assert words in log, f"no log line says {words!r}"


def test_nfs_server_down_then_back(nfs_service, nfsd):
    slot = nfs_service.slots["Slot_2"]
    url = "nfs://127.0.0.1/images/installer.iso"
    nfsd.stop_nfsd()
    try:
        assert mount_s(slot, url) is True
        result = completion(slot)
    finally:
        nfsd.start_nfsd()
    assert result == errno.ECONNREFUSED, f"{vmtest.errno_name(result)}\n{nfs_service.log_text()}"
    assert_clean(slot)
    # and the slot works again
    assert mount_s(slot, url) is True
    assert completion(slot) == 0, nfs_service.log_text()
    slot.wait_host_device()
    unmount_clean(slot)
    assert nfs_mounts() == []
