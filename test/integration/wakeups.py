# SPDX-License-Identifier: Apache-2.0
"""Wake-ups, CPU time and memory of the service's own processes, from /proc.

A thread that sleeps in poll() and is never woken does not run, so its
context-switch counters (voluntary + nonvoluntary, per thread in
/proc/PID/task/TID/status) stay still: the difference over a window is the
number of times it ran.  Reading /proc does not wake the process.  Shared by
test_idle.py (issue 6) and the benchmark's idle row (test/bench/bench.py).
"""
import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVICE_COMMS = ("vmedia-supervis", "vmedia-worker", "vmedia-gadget-h")  # comm: 15 chars


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def comm(pid):
    return (_read(f"/proc/{pid}/comm") or "?").strip()


def children(pid):
    """The direct children of pid (every thread's children list)."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        out += [int(c) for c in (_read(f"/proc/{pid}/task/{tid}/children") or "").split()]
    return out


def tree(pid):
    """pid and all its descendants."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        try:
            todo += children(p)
        except OSError:
            pass
    return seen


def service_processes(supervisor_pid):
    """{pid: comm} of the supervisor, its workers and their gadget-helpers
    (not nbd-client or nbdkit: the data path is theirs and the kernel's)."""
    return {p: comm(p) for p in tree(supervisor_pid) if comm(p) in SERVICE_COMMS}


def switches(pid):
    """{tid: voluntary + nonvoluntary context switches} of every thread of pid."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        text = _read(f"/proc/{pid}/task/{tid}/status")
        if text is None:
            continue
        n = 0
        for line in text.splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
        out[int(tid)] = n
    return out


def wakeups(before, after):
    """Times the threads ran between two switches() snapshots: a thread that
    appeared counts all of its switches, one that went away counts one."""
    n = 0
    for tid, count in after.items():
        n += count - before.get(tid, 0)
    n += sum(1 for tid in before if tid not in after)
    return n


def measure_wakeups(pids, seconds):
    """{pid: wake-ups} of each process over a window of `seconds`."""
    before = {p: switches(p) for p in pids}
    time.sleep(seconds)
    return {p: wakeups(before[p], switches(p)) for p in pids}


def wakeup_threads(pids, seconds):
    """Like measure_wakeups, per thread: {(pid, tid, thread name): wake-ups},
    only those that ran (to name the culprit when a test fails)."""
    before = {p: switches(p) for p in pids}
    time.sleep(seconds)
    out = {}
    for p in pids:
        after = switches(p)
        for tid in set(before[p]) | set(after):
            n = wakeups({tid: before[p][tid]} if tid in before[p] else {},
                        {tid: after[tid]} if tid in after else {})
            if n:
                name = (_read(f"/proc/{p}/task/{tid}/comm") or "(gone)").strip()
                out[(p, tid, name)] = n
    return out


def cpu_seconds(pid):
    """utime + stime of pid (all its threads, not its children)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def rss_kib(pid):
    for line in (_read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid):
    """Proportional set size (shared pages split between their users), from
    /proc/PID/smaps_rollup; 0 for a process that has gone."""
    for line in (_read(f"/proc/{pid}/smaps_rollup") or "").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def all_switches(pids):
    """{(pid, tid): context switches} of every thread of pids."""
    return {(p, tid): n for p in pids for tid, n in switches(p).items()}
