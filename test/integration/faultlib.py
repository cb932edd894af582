# SPDX-License-Identifier: Apache-2.0
"""Helpers for the fault, cycle and concurrency tests: a host-side reader that
runs while a fault is injected, finding the service's processes, and a census
of everything a mount can leave behind (processes, fds, nbd connections,
gadgets, mounts, sockets, temp files, RSS)."""
import contextlib
import glob
import os
import re
import signal
import subprocess
import tempfile
import time
from collections import Counter

import vmtest


class HostReader:
    """The server host reading its media in the background: dd with O_DIRECT
    (past the page caches) over the whole device, again and again, until a
    read fails or the device is gone.  done() says whether it has ended."""

    def __init__(self, dev, bs="64k"):
        self.dev = dev
        # each pass starts afresh: a vanished device fails dd's open() at once
        script = f'while dd if={dev} of=/dev/null bs={bs} iflag=direct status=none; do :; done'
        self.proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.started = time.monotonic()

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        """Seconds until the reader ended; fails if it is still running (hung I/O)."""
        t0 = time.monotonic()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stat = proc_state(self.proc.pid)
            self.stop()
            raise AssertionError(f"the host's reader of {self.dev} still runs {timeout} s after the "
                                 f"fault (state {stat}): hung host I/O") from None
        return time.monotonic() - t0

    def error(self):
        return self.proc.stderr.read().decode(errors="replace").strip()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def proc_state(pid):
    info = _comm_and_state(pid)
    return info[1] if info else "gone"


def wchan(pid):
    """Where a sleeping process waits in the kernel (its kernel stack's top
    frames when readable): what a stuck one is stuck on."""
    try:
        with open(f"/proc/{pid}/stack") as f:
            frames = [line.split()[-1] for line in f if line.strip()]
            return " < ".join(frames[:6])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read().strip()
    except OSError:
        return "?"


def process_line(pid, argv):
    """pid, state, where it waits in the kernel, argv: one line of a report."""
    return f"{pid} {proc_state(pid)} [{wchan(pid)}] {' '.join(argv)[:160]}"


def describe_processes():
    """One line per process of the service and its children: pid, state, where
    it waits, argv; then one per other thread; then every task of the VM that
    waits uninterruptibly, who holds the slots' locks and the NBD devices, and
    the kernel's complaints and last words.  For failure messages."""
    lines = []
    for pid, argv in sorted(cmdlines().items()):
        if os.path.basename(argv[0]) in SERVICE_PROGRAMS:
            lines.append(process_line(pid, argv))
            for task in sorted(glob.glob(f"/proc/{pid}/task/[0-9]*")):
                tid = os.path.basename(task)
                if tid != str(pid):
                    lines.append(f"  thread {tid} [{wchan(f'{pid}/task/{tid}')}]")
    lines += _section("exiting processes of the service (no argv left)", exiting_service_processes())
    lines += _section("tasks in uninterruptible sleep", blocked_tasks())
    lines += _section("holders of the slots' locks", slot_lock_holders())
    lines += _section("holders of NBD devices", nbd_holders())
    try:
        dmesg = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout
        lines += _section("the kernel's complaints", [l for l in dmesg.splitlines()
                                                       if KERNEL_TROUBLE.search(l)][:40])
        lines.append("--- the kernel's last words ---")
        lines += dmesg.splitlines()[-25:]
    except (OSError, subprocess.SubprocessError):
        pass
    return "\n".join(lines)


def _section(title, items):
    return [f"--- {title} ---"] + list(items) if items else []


# The line of a kernel complaint that says what it is (not its registers or stack).
KERNEL_HEADLINE = re.compile(r"BUG:|WARNING:|Oops|general protection|blocked for more than|"
                             r"soft lockup|Busy inodes|Kernel panic")
# What the kernel says when it is in trouble: a test after which it says so fails
# (sweep.py), and failure reports quote it.
KERNEL_TROUBLE = re.compile(KERNEL_HEADLINE.pattern + r"|still in use|RIP:")


@contextlib.contextmanager
def slow_loopback(delay_ms):
    """Every packet on lo delayed by delay_ms (tc netem; round trips twice
    that) while the block runs: network reads stay on the wire a while."""
    subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay",
                    f"{delay_ms}ms"], check=True)
    try:
        yield
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=True)


class KernelLog:
    """The kernel's messages since the last look, from /dev/kmsg."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.lseek(self.fd, 0, os.SEEK_END)

    def new_lines(self):
        out = []
        while True:
            try:
                record = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                return out
            except BrokenPipeError:
                continue  # records overwritten before we read them: go on after them
            head, _, text = record.partition(";")
            usec = head.split(",")[2] if head.count(",") >= 2 else "0"
            # "prio,seq,usec,flags;text\n" then " KEY=value" lines: the text alone
            out.append(f"[{int(usec) / 1e6:12.6f}] {text.splitlines()[0] if text else ''}")

    def trouble(self):
        """The new messages, if any of them says the kernel is in trouble."""
        lines = self.new_lines()
        return lines[-80:] if any(KERNEL_TROUBLE.search(l) for l in lines) else []


def _comm_and_state(pid):
    """(comm, state, flags) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return comm, fields[0], int(fields[6])


PF_KTHREAD = 0x00200000


def exiting_service_processes():
    """A process that is exiting has no argv (cmdlines() skips it) but keeps its
    name: one of ours stuck on its way out still holds its files and locks."""
    names = {p[:15] for p in SERVICE_PROGRAMS}  # the kernel keeps 15 characters
    with_argv = cmdlines()
    out = []
    for p in glob.glob("/proc/[0-9]*"):
        pid = int(os.path.basename(p))
        info = _comm_and_state(pid)
        if info and pid not in with_argv and info[0] in names and not info[2] & PF_KTHREAD:
            out.append(f"{pid} {info[1]} [{wchan(pid)}] ({info[0]}, exiting)")
    return sorted(out)


def blocked_tasks():
    """Every task (thread) in state D, with its kernel stack's top."""
    out = []
    for t in glob.glob("/proc/[0-9]*/task/[0-9]*"):
        pid, tid = t.split("/")[2], t.split("/")[4]
        info = _comm_and_state(f"{pid}/task/{tid}")
        if info and info[1] == "D":
            out.append(f"{pid}/{tid} {info[0]} [{wchan(f'{pid}/task/{tid}')}]")
    return sorted(out)


def slot_lock_holders():
    """Who holds /run/vmedia/*.lock (the workers' slot locks), from /proc/locks."""
    inodes = {}
    for path in glob.glob(os.path.join(SHARE_RUN_DIR, "*.lock")):
        try:
            inodes[os.stat(path).st_ino] = path
        except OSError:
            pass
    out = []
    try:
        with open("/proc/locks") as f:
            for line in f:
                # 1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF
                fields = line.split()
                if "->" in fields:
                    fields.remove("->")
                ino = int(fields[5].rsplit(":", 1)[1])
                if ino in inodes:
                    info = _comm_and_state(fields[4])
                    out.append(f"{inodes[ino]}: pid {fields[4]} "
                               f"({'gone' if not info else ' '.join(map(str, info[:2]))})")
    except (OSError, ValueError, IndexError):
        pass
    return sorted(out)


def nbd_holders():
    """The processes with an NBD device open, and the devices' sizes (a device
    keeps its size until its last opener closes it)."""
    sizes = {}
    for path in sorted(glob.glob("/sys/block/nbd*/size")):
        try:
            with open(path) as f:
                sectors = int(f.read())
        except (OSError, ValueError):
            continue
        if sectors:
            sizes["/dev/" + path.split("/")[3]] = sectors
    holders = {dev: set() for dev in sizes}
    if sizes:
        for fd in glob.glob("/proc/[0-9]*/fd/*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in holders:
                holders[target].add(fd.split("/")[2])
    return [f"{dev[5:]}: size {sectors} sectors, open by "
            f"{', '.join(sorted(holders[dev])) or 'no process (the kernel: a gadget?)'}"
            for dev, sectors in sizes.items()]


def cmdlines():
    """{pid: [argv]} of every process."""
    out = {}
    for p in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            argv = open(p, "rb").read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0]:
            out[int(p.split("/")[2])] = [a.decode(errors="replace") for a in argv if a]
    return out


def pids(pred):
    return sorted(pid for pid, argv in cmdlines().items() if pred(argv))


def worker_pid(slot):
    found = pids(lambda a: a[0].endswith("vmedia-worker") and a[-1] == slot.name)
    assert len(found) == 1, f"{slot.name}: workers {found}"
    return found[0]


def children(pid):
    out = []
    for p in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(p) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.split("/")[2]))
        except (OSError, ValueError, IndexError):
            pass
    return sorted(out)


def child_named(slot, name):
    """The pid of the slot's worker's child whose argv[0] ends with `name`."""
    all_ = cmdlines()
    found = [p for p in children(worker_pid(slot)) if p in all_ and all_[p][0].endswith(name)]
    assert len(found) == 1, f"{slot.name}: {name} children {found}"
    return found[0]


def nbd_connections():
    """NBD devices with a client attached (/sys/block/nbdN/pid exists)."""
    return sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob("/sys/block/nbd*/pid"))


def gadgets():
    return sorted(os.listdir(vmtest.GADGETS))


def mounts_under(prefix="/run/vmedia"):
    with open("/proc/mounts") as f:
        return sorted(line.split()[1] for line in f if line.split()[1].startswith(prefix))


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def tree(top):
    """Every path under top (temp files, sockets...)."""
    out = []
    for root, dirs, files in os.walk(top):
        out += [os.path.join(root, n) for n in dirs + files]
    return sorted(out)


SERVICE_PROGRAMS = ("vmedia-supervisor", "vmedia-worker", "vmedia-gadget-helper", "nbd-client",
                    "nbdkit")


def service_processes():
    """{program: count} of the service's own processes and children."""
    out = {}
    for argv in cmdlines().values():
        name = os.path.basename(argv[0])
        if name in SERVICE_PROGRAMS:
            out[name] = out.get(name, 0) + 1
    return out


# The names the service gives its files in the temp directory (worker/nbdkit.c's
# RUNDIR_PREFIX: nbdkit's run directories), and the share mounts' directory.
SERVICE_TMP_PREFIX = "vmedia-"
SHARE_RUN_DIR = "/run/vmedia"


def service_files(svc):
    """Every path the service and its children can have made: their
    directories in the temp dir (vmedia-*), the share mounts' directory, the
    slots' sockets.  nbdkit's sandbox lets it write nowhere else but /var/tmp,
    where its filters unlink their files at once.  Not the rest of /tmp or
    /run: other programs' files come and go there (a busy workstation's, when
    /tmp is the host's)."""
    tmp = tempfile.gettempdir()  # the service's too: it has the tests' environment
    tops = [os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith(SERVICE_TMP_PREFIX)]
    paths = []
    for top in tops + [SHARE_RUN_DIR]:
        if os.path.lexists(top):
            paths += [top] + tree(top)
    paths += [s.socket for s in svc.slots.values() if os.path.lexists(s.socket)]
    return sorted(paths)


def census(svc):
    """What a quiet service holds: compared before and after a stress run."""
    sup = svc.proc.pid
    workers = children(sup)
    return {
        "processes": service_processes(),
        "supervisor fds": fd_count(sup),
        "worker fds": sorted(fd_count(w) for w in workers),
        "nbd connections": nbd_connections(),
        "gadgets": gadgets(),
        "mounts": mounts_under(),
        "files": service_files(svc),
    }


def census_diff(before, after, limit=12):
    """What differs between two censuses, one line per item: what was added
    and removed (lists), the counts that changed (dicts), old -> new (numbers);
    at most `limit` lines per item.  Empty when they are the same."""
    lines = []
    for key in before:
        b, a = before[key], after.get(key)
        if a == b:
            continue
        if isinstance(b, list) and isinstance(a, list):
            for sign, items in (("+", Counter(a) - Counter(b)), ("-", Counter(b) - Counter(a))):
                items = sorted(items.elements())
                lines += [f"{key}: {sign} {i}" for i in items[:limit]]
                if len(items) > limit:
                    lines.append(f"{key}: {sign} ... and {len(items) - limit} more")
        elif isinstance(b, dict) and isinstance(a, dict):
            lines += [f"{key}: {k} {b.get(k, 0)} -> {a.get(k, 0)}"
                      for k in sorted(b.keys() | a.keys()) if b.get(k, 0) != a.get(k, 0)]
        else:
            lines.append(f"{key}: {b} -> {a}")
    return lines
