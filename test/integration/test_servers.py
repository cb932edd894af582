# SPDX-License-Identifier: Apache-2.0
"""The image servers of servers.py (for the Legacy-mode tests) do what those
tests will rely on, checked with ordinary clients: curl and mount.cifs."""
import hashlib
import os
import subprocess

import pytest

import servers

HOST = "images.test"  # mapped to 127.0.0.1 in the VM's /etc/hosts
USER, PASSWORD = "vmuser", "s3cret,pw"  # a comma: options must not break on it


def curl(*args, timeout=60):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True,
                          timeout=timeout)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def images(srv_dir):
    d = os.path.join(srv_dir, "images")
    os.makedirs(d)
    data = os.urandom(1 << 20)
    with open(os.path.join(d, "a.img"), "wb") as f:
        f.write(data)
    return d, data


@pytest.fixture(scope="module")
def nginx(srv_dir, ca, images):
    with servers.Nginx(srv_dir, ca, images[0], user=USER, password=PASSWORD) as n:
        print(f"nginx: {n.start_seconds:.2f} s")
        yield n


@pytest.fixture(scope="module")
def smbd(srv_dir, images):
    with servers.Smbd(srv_dir, images[0], USER, PASSWORD) as s:
        print(f"smbd: {s.start_seconds:.2f} s")
        yield s


# ------------------------------------------------------------------ HTTPS

@pytest.mark.parametrize("host,trust", [("127.0.0.1", "cacert"), (HOST, "capath")])
def test_https_download(nginx, ca, images, tmp_path, host, trust):
    out = tmp_path / "a.img"
    r = curl("--cacert" if trust == "cacert" else "--capath",
             ca.ca_file if trust == "cacert" else ca.ca_dir,
             "-f", "-o", str(out), nginx.url("open/a.img", host=host))
    assert r.returncode == 0, r.stderr
    assert sha256(out.read_bytes()) == sha256(images[1])


def test_https_tls12_minimum(nginx, ca):
    r = curl("--cacert", ca.ca_file, "--tlsv1.1", "--tls-max", "1.1", "-o", "/dev/null",
             nginx.url("health"))
    assert r.returncode == 35, r.stderr  # CURLE_SSL_CONNECT_ERROR: protocol version


def test_private_needs_credentials(nginx, ca):
    def status(*auth):
        r = curl("--cacert", ca.ca_file, *auth, "-o", "/dev/null", "-w", "%{http_code}",
                 nginx.url("private/a.img"))
        assert r.returncode == 0, r.stderr
        return r.stdout
    assert status() == "401"
    assert status("-u", f"{USER}:wrong") == "401"
    assert status("-u", f"{USER}:{PASSWORD}") == "200"


def test_untrusted_certificate(srv_dir, ca, images):
    with servers.Nginx(srv_dir, ca, images[0], port=9443, http_port=9080,
                       untrusted=True) as rogue:
        r = curl("--cacert", ca.ca_file, "-o", "/dev/null", rogue.url("open/a.img"))
        assert r.returncode == 60, r.stderr  # CURLE_PEER_FAILED_VERIFICATION
        assert "unable to get local issuer certificate" in r.stderr
        # the same server is fine for whoever trusts the rogue CA
        r = curl("--cacert", ca.rogue_ca_file, "-f", "-o", "/dev/null", rogue.url("open/a.img"))
        assert r.returncode == 0, r.stderr


def test_range_request(nginx, ca, images, tmp_path):
    out = tmp_path / "part"
    r = curl("--cacert", ca.ca_file, "-r", "1000-1999", "-o", str(out), "-w", "%{http_code}",
             nginx.url("open/a.img"))
    assert (r.returncode, r.stdout) == (0, "206"), r.stderr
    assert out.read_bytes() == images[1][1000:2000]


def test_redirect(nginx, ca):
    r = curl("--cacert", ca.ca_file, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
             nginx.url("redirect/a.img"))
    assert r.stdout == f"302 {nginx.url('open/a.img')}", r.stderr
    r = curl("--cacert", ca.ca_file, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
             nginx.url("redirect-http/a.img"))
    assert r.stdout == f"302 {nginx.http_url('open/a.img')}", r.stderr


def test_plain_http_and_404(nginx, ca):
    r = curl("-f", "-o", "/dev/null", "-w", "%{http_code}", nginx.http_url("open/a.img"))
    assert (r.returncode, r.stdout) == (0, "200"), r.stderr
    r = curl("--cacert", ca.ca_file, "-f", "-o", "/dev/null", nginx.url("open/missing.img"))
    assert r.returncode == 22 and "404" in r.stderr, r.stderr


def test_pause_resume(nginx, ca):
    nginx.pause()
    try:
        r = curl("--cacert", ca.ca_file, "--max-time", "1", "-o", "/dev/null",
                 nginx.url("health"))
        assert r.returncode == 28, r.stderr  # CURLE_OPERATION_TIMEDOUT
    finally:
        nginx.resume()
    r = curl("--cacert", ca.ca_file, "--max-time", "10", "-f", nginx.url("health"))
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


# ------------------------------------------------------------------ SMB

def share_encrypted(unc):
    """Whether the kernel's CIFS client encrypts its traffic to share `unc`
    (/proc/fs/cifs/DebugData: "N) \\\\HOST\\SHARE Mounts: ..." and on the
    next line "... type: DISK Serial Number: 0x... Encrypted")."""
    with open("/proc/fs/cifs/DebugData") as f:
        lines = f.read().splitlines()
    tree = unc.replace("/", "\\") + " Mounts:"
    found = [lines[i + 1] for i, line in enumerate(lines[:-1]) if tree in line]
    assert len(found) == 1, f"{tree} in /proc/fs/cifs/DebugData: {found}"
    return found[0].rstrip().endswith(" Encrypted")


@pytest.mark.parametrize("host", ["127.0.0.1", HOST])
def test_smb_mount_read_write(smbd, images, tmp_path, host):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = servers.mount_cifs(smbd.unc(host), str(mnt), USER, PASSWORD)
    assert r.returncode == 0, r.stderr
    try:
        assert share_encrypted(smbd.unc(host))
        assert sha256((mnt / "a.img").read_bytes()) == sha256(images[1])
        (mnt / f"written-{host}.txt").write_text("hello\n")
    finally:
        assert servers.umount(str(mnt)).returncode == 0
    with open(os.path.join(images[0], f"written-{host}.txt")) as f:
        assert f.read() == "hello\n"


def test_smb_wrong_password(smbd, tmp_path):
    r = servers.mount_cifs(smbd.unc(), str(tmp_path), USER, "wrong")
    if r.returncode == 0:
        servers.umount(str(tmp_path))
    assert r.returncode == 32 and "mount error(13): Permission denied" in r.stderr, r.stderr


def test_smb_encryption_and_smb3_enforced(smbd, tmp_path):
    # without `seal` the server makes the client encrypt all the same
    r = servers.mount_cifs(smbd.unc(), str(tmp_path), USER, PASSWORD, seal=False)
    assert r.returncode == 0, r.stderr
    try:
        assert share_encrypted(smbd.unc())
    finally:
        assert servers.umount(str(tmp_path)).returncode == 0
    r = servers.mount_cifs(smbd.unc(), str(tmp_path), USER, PASSWORD, vers="2.1", seal=False)
    if r.returncode == 0:
        servers.umount(str(tmp_path))
    assert r.returncode == 32 and "mount error(95)" in r.stderr, r.stderr
