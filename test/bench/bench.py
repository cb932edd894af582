#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Issue 8: the service's benchmark, run inside the virtual BMC by `make bench`
(test/bench/bench.mk).  Every figure is measured against a baseline in the same
run and printed as a ratio, with the absolute numbers beside it (median of
BENCH_REPS runs and the range), as a Markdown table on stdout (progress on
stderr).  Variants alternate within each repetition, so that the noise of a
shared machine hits all of them alike.  The method is in the README
("Benchmarks").

Environment (defaults in brackets): BENCH_MIB [256] image size and sequential
read; BENCH_HTTPS_MIB [32] sequential read over HTTPS on loopback (TLS is slow
under TCG); BENCH_WAN_MIB [16] and BENCH_RTT_MS [20] the wide-area link;
BENCH_REPS [3]; BENCH_MOUNT_REPS [5]; BENCH_IDLE_S [20] the idle window;
BENCH_FOOTPRINT_S [60] the window of the footprint's idle wake-ups;
BENCH_ONLY a comma-separated subset of the sections (throughput, mount, wan,
idle, footprint); BENCH_SHOW_LOG=1 prints the service's log to stderr at the end (a
mount's steps, timed).  test/bench/run passes them on and keeps the table.
"""
import mmap
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))
import servers  # noqa: E402
import vmtest  # noqa: E402
import wakeups  # noqa: E402
from gi.repository import GLib  # noqa: E402


def env_int(name, default):
    return int(os.environ.get(name, default))


MIB = env_int("BENCH_MIB", 256)
HTTPS_MIB = env_int("BENCH_HTTPS_MIB", 32)
WAN_MIB = env_int("BENCH_WAN_MIB", 16)
RTT_MS = env_int("BENCH_RTT_MS", 20)
REPS = env_int("BENCH_REPS", 3)
MOUNT_REPS = env_int("BENCH_MOUNT_REPS", 5)
IDLE_S = env_int("BENCH_IDLE_S", 20)
FOOTPRINT_S = env_int("BENCH_FOOTPRINT_S", 60)
RANDOM_READS = env_int("BENCH_RANDOM_READS", 16)
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))

RAW_DEV = "/dev/nbd8"
RAW_UDC = "dummy_udc.7"  # the service's AllowedUDCs leave it to the raw chain
RAW_NAME = "RAWBENCH"   # host_device() finds "VM RAWBENCH"
RAW_SOCK = "/run/vmtest/raw.sock"
PORT = 8443
# The slots' Timeout (nbd-client's and nbdkit curl's): a TLS handshake under TCG
# on a loaded machine has taken more than the shipped 30 s.
TIMEOUT_S = 120

# The worker's nbdkit arguments for an https:// image (worker/nbdkit.c): the
# raw chain uses exactly these, so that a ratio shows what the service adds.
def service_curl_args(url, ca_file):
    return ["--filter=retry-request", "curl", f"url={url}", "protocols=https",
            "followlocation=false", f"timeout={TIMEOUT_S}", "sslverify=true", "ssl-version=tlsv1.2",
            f"cainfo={ca_file}", "retry-request-retries=5", "retry-request-delay=2",
            "retry-request-open=false"]


# The reference implementation's choice: the curl plugin, no filters.
def plain_curl_args(url, ca_file):
    return ["curl", f"url={url}", f"cainfo={ca_file}"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def drop_caches():
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def sysfs(dev, attr):
    with open(f"/sys/block/{os.path.basename(dev)}/{attr}") as f:
        return f.read().strip()


def nbd_reads(dev):
    """(read requests completed, KiB read) of an NBD device since it appeared."""
    f = sysfs(dev, "stat").split()
    return int(f[0]), int(f[2]) // 2


# --------------------------------------------------------------- the host side

def host_readable(dev):
    """Whether the first 4 KiB of dev come back (O_DIRECT: past the host's cache)."""
    buf = mmap.mmap(-1, 4096)
    try:
        fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    except OSError:
        return False
    try:
        return os.preadv(fd, [buf], 0) == 4096
    except OSError:
        return False
    finally:
        os.close(fd)


def wait_readable(name, timeout=60):
    """The host device of slot `name` once readable, polled every 5 ms."""
    def ready():
        dev = vmtest.host_device(name)
        return dev if dev and host_readable(dev) else None
    return vmtest.wait_for(f"{name}'s host device to be readable", ready, timeout, 0.005)


def read_sequential(dev, mib, start=0):
    """Seconds to read mib MiB of dev from start MiB on in 1 MiB O_DIRECT reads."""
    buf = mmap.mmap(-1, 1 << 20)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        t0 = time.monotonic()
        for i in range(start, start + mib):
            if os.preadv(fd, [buf], i << 20) != 1 << 20:
                raise AssertionError(f"short read from {dev} at {i} MiB")
        return time.monotonic() - t0
    finally:
        os.close(fd)


def read_random(dev, count, size=128 << 10, seed=8):
    """Seconds for `count` reads of `size` at random aligned offsets (the same
    offsets every time): an installer reading files scattered over an ISO."""
    buf = mmap.mmap(-1, size)
    total = MIB << 20
    offsets = random.Random(seed).sample(range(total // size), count)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        t0 = time.monotonic()
        for o in offsets:
            os.preadv(fd, [buf], o * size)
        return time.monotonic() - t0
    finally:
        os.close(fd)


# --------------------------------------------------------------- the raw chain

class RawChain:
    """The service's data path set up by hand: [nbdkit ->] nbd-client with the
    worker's options -> the gadget-helper's configfs tree on RAW_UDC.
    up() records the time of each step from its start."""

    GADGET = os.path.join(vmtest.GADGETS, "rawbench")

    def __init__(self, server_args=None, tuned=True):
        self.server_args = server_args  # nbdkit plugin and args, or None: Proxy (served already)
        self.tuned = tuned  # the service's request size and read-ahead, else the kernel's
        self.kit = self.client = None
        self.marks = {}

    def up(self, sock):
        t0 = time.monotonic()
        if self.server_args:
            for old in (sock, sock + ".pid"):
                if os.path.exists(old):
                    os.unlink(old)
            pidfile = sock + ".pid"
            self.kit = subprocess.Popen(
                ["nbdkit", "--foreground", "--exit-with-parent", "--readonly", f"--unix={sock}",
                 f"--pidfile={pidfile}", *self.server_args], stderr=subprocess.DEVNULL)
            vmtest.wait_for("nbdkit's pid file", lambda: os.path.exists(pidfile), 30, 0.005)
            self.marks["server"] = time.monotonic() - t0
        self.client = subprocess.Popen(["nbd-client", "-b", "512", "-t", str(TIMEOUT_S), "-n", "-L", "-R",
                                        "-u", sock, RAW_DEV], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        vmtest.wait_for(RAW_DEV, lambda: sysfs(RAW_DEV, "size") != "0", 30, 0.005)
        self.marks["attached"] = time.monotonic() - t0
        # as the gadget-helper does for the slot's mode (the values stay with
        # the device: set them each time)
        kb = SERVICE_REQUEST_KB["proxy" if self.server_args is None else "legacy"]
        tune_device(RAW_DEV, *((kb, kb) if self.tuned else KERNEL_DEFAULTS))
        gadget_create(self.GADGET, RAW_DEV, RAW_UDC)
        self.marks["bound"] = time.monotonic() - t0
        self.host_dev = wait_readable(RAW_NAME)
        self.marks["readable"] = time.monotonic() - t0
        return self.host_dev

    def down(self):
        gadget_remove(self.GADGET)
        vmtest.wait_for("the raw host device to go", lambda: not vmtest.host_device(RAW_NAME), 30)
        if self.client:
            subprocess.run(["nbd-client", "-d", RAW_DEV], capture_output=True)
            self.client.wait(30)
        if self.kit:
            self.kit.terminate()
            self.kit.wait(30)


def tune_device(dev, max_request_kb, read_ahead_kb):
    for attr, kb in (("max_sectors_kb", max_request_kb), ("read_ahead_kb", read_ahead_kb)):
        with open(f"/sys/block/{os.path.basename(dev)}/queue/{attr}", "w") as f:
            f.write(f"{kb}\n")


def service_request_kb():
    """The request size and read-ahead (KiB) the gadget-helper gives a slot's
    device, by mode (common/config.h: Proxy within bmcweb's 128 KiB, Legacy 1 MiB)."""
    with open(os.path.join(vmtest.REPO, "common/config.h")) as f:
        text = f.read()
    return {mode: int(re.search(rf"#define VM_{mode.upper()}_REQUEST_KB (\d+)", text).group(1))
            for mode in ("proxy", "legacy")}


SERVICE_REQUEST_KB = service_request_kb()
KERNEL_DEFAULTS = (128, 128)  # nbd's on Linux 6.1


def gadget_create(g, dev, udc):
    """What the gadget-helper writes (gadget-helper/gadget.c), for a disk."""
    def w(path, value):
        with open(os.path.join(g, path), "w") as f:
            f.write(value)
    os.mkdir(g)
    for path, value in (("idVendor", "0x1d6b"), ("idProduct", "0x0104"), ("bcdDevice", "0x0100"),
                        ("bcdUSB", "0x0200")):
        w(path, value)
    os.mkdir(os.path.join(g, "strings/0x409"))
    w("strings/0x409/manufacturer", "OpenBMC")
    w("strings/0x409/product", "Virtual Media")
    w("strings/0x409/serialnumber", RAW_NAME)
    os.mkdir(os.path.join(g, "configs/c.1"))
    w("configs/c.1/MaxPower", "250")
    os.mkdir(os.path.join(g, "configs/c.1/strings/0x409"))
    w("configs/c.1/strings/0x409/configuration", "Virtual Media")
    fn = os.path.join(g, "functions/mass_storage.usb0")
    os.mkdir(fn)
    w("functions/mass_storage.usb0/lun.0/removable", "1")
    w("functions/mass_storage.usb0/lun.0/cdrom", "0")
    w("functions/mass_storage.usb0/lun.0/ro", "1")
    w("functions/mass_storage.usb0/lun.0/inquiry_string", "%-8s%-16s%-4s" % ("OpenBMC", "VM " + RAW_NAME, "0001"))
    w("functions/mass_storage.usb0/lun.0/file", dev)
    os.symlink(fn, os.path.join(g, "configs/c.1/mass_storage.usb0"))
    w("UDC", udc)


def gadget_remove(g):
    if not os.path.isdir(g):
        return
    with open(os.path.join(g, "UDC"), "w") as f:
        f.write("\n")
    os.unlink(os.path.join(g, "configs/c.1/mass_storage.usb0"))
    for d in ("configs/c.1/strings/0x409", "configs/c.1", "functions/mass_storage.usb0",
              "strings/0x409", ""):
        os.rmdir(os.path.join(g, d))


# --------------------------------------------------------------- the service

class Bench:
    def __init__(self, work):
        self.work = work
        images = os.path.join(work, "images")
        os.makedirs(images)
        self.image = os.path.join(images, "big.img")
        log(f"bench: a {MIB} MiB image, a CA, nginx")
        with open(self.image, "wb") as f:
            for _ in range(MIB):
                f.write(os.urandom(1 << 20))
        self.ca = servers.TestCA(work)
        self.nginx = servers.Nginx(work, self.ca, images, port=PORT)
        self.url = self.nginx.url("open/big.img")
        self.bus = vmtest.DBusDaemon(work)
        cfg = vmtest.write_config(
            os.path.join(work, "config.json"),
            {name: (mode, n, {"Timeout": TIMEOUT_S}) for name, mode, n in
             (("Slot_0", 0, 0), ("Slot_1", 0, 1), ("Slot_2", 1, 2), ("Slot_3", 1, 3))},
            inactivity=1800,  # the shipped configuration's
            extra={"CAFile": self.ca.ca_file,
                   "AllowedUDCs": [f"dummy_udc.{i}" for i in range(7)]})
        self.svc = vmtest.Service(self.bus, cfg, os.path.join(work, "service.log"))
        self.proxy = self.svc.slots["Slot_0"]
        self.legacy = self.svc.slots["Slot_2"]
        self.proxy_server = None

    def stop(self):
        if self.proxy_server:
            self.proxy_server.stop()
        self.svc.stop()
        self.bus.stop()
        self.nginx.stop()

    def serve_proxy(self):
        if not self.proxy_server:
            self.proxy_server = vmtest.Nbdkit(self.proxy.socket, self.image)

    def own_cpu(self):
        return sum(wakeups.cpu_seconds(p) for p in wakeups.service_processes(self.svc.proc.pid))

    def mount(self, slot):
        """Mount; (seconds to Completion, to the host device readable, the device)."""
        slot.forget_completions()
        t0 = time.monotonic()
        if slot is self.legacy:
            ok = slot.call("Legacy", "Mount",
                           GLib.Variant("(sbv)", (self.url, False, GLib.Variant("i", -1))))[0]
        else:
            ok = slot.mount()
        assert ok is True

        def completed():
            slot.pump()
            return bool(slot.completions)
        vmtest.wait_for(f"{slot.name}'s Completion", completed, 60, 0.002)
        t_done = time.monotonic() - t0
        result = slot.completions.pop(0)
        assert result == 0, f"{slot.name}: Completion({result}):\n{self.svc.log_text()[-3000:]}"
        dev = wait_readable(slot.name)
        return t_done, time.monotonic() - t0, dev

    def unmount(self, slot):
        assert slot.unmount() is True and slot.wait_completion(60) == 0
        vmtest.wait_for("the host device to go", lambda: not slot.host_device(), 30)


# --------------------------------------------------------------- statistics

def med(xs):
    return statistics.median(xs)


def fmt(xs, unit="", digits=2):
    if not xs:
        return "–"
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}{unit}"
    return f"{med(xs):.{digits}f}{unit} ({min(xs):.{digits}f}–{max(xs):.{digits}f})"


ROWS = []


def row(what, ours, base, ratio, target, note=""):
    ROWS.append((what, ours, base, ratio, target, note))
    log(f"  {what}: {ours} | {base} | {ratio} | {target} {note}")


# --------------------------------------------------------------- sections

def throughput(b):
    """Sequential read through the host device: the service vs the raw chain,
    Proxy (nbdkit file as the web server) and Legacy https:// (no delay).  Both
    chains are up at once and the host reads them in alternating chunks, so
    that both see the same load of a shared machine."""
    log(f"bench: throughput, {REPS} runs")
    b.serve_proxy()
    for kind, mib, chunk in (("proxy", MIB, 16), ("legacy", HTTPS_MIB, 4)):
        slot = b.proxy if kind == "proxy" else b.legacy
        rates = {"service": [], "raw": []}
        cpu, cpu_rate = [], []
        for rep in range(REPS):
            _, _, sdev = b.mount(slot)
            chain = RawChain(None if kind == "proxy" else service_curl_args(b.url, b.ca.ca_file))
            try:
                rdev = chain.up(b.proxy.socket if kind == "proxy" else RAW_SOCK)
                drop_caches()
                t = {"service": 0.0, "raw": 0.0}
                c = 0.0
                for i, off in enumerate(range(0, mib, chunk)):
                    order = [("service", sdev), ("raw", rdev)]
                    for name, dev in order if (i + rep) % 2 == 0 else order[::-1]:
                        c0 = b.own_cpu()
                        t[name] += read_sequential(dev, min(chunk, mib - off), off)
                        if name == "service":
                            c += b.own_cpu() - c0
            finally:
                chain.down()
                b.unmount(slot)
            for name in t:
                rates[name].append(mib / t[name])
            cpu.append(c / (mib / 1024))
            cpu_rate.append(c / t["service"] * 1000)
            log(f"    {kind}: service {rates['service'][-1]:.2f} MiB/s, raw {rates['raw'][-1]:.2f}")
        row(f"Sequential read, {'Proxy' if kind == 'proxy' else 'Legacy https://'}, {mib} MiB "
            "(MiB/s)", fmt(rates["service"]), "raw chain " + fmt(rates["raw"]),
            f"{med(rates['service']) / med(rates['raw']):.2f}; per run "
            f"{fmt([x / y for x, y in zip(rates['service'], rates['raw'])])}", "≥ 0.97",
            f"read in turns of {chunk} MiB with the raw chain")
        row(f"CPU of the service's processes, {kind} (s/GiB)", fmt(cpu, digits=2),
            f"{fmt(cpu_rate, digits=0)} ms per s of reading", "–", "~0",
            "supervisor + worker + gadget-helper, utime+stime (10 ms ticks); the once-a-second "
            "stats look and inactivity countdown while mounted, so it scales with time, not bytes")


def mount_latency(b):
    log(f"bench: mount latency, {MOUNT_REPS} runs")
    b.serve_proxy()
    t = {k: [] for k in ("proxy", "raw", "legacy", "raw-https")}
    for rep in range(MOUNT_REPS):
        for kind in t:
            if kind in ("proxy", "legacy"):
                slot = b.proxy if kind == "proxy" else b.legacy
                done, readable, _ = b.mount(slot)
                b.unmount(slot)
                t[kind].append((done, readable))
            else:
                chain = RawChain(None if kind == "raw" else
                                 service_curl_args(b.url, b.ca.ca_file))
                chain.up(b.proxy.socket if kind == "raw" else RAW_SOCK)
                chain.down()
                t[kind].append((chain.marks["bound"], chain.marks["readable"]))
    for kind, base, label in (("proxy", "raw", "Proxy"), ("legacy", "raw-https", "Legacy https://")):
        ours = [x[0] * 1000 for x in t[kind]]
        raw = [x[0] * 1000 for x in t[base]]
        row(f"Mount → Completion, {label} (ms)", fmt(ours, digits=0),
            ("nbd-client" if kind == "proxy" else "nbdkit") + " start → gadget bound " + fmt(raw, digits=0),
            f"{med(ours) / med(raw):.2f} (+{med(ours) - med(raw):.0f} ms)", "≤ +50 ms")
        ours = [x[1] * 1000 for x in t[kind]]
        raw = [x[1] * 1000 for x in t[base]]
        row(f"Mount → host device readable, {label} (ms)", fmt(ours, digits=0),
            "→ readable " + fmt(raw, digits=0),
            f"{med(ours) / med(raw):.2f} (+{med(ours) - med(raw):.0f} ms)", "")


def link_bound(mib, requests, link_mbit):
    """MiB/s if each (serialized) request cost one round trip and the bytes
    the link's time, nothing else: a BMC whose CPU keeps up."""
    return mib / (requests * RTT_MS / 1000 + mib * 8.388608 / link_mbit)


def wan(b):
    """https:// over an emulated wide-area link: the service (its nbdkit
    settings and its device tuning) vs plain `nbdkit curl` by hand."""
    log(f"bench: https over {RTT_MS} ms RTT, {REPS} runs")
    subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay",
                    f"{RTT_MS / 2:g}ms"], check=True)
    seq = {"service": [], "plain": []}
    rnd = {"service": [], "plain": []}
    reqs = {"service": [], "plain": []}
    rreqs = {"service": [], "plain": []}
    cpu = {"service": [], "plain": []}
    try:
        for rep in range(REPS):
            for kind in seq:
                drop_caches()
                if kind == "service":
                    _, _, dev = b.mount(b.legacy)
                    nbd = b.legacy.device
                else:
                    chain = RawChain(plain_curl_args(b.url, b.ca.ca_file), tuned=False)
                    dev = chain.up(RAW_SOCK)
                    nbd = RAW_DEV
                try:
                    kit = (chain.kit.pid if kind == "plain" else
                           [p for p in wakeups.tree(b.svc.proc.pid) if wakeups.comm(p) == "nbdkit"][0])
                    tls = [kit] + b.nginx.pids()
                    c0 = sum(wakeups.cpu_seconds(p) for p in tls)
                    n0, k0 = nbd_reads(nbd)
                    secs = read_sequential(dev, WAN_MIB)
                    seq[kind].append(WAN_MIB / secs)
                    n1, k1 = nbd_reads(nbd)
                    cpu[kind].append((sum(wakeups.cpu_seconds(p) for p in tls) - c0) / WAN_MIB)
                    reqs[kind].append(((n1 - n0), (k1 - k0) / max(1, n1 - n0)))
                    rnd[kind].append(RANDOM_READS / read_random(dev, RANDOM_READS))
                    n2, k2 = nbd_reads(nbd)
                    rreqs[kind].append(((n2 - n1), (k2 - k1) / RANDOM_READS))
                finally:
                    if kind == "service":
                        b.unmount(b.legacy)
                    else:
                        chain.down()
                log(f"    {kind}: {seq[kind][-1]:.2f} MiB/s, {rnd[kind][-1]:.1f} reads/s, "
                    f"{reqs[kind][-1][0]} NBD reads of {reqs[kind][-1][1]:.0f} KiB")
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)
    row(f"https:// at {RTT_MS} ms RTT, sequential {WAN_MIB} MiB (MiB/s)", fmt(seq["service"]),
        "plain nbdkit curl " + fmt(seq["plain"]),
        f"{med(seq['service']) / med(seq['plain']):.2f}", "≥ 3",
        "NBD reads: %d of %.0f KiB vs %d of %.0f KiB" % (
            med([r[0] for r in reqs["service"]]), med([r[1] for r in reqs["service"]]),
            med([r[0] for r in reqs["plain"]]), med([r[1] for r in reqs["plain"]])))
    row("… CPU of nbdkit + nginx per MiB read (s/MiB)", fmt(cpu["service"]), "plain " + fmt(cpu["plain"]),
        f"{med(cpu['service']) / med(cpu['plain']):.2f}", "",
        "TLS at both ends of loopback, mostly taking turns: with no delay at all, about "
        f"1 / this = {1 / med(cpu['service']):.1f} MiB/s at best")
    for link_mbit in (100, 1000):
        est = {k: link_bound(WAN_MIB, med([r[0] for r in reqs[k]]), link_mbit) for k in reqs}
        row(f"… the same, link-bound model at {link_mbit} Mbit/s (MiB/s)", f"{est['service']:.1f}",
            f"plain {est['plain']:.1f}", f"{est['service'] / est['plain']:.2f}", "≥ 3",
            f"{WAN_MIB} MiB / (NBD reads × {RTT_MS} ms + bytes / link): CPU not counted")
    row(f"https:// at {RTT_MS} ms RTT, {RANDOM_READS} random 128 KiB reads (reads/s)",
        fmt(rnd["service"], digits=1), "plain nbdkit curl " + fmt(rnd["plain"], digits=1),
        f"{med(rnd['service']) / med(rnd['plain']):.2f}", "",
        "NBD reads: %d, %.0f KiB per host read vs %d, %.0f KiB" % (
            med([r[0] for r in rreqs["service"]]), med([r[1] for r in rreqs["service"]]),
            med([r[0] for r in rreqs["plain"]]), med([r[1] for r in rreqs["plain"]])))


def idle(b):
    """Wake-ups per minute and RSS: 4 slots, none active; then 2 active and idle."""
    log(f"bench: idle, {IDLE_S} s windows")
    b.serve_proxy()
    sup = b.svc.proc.pid

    def role(p):
        name = wakeups.comm(p)
        if name == "vmedia-worker":
            kids = {wakeups.comm(c) for c in wakeups.children(p)}
            return "worker, slot active" if kids & {"nbd-client", "nbdkit"} else "worker, slot ready"
        return {"vmedia-supervis": "supervisor", "vmedia-gadget-h": "gadget-helper",
                "nbdkit": "nbdkit (https://)"}.get(name, name)

    b.proxy.pump(2)
    procs = wakeups.service_processes(sup)
    none = wakeups.measure_wakeups(procs, IDLE_S)
    b.mount(b.proxy)
    b.mount(b.legacy)
    time.sleep(3)  # the host's own probing of the new devices settles
    b.proxy.pump()
    procs2 = {p: c for p, c in ((p, wakeups.comm(p)) for p in wakeups.tree(sup))}
    active = wakeups.measure_wakeups(procs2, IDLE_S)
    rss = {p: wakeups.rss_kib(p) for p in procs2}
    roles = {p: role(p) for p in procs2}  # while the children run
    b.unmount(b.proxy)
    b.unmount(b.legacy)

    per_min = 60 / IDLE_S
    total_none = sum(none.values()) * per_min
    row("Wake-ups/min, 4 slots, none active (all service processes)", f"{total_none:.0f}", "–", "–",
        "0", f"{len(none)} processes, {IDLE_S} s window")
    for r in sorted(set(roles.values()), key=lambda r: min(p for p in roles if roles[p] == r)):
        ps = sorted(p for p in roles if roles[p] == r)
        row(f"Idle, 2 of 4 slots active: {r} (×{len(ps)})",
            ", ".join(f"{active[p] * per_min:.0f}" for p in ps) + " wake-ups/min",
            "RSS " + ", ".join(f"{rss[p] / 1024:.1f}" for p in ps) + " MiB", "–", "", "")
    for prog in ("vmedia-supervisor", "vmedia-worker", "vmedia-gadget-helper"):
        path = os.path.join(vmtest.BUILD, prog)
        text = subprocess.run(["size", path], capture_output=True, text=True).stdout.splitlines()[-1].split()
        row(f"Size of {prog}", f"{os.path.getsize(path) / 1024:.0f} KiB file",
            f"text {int(text[0]) / 1024:.0f} KiB, data+bss {(int(text[1]) + int(text[2])) / 1024:.0f} KiB",
            "–", "", "")


def worker_starts(log_text):
    """Seconds from each Mount to its worker's READY (the supervisor's log:
    "Ready -> Starting (Mount)" then "Starting -> Activating (worker ready)")."""
    stamp = re.compile(r"(\d\d):(\d\d):(\d\d\.\d+): (\S+): (\w+) -> (\w+) \(")
    started, out = {}, []
    for line in log_text.splitlines():
        m = stamp.search(line)
        if not m:
            continue
        t = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        if m[5] == "Ready" and m[6] == "Starting":
            started[m[4]] = t
        elif m[5] == "Starting" and m[6] == "Activating" and m[4] in started:
            out.append((t - started.pop(m[4])) % 86400)
    return out


def footprint(b):
    """Issue 13: the shipped shape (4 slots), nothing mounted, then one Proxy
    slot mounted and idle: processes, PSS, wake-ups of every thread."""
    log(f"bench: footprint, {FOOTPRINT_S} s windows")
    b.serve_proxy()
    sup = b.svc.proc.pid
    b.proxy.pump(2)
    vmtest.wait_for("no worker", lambda: not b.svc.workers(), 30)
    tree = wakeups.tree(sup)
    pss = sum(wakeups.pss_kib(p) for p in tree)
    before = wakeups.all_switches(tree)
    time.sleep(FOOTPRINT_S)
    woke = wakeups.wakeups(before, wakeups.all_switches(tree)) * 60 / FOOTPRINT_S
    row("Nothing mounted (4 slots): processes", f"{len(tree)}", "–", "–", "1",
        ", ".join(sorted(wakeups.comm(p) for p in tree)))
    row("Nothing mounted: PSS, all processes", f"{pss / 1000:.2f} MB", "–", "–", "≤ 4.2 MB",
        "smaps_rollup")
    row("Nothing mounted: wake-ups/min, all threads", f"{woke:.0f}", "–", "–", "0",
        f"{FOOTPRINT_S} s window")

    b.mount(b.proxy)
    # the looks at the I/O counters thin out after the host's probing of the
    # new device: 1, 2, 4, 8, 16 s, then every InactivityTimeout / 15 (30 s)
    time.sleep(40)
    tree = wakeups.tree(sup)
    names = {p: wakeups.comm(p) for p in tree}
    ours = [p for p in tree if names[p] not in ("nbd-client", "nbdkit")]
    pss = {p: wakeups.pss_kib(p) for p in tree}
    before = wakeups.all_switches(tree)
    time.sleep(FOOTPRINT_S)
    after = wakeups.all_switches(tree)
    per_proc = {p: wakeups.wakeups({k: v for k, v in before.items() if k[0] == p},
                                   {k: v for k, v in after.items() if k[0] == p}) * 60 / FOOTPRINT_S
                for p in tree}
    b.unmount(b.proxy)
    detail = ", ".join(f"{names[p]} {pss[p] / 1000:.2f}" for p in tree)
    row("One Proxy slot mounted, idle: processes", f"{len(tree)}", "–", "–", "",
        ", ".join(names[p] for p in tree))
    row("One slot mounted, idle: PSS without nbd-client/nbdkit",
        f"{sum(pss[p] for p in ours) / 1000:.2f} MB", "–", "–", "≤ 6 MB", f"MB: {detail}")
    row("One slot mounted, idle: wake-ups/min, all threads",
        f"{sum(per_proc.values()):.0f}", "–", "–", "≤ 30",
        ", ".join(f"{names[p]} {per_proc[p]:.0f}" for p in tree) + f"; {FOOTPRINT_S} s window")
    starts = worker_starts(b.svc.log_text())
    if starts:
        row("Mount → the worker ready (its start: part of Mount → Completion)",
            fmt([x * 1000 for x in starts], " ms", 0), "–", "–", "",
            f"{len(starts)} mounts, from the supervisor's log")
    # the programs' stripped sizes (make bench ARCH=armhf strips them on the host
    # with the cross strip: the armhf root has no binutils)
    stripped = os.environ.get("BENCH_STRIPPED")
    for prog in ("vmedia-supervisor", "vmedia-worker", "vmedia-gadget-helper"):
        path = os.path.join(stripped, prog) if stripped else None
        if path and os.path.exists(path):
            row(f"Size of {prog}, stripped", f"{os.path.getsize(path) / 1024:.0f} KiB", "–", "–", "",
                f"unstripped {os.path.getsize(os.path.join(vmtest.BUILD, prog)) / 1024:.0f} KiB")


def main():
    work = tempfile.mkdtemp(prefix="bench-")
    t0 = time.monotonic()
    b = Bench(work)
    try:
        for name, fn in (("throughput", throughput), ("mount", mount_latency), ("wan", wan),
                         ("idle", idle), ("footprint", footprint)):
            if not ONLY or name in ONLY:
                fn(b)
    finally:
        if os.environ.get("BENCH_SHOW_LOG"):  # where a mount's time goes, step by step
            sys.stderr.write(b.svc.log_text())
        b.stop()
    kernel = os.uname().release
    lines = [f"Benchmark of virtual-media ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"kernel {kernel}, {os.cpu_count()} vCPUs, {time.monotonic() - t0:.0f} s). "
             f"Median of {REPS} runs (mount: {MOUNT_REPS}) with the range; ratio = service / baseline.",
             "",
             "| measure | service | baseline | ratio | target | notes |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in ROWS]
    text = "\n".join(lines) + "\n"
    print(text)


if __name__ == "__main__":
    main()
