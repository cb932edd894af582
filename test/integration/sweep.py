# SPDX-License-Identifier: Apache-2.0
"""What a test left behind, found and removed after it.

The tests share one virtual BMC: a service that a failed test could not stop,
a gadget, an NBD connection or a share's mount left over would make every
later test fail for a reason that is not its own.  sweep() removes them all
(the way an operator would, by force, without the service) and says what it
found, so that the test that left them fails, alone.
"""
import glob
import os
import signal
import subprocess
import time

import faultlib
import vmtest


def _stray(argv):
    """The service's processes and children, and the host's readers (dd loops)."""
    return (os.path.basename(argv[0]) in faultlib.SERVICE_PROGRAMS
            or any("iflag=direct" in a for a in argv))


def _stray_processes():
    return {pid: argv for pid, argv in faultlib.cmdlines().items() if _stray(argv)}


def _kill_all(found):
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while True:
        alive = _stray_processes()  # one scan of /proc per round, not one per pid
        stuck = [f"{p} ({faultlib.proc_state(p)})" for p in found if p in alive]
        if not stuck or time.monotonic() >= deadline:
            return stuck
        time.sleep(0.1)


def _remove_gadget(path):
    """As the gadget-helper does: unbind, then the links and directories."""
    try:
        with open(os.path.join(path, "UDC"), "w") as f:
            f.write("\n")
    except OSError:
        pass
    for link in glob.glob(os.path.join(path, "configs/*/*")):
        if os.path.islink(link):
            os.unlink(link)
    for pattern in ("configs/*/strings/*", "configs/*", "functions/*", "strings/*", ""):
        for d in glob.glob(os.path.join(path, pattern)):
            try:
                os.rmdir(d)
            except OSError:
                pass


def sweep(kernel_log=None):
    """Remove what is left; return {kind: [what]} of what was found, and the
    kernel's messages since the last sweep if they say it is in trouble (a
    BUG, a warning, a task blocked for minutes: the test during which it
    happened fails with them, not the later ones that meet its consequences)."""
    found = {}
    trouble = kernel_log.trouble() if kernel_log else []
    if trouble:
        found["kernel trouble"] = trouble
    procs = _stray_processes()
    if procs:
        found["processes"] = [faultlib.process_line(pid, a) for pid, a in sorted(procs.items())]
        stuck = _kill_all(procs)
        if stuck:
            found["unkillable processes"] = stuck
    gadgets = faultlib.gadgets()
    if gadgets:
        found["gadgets"] = gadgets
        for g in gadgets:
            _remove_gadget(os.path.join(vmtest.GADGETS, g))
    nbd = faultlib.nbd_connections()
    if nbd:
        found["nbd connections"] = nbd
        for dev in nbd:
            subprocess.run(["nbd-client", "-d", f"/dev/{dev}"], capture_output=True, timeout=30)
    mounts = faultlib.mounts_under()
    if mounts:
        found["mounts"] = mounts
        for mp in reversed(mounts):
            subprocess.run(["umount", "-l", mp], capture_output=True, timeout=30)
    leftovers = [p for p in glob.glob("/run/vmtest/*.sock") + glob.glob("/tmp/vmedia-nbdkit-*")]
    if leftovers:
        found["files"] = sorted(leftovers)
        subprocess.run(["rm", "-rf", "--"] + leftovers, capture_output=True, timeout=30)
    return found
