# SPDX-License-Identifier: Apache-2.0
"""Issue 7: faults injected while the server host reads its media.

Each process of a mount is killed with SIGKILL in the middle of a transfer:
nbdkit (Legacy https:// and smb://), nbd-client, the worker, the gadget-helper
and the supervisor.  Each time the host's I/O ends within a bound (no hung
reader), the media goes away on the host, the slot reports what happened
(Completion with an errno, Active false, ExitCode), nothing is left behind,
and the next Mount on the same slot works with the right data.  Then the image
server stalls: for a while (the host reads on undisturbed once it is back), or
for good (a clean, reported failure within the bound)."""
import errno
import os
import signal
import threading
import time

import pytest
from gi.repository import Gio, GLib

import faultlib
import servers
import vmtest
from faultlib import HostReader
from vmtest import Nbdkit, sha256_file, wait_for

# the error paths, under ASan/UBSan (build/asan, see conftest.py)
pytestmark = pytest.mark.asan

USER, PASSWORD = "vmuser", "faults-pw-7"
HOST = "images.test"
HTTPS_PORT, HTTP_PORT, SMB_PORT = 8543, 8580, 4451
# How long the host's reader may take to see its media fail or vanish after a
# kill: nbd-client's Timeout (30 s in these configs) is the worst case for a
# request in flight, plus the teardown; 90 s for the Legacy slots here.
HOST_IO_BOUND = 100


@pytest.fixture(scope="module")
def images(srv_dir):
    d = os.path.join(srv_dir, "images")
    os.makedirs(d)
    vmtest.make_disk(os.path.join(d, "big.img"), 24)
    vmtest.make_iso(os.path.join(d, "small.iso"), 2, "FAULTS")
    return d


@pytest.fixture(scope="module")
def nginx(srv_dir, ca, images):
    with servers.Nginx(srv_dir, ca, images, port=HTTPS_PORT, http_port=HTTP_PORT,
                       name="nginx-faults") as n:
        yield n


@pytest.fixture(scope="module")
def smbd(srv_dir, images):
    with servers.Smbd(srv_dir, images, USER, PASSWORD, port=SMB_PORT, name="smbd-faults") as s:
        yield s


# Legacy mounts start nbdkit and do TLS or SMB3 under TCG on a shared machine:
# a generous Timeout keeps the watchdog (Timeout + 5 s) out of the way of slowness.
SLOW = {"Timeout": 90}


@pytest.fixture
def svc(service_factory, ca):
    return service_factory({"Slot_0": (0, 0), "Slot_2": (1, 2, SLOW), "Slot_3": (1, 3, SLOW)},
                           extra={"CAFile": ca.ca_file})


def creds_fd(data):
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def mount_https(slot, nginx, path="open/big.img"):
    return slot.call("Legacy", "Mount", GLib.Variant("(s)", (nginx.url(path, host=HOST),)))[0]


def mount_smb(slot, path="big.img"):
    fds = Gio.UnixFDList.new_from_array([creds_fd(f"{USER}\0{PASSWORD}\0".encode())])
    url = f"smb://{HOST}:{SMB_PORT}/images/{path}"
    return slot.call("Legacy", "Mount", GLib.Variant("(sbh)", (url, False, 0)), fd_list=fds)[0]


def mounted(slot, start, svc):
    assert start() is True
    result = slot.wait_completion(120)
    assert result == 0, f"{slot.name}: Completion {vmtest.errno_name(result)}\n{svc.log_text()}"
    return slot.wait_host_device()


def readable_sha256(dev, size, timeout=30):
    """The host's new device may be listed a moment before it opens (ENXIO)."""
    def attempt():
        try:
            return sha256_file(dev, size)
        except OSError:
            return None
    return wait_for(f"{dev} to be readable", attempt, timeout, 0.5)


def remount_checks_out(slot, start, image, svc):
    """The next Mount on the slot works, with the right data."""
    dev = mounted(slot, start, svc)
    assert readable_sha256(dev, os.path.getsize(image)) == sha256_file(image)
    assert slot.unmount() is True
    assert slot.wait_completion(60) == 0
    slot.assert_clean()


def inject(svc, slot, start, victim, want, image, label, usable_within=120):
    """Mount, start the host reading, SIGKILL victim() mid-read; then check the
    aftermath and that the slot mounts again (usable within usable_within s of
    the kill).  Returns the slot's ExitCode."""
    dev = mounted(slot, start, svc)
    reader = HostReader(dev)
    try:
        time.sleep(2)  # the transfer is under way
        assert reader.running(), f"the host's reader ended before the fault: {reader.error()}"
        pid = victim()
        slot.forget_completions()
        os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic()
        result = slot.wait_completion(HOST_IO_BOUND)
        t_completion = time.monotonic() - t_kill
        t_reader = reader.wait(HOST_IO_BOUND)
        wait_for("the media to go away on the host", lambda: slot.host_device() is None,
                 HOST_IO_BOUND)
        t_gone = time.monotonic() - t_kill
    finally:
        reader.stop()
    assert result in want, f"{label}: Completion {vmtest.errno_name(result)}\n{svc.log_text()}"
    try:
        wait_for(f"{slot.name} to be usable again", slot.worker_ready,
                 max(1, usable_within - (time.monotonic() - t_kill)))
    except AssertionError as e:
        raise AssertionError(f"{e}\n{svc.log_tail(5000)}") from None
    t_usable = time.monotonic() - t_kill
    assert slot.get("Process", "Active") is False
    assert False in slot.changed("Active")
    slot.assert_clean()
    print(f"{label}: Completion({vmtest.errno_name(result)}) after {t_completion:.1f} s, "
          f"ExitCode {slot.get('Process', 'ExitCode')}, host reader ended after {t_reader:.1f} s "
          f"({reader.error()!r}), media gone after {t_gone:.1f} s, usable again after {t_usable:.1f} s")
    remount_checks_out(slot, start, image, svc)
    return slot.get("Process", "ExitCode")


def test_kill_nbdkit_https(svc, nginx, images):
    slot = svc.slots["Slot_2"]
    inject(svc, slot, lambda: mount_https(slot, nginx),
           lambda: faultlib.child_named(slot, "nbdkit"),
           (errno.ECONNRESET, errno.EIO), os.path.join(images, "big.img"), "nbdkit (https)")


def test_kill_nbdkit_smb(svc, smbd, images):
    slot = svc.slots["Slot_3"]
    inject(svc, slot, lambda: mount_smb(slot), lambda: faultlib.child_named(slot, "nbdkit"),
           (errno.ECONNRESET, errno.EIO), os.path.join(images, "big.img"), "nbdkit (smb)")
    assert faultlib.mounts_under() == [], "the share is still mounted"


def test_kill_nbdkit_smb_with_reads_on_the_wire(svc, smbd, images):
    """nbdkit killed while its reads of the share are still on the wire (a
    slow link: 300 ms round trips): the kernel finishes them after nbdkit has
    gone and holds the image until then.  The share is unmounted only after
    that -- before, Linux 6.1 BUG()s ("Busy inodes after unmount") and every
    later mount of the server hangs (CI, sessions 3, 5, 6)."""
    slot = svc.slots["Slot_3"]
    image = os.path.join(images, "big.img")
    with faultlib.slow_loopback(150):
        dev = mounted(slot, lambda: mount_smb(slot), svc)
        reader = HostReader(dev, bs="1M")  # each read several round trips on the wire
        try:
            time.sleep(3)
            assert reader.running(), f"the host's reader ended early: {reader.error()}"
            slot.forget_completions()
            os.kill(faultlib.child_named(slot, "nbdkit"), signal.SIGKILL)
            result = slot.wait_completion(HOST_IO_BOUND)
            reader.wait(HOST_IO_BOUND)
        finally:
            reader.stop()
        assert result in (errno.ECONNRESET, errno.EIO), \
            f"Completion {vmtest.errno_name(result)}\n{svc.log_text()}"
        wait_for(f"{slot.name} to be usable again", slot.worker_ready, 60)
    log = svc.log_text()
    # the race was run: the worker met the dead nbdkit's reads and waited
    assert "the kernel still finishes the reads of" in log, log
    assert "the kernel has let go of them" in log, log
    assert faultlib.mounts_under() == [], "the share is still mounted"
    slot.assert_clean()
    remount_checks_out(slot, lambda: mount_smb(slot), image, svc)


def proxy_mount(slot, server):
    """Mount a Proxy slot, its (test's) server alive: see Nbdkit.ensure_running."""
    server.ensure_running()
    return slot.mount()


def test_kill_nbd_client_proxy(svc, images):
    slot = svc.slots["Slot_0"]
    image = os.path.join(images, "big.img")
    server = Nbdkit(slot.socket, image)
    try:
        code = inject(svc, slot, lambda: proxy_mount(slot, server),
                      lambda: faultlib.child_named(slot, "nbd-client"),
                      (errno.ECONNRESET,), image, "nbd-client (proxy)")
    finally:
        server.stop()
    assert code == 0  # the ExitCode of the last (clean) unmount


def test_kill_nbd_client_https(svc, nginx, images):
    slot = svc.slots["Slot_2"]
    inject(svc, slot, lambda: mount_https(slot, nginx),
           lambda: faultlib.child_named(slot, "nbd-client"),
           (errno.ECONNRESET,), os.path.join(images, "big.img"), "nbd-client (https)")


def test_kill_worker_proxy(svc, images):
    slot = svc.slots["Slot_0"]
    image = os.path.join(images, "big.img")
    server = Nbdkit(slot.socket, image)
    try:
        # well before the NBD timeout (Timeout): the new worker clears the device
        # that the dead one's nbd-client left, failing the host's requests in flight
        inject(svc, slot, lambda: proxy_mount(slot, server), lambda: faultlib.worker_pid(slot),
               (errno.ECONNRESET,), image, "worker (proxy)", usable_within=25)
    finally:
        server.stop()


def test_kill_worker_https(svc, nginx, images):
    slot = svc.slots["Slot_2"]
    inject(svc, slot, lambda: mount_https(slot, nginx), lambda: faultlib.worker_pid(slot),
           (errno.ECONNRESET,), os.path.join(images, "big.img"), "worker (https)",
           usable_within=45)  # the NBD timeout is 90 s (SLOW)
    assert not faultlib.pids(lambda a: a[0].endswith("nbdkit") and
                             f"--unix={slot.socket}" in a), "nbdkit outlived its worker"


def test_kill_gadget_helper(svc, images):
    slot = svc.slots["Slot_0"]
    image = os.path.join(images, "big.img")
    server = Nbdkit(slot.socket, image)
    try:
        inject(svc, slot, lambda: proxy_mount(slot, server),
               lambda: faultlib.child_named(slot, "vmedia-gadget-helper"),
               (errno.ECONNRESET,), image, "gadget-helper (proxy)")
    finally:
        server.stop()


def test_kill_gadget_helper_https(svc, nginx, images):
    slot = svc.slots["Slot_2"]
    inject(svc, slot, lambda: mount_https(slot, nginx),
           lambda: faultlib.child_named(slot, "vmedia-gadget-helper"),
           (errno.ECONNRESET,), os.path.join(images, "big.img"), "gadget-helper (https)")


# ------------------------------------------------------------- the supervisor

def start_all(svc, nginx, server_image):
    """Proxy, https:// and smb:// mounted at once; the host devices."""
    proxy, https, smb = (svc.slots[n] for n in ("Slot_0", "Slot_2", "Slot_3"))
    assert proxy.mount() is True
    assert mount_https(https, nginx) is True
    assert mount_smb(smb) is True
    for s in (proxy, https, smb):
        result = s.wait_completion(120)
        assert result == 0, f"{s.name}: {vmtest.errno_name(result)}\n{svc.log_text()}"
    return [s.wait_host_device() for s in (proxy, https, smb)]


def restart(svc):
    """A new supervisor with the same config, log and build, in the same Service
    object (so that the fixture stops and checks the new one)."""
    svc.log.close()
    svc.__init__(svc.bus, svc.config, svc.log_path, svc.build, svc.env)


def leftovers():
    return {"gadgets": faultlib.gadgets(), "nbd": faultlib.nbd_connections(),
            "mounts": faultlib.mounts_under(),
            "sockets": sorted(p for p in faultlib.tree("/run/vmtest") if p.endswith(".sock")),
            "nbdkit dirs": [p for p in faultlib.tree("/tmp") if "vmedia-nbdkit-" in p],
            "processes": faultlib.service_processes()}


def after_restart_all_mount(svc, nginx, images, server):
    """Every slot of the new instance mounts, with the right data, and unmounts."""
    big = os.path.join(images, "big.img")
    devs = start_all(svc, nginx, big)
    for dev in devs:
        assert readable_sha256(dev, os.path.getsize(big)) == sha256_file(big)
    for s in svc.slots.values():
        assert s.unmount() is True
        assert s.wait_completion(60) == 0
        s.assert_clean()


def kill_supervisor_mid_read(svc, nginx, smbd, images, whole_tree):
    big = os.path.join(images, "big.img")
    server = Nbdkit(svc.slots["Slot_0"].socket, big)
    try:
        devs = start_all(svc, nginx, big)
        readers = [HostReader(d) for d in devs]
        time.sleep(2)
        assert all(r.running() for r in readers)
        sup = svc.proc.pid
        victims = [sup]
        if whole_tree:  # what a cgroup-wide SIGKILL (OOM, systemctl kill) does
            todo = [sup]
            while todo:
                kids = faultlib.children(todo.pop())
                victims += kids
                todo += kids
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # a child that ended meanwhile (the gadget-helper of a cleanup)
        svc.proc.wait(10)
        t_kill = time.monotonic()
        if whole_tree:
            # Nobody is left to take the media away from the host: the next
            # instance's workers do (systemd restarts the service); until then
            # the host waits on the gadget like on any stalled disk.
            left = leftovers()
            print("--- the dead instance's log, from the kill ---\n" + svc.log_tail(4000))
            restart(svc)
        for r in readers:
            r.wait(HOST_IO_BOUND)
        t_readers = time.monotonic() - t_kill
        if not whole_tree:
            left = leftovers()
            print("--- the dead instance's log, from the kill ---\n" + svc.log_tail(4000))
            restart(svc)
        print(f"killed {len(victims)} processes; readers ended after {t_readers:.1f} s; "
              f"left behind: {left}")
        t_ready = time.monotonic() - t_kill
        # the new instance's workers cleaned what the dead one left before READY
        after = leftovers()
        assert after["gadgets"] == [] and after["nbd"] == [] and after["mounts"] == [], after
        for s in svc.slots.values():
            assert s.host_device() is None
            s.assert_clean()
        print(f"restarted and clean after {t_ready:.1f} s: {after}")
        after_restart_all_mount(svc, nginx, images, server)
    finally:
        server.stop()
    return left


def test_kill_supervisor(svc, nginx, smbd, images):
    """The workers see their supervisor go and clean up on their own; a new
    supervisor started at once has its own workers, which may meet the old
    ones still cleaning."""
    kill_supervisor_mid_read(svc, nginx, smbd, images, whole_tree=False)
    assert leftovers()["sockets"] == [], "stale nbdkit sockets"


def test_kill_supervisor_and_all_its_processes(svc, nginx, smbd, images):
    """Nobody cleans up: gadgets, the share's mount, nbdkit's socket are left
    for the next instance's workers, which clean them before saying ready."""
    left = kill_supervisor_mid_read(svc, nginx, smbd, images, whole_tree=True)
    assert left["gadgets"], "the test should have left gadgets behind"
    assert leftovers()["sockets"] == [], "stale nbdkit sockets"


# ---------------------------------------------------------------- image server stalls

def stall_during_read(service_factory, ca, nginx, images, timeout, stall):
    svc = service_factory({"Slot_2": (1, 2, {"Timeout": timeout})}, extra={"CAFile": ca.ca_file})
    slot = svc.slots["Slot_2"]
    image = os.path.join(images, "big.img")
    dev = mounted(slot, lambda: mount_https(slot, nginx), svc)
    nginx.pause()
    resume = threading.Timer(stall, nginx.resume)
    resume.start()
    try:
        t0 = time.monotonic()
        got = sha256_file(dev, os.path.getsize(image))
        elapsed = time.monotonic() - t0
    finally:
        resume.cancel()
        nginx.resume()
    assert got == sha256_file(image)
    assert elapsed >= stall - 1, "the read did not wait for the server"
    assert slot.get("Process", "Active") is True
    assert slot.unmount() is True and slot.wait_completion(60) == 0
    slot.assert_clean()
    return elapsed


def test_a_long_stall_within_the_timeout_is_no_io_error(service_factory, ca, nginx, images):
    """The server stalls 25 s from the first byte of the host's read (Timeout
    60): every read completes with the right data once it is back."""
    elapsed = stall_during_read(service_factory, ca, nginx, images, 60, 25)
    print(f"read 24 MiB across a 25 s stall in {elapsed:.1f} s")


def test_a_server_that_never_comes_back(service_factory, ca, nginx, images):
    """The server stalls for good while the host reads: the host's read fails
    (EIO) and its media goes away within the bound, the slot reports
    ETIMEDOUT/ECONNRESET and is Ready; the next Mount works once the server is back."""
    timeout = 20
    svc = service_factory({"Slot_2": (1, 2, {"Timeout": timeout})}, extra={"CAFile": ca.ca_file})
    slot = svc.slots["Slot_2"]
    image = os.path.join(images, "big.img")
    dev = mounted(slot, lambda: mount_https(slot, nginx), svc)
    reader = HostReader(dev)
    bound = 6 * timeout + 30
    try:
        time.sleep(1)
        nginx.pause()
        t0 = time.monotonic()
        result = slot.wait_completion(bound)
        t_completion = time.monotonic() - t0
        t_reader = reader.wait(bound)
        wait_for("the media to go away", lambda: slot.host_device() is None, bound)
        t_gone = time.monotonic() - t0
    finally:
        nginx.resume()
        reader.stop()
    print(f"server gone for good: Completion({vmtest.errno_name(result)}) after {t_completion:.1f} s, "
          f"ExitCode {slot.get('Process', 'ExitCode')}, reader ended after {t_reader:.1f} s "
          f"({reader.error()!r}), media gone after {t_gone:.1f} s")
    assert result in (errno.ETIMEDOUT, errno.ECONNRESET), vmtest.errno_name(result)
    assert slot.get("Process", "Active") is False
    slot.assert_clean()
    remount_checks_out(slot, lambda: mount_https(slot, nginx), image, svc)
