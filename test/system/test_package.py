# SPDX-License-Identifier: Apache-2.0
"""Issue 5: the Debian package in the systemd virtual BMC.

One scenario, in file order (the fixtures are session-wide): dpkg -i, what
the package put where, the service started by systemd on the system bus, a
Proxy and a Legacy HTTPS mount end to end, each process's user and
capabilities, an SMB mount whose nbdkit is killed mid-read, the D-Bus policy, the journal, and a `systemctl stop` with
both slots mounted that leaves nothing behind.
"""
import errno
import glob
import grp
import hashlib
import json
import os
import pwd
import re
import stat
import time

from gi.repository import Gio, GLib

from conftest import CONFIG, SOCKDIR, run
import faultlib
import vmtest
from vmtest import sha256_file

REPO = vmtest.REPO
HELPER = "/usr/libexec/virtual-media/vmedia-gadget-helper"
WORKER = "/usr/libexec/virtual-media/vmedia-worker"
SUPERVISOR = "/usr/sbin/vmedia-supervisor"
CAP_SYS_ADMIN = 1 << 21
CAP_DAC_READ_SEARCH = 1 << 2
WORKER_CAPS = CAP_SYS_ADMIN | CAP_DAC_READ_SEARCH
DEST = vmtest.BUS_NAME
MOUNT_TIMEOUT = 120  # s: TCG on a shared 2-core machine

# Where Debian (bookworm) looks for each kind of file.  Units: /lib/systemd/
# system, see debian/rules (the same directory with merged /usr).
INSTALLED = [
    SUPERVISOR, WORKER, HELPER, CONFIG,
    "/lib/systemd/system/virtual-media.service",
    "/lib/systemd/system/vmedia-worker@.service",
    "/lib/systemd/system/vmedia-worker@.socket",
    "/usr/lib/systemd/system-generators/virtual-media-generator",
    "/usr/lib/sysusers.d/virtual-media.conf",
    "/usr/lib/tmpfiles.d/virtual-media.conf",
    "/usr/lib/udev/rules.d/60-virtual-media.rules",
    "/usr/lib/modules-load.d/virtual-media.conf",
    "/usr/share/dbus-1/system.d/xyz.openbmc_project.VirtualMedia.conf",
    "/usr/share/dbus-1/system-services/xyz.openbmc_project.VirtualMedia.service",
    "/usr/share/dbus-1/interfaces/xyz.openbmc_project.VirtualMedia.xml",
    "/usr/share/doc/virtual-media/README.md",
    "/usr/share/doc/virtual-media/copyright",
]


# --- helpers ---------------------------------------------------------------------

def status(pid):
    """/proc/PID/status as a dict of strings."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def uids(st):
    """(real, effective, saved, fs) uids from a status dict."""
    return tuple(int(u) for u in st["Uid"].split())


def caps(st, which="CapEff"):
    return int(st[which], 16)


def unit_pids(unit):
    """{pid: exe} of the processes in a unit's cgroup."""
    cg = run("systemctl", "show", "-P", "ControlGroup", unit).stdout.strip()
    assert cg, f"{unit} has no cgroup (not running?)"
    out = {}
    with open(f"/sys/fs/cgroup{cg}/cgroup.procs") as f:
        for pid in f.read().split():
            try:
                out[int(pid)] = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                pass  # exited meanwhile
    return out


def by_exe(pids, name):
    found = [pid for pid, exe in pids.items() if os.path.basename(exe) == name]
    assert found, f"no {name} among {pids}"
    return found


def uid_of(user):
    return pwd.getpwnam(user).pw_uid


def all_exes():
    """{pid: exe} of every process in the VM."""
    out = {}
    for d in glob.glob("/proc/[0-9]*"):
        try:
            out[int(d[6:])] = os.readlink(d + "/exe")
        except OSError:
            pass
    return out


def units(pattern):
    """{unit: active state} of the loaded units matching pattern."""
    out = run("systemctl", "list-units", "--all", "--plain", "--no-legend", pattern).stdout
    return {f[0]: f[2] for f in (line.split() for line in out.splitlines()) if len(f) >= 3}


def mount_legacy(slot, url, creds=b"\0\0"):
    """Mount(s url, b rw, h fd) as bmcweb calls it: the credentials ("user\\0
    password\\0"; none: "\\0\\0") through a pipe, its fd passed over the system bus."""
    r, w = os.pipe()
    os.write(w, creds)
    os.close(w)
    fds = Gio.UnixFDList.new_from_array([r])  # takes r
    return slot.call("Legacy", "Mount", GLib.Variant("(sbh)", (url, False, 0)), fd_list=fds)[0]


def mount_and_check(slot, image):
    assert (slot.mount() if slot.mode == "Proxy" else mount_legacy(slot, image[1])) is True
    result = slot.wait_completion(MOUNT_TIMEOUT)
    assert result == 0, f"{slot.name}: Completion {vmtest.errno_name(result)}\n{journal_text()}"
    dev = slot.wait_host_device(60)
    assert os.path.basename(dev).startswith("sr"), dev
    assert sha256_file(dev, os.path.getsize(image[0])) == sha256_file(image[0])
    return dev


def queue_kb(slot, name):
    with open(f"/sys/block/{os.path.basename(slot.device)}/queue/{name}") as f:
        return int(f.read())


def unmount_and_check(slot):
    assert slot.unmount() is True
    assert slot.wait_completion(MOUNT_TIMEOUT) == 0
    vmtest.wait_for(f"{slot.name}'s host device to go", lambda: slot.host_device() is None, 30)
    slot.assert_clean()


def journal(unit):
    """The unit's journal entries (dicts) of this boot."""
    run("journalctl", "--sync", check=False)
    out = run("journalctl", "-b", "-u", unit, "-o", "json", "--no-pager").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def journal_text():
    return run("journalctl", "-b", "--no-pager", "-n", "80", "-u", "virtual-media",
               "-u", "vmedia-worker@*", check=False).stdout


def dbus_send(user, path, iface_method, *args):
    """dbus-send --system as another user: (exit status, output)."""
    p = run("runuser", "-u", user, "--", "dbus-send", "--system", "--print-reply",
            f"--dest={DEST}", path, iface_method, *args, check=False)
    return p.returncode, p.stdout + p.stderr


# --- the package ---------------------------------------------------------------------

def test_dpkg_installs_it(installed):
    st = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "virtual-media").stdout
    assert st.strip() == "ii"


def test_files_in_debians_places(installed):
    missing = [p for p in INSTALLED if not os.path.exists(p)]
    assert not missing, f"not installed: {missing}"
    listed = set(run("dpkg", "-L", "virtual-media").stdout.split())
    assert set(INSTALLED) <= listed, f"not dpkg's: {set(INSTALLED) - listed}"


def test_users_and_groups(installed):
    for user in ("vmedia", "vmedia-worker"):
        pw = pwd.getpwnam(user)
        assert pw.pw_uid < 1000, f"{user} is not a system user"
        assert pw.pw_shell.endswith("nologin"), pw.pw_shell
    assert grp.getgrnam("vmedia-client")


def test_gadget_helper_is_setuid_for_the_workers_only(installed):
    st = os.stat(HELPER)
    assert stat.S_IMODE(st.st_mode) == 0o4750, oct(st.st_mode)
    assert st.st_uid == 0
    assert st.st_gid == grp.getgrnam("vmedia-worker").gr_gid
    # dpkg knows, so that upgrades keep it
    assert run("dpkg-statoverride", "--list", HELPER).stdout.split() == \
        ["root", "vmedia-worker", "4750", HELPER]


def test_config_is_a_conffile(installed):
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "virtual-media").stdout.split()
    assert CONFIG in conffiles, conffiles
    md5 = conffiles[conffiles.index(CONFIG) + 1]
    with open(os.path.join(REPO, "conf/config.json"), "rb") as f:
        assert md5 == hashlib.md5(f.read()).hexdigest()


def test_runtime_dirs_and_devices(installed):
    st = os.stat(SOCKDIR)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == \
        (0o2770, 0, grp.getgrnam("vmedia-client").gr_gid)
    st = os.stat("/run/vmedia")
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, uid_of("vmedia-worker"))
    # udevd applied the package's rule (the postinst triggered the nbd devices)
    worker_gid = grp.getgrnam("vmedia-worker").gr_gid
    vmtest.wait_for("/dev/nbd0 to belong to vmedia-worker",
                    lambda: os.stat("/dev/nbd0").st_gid == worker_gid, 30)
    assert stat.S_IMODE(os.stat("/dev/nbd0").st_mode) == 0o660


def test_enabled_and_started_on_install(installed):
    assert run("systemctl", "is-enabled", "virtual-media.service").stdout.strip() == "enabled"
    assert run("systemctl", "is-active", "virtual-media.service",
               check=False).stdout.strip() == "active", journal_text()


# --- the service under systemd ----------------------------------------------------

def test_systemctl_start_brings_it_up(service):
    assert run("systemctl", "is-active", "virtual-media.service").stdout.strip() == "active"
    objs = service.slots["Slot_0"].conn.call_sync(
        DEST, vmtest.ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", None,
        None, Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
    assert set(objs) == {f"{vmtest.ROOT}/Proxy/Slot_0", f"{vmtest.ROOT}/Legacy/Slot_2"}


def worker_services_stopped():
    """No worker service runs (nor failed): a worker runs only while its slot is used."""
    return all(state == "inactive" for u, state in units("vmedia-worker@*").items()
               if u.endswith(".service"))


def test_worker_units_per_slot(service):
    got = units("vmedia-worker@*")
    for slot in ("Slot_0", "Slot_2"):
        assert got.get(f"vmedia-worker@{slot}.socket") == "active", got
    # the workers that cleaned the slots at the service's start have exited
    vmtest.wait_for("the cleaning workers to exit", worker_services_stopped, 30, 0.5)
    got = units("vmedia-worker@*")
    # the shipped config's other slots went with the old config
    assert not any("Slot_1" in u or "Slot_3" in u for u, state in got.items()
                   if state == "active"), got


def test_supervisor_runs_unprivileged(service):
    pid = int(run("systemctl", "show", "-P", "MainPID", "virtual-media.service").stdout)
    assert os.readlink(f"/proc/{pid}/exe") == SUPERVISOR
    st = status(pid)
    assert uids(st) == (uid_of("vmedia"),) * 4
    assert caps(st) == 0 and caps(st, "CapPrm") == 0 and caps(st, "CapBnd") == 0
    assert st["NoNewPrivs"] == "1"


def test_proxy_mount(service, proxy_server, images):
    slot = service.slots["Slot_0"]
    mount_and_check(slot, (images["proxy"],))
    # within bmcweb's 128 KiB: set by the setuid helper (the udev rule no longer
    # touches it, and the worker cannot)
    assert (queue_kb(slot, "max_sectors_kb"), queue_kb(slot, "read_ahead_kb")) == (128, 128)
    procs = unit_pids("vmedia-worker@Slot_0.service")
    worker_uid = uid_of("vmedia-worker")
    # the worker: mounts and the NBD ioctls, and /proc/fs/cifs/open_files
    # (cifs_opens.h); nbd-client: the NBD ioctls alone
    for pid, want in [(p, WORKER_CAPS) for p in by_exe(procs, "vmedia-worker")] + \
                     [(p, CAP_SYS_ADMIN) for p in by_exe(procs, "nbd-client")]:
        st = status(pid)
        assert uids(st) == (worker_uid,) * 4, (procs[pid], st["Uid"])
        assert caps(st) == want and caps(st, "CapPrm") == want, (procs[pid], st["CapEff"])
        assert caps(st, "CapBnd") == WORKER_CAPS, (procs[pid], st["CapBnd"])
    for pid in by_exe(procs, "vmedia-gadget-helper"):
        st = status(pid)
        assert uids(st)[1] == 0, f"the helper's euid: {st['Uid']}"
        assert caps(st) == 0 and caps(st, "CapPrm") == 0, (st["CapEff"], st["CapPrm"])
        assert st["NoNewPrivs"] == "1"
    unmount_and_check(slot)
    vmtest.wait_for("the slot's worker to exit", worker_services_stopped, 30, 0.5)


def test_legacy_https_mount(service, nginx, images):
    slot = service.slots["Slot_2"]
    url = nginx.url("/open/legacy.iso")
    mount_and_check(slot, (images["legacy"], url))
    assert slot.get("MountPoint", "ImageURL") == url
    assert (queue_kb(slot, "max_sectors_kb"), queue_kb(slot, "read_ahead_kb")) == (1024, 1024)
    procs = unit_pids("vmedia-worker@Slot_2.service")
    for pid in by_exe(procs, "nbdkit"):
        st = status(pid)
        assert uids(st) == (uid_of("vmedia-worker"),) * 4, st["Uid"]
        assert caps(st) == 0 and caps(st, "CapPrm") == 0, (st["CapEff"], st["CapPrm"])
        assert st["NoNewPrivs"] == "1"
    unmount_and_check(slot)


def test_legacy_smb_nbdkit_killed_mid_read(service, smbd, big_image):
    """The unit's worker (vmedia-worker, two capabilities) unmounts an SMB
    share after its nbdkit was killed while its reads crossed a slow link
    (300 ms round trips) only once the kernel has let go of them: it can read
    /proc/fs/cifs/open_files, the slot is clean and the kernel says nothing
    (Linux 6.1 BUG()s on an earlier unmount)."""
    slot = service.slots["Slot_2"]
    kernel = faultlib.KernelLog()
    with faultlib.slow_loopback(150):
        url = f"smb://127.0.0.1:{smbd.port}/images/{os.path.basename(big_image)}"
        assert mount_legacy(slot, url, f"{smbd.user}\0{smbd.password}\0".encode()) is True
        result = slot.wait_completion(MOUNT_TIMEOUT)
        assert result == 0, f"Completion {vmtest.errno_name(result)}\n{journal_text()}"
        reader = faultlib.HostReader(slot.wait_host_device(60), bs="1M")
        try:
            time.sleep(3)
            assert reader.running(), f"the host's reader ended early: {reader.error()}"
            slot.forget_completions()
            [nbdkit] = by_exe(unit_pids("vmedia-worker@Slot_2.service"), "nbdkit")
            os.kill(nbdkit, 9)
            result = slot.wait_completion(MOUNT_TIMEOUT)
            reader.wait(MOUNT_TIMEOUT)
        finally:
            reader.stop()
        assert result in (errno.ECONNRESET, errno.EIO), vmtest.errno_name(result)
        vmtest.wait_for("Slot_2 to be ready again", slot.worker_ready, 60, 0.5)
    lines = [e["MESSAGE"] for e in journal("vmedia-worker@Slot_2.service") if "MESSAGE" in e]
    assert any("the kernel still finishes the reads of" in m for m in lines), lines
    assert any("the kernel has let go of them" in m for m in lines), lines
    assert not any("unmounting without waiting" in m for m in lines), lines
    trouble = kernel.trouble()
    assert not trouble, "\n".join(trouble)
    slot.assert_clean()


def test_dbus_policy(service, proxy_server):
    """Mount: only root and group vmedia-client; properties: everyone."""
    run("useradd", "-M", "-s", "/usr/sbin/nologin", "vmoutsider")
    run("useradd", "-M", "-s", "/usr/sbin/nologin", "-G", "vmedia-client", "vminsider")
    path = f"{vmtest.ROOT}/Proxy/Slot_0"
    get = ("org.freedesktop.DBus.Properties.Get", f"string:{vmtest.IFACE}Process",
           "string:Active")
    rc, out = dbus_send("vmoutsider", path, *get)
    assert rc == 0 and "boolean false" in out, out
    rc, out = dbus_send("vmoutsider", path, f"{vmtest.IFACE}Proxy.Mount")
    assert rc != 0 and "org.freedesktop.DBus.Error.AccessDenied" in out, out
    slot = service.slots["Slot_0"]
    assert slot.get("Process", "Active") is False  # the denied call did nothing

    rc, out = dbus_send("vminsider", path, f"{vmtest.IFACE}Proxy.Mount")
    assert rc == 0 and "boolean true" in out, out
    assert slot.wait_completion(MOUNT_TIMEOUT) == 0
    rc, out = dbus_send("vminsider", path, f"{vmtest.IFACE}Proxy.Unmount")
    assert rc == 0 and "boolean true" in out, out
    assert slot.wait_completion(MOUNT_TIMEOUT) == 0
    slot.assert_clean()


def test_journal(service):
    """Journald-friendly logs: the mounts' lines under each unit, with the
    GLib levels as syslog priorities (g_message: 5, notice)."""
    sup = journal("virtual-media.service")
    lines = [(e["PRIORITY"], e["MESSAGE"]) for e in sup if "MESSAGE" in e]
    assert ("5", "Slot_0: Completion(0)") in lines, lines
    assert ("5", "Slot_2: Completion(0)") in lines, lines
    for slot in ("Slot_0", "Slot_2"):
        lines = [(e["PRIORITY"], e["MESSAGE"]) for e in journal(f"vmedia-worker@{slot}.service")
                 if "MESSAGE" in e]
        assert ("5", f"{slot}: mounted") in lines, lines
        assert any(p == "5" and re.match(f"{slot}: the host sees /dev/nbd", m)
                   for p, m in lines), lines
    text = run("journalctl", "-b", "-u", "virtual-media", "--no-pager").stdout
    assert "Slot_0: Completion(0)" in text


def test_stop_leaves_nothing_behind(service, proxy_server, nginx, images):
    """systemctl stop with both slots mounted: no gadget, NBD connection,
    mount, or process of the service is left."""
    mount_and_check(service.slots["Slot_0"], (images["proxy"],))
    mount_and_check(service.slots["Slot_2"], (images["legacy"], nginx.url("/open/legacy.iso")))
    run("systemctl", "stop", "virtual-media.service", timeout=180)

    assert run("systemctl", "is-active", "virtual-media.service",
               check=False).stdout.strip() == "inactive"
    assert not [u for u, state in units("vmedia-worker@*").items() if state != "inactive"]
    assert not glob.glob(f"{vmtest.GADGETS}/*"), os.listdir(vmtest.GADGETS)
    assert not glob.glob("/sys/block/nbd*/pid"), "an NBD device is still connected"
    for slot in service.slots.values():
        assert slot.host_device() is None and slot.nbd_size() == 0
    ours = {proxy_server.proc.pid}  # the test's own "web server"
    left = {pid: exe for pid, exe in all_exes().items()
            if pid not in ours and (exe.startswith("/usr/libexec/virtual-media/")
                                    or os.path.basename(exe) in ("vmedia-supervisor",
                                                                 "nbd-client", "nbdkit"))}
    assert not left, f"processes left: {left}"
    with open("/proc/mounts") as f:
        fstypes = [line.split()[2] for line in f]
    assert not [t for t in fstypes if t in ("cifs", "smb3", "nfs", "nfs4")], fstypes


def test_reference_config_path(installed, tmp_path):
    """A BMC that swapped services keeps /etc/virtual-media.json: with no
    config of ours, the generator and --check-config read that one."""
    saved = CONFIG + ".test-saved"
    reference = "/etc/virtual-media.json"
    os.rename(CONFIG, saved)
    try:
        with open(reference, "w") as f:
            json.dump({"InactivityTimeout": 1800, "RetryCount": 3, "RetryInterval": 15,
                       "MountPoints": {f"Slot_{n}": {
                           "EndpointId": f"/nbd/{n}" if n < 2 else "", "Mode": int(n >= 2),
                           "NBDDevice": f"nbd{n}", "UnixSocket": f"/run/virtual-media/nbd{n}.sock",
                           "Timeout": 30 if n < 2 else 90, "BlockSize": 512}
                           for n in range(4)}}, f)
        out = run(SUPERVISOR, "--check-config").stdout
        assert f"{reference}: 4 slots, valid" in out, out
        gen = tmp_path / "gen"
        gen.mkdir()
        run("/usr/lib/systemd/system-generators/virtual-media-generator", str(gen))
        wants = sorted(os.listdir(gen / "virtual-media.service.wants"))
        assert wants == [f"vmedia-worker@Slot_{n}.socket" for n in range(4)], wants
    finally:
        if os.path.exists(reference):
            os.unlink(reference)
        os.rename(saved, CONFIG)


def test_purge(installed):
    """dpkg --purge takes everything of the package away but the users."""
    run("dpkg", "--purge", "virtual-media", timeout=180)
    assert run("dpkg-statoverride", "--list", HELPER, check=False).returncode != 0
    left = [p for p in INSTALLED if os.path.exists(p)]
    assert not left, f"left after purge: {left}"
    assert not os.path.exists(os.path.dirname(CONFIG))
    assert run("systemctl", "is-enabled", "virtual-media.service",
               check=False).stdout.strip() in ("", "not-found")
    assert pwd.getpwnam("vmedia-worker")  # Debian leaves system users
