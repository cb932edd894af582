# SPDX-License-Identifier: Apache-2.0
"""pytest fixtures for the tests inside the virtual BMC (see vmtest.py)."""
import os
import subprocess
import tempfile

import pytest

import faultlib
import servers
import sweep
import vmtest


# What the end of the run says (pytest_unconfigure): the kernel's complaints and
# the failures, a line each, where a log's tail shows them.
DIGEST = pytest.StashKey[dict]()


def pytest_configure(config):
    config.stash[DIGEST] = {}
    config.addinivalue_line("markers", "asan: the service runs its ASan/UBSan build "
                            "(build/asan, made by make check-asan) when there is one")
    if not os.path.isdir(vmtest.GADGETS):
        raise pytest.UsageError("these tests run inside the virtual BMC: test/integration/run")


@pytest.fixture(scope="session")
def kernel_log():
    return faultlib.KernelLog()


@pytest.fixture(autouse=True)
def clean_slate(kernel_log, request):
    """Runs last after each test: what the test and its fixtures left behind
    fails that test, and is removed so that the next ones start clean; so
    does the kernel's complaint (sweep.sweep)."""
    yield
    left = sweep.sweep(kernel_log)
    trouble = left.get("kernel trouble")
    if trouble:
        # pytest keeps one teardown error of a test: an earlier fixture's
        # (the service's) would hide this one, so it goes in the report too
        request.node.kernel_trouble = trouble
        # the kernel's own words first (BUG:, WARNING:, ...), then any trouble line
        first = next((l for l in trouble if faultlib.KERNEL_HEADLINE.search(l)),
                     next(l for l in trouble if faultlib.KERNEL_TROUBLE.search(l)))
        request.config.stash[DIGEST].setdefault("kernel", []).append(
            f"kernel trouble during {request.node.nodeid}: {first.strip()}")
    if left:
        pytest.fail("left behind (and now removed): " +
                    "\n".join(f"{kind}:\n  " + "\n  ".join(map(str, what))
                              for kind, what in left.items()), pytrace=False)


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="vmtest-")
    yield d


@pytest.fixture(scope="session")
def bus(workdir):
    b = vmtest.DBusDaemon(workdir)
    yield b
    b.stop()


@pytest.fixture(scope="session")
def iso(workdir):
    return vmtest.make_iso(os.path.join(workdir, "a.iso"), 2, "IMAGE_A")


@pytest.fixture(scope="session")
def iso_b(workdir):
    return vmtest.make_iso(os.path.join(workdir, "b.iso"), 3, "IMAGE_B")


@pytest.fixture(scope="session")
def disk(workdir):
    return vmtest.make_disk(os.path.join(workdir, "disk.img"), 4)


@pytest.fixture
def service_factory(bus, workdir, request):
    """Start the service with a config of the given slots; stopped (and checked) after."""
    started = []

    asan = (request.node.get_closest_marker("asan") and "VMEDIA_BUILD" not in os.environ
            and os.path.exists(os.path.join(vmtest.ASAN_BUILD, "vmedia-supervisor")))

    def start(slots, **kw):
        cfg = vmtest.write_config(os.path.join(workdir, f"config-{len(started)}.json"), slots, **kw)
        log = os.path.join(workdir, f"service-{request.node.name}.log")
        if asan:
            svc = vmtest.Service(bus, cfg, log, vmtest.ASAN_BUILD, vmtest.ASAN_ENV)
            started.append(svc)  # stopped after, whatever the check below finds
            for pid in [svc.proc.pid] + faultlib.children(svc.proc.pid):
                try:
                    exe = os.readlink(f"/proc/{pid}/exe")
                except FileNotFoundError:
                    continue  # a cleaning worker that has just exited
                assert exe.startswith(vmtest.ASAN_BUILD + "/"), f"{pid} runs {exe}, not ASan's"
        else:
            svc = vmtest.Service(bus, cfg, log)
            started.append(svc)
        return svc

    yield start
    for svc in started:
        try:
            rc = svc.stop()
        except subprocess.TimeoutExpired:
            pytest.fail(f"the service did not stop within 40 s of SIGTERM "
                        f"(the sweeper kills it):\n{svc.log_tail(8000)}")
        if getattr(request.node, "rep_call_failed", False) or os.environ.get("VMTEST_SHOW_LOG"):
            print(svc.log_text())
        assert rc == 0, f"the service exited with {rc}:\n{svc.log_text()}"
        # with VMEDIA_BUILD=build/asan: any sanitizer report of the service's processes
        for report in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert report not in svc.log_text(), f"{report}\n{svc.log_text()}"
        for slot in svc.slots.values():
            slot.assert_clean()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call_failed = rep.failed
    if rep.when == "teardown" and getattr(item, "kernel_trouble", None):
        rep.sections.append(("the kernel's complaint", "\n".join(item.kernel_trouble)))
    if rep.failed:
        why = str(rep.longrepr).strip().splitlines()
        why = next((l for l in why if l.startswith("E ")), why[-1] if why else "")
        item.config.stash[DIGEST].setdefault("failed", []).append(
            f"{rep.when} of {item.nodeid}: {why[:200]}")


def pytest_unconfigure(config):
    """After pytest's last line: the first failures and every kernel complaint,
    a line each (a CI log's tail may be all that is read)."""
    digest = config.stash.get(DIGEST, {})
    kernel, failed = digest.get("kernel", []), digest.get("failed", [])
    if not kernel and not failed:
        return
    print("\n--- digest: kernel complaints, then the first failures ---")
    for line in kernel[:5] + failed[:5]:
        print(line)


@pytest.fixture
def service(service_factory):
    """Two Proxy slots then two Legacy, as the shipped config."""
    return service_factory({"Slot_0": (0, 0), "Slot_1": (0, 1), "Slot_2": (1, 2), "Slot_3": (1, 3)})


@pytest.fixture(scope="module")
def srv_dir(tmp_path_factory, request):
    """A directory for one test module's image servers; "images.test" resolves to
    127.0.0.1 in the VM, for tests that need a host name (TLS and SMB)."""
    servers.add_hosts_entry("images.test")
    return str(tmp_path_factory.mktemp(request.module.__name__.replace("test_", "")))


@pytest.fixture(scope="module")
def ca(srv_dir):
    """A CA and server certificates made at test time (servers.TestCA)."""
    ca = servers.TestCA(srv_dir)
    print(f"TestCA: {ca.start_seconds:.2f} s")
    return ca
