# SPDX-License-Identifier: Apache-2.0
"""Issue 4 (https:// part): Legacy mounts through the service against a real
nginx over TLS with a test CA, the three Mount signatures bmcweb and scripts
send, credentials through a pipe, and a specific errno for each failure."""
import errno
import glob
import os
import signal
import subprocess
import threading
import time

import pytest
from gi.repository import Gio, GLib

import servers
import vmtest
from vmtest import Nbdkit, sha256_file

USER, PASSWORD = "vmuser", "pw,with;odd=chars-9f3kq"
HOST = "images.test"


@pytest.fixture(scope="module")
def images(srv_dir):
    d = os.path.join(srv_dir, "images")
    os.makedirs(d)
    vmtest.make_iso(os.path.join(d, "installer.iso"), 2, "LEGACY")
    vmtest.make_disk(os.path.join(d, "disk.img"), 2)
    return d


@pytest.fixture(scope="module")
def nginx(srv_dir, ca, images):
    with servers.Nginx(srv_dir, ca, images, user=USER, password=PASSWORD) as n:
        yield n


@pytest.fixture(scope="module")
def rogue(srv_dir, ca, images):
    with servers.Nginx(os.path.join(srv_dir, "rogue"), ca, images, port=9443, http_port=9080,
                       untrusted=True, name="rogue") as n:
        yield n


@pytest.fixture
def legacy_service(service_factory, ca):
    return service_factory({"Slot_0": (0, 0), "Slot_2": (1, 2), "Slot_3": (1, 3)},
                           extra={"CAFile": ca.ca_file})


def pipe_with(data):
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def mount_sbh(slot, url, creds=b"\0\0", rw=False):
    fd = pipe_with(creds)
    try:
        fds = Gio.UnixFDList.new_from_array([fd])  # takes fd
        return slot.call("Legacy", "Mount", GLib.Variant("(sbh)", (url, rw, 0)), fd_list=fds)[0]
    except Exception:
        raise


def mount_sbv(slot, url, rw=False):
    return slot.call("Legacy", "Mount", GLib.Variant("(sbv)", (url, rw, GLib.Variant("i", -1))))[0]


def mount_s(slot, url):
    return slot.call("Legacy", "Mount", GLib.Variant("(s)", (url,)))[0]


def completion(slot):
    result = slot.wait_completion(60)
    return result


def check_image(slot, image, cdrom):
    dev = slot.wait_host_device()
    assert os.path.basename(dev).startswith("sr" if cdrom else "sd"), dev
    assert sha256_file(dev, os.path.getsize(image)) == sha256_file(image)


def unmount_clean(slot):
    assert slot.unmount() is True
    assert completion(slot) == 0
    slot.assert_clean()
    assert vmtest.wait_for("nbdkit to exit", lambda: not nbdkit_pids(slot), 10)


def nbdkit_pids(slot):
    out = []
    for p in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            argv = open(p, "rb").read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"nbdkit") and f"--unix={slot.socket}".encode() in argv:
            out.append(p)
    return out


def test_https_three_signatures(legacy_service, nginx, images):
    slot = legacy_service.slots["Slot_2"]
    iso = os.path.join(images, "installer.iso")
    url = nginx.url("/open/installer.iso", host=HOST)
    for mount in (mount_sbh, mount_sbv, mount_s):
        assert mount(slot, url) is True
        result = completion(slot)
        assert result == 0, f"{mount.__name__}: {vmtest.errno_name(result)}\n{legacy_service.log_text()}"
        assert slot.get("MountPoint", "ImageURL") == url
        assert slot.get("MountPoint", "WriteProtected") is True
        assert slot.get("MountPoint", "MediaType") == "CD"
        assert slot.get("Process", "Active") is True
        check_image(slot, iso, cdrom=True)
        unmount_clean(slot)
        assert slot.get("MountPoint", "ImageURL") == ""


def test_https_with_credentials_keeps_the_secret(legacy_service, nginx, images, workdir):
    slot = legacy_service.slots["Slot_3"]
    disk = os.path.join(images, "disk.img")
    url = nginx.url("/private/disk.img")
    t0 = time.time()
    assert mount_sbh(slot, url, f"{USER}\0{PASSWORD}\0".encode()) is True
    result = completion(slot)
    assert result == 0, f"{vmtest.errno_name(result)}\n{legacy_service.log_text()}"
    check_image(slot, disk, cdrom=False)
    assert slot.get("MountPoint", "MediaType") == "USBStick"

    # while mounted: the password is in no process's argv or environment...
    secret = PASSWORD.encode()
    for p in glob.glob("/proc/[0-9]*"):
        for what in ("cmdline", "environ"):
            try:
                data = open(os.path.join(p, what), "rb").read()
            except OSError:
                continue
            assert secret not in data, f"the password is in {p}/{what}"
    unmount_clean(slot)
    # ... nor in the logs, nor in any file others may read that was written meanwhile
    assert PASSWORD not in legacy_service.log_text()
    for top in ("/tmp", "/run", "/var/tmp", "/etc", "/root"):
        for root, dirs, files in os.walk(top):
            # only where something was written meanwhile (a new file changes its
            # directory's mtime); not the source tree and its build output
            dirs[:] = [d for d in dirs if os.path.join(root, d) != vmtest.REPO and
                       os.lstat(os.path.join(root, d)).st_mtime >= t0 - 1]
            for f in files:
                path = os.path.join(root, f)
                try:
                    st = os.stat(path)
                    if (st.st_mtime >= t0 - 1 and st.st_mode & 0o004 and st.st_size < (1 << 20)
                            and secret in open(path, "rb").read()):
                        pytest.fail(f"the password is in {path}")
                except OSError:
                    pass


def test_https_failures_have_specific_errnos(legacy_service, nginx, rogue, images):
    slot = legacy_service.slots["Slot_2"]
    cases = [
        ("malformed URL", lambda: mount_sbh(slot, "https//no-scheme/x.iso"), errno.EINVAL),
        ("unsupported scheme", lambda: mount_sbh(slot, "ftp://127.0.0.1/x.iso"), errno.EINVAL),
        ("control characters", lambda: mount_s(slot, nginx.url("/open/a\r\nb.iso")), errno.EINVAL),
        ("credentials in the URL", lambda: mount_s(slot, "https://u:p@127.0.0.1:8443/open/installer.iso"),
         errno.EINVAL),
        ("plain http refused", lambda: mount_s(slot, nginx.http_url("/open/installer.iso")), errno.EINVAL),
        ("read-write over https", lambda: mount_sbh(slot, nginx.url("/open/installer.iso"), rw=True),
         errno.EROFS),
        ("malformed credentials", lambda: mount_sbh(slot, nginx.url("/private/disk.img"), b"nouser"),
         errno.EINVAL),
        ("unknown host", lambda: mount_s(slot, "https://no-such-host.invalid/x.iso"), errno.EHOSTUNREACH),
        ("connection refused", lambda: mount_s(slot, "https://127.0.0.1:1/x.iso"), errno.ECONNREFUSED),
        ("untrusted certificate", lambda: mount_s(slot, rogue.url("/open/installer.iso")), errno.EPROTO),
        ("wrong password", lambda: mount_sbh(slot, nginx.url("/private/disk.img"),
                                             f"{USER}\0wrong\0".encode()), errno.EACCES),
        ("no credentials", lambda: mount_s(slot, nginx.url("/private/disk.img")), errno.EACCES),
        ("image not found", lambda: mount_s(slot, nginx.url("/open/missing.iso")), errno.ENOENT),
    ]
    failed = []
    for name, mount, want in cases:
        assert mount() is True, name
        got = completion(slot)
        if got != want:
            failed.append(f"{name}: got {vmtest.errno_name(got)}, want {vmtest.errno_name(want)}")
        slot.assert_clean()
        assert slot.get("Process", "Active") is False, name
        assert vmtest.wait_for("nbdkit to exit", lambda: not nbdkit_pids(slot), 10), name
    assert not failed, "\n".join(failed) + "\n" + legacy_service.log_text()

    # and the slot works again
    assert mount_s(slot, nginx.url("/open/installer.iso")) is True
    assert completion(slot) == 0
    unmount_clean(slot)


def test_https_smb_and_proxy_at_once(legacy_service, nginx, smbd, images, iso):
    proxy, https, smb = (legacy_service.slots[n] for n in ("Slot_0", "Slot_2", "Slot_3"))
    server = Nbdkit(proxy.socket, iso)
    disk = os.path.join(images, "disk.img")
    try:
        assert proxy.mount() is True
        assert mount_s(https, nginx.url("/open/installer.iso")) is True
        assert mount_sbh(smb, f"smb://{HOST}/images/disk.img", f"{USER}\0{PASSWORD}\0".encode()) is True
        for slot in (proxy, https, smb):
            assert completion(slot) == 0, legacy_service.log_text()
        check_image(proxy, iso, cdrom=True)
        check_image(https, os.path.join(images, "installer.iso"), cdrom=True)
        check_image(smb, disk, cdrom=False)
        assert len({proxy.host_device(), https.host_device(), smb.host_device()}) == 3
        for slot in (proxy, https, smb):
            unmount_clean(slot)
    finally:
        server.stop()


def test_a_killed_worker_leaves_nothing_mounted(legacy_service, smbd, images):
    slot = legacy_service.slots["Slot_3"]
    assert mount_sbh(slot, f"smb://{HOST}/images/disk.img", f"{USER}\0{PASSWORD}\0".encode()) is True
    assert completion(slot) == 0
    slot.wait_host_device()
    assert len(cifs_mounts()) == 1
    pid = int(subprocess.run(["pgrep", "-f", "vmedia-worker .*--slot Slot_3"], capture_output=True,
                             text=True).stdout.split()[0])
    os.kill(pid, signal.SIGKILL)
    # the slot reports the loss; the restarted worker cleans what its predecessor left
    assert completion(slot) == errno.ECONNRESET
    vmtest.wait_for("the slot to be usable again", slot.worker_ready, 30)
    slot.assert_clean()
    assert cifs_mounts() == [], "the share is still mounted"
    assert slot.get("Process", "Active") is False
    assert mount_sbh(slot, f"smb://{HOST}/images/disk.img", f"{USER}\0{PASSWORD}\0".encode()) is True
    assert completion(slot) == 0
    unmount_clean(slot)


# ------------------------------------------------------------------ smb://

@pytest.fixture(scope="module")
def smbd(srv_dir, images):
    with servers.Smbd(srv_dir, images, USER, PASSWORD) as s:
        yield s


def cifs_mounts():
    with open("/proc/mounts") as f:
        return [line for line in f if " cifs " in line]


def test_smb_read_only_with_credentials(legacy_service, smbd, images):
    slot = legacy_service.slots["Slot_3"]
    url = f"smb://{HOST}/images/installer.iso"
    assert mount_sbh(slot, url, f"{USER}\0{PASSWORD}\0".encode()) is True
    result = completion(slot)
    assert result == 0, f"{vmtest.errno_name(result)}\n{legacy_service.log_text()}"
    assert slot.get("MountPoint", "ImageURL") == url
    assert slot.get("MountPoint", "WriteProtected") is True
    check_image(slot, os.path.join(images, "installer.iso"), cdrom=True)
    mounts = cifs_mounts()
    assert len(mounts) == 1 and "seal" in mounts[0] and " ro," in mounts[0], mounts
    # none of the kernel's caching that holds the image's inode after nbdkit
    # closed it (the unmount's BUG() in Linux 6.1: worker/smb_share.c)
    for option in ("cache=none", "nohandlecache", "closetimeo=0", "nolease"):
        assert option in mounts[0].split()[3].split(","), (option, mounts)
    assert PASSWORD not in "".join(mounts)
    unmount_clean(slot)
    assert cifs_mounts() == [], "the share is still mounted"


def test_smb_read_write(legacy_service, smbd, images, workdir):
    slot = legacy_service.slots["Slot_3"]
    image = os.path.join(images, "rw.img")
    vmtest.make_disk(image, 2)
    before = sha256_file(image)
    assert mount_sbh(slot, f"smb://127.0.0.1/images/rw.img", f"{USER}\0{PASSWORD}\0".encode(),
                     rw=True) is True
    result = completion(slot)
    assert result == 0, f"{vmtest.errno_name(result)}\n{legacy_service.log_text()}"
    assert slot.get("MountPoint", "WriteProtected") is False
    dev = slot.wait_host_device()
    data = os.urandom(64 * 1024)
    with open(dev, "r+b", buffering=0) as f:
        f.seek(512 * 1024)
        f.write(data)
        os.fsync(f.fileno())
    assert vmtest.wait_for("WriteIO to count the host's writes",
                           lambda: slot.get("Stats", "WriteIO") > 0, 10)
    unmount_clean(slot)
    with open(image, "rb") as f:
        f.seek(512 * 1024)
        assert f.read(len(data)) == data, "the host's write is not in the file on the share"
    assert sha256_file(image) != before


def test_smb_failures(legacy_service, smbd):
    slot = legacy_service.slots["Slot_3"]
    creds = f"{USER}\0{PASSWORD}\0".encode()
    cases = [
        ("wrong password", f"smb://{HOST}/images/installer.iso", f"{USER}\0nope\0".encode(), errno.EACCES),
        ("no credentials", f"smb://{HOST}/images/installer.iso", b"\0\0", errno.EACCES),
        ("image not found", f"smb://{HOST}/images/missing.iso", creds, errno.ENOENT),
        ("unknown host", "smb://no-such-host.invalid/images/x.iso", creds, errno.EHOSTUNREACH),
    ]
    failed = []
    for name, url, cred, want in cases:
        assert mount_sbh(slot, url, cred) is True
        got = completion(slot)
        if got != want:
            failed.append(f"{name}: got {vmtest.errno_name(got)}, want {vmtest.errno_name(want)}")
        slot.assert_clean()
        assert cifs_mounts() == [], name
    assert not failed, "\n".join(failed) + "\n" + legacy_service.log_text()


def test_tls_options_from_the_config(service_factory, ca, nginx, images):
    svc = service_factory({
        "Slot_2": (1, 2, {"CAPath": ca.ca_dir, "AllowHTTP": True, "AllowRedirects": True}),
        "Slot_3": (1, 3, {"CAFile": ca.ca_file}),
    })
    open_, strict = svc.slots["Slot_2"], svc.slots["Slot_3"]
    iso = os.path.join(images, "installer.iso")
    for url in (nginx.url("/open/installer.iso"),          # a CA directory
                nginx.http_url("/open/installer.iso"),     # plain http, allowed here
                nginx.url("/redirect/installer.iso")):     # a redirect, followed here
        assert mount_s(open_, url) is True
        result = completion(open_)
        assert result == 0, f"{url}: {vmtest.errno_name(result)}\n{svc.log_text()}"
        check_image(open_, iso, cdrom=True)
        unmount_clean(open_)
    # the same redirect where the config does not allow it
    assert mount_s(strict, nginx.url("/redirect/installer.iso")) is True
    result = completion(strict)
    assert result == errno.EOPNOTSUPP, vmtest.errno_name(result)
    strict.assert_clean()


def test_a_silent_server_times_out(service_factory, ca, nginx):
    svc = service_factory({"Slot_2": (1, 2, {"Timeout": 3})}, extra={"CAFile": ca.ca_file})
    slot = svc.slots["Slot_2"]
    nginx.pause()
    try:
        assert mount_s(slot, nginx.url("/open/installer.iso")) is True
        result = completion(slot)
    finally:
        nginx.resume()
    assert result == errno.ETIMEDOUT, f"{vmtest.errno_name(result)}\n{svc.log_text()}"
    slot.assert_clean()


def test_a_stall_shorter_than_the_timeout_is_no_io_error(legacy_service, nginx, images):
    """The image server stops answering for a while in the middle of the host's read;
    the read completes, with the right data, once it is back."""
    slot = legacy_service.slots["Slot_2"]
    image = os.path.join(images, "big.img")
    if not os.path.exists(image):
        vmtest.make_disk(image, 24)
    assert mount_s(slot, nginx.url("/open/big.img")) is True
    assert completion(slot) == 0
    dev = slot.wait_host_device()
    stall = threading.Timer(0.5, nginx.pause)
    stall.start()
    try:
        t0 = time.monotonic()
        threading.Timer(8.5, nginx.resume).start()
        got = sha256_file(dev, os.path.getsize(image))  # O(24 MiB) through the gadget
        elapsed = time.monotonic() - t0
    finally:
        stall.cancel()
        nginx.resume()
    assert got == sha256_file(image)
    print(f"read 24 MiB across an 8 s stall in {elapsed:.1f} s")
    unmount_clean(slot)


def test_smb_falls_back_to_3_0_with_encryption(legacy_service, srv_dir, images):
    """A server that speaks no SMB 3.1.1: SMB 3.0, still sealed; on another port."""
    with servers.Smbd(srv_dir, images, USER, PASSWORD, port=4450, max_protocol="SMB3_00",
                      name="smbd30"):
        slot = legacy_service.slots["Slot_3"]
        assert mount_sbh(slot, "smb://127.0.0.1:4450/images/installer.iso",
                         f"{USER}\0{PASSWORD}\0".encode()) is True
        result = completion(slot)
        assert result == 0, f"{vmtest.errno_name(result)}\n{legacy_service.log_text()}"
        mounts = cifs_mounts()
        assert len(mounts) == 1 and "vers=3.0" in mounts[0] and "seal" in mounts[0], mounts
        check_image(slot, os.path.join(images, "installer.iso"), cdrom=True)
        unmount_clean(slot)
