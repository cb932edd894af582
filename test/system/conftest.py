# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the system test: the package installed in the systemd virtual
BMC (test/vm/run --systemd), the service run by systemd on the system bus.

The helpers of the integration tests (vmtest.py, servers.py) are imported
from test/integration, not copied.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest
from gi.repository import Gio

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import servers  # noqa: E402
import vmtest  # noqa: E402

# Not under /tmp: the worker units have PrivateTmp=yes, and they read the test
# CA from here.
WORKDIR = "/srv/vmedia-systest"
CONFIG = "/etc/virtual-media/config.json"
SOCKDIR = "/run/virtual-media"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
# One slot of each mode, on the package's socket directory.  Timeout 120 s
# (the supervisor's watchdog: 5 s more): under TCG on a 2-core machine shared
# with other VMs, nbdkit's first HTTPS request and the NBD handshake took 27 s
# once, over the shipped 30 + 5.
SLOTS = {
    "Slot_0": (0, 0, {"UnixSocket": f"{SOCKDIR}/nbd0.sock", "Timeout": 120}),
    "Slot_2": (1, 2, {"UnixSocket": f"{SOCKDIR}/nbd2.sock", "Timeout": 120}),
}


def run(*args, check=True, **kw):
    """A command's CompletedProcess (text); on failure its output in the assertion."""
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if check:
        assert p.returncode == 0, f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}"
    return p


def pytest_configure(config):
    if not os.path.isdir("/run/systemd/system") or not os.path.isdir(vmtest.GADGETS):
        raise pytest.UsageError("this test runs inside the systemd virtual BMC: test/system/run")
    if not os.environ.get("VMEDIA_DEB"):
        raise pytest.UsageError("VMEDIA_DEB: the .deb to test (test/system/run builds it)")


@pytest.fixture(scope="session")
def deb():
    return os.path.abspath(os.environ["VMEDIA_DEB"])


@pytest.fixture(scope="session")
def installed(deb):
    """dpkg -i of the package (the VM's root is a throw-away overlay)."""
    # A container host's policy-rc.d (Docker's says "exit 101") forbids
    # maintainer scripts to start services; a BMC has none.  Moved aside on
    # the VM's overlay only, so that the postinst's start is tested.
    if servers.IN_VM and os.path.exists(POLICY_RC_D):
        os.rename(POLICY_RC_D, POLICY_RC_D + ".vmtest-off")
    p = run("dpkg", "-i", deb, check=False, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    print(p.stdout, p.stderr)
    assert p.returncode == 0, f"dpkg -i failed:\n{p.stdout}{p.stderr}"
    return p


@pytest.fixture(scope="session")
def workdir():
    shutil.rmtree(WORKDIR, ignore_errors=True)
    os.makedirs(WORKDIR, mode=0o755)
    os.chmod(WORKDIR, 0o755)
    return WORKDIR


@pytest.fixture(scope="session")
def ca(workdir):
    return servers.TestCA(workdir)


@pytest.fixture(scope="session")
def images(workdir):
    d = os.path.join(workdir, "images")
    os.makedirs(d)
    return {
        "proxy": vmtest.make_iso(os.path.join(d, "proxy.iso"), 2, "PROXY"),
        "legacy": vmtest.make_iso(os.path.join(d, "legacy.iso"), 2, "LEGACY"),
        "dir": d,
    }


@pytest.fixture(scope="session")
def nginx(workdir, ca, images):
    with servers.Nginx(workdir, ca, images["dir"]) as n:
        yield n


@pytest.fixture(scope="session")
def big_image(images):
    """A disk image large enough to be in mid-read when its nbdkit is killed."""
    return vmtest.make_disk(os.path.join(images["dir"], "big.img"), 24)


@pytest.fixture(scope="session")
def smbd(workdir, images):
    with servers.Smbd(workdir, images["dir"], "vmuser", "systest-pw", port=4451,
                      name="smbd-systest") as s:
        yield s


@pytest.fixture(scope="session")
def proxy_server(installed, images):
    """The web server's part for Slot_0: nbdkit serving an ISO on the slot's
    socket.  The worker connects as vmedia-worker through group vmedia-client
    (the directory is setgid, so the socket has that group), which needs
    write permission: nbdkit makes its socket 0755 whatever the umask."""
    srv = vmtest.Nbdkit(SLOTS["Slot_0"][2]["UnixSocket"], images["proxy"])
    os.chmod(srv.socket_path, 0o770)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def configured(installed, ca):
    """The shipped config replaced by the test's; daemon-reload runs the
    package's generator, which pulls in a worker socket per slot.  The
    service the postinst started (with the shipped config) is stopped first:
    that also stops the sockets of slots the new config no longer has."""
    run("systemctl", "stop", "virtual-media.service", timeout=180)
    vmtest.write_config(CONFIG, SLOTS, extra={"CAFile": ca.ca_file})
    run("systemctl", "daemon-reload")
    with open(CONFIG) as f:
        return json.load(f)


class SystemService:
    """The service on the system bus, as vmtest.Slot wants it (a `conn`)."""

    def __init__(self, cfg):
        self.conn = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
        self.slots = {name: vmtest.Slot(self, name, mp) for name, mp in cfg["MountPoints"].items()}

    has_name = vmtest.Service.has_name


@pytest.fixture(scope="session")
def service(configured):
    """systemctl start virtual-media: the name on the system bus, every
    slot's worker ready."""
    run("systemctl", "start", "virtual-media.service", timeout=180)
    svc = SystemService(configured)
    vmtest.wait_for("the service's bus name", svc.has_name, 30)
    for s in svc.slots.values():
        vmtest.wait_for(f"{s.name}'s worker", s.worker_ready, 60, 0.5)
    return svc
