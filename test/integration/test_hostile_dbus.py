# SPDX-License-Identifier: Apache-2.0
"""Issue 7: hostile D-Bus input.  Wrong signatures, huge and malformed URLs,
odd schemes, bad file descriptors, unknown methods, writes to read-only
properties: each is answered with a D-Bus error or a Completion errno, the
service never crashes, and it answers normally afterwards."""
import errno
import os
import socket

import pytest
from gi.repository import Gio, GLib

import vmtest
from vmtest import DBusError, Nbdkit, sha256_file

# the error paths, under ASan/UBSan (build/asan, see conftest.py)
pytestmark = pytest.mark.asan

ERR = "System.Error."  # the names sd-bus maps to an errno (supervisor/error.c)


@pytest.fixture
def svc(service_factory):
    return service_factory({"Slot_0": (0, 0), "Slot_2": (1, 2)})


def raw_call(slot, iface, method, args, fd_list=None, timeout_ms=10000):
    """A call with any signature (the interface name taken as is)."""
    try:
        reply, _ = slot.conn.call_with_unix_fd_list_sync(
            vmtest.BUS_NAME, slot.path, iface, method, args, None, Gio.DBusCallFlags.NONE,
            timeout_ms, fd_list, None)
        return reply.unpack()
    except GLib.Error as e:
        name = Gio.DBusError.get_remote_error(e) or str(e)
        raise DBusError(name, e.message) from None


def error_of(fn):
    try:
        got = fn()
    except DBusError as e:
        return e.name
    return got


def alive(svc):
    assert svc.proc.poll() is None, f"the service died:\n{svc.log_text()}"
    assert svc.has_name()


def test_wrong_signatures_unknown_methods_read_only_properties(svc):
    legacy, proxy = svc.slots["Slot_2"], svc.slots["Slot_0"]
    L, P = vmtest.IFACE + "Legacy", vmtest.IFACE + "Proxy"
    props = "org.freedesktop.DBus.Properties"
    cases = [
        (legacy, L, "Mount", GLib.Variant("(i)", (1,))),
        (legacy, L, "Mount", GLib.Variant("(sss)", ("a", "b", "c"))),
        (legacy, L, "Mount", GLib.Variant("(bs)", (True, "https://x/y.iso"))),
        (legacy, L, "Mount", GLib.Variant("(sb)", ("https://x/y.iso", True))),
        (legacy, L, "Mount", None),
        (legacy, L, "Unmount", GLib.Variant("(s)", ("x",))),
        (proxy, P, "Mount", GLib.Variant("(s)", ("https://x/y.iso",))),
        (proxy, P, "Mount", GLib.Variant("(sbv)", ("x", False, GLib.Variant("i", -1)))),
        (legacy, L, "Frobnicate", None),
        (legacy, vmtest.IFACE + "NoSuchInterface", "Mount", None),
        (proxy, L, "Mount", GLib.Variant("(s)", ("https://x/y.iso",))),  # not a Legacy slot
        (legacy, props, "Set", GLib.Variant("(ssv)", (vmtest.IFACE + "Process", "Active",
                                                       GLib.Variant("b", True)))),
        (legacy, props, "Set", GLib.Variant("(ssv)", (vmtest.IFACE + "MountPoint", "ImageURL",
                                                       GLib.Variant("s", "https://evil/")))),
        (legacy, props, "Set", GLib.Variant("(ssv)", (vmtest.IFACE + "Process", "ExitCode",
                                                       GLib.Variant("s", "not an int")))),
        (legacy, props, "Set", GLib.Variant("(ssv)", (vmtest.IFACE + "Stats", "NoSuchProperty",
                                                       GLib.Variant("t", 1)))),
        (legacy, props, "Get", GLib.Variant("(ss)", (vmtest.IFACE + "Nope", "Active"))),
        (legacy, props, "GetAll", GLib.Variant("(s)", ("",))),
    ]
    answers = []
    for slot, iface, method, args in cases:
        got = error_of(lambda: raw_call(slot, iface, method, args))
        answers.append((iface.split(".")[-1], method, args and args.get_type_string(), got))
        assert isinstance(got, str) and got.startswith(("org.freedesktop.DBus.Error.", ERR)), \
            (iface, method, args, got)
        alive(svc)
    for a in answers:
        print(a)
    # nothing changed
    assert legacy.get("Process", "Active") is False
    assert legacy.get("MountPoint", "ImageURL") == ""
    assert legacy.get("Process", "ExitCode") == -1


def legacy_mount(slot, url, fd_variant=None, fd_list=None, rw=False):
    if fd_variant is None:
        fd_variant = GLib.Variant("i", -1)
    return raw_call(slot, vmtest.IFACE + "Legacy", "Mount",
                    GLib.Variant("(sbv)", (url, rw, fd_variant)), fd_list=fd_list)[0]


def test_hostile_urls_complete_with_einval(svc):
    slot = svc.slots["Slot_2"]
    urls = {
        "1 MiB URL": "https://127.0.0.1:1/" + "a" * (1 << 20) + ".iso",
        "1 MiB of slashes": "https://" + "/" * (1 << 20),
        "NUL-free control characters": "https://127.0.0.1:1/a\x01\x7f.iso",
        "newline": "https://127.0.0.1:1/a.iso\nHost: evil",
        "tab in host": "https://127.0.0\t.1:1/a.iso",
        "credentials": "https://user:secret@127.0.0.1:1/a.iso",
        "user only": "https://user@127.0.0.1:1/a.iso",
        "dot-dot": "https://127.0.0.1:1/a/../../etc/passwd",
        "encoded dot-dot": "https://127.0.0.1:1/a/%2e%2e/b.iso",
        "dot": "https://127.0.0.1:1/./a.iso",
        "smb dot-dot": "smb://127.0.0.1:1/share/../../x.iso",
        "file:": "file:///etc/shadow",
        "ftp:": "ftp://127.0.0.1:1/a.iso",
        "javascript:": "javascript:alert(1)",
        "data:": "data:text/plain,hello",
        "empty": "",
        "scheme only": "https://",
        "no host": "https:///a.iso",
        "bad port": "https://127.0.0.1:99999/a.iso",
        "negative port": "https://127.0.0.1:-1/a.iso",
        "space": "https://127.0.0.1:1/a b.iso",
        "non-UTF-8 escape": "https://127.0.0.1:1/%ff%fe.iso",
        "ipv6 garbage": "https://[::1/a.iso",
        "backslashes": "smb:\\\\127.0.0.1\\share\\a.iso",
        "rw over https": None,
    }
    # percent-escapes are the image server's business (the URL is valid): such a
    # URL reaches nbdkit, and fails here with ECONNREFUSED (port 1)
    server_side = {"non-UTF-8 escape"}
    results = {}
    for name, url in urls.items():
        if url is None:
            ok = legacy_mount(slot, "https://127.0.0.1:1/a.iso", rw=True)
            want = errno.EROFS
        else:
            ok = error_of(lambda: legacy_mount(slot, url))
            want = errno.ECONNREFUSED if name in server_side else errno.EINVAL
        got = slot.wait_completion(30) if ok is True else ok  # else refused at the call
        results[name] = (got, want)
        vmtest.wait_for(f"{slot.name} to be Ready", slot.worker_ready, 30)
        alive(svc)
        slot.assert_clean()
    for name, (got, want) in results.items():
        print(f"{name}: {vmtest.errno_name(got) if isinstance(got, int) else got}")
    wrong = {n: g for n, (g, w) in results.items()
             if not (g == w or (isinstance(g, str) and g.startswith(ERR)))}
    assert not wrong, f"{wrong}\n{svc.log_tail(3000)}"
    # the whole URL never reaches the log (1 MiB)
    assert len(svc.log_text()) < (1 << 20)


def test_bad_file_descriptors(svc, workdir):
    slot = svc.slots["Slot_2"]
    url = "https://127.0.0.1:1/a.iso"  # would fail later with ECONNREFUSED: never reached
    r, w = os.pipe()
    s1, s2 = socket.socketpair()
    dirfd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    devnull = os.open("/dev/null", os.O_RDONLY)
    cases = [
        # (what, variant, fds to pass, expected: D-Bus error or Completion errno)
        ("a string in the variant", GLib.Variant("s", "3"), None, "EINVAL"),
        ("an int other than -1", GLib.Variant("i", 5), None, "EINVAL"),
        ("a handle without fds", GLib.Variant("h", 0), None, "EINVAL"),
        ("a handle out of range", GLib.Variant("h", 7), [devnull], "EINVAL"),
        ("a negative handle", GLib.Variant("h", -1), [devnull], "EINVAL"),
        ("an array", GLib.Variant("ai", [1, 2]), None, "EINVAL"),
        ("a nested variant", GLib.Variant("v", GLib.Variant("i", -1)), None, "EINVAL"),
        ("/dev/null (empty)", GLib.Variant("h", 0), [devnull], errno.EINVAL),
        ("a directory", GLib.Variant("h", 0), [dirfd], errno.EINVAL),
        ("a pipe's write end", GLib.Variant("h", 0), [w], None),  # EINVAL, or ETIMEDOUT
        ("a socket never closed", GLib.Variant("h", 0), [s2.fileno()], errno.ETIMEDOUT),
    ]
    for what, variant, fds, want in cases:
        fd_list = Gio.UnixFDList.new_from_array([os.dup(f) for f in fds]) if fds else None
        got = error_of(lambda: legacy_mount(slot, url, variant, fd_list))
        if got is True:
            got = slot.wait_completion(30)
        print(f"{what}: {vmtest.errno_name(got) if isinstance(got, int) else got}")
        alive(svc)
        if isinstance(want, str):
            assert isinstance(got, str) and got.endswith(want), (what, got)
        elif want is None:
            assert got in (errno.EINVAL, errno.ETIMEDOUT, errno.EBADF), (what, got)
        else:
            assert got == want, (what, got)
        vmtest.wait_for(f"{slot.name} to be Ready", slot.worker_ready, 30)
        slot.assert_clean()
    for f in (r, w, dirfd, devnull):
        os.close(f)
    s1.close()
    s2.close()


def test_still_serves_normally_afterwards(svc, iso):
    """After all of the above in one service: a Proxy mount works."""
    slot, legacy = svc.slots["Slot_0"], svc.slots["Slot_2"]
    for url in ("javascript:x", "https://" + "x" * (1 << 20)):
        got = error_of(lambda: legacy_mount(legacy, url))
        if got is True:
            assert legacy.wait_completion(30) == errno.EINVAL
    error_of(lambda: raw_call(slot, vmtest.IFACE + "Proxy", "Mount", GLib.Variant("(s)", ("x",))))
    server = Nbdkit(slot.socket, iso)
    try:
        assert slot.mount() is True and slot.wait_completion() == 0
        dev = slot.wait_host_device()
        assert sha256_file(dev, os.path.getsize(iso)) == sha256_file(iso)
        assert slot.unmount() is True and slot.wait_completion() == 0
    finally:
        server.stop()
    alive(svc)
