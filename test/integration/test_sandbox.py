# SPDX-License-Identifier: Apache-2.0
"""nbdkit's Landlock sandbox (worker/sandbox.c): what the worker gives the one
child that talks to image servers.  Run through sandbox-probe, which enters the
very same rule set and tries to open things."""
import os
import subprocess

import vmtest

PROBE = os.path.join(vmtest.BUILD, "test", "sandbox-probe")


def probe(tmp_path, *paths):
    rundir = tmp_path / "run"
    rundir.mkdir()
    share = tmp_path / "share"
    share.mkdir()
    image = share / "image.iso"
    image.write_bytes(b"\0" * 4096)
    (share / "other.iso").write_bytes(b"\0" * 4096)
    out = subprocess.run([PROBE, "/run/virtual-media/nbd9.sock", str(rundir), str(image),
                          *[p if p.startswith("/") else str(tmp_path / p) for p in paths]],
                         capture_output=True, text=True, check=True).stdout
    return {os.path.basename(line.split()[0]) if line.startswith(str(tmp_path)) else line.split()[0]:
            line.split()[1] for line in out.splitlines()}


def test_nbdkit_sandbox_allows_its_image_and_the_system(tmp_path):
    r = probe(tmp_path, "share/image.iso", "/usr/bin/true", "/etc/hostname", "/dev/null",
              "/dev/urandom")
    assert r == {"image.iso": "ok", "/usr/bin/true": "ok", "/etc/hostname": "ok",
                 "/dev/null": "ok", "/dev/urandom": "ok"}


def test_nbdkit_sandbox_denies_devices_configfs_and_other_files(tmp_path):
    r = probe(tmp_path, "/dev/nbd0", "/dev/nbd1", "/sys/kernel/config/usb_gadget",
              "share/other.iso", "/root", "/dev/mem")
    assert r == {"/dev/nbd0": "EACCES", "/dev/nbd1": "EACCES",
                 "/sys/kernel/config/usb_gadget": "EACCES", "other.iso": "EACCES",
                 "/root": "EACCES", "/dev/mem": "EACCES"}
