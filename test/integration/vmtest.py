# SPDX-License-Identifier: Apache-2.0
"""Helpers for the integration tests that run inside the virtual BMC.

They drive the real thing: a private dbus-daemon, the service from build/,
nbdkit playing the web server's part on the slot's Unix socket, the kernel's
nbd and USB gadget drivers, and the "server host" side of dummy_hcd, where the
media shows up as /dev/srN or /dev/sdX.
"""
import errno
import glob
import hashlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from gi.repository import Gio, GLib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("VMEDIA_BUILD", os.path.join(REPO, "build"))
# The ASan/UBSan build of the service (make check-asan), which the tests marked
# "asan" run when it is there; sanitizer reports fail them (conftest.py).
ASAN_BUILD = os.path.join(REPO, "build", "asan")
ASAN_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
            "UBSAN_OPTIONS": "print_stacktrace=1"}
BUS_NAME = "xyz.openbmc_project.VirtualMedia"
ROOT = "/xyz/openbmc_project/VirtualMedia"
IFACE = "xyz.openbmc_project.VirtualMedia."
GADGETS = "/sys/kernel/config/usb_gadget"


def wait_for(what, predicate, timeout=20.0, interval=0.05):
    """Poll predicate() until it returns a true value; fail with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def sha256_file(path, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        left = length
        while left is None or left > 0:
            chunk = f.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


def make_iso(path, size_mib=2, label="VMTEST"):
    """An ISO 9660 image with a file of random content (the gadget refuses CD
    images under 300 sectors of 2048 bytes)."""
    src = tempfile.mkdtemp(prefix="iso-")
    with open(os.path.join(src, "payload.bin"), "wb") as f:
        f.write(os.urandom(size_mib << 20))
    with open(os.path.join(src, "README.TXT"), "w") as f:
        f.write(f"virtual media test image {label}\n")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", label, "-o", path, src],
                   check=True)
    subprocess.run(["rm", "-rf", src], check=True)
    return path


def make_disk(path, size_mib=4):
    """A raw disk image (no ISO 9660 signature): the host sees a USB stick."""
    with open(path, "wb") as f:
        f.write(os.urandom(size_mib << 20))
    return path


class Nbdkit:
    """nbdkit serving an image on a Unix socket: the web server's part in Proxy mode."""

    def __init__(self, socket_path, image, readonly=True):
        self.socket_path = socket_path
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        args = ["nbdkit", "--foreground", "--unix", socket_path, "--exit-with-parent"]
        if readonly:
            args.append("--readonly")
        self.args = args + ["file", image]
        self._start()

    def _start(self):
        self.proc = subprocess.Popen(self.args)
        wait_for(f"nbdkit on {self.socket_path}", lambda: os.path.exists(self.socket_path), 10)

    def ensure_running(self):
        """Start it again if it has died.  nbdkit 1.32 itself can abort when its
        client is killed mid-reply ("raw_send_socket: Assertion `sock >= 0'
        failed", seen under load): in Proxy mode that server is the web
        server's, not the service's, and the fault tests test the service's
        recovery, so the next Mount gets a live server (and the output says so)."""
        if self.proc.poll() is None:
            return
        print(f"the test's nbdkit had exited ({self.proc.returncode}): started again")
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self._start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                # nbdkit waits for its clients: a test that failed midway may
                # have left one; do not let that hide the test's own error
                self.proc.kill()
                self.proc.wait(10)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)


class SilentServer:
    """A Unix socket that accepts connections and never answers: a stuck web server."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(socket_path)
        self.sock.listen(8)

    def stop(self):
        self.sock.close()
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)


class DBusDaemon:
    """A private system bus for the service and the tests."""

    CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

    def __init__(self, tmpdir):
        self.path = os.path.join(tmpdir, "system_bus_socket")
        conf = os.path.join(tmpdir, "bus.conf")
        with open(conf, "w") as f:
            f.write(self.CONFIG.format(path=self.path))
        self.proc = subprocess.Popen(["dbus-daemon", "--nofork", "--nopidfile",
                                      f"--config-file={conf}"])
        wait_for("dbus-daemon", lambda: os.path.exists(self.path), 10)
        self.address = f"unix:path={self.path}"
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.address

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def write_config(path, slots, inactivity=1800, extra=None):
    """slots: {name: (mode, n)} -> a config with /dev/nbdN and sockets in /run/vmtest."""
    mps = {}
    for name, (mode, n, *rest) in slots.items():
        mp = {
            "EndpointId": f"/nbd/{n}" if mode == 0 else "",  # bmcweb: "" is a URL slot
            "Mode": mode,
            "NBDDevice": f"/dev/nbd{n}",
            "UnixSocket": f"/run/vmtest/nbd{n}.sock",
            "Timeout": 30,
            "BlockSize": 512,
        }
        if rest:
            mp.update(rest[0])
        mps[name] = mp
    cfg = {"InactivityTimeout": inactivity, "MountPoints": mps}
    if extra:
        cfg.update(extra)
    os.makedirs("/run/vmtest", exist_ok=True)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path


class Service:
    """The supervisor from build/, on the private bus, with its log in a file."""

    def __init__(self, bus, config, log_path, build=None, env=None):
        self.bus = bus
        self.config = config
        self.log_path = log_path
        self.build = build or BUILD
        self.env = env or {}
        self.log = open(log_path, "ab")
        # the supervisor runs the worker next to it, the worker the helper
        self.proc = subprocess.Popen([os.path.join(self.build, "vmedia-supervisor"), "--config",
                                      config], stdout=self.log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, G_MESSAGES_DEBUG="", **self.env))
        self.conn = bus.connect()
        wait_for("the service's bus name", self.has_name, 15)
        with open(config) as f:
            cfg = json.load(f)
        self.slots = {}
        for name, mp in cfg["MountPoints"].items():
            self.slots[name] = Slot(self, name, mp)
        try:
            # a worker per slot cleans what an earlier instance may have left,
            # then the slot is Ready and its worker goes: nothing runs for an idle slot
            for s in self.slots.values():
                wait_for(f"{s.name} to be cleaned up", s.worker_ready, 60)
            wait_for("the cleaning workers to exit", lambda: not self.workers(), 30)
        except AssertionError as e:
            import faultlib
            raise AssertionError(f"{e}\n--- processes ---\n{faultlib.describe_processes()}\n"
                                 f"--- the service's log ---\n{self.log_tail(6000)}") from None

    def has_name(self):
        reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "NameHasOwner",
                                    GLib.Variant("(s)", (BUS_NAME,)), None,
                                    Gio.DBusCallFlags.NONE, 5000, None)
        return reply.unpack()[0]

    def workers(self):
        """The pids of the supervisor's running workers (zombies do not count)."""
        out = []
        for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
            with open(f"/proc/{self.proc.pid}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
        alive = []
        for p in out:
            try:
                with open(f"/proc/{p}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        alive.append(p)
            except OSError:
                pass
        return sorted(alive)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_tail(self, chars):
        """The log's end for a failure message, a run of lines that differ only
        in their time stamp (a test polling the slot) shown once with its count."""
        out = []
        for _, run in itertools.groupby(self.log_text().splitlines(),
                                        lambda line: re.sub(r"\d\d:\d\d:\d\d\.\d{3}", "", line)):
            first, repeats = next(run), sum(1 for _ in run)
            out.append(first)
            if repeats:
                out.append(f"    (and {repeats} more like it)")
        return "\n".join(out)[-chars:]

    def managed_objects(self):
        reply = self.conn.call_sync(BUS_NAME, ROOT, "org.freedesktop.DBus.ObjectManager",
                                    "GetManagedObjects", None, None, Gio.DBusCallFlags.NONE,
                                    5000, None)
        return reply.unpack()[0]

    def stop(self, timeout=40):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        self.log.close()
        return self.proc.returncode


class DBusError(Exception):
    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name


class Slot:
    """A slot's D-Bus object, with its signals recorded as they arrive."""

    def __init__(self, service, name, mp):
        self.service = service
        self.conn = service.conn
        self.name = name
        self.mode = "Proxy" if mp["Mode"] == 0 else "Legacy"
        self.path = f"{ROOT}/{self.mode}/{name}"
        self.device = mp["NBDDevice"]
        self.socket = mp["UnixSocket"]
        self.completions = []
        self.changes = []  # (interface, {property: value})
        self.conn.signal_subscribe(BUS_NAME, IFACE + self.mode, "Completion", self.path, None,
                                   Gio.DBusSignalFlags.NONE, self._on_completion)
        self.conn.signal_subscribe(BUS_NAME, "org.freedesktop.DBus.Properties",
                                   "PropertiesChanged", self.path, None,
                                   Gio.DBusSignalFlags.NONE, self._on_changed)

    def _on_completion(self, conn, sender, path, iface, signal_name, params):
        self.completions.append(params.unpack()[0])

    def _on_changed(self, conn, sender, path, iface, signal_name, params):
        iface_name, changed, _ = params.unpack()
        self.changes.append((iface_name, changed))

    def pump(self, seconds=0.0):
        """Dispatch D-Bus signals for up to `seconds`."""
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + seconds
        while True:
            while ctx.pending():
                ctx.iteration(False)
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    def call(self, iface, method, args=None, fd_list=None, timeout_ms=10000):
        try:
            if fd_list is not None:
                reply, _ = self.conn.call_with_unix_fd_list_sync(
                    BUS_NAME, self.path, IFACE + iface, method, args, None,
                    Gio.DBusCallFlags.NONE, timeout_ms, fd_list, None)
            else:
                reply = self.conn.call_sync(BUS_NAME, self.path, IFACE + iface, method, args,
                                            None, Gio.DBusCallFlags.NONE, timeout_ms, None)
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e) or str(e)
            Gio.DBusError.strip_remote_error(e)
            raise DBusError(name, e.message) from None
        return reply.unpack()

    def get(self, iface, prop):
        reply = self.conn.call_sync(BUS_NAME, self.path, "org.freedesktop.DBus.Properties", "Get",
                                    GLib.Variant("(ss)", (IFACE + iface, prop)), None,
                                    Gio.DBusCallFlags.NONE, 5000, None)
        return reply.unpack()[0]

    def worker_ready(self):
        # Ready (idle and clean, no worker): Unmount answers NotPermitted; while a
        # worker cleans the slot (at start, after a crash), or a Mount's worker
        # starts, Busy
        try:
            self.call(self.mode, "Unmount")
        except DBusError as e:
            return e.name == "System.Error.EPERM"
        raise AssertionError(f"{self.name}: Unmount succeeded on an idle slot")

    def mount(self, *args, fd_list=None):
        if self.mode == "Proxy":
            return self.call("Proxy", "Mount")[0]
        return self.call("Legacy", "Mount", *args, fd_list=fd_list)[0]

    def unmount(self):
        return self.call(self.mode, "Unmount")[0]

    def forget_completions(self):
        """Drop the Completions received so far, including those still queued
        for dispatch (a stale one would answer the next wait_completion())."""
        self.pump()
        self.completions.clear()

    def wait_completion(self, timeout=40.0):
        def got():
            self.pump()
            return bool(self.completions)
        wait_for(f"{self.name}'s Completion", got, timeout, 0.02)
        return self.completions.pop(0)

    def changed(self, prop):
        """The values that PropertiesChanged announced for prop, in order."""
        self.pump()
        return [c[prop] for _, c in self.changes if prop in c]

    # --- what the kernel sees ---------------------------------------------------------

    def nbd_size(self):
        with open(f"/sys/block/{os.path.basename(self.device)}/size") as f:
            return int(f.read()) * 512

    def gadget_dir(self):
        return os.path.join(GADGETS, f"vmedia_{self.name}")

    def host_device(self):
        return host_device(self.name)

    def wait_host_device(self, timeout=30.0):
        """The host's device once it can be opened: the host's SCSI layer may
        still be probing it, or recovering from a slow first command (ENXIO)."""
        def ready():
            dev = self.host_device()
            if not dev:
                return None
            try:
                os.close(os.open(dev, os.O_RDONLY))
            except OSError:
                return None
            return dev
        return wait_for(f"{self.name}'s device on the host", ready, timeout)


    def assert_clean(self):
        """Nothing of a mount is left: the helper said so, the kernel must agree."""
        assert self.host_device() is None, "the host still sees the media"
        assert not os.path.exists(self.gadget_dir()), "the gadget is still in configfs"
        assert self.nbd_size() == 0, f"{self.device} is still attached"
        out = subprocess.run(["pgrep", "-f", f"nbd-client.*{self.device}$"],
                             capture_output=True, text=True).stdout
        assert out == "", f"nbd-client still runs: {out}"


def host_device(slot_name):
    """The host-side block device of a slot's gadget (found by the SCSI model
    the gadget-helper sets: "VM <slot>"), or None."""
    model = f"VM {slot_name}"[:16]
    for dev in glob.glob("/sys/block/s[dr]*"):
        try:
            with open(os.path.join(dev, "device/model")) as f:
                if f.read().strip() != model.strip():
                    continue
            with open(os.path.join(dev, "size")) as f:
                if int(f.read()) == 0:
                    continue
        except OSError:
            continue
        return "/dev/" + os.path.basename(dev)
    return None


def errno_name(e):
    return errno.errorcode.get(e, str(e))
