# SPDX-License-Identifier: Apache-2.0
"""Real image servers for the Legacy-mode tests, started inside the virtual BMC.

Everything is made at test time in a temporary directory and listens on
loopback only:

  TestCA   a throw-away CA with a server certificate for localhost,
           images.test and 127.0.0.1, and an unrelated "rogue" CA with a
           certificate for the same names (an untrusted server)
  Nginx    HTTPS (TLS 1.2+) serving a directory at /open/ and, behind HTTP
           basic auth, at /private/; /redirect/X -> 302 /open/X; a plain-HTTP
           listener; pause()/resume() to emulate a stalled server
  Smbd     Samba serving a directory as the share "images" to a user (more
           with add_user()), SMB3 only, encryption required
  Nfsd     the kernel's NFS server, NFSv4 only, exporting a tmpfs (more with
           add_export()); stop_nfsd()/start_nfsd() to take it down and back

plus add_hosts_entry() (names for the servers: the VM's /etc/hosts is on the
throw-away overlay) and mount_cifs()/umount() (the kernel's CIFS client, as
the service uses it).

Each server records how long it took to start in `start_seconds`.  All of
them can be used as context managers and have stop() (idempotent).
"""
import collections
import os
import pwd
import signal
import socket
import subprocess
import time

# The virtual BMC's init leaves this directory; a guard for helpers that change
# files of the root (which is a throw-away overlay only inside the VM).
IN_VM = os.path.isdir("/run/vmrun")


def _wait_for(what, predicate, timeout, proc=None, log=None, interval=0.02):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: exited with {proc.returncode}" + _tail(log))
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout} s" + _tail(log))
        time.sleep(interval)


def _tail(path, lines=30):
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        text = f.read().decode(errors="replace").splitlines()
    return "\n--- " + path + " ---\n" + "\n".join(text[-lines:])


def port_open(port, host="127.0.0.1"):
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _run(args, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    try:
        return subprocess.run(args, **kw)
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"{args[0]} failed ({e.returncode}): "
                           f"{(e.stderr or b'').decode(errors='replace')}") from None


def add_hosts_entry(name, ip="127.0.0.1"):
    """Map `name` to `ip` in /etc/hosts (only inside the VM, where the root is
    a throw-away overlay; it is gone at power-off).  Idempotent."""
    if not IN_VM:
        raise RuntimeError("add_hosts_entry changes /etc/hosts: only inside the virtual BMC")
    line = f"{ip}\t{name}\n"
    with open("/etc/hosts") as f:
        for existing in f:
            fields = existing.split("#")[0].split()
            if fields and fields[0] == ip and name in fields[1:]:
                return
    with open("/etc/hosts", "a") as f:
        f.write(line)


# --------------------------------------------------------------------- TLS

Cert = collections.namedtuple("Cert", "cert key")

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::VMTEST_SAN
"""

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


class TestCA:
    """A throw-away CA (EC P-256, `openssl` CLI) and its server certificate.

    Attributes:
      ca_file       the CA certificate (PEM): curl --cacert, a CAfile
      ca_dir        a directory with only that certificate and its hash
                    symlink (`openssl rehash`): curl --capath, a CApath
      server        Cert(cert, key) for DNS:localhost, DNS:images.test and
                    IP:127.0.0.1, issued by the CA
      rogue_ca_file an unrelated CA (trusted by nobody)
      rogue         Cert(cert, key) for the same names, issued by the rogue CA
      names, ips    the subject alternative names of both certificates
    issue(cn, dns=(), ips=(), rogue=False) makes more certificates
    (e.g. one for a wrong name).
    """
    __test__ = False  # not a pytest test class

    def __init__(self, tmpdir, names=("localhost", "images.test"), ips=("127.0.0.1",),
                 days=7):
        self.dir = os.path.join(tmpdir, "ca")
        os.makedirs(self.dir, exist_ok=True)
        self.names, self.ips, self.days = tuple(names), tuple(ips), days
        self.cnf = self._path("openssl.cnf")
        with open(self.cnf, "w") as f:
            f.write(_OPENSSL_CNF)
        t0 = time.monotonic()
        self.ca_file, self.ca_key = self._path("ca.pem"), self._path("ca.key")
        self.rogue_ca_file, self.rogue_ca_key = self._path("rogue-ca.pem"), self._path("rogue-ca.key")
        # The two CAs, then the two server certificates: each pair in parallel
        # (every process start is slow under TCG).
        self._parallel([self._ca_args("vmtest CA", self.ca_file, self.ca_key),
                        self._ca_args("rogue CA", self.rogue_ca_file, self.rogue_ca_key)])
        self.server = Cert(self._path("server.pem"), self._path("server.key"))
        self.rogue = Cert(self._path("rogue.pem"), self._path("rogue.key"))
        self.ca_dir = self._path("capath")
        os.makedirs(self.ca_dir, exist_ok=True)
        with open(self.ca_file, "rb") as src, open(os.path.join(self.ca_dir, "ca.pem"), "wb") as dst:
            dst.write(src.read())
        self._parallel([
            self._cert_args(names[0], self.names, self.ips, self.server, False),
            self._cert_args(names[0], self.names, self.ips, self.rogue, True),
            (["openssl", "rehash", self.ca_dir], None),
        ])
        self.start_seconds = time.monotonic() - t0

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _ca_args(self, cn, cert, key):
        return (["openssl", "req", "-x509", "-config", self.cnf, "-extensions", "ca_ext",
                 *_EC, "-keyout", key, "-out", cert, "-days", str(self.days),
                 "-subj", f"/CN={cn}"], dict(os.environ, VMTEST_SAN="DNS:unused"))

    def _cert_args(self, cn, dns, ips, out, rogue):
        san = ", ".join([f"DNS:{n}" for n in dns] + [f"IP:{i}" for i in ips])
        ca, ca_key = (self.rogue_ca_file, self.rogue_ca_key) if rogue else (self.ca_file, self.ca_key)
        return (["openssl", "req", "-x509", "-config", self.cnf, "-extensions", "server_ext",
                 "-CA", ca, "-CAkey", ca_key, *_EC, "-keyout", out.key, "-out", out.cert,
                 "-days", str(self.days), "-subj", f"/CN={cn}"],
                dict(os.environ, VMTEST_SAN=san or f"DNS:{cn}"))

    @staticmethod
    def _parallel(jobs):
        procs = [(args, subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)) for args, env in jobs]
        for args, p in procs:
            out, err = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"{' '.join(args[:3])} failed: {err.decode(errors='replace')}")

    def issue(self, cn, dns=(), ips=(), rogue=False, name=None):
        """Another server certificate from the CA (or the rogue CA): Cert."""
        name = name or cn.replace("/", "_")
        out = Cert(self._path(f"{name}.pem"), self._path(f"{name}.key"))
        self._parallel([self._cert_args(cn, dns, ips, out, rogue)])
        return out


# --------------------------------------------------------------------- nginx

_NGINX_CONF = """\
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    types {{ }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 30;

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost images.test;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;

        location /open/ {{ alias {images}/; }}
        location /private/ {{
            alias {images}/;
            auth_basic "images";
            auth_basic_user_file {dir}/htpasswd;
        }}
        location /slow/ {{ alias {images}/; limit_rate {slow_rate}; }}
        location ~ ^/redirect/(.*)$ {{ return 302 /open/$1; }}
        location ~ ^/redirect-http/(.*)$ {{ return 302 http://127.0.0.1:{http_port}/open/$1; }}
        location = /health {{ return 200 "ok\\n"; }}
    }}

    server {{
        listen 127.0.0.1:{http_port};
        location /open/ {{ alias {images}/; }}
    }}
}}
"""


class _Server:
    """A server process in its own process group (self.proc): stop() ends the
    group, SIGTERM then SIGKILL, and is safe to call twice; a context manager."""

    proc = None

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)
        except ProcessLookupError:
            self.proc.wait(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Nginx(_Server):
    """nginx serving `images_dir` over HTTPS on 127.0.0.1:port.

      https://127.0.0.1:PORT/open/X        no authentication
      https://127.0.0.1:PORT/private/X     HTTP basic auth (user, password)
      https://127.0.0.1:PORT/slow/X        like /open/, at `slow_rate` bytes/s
      https://127.0.0.1:PORT/redirect/X    302 -> /open/X (same server)
      https://127.0.0.1:PORT/redirect-http/X  302 -> http://127.0.0.1:HTTP_PORT/open/X
      https://127.0.0.1:PORT/health        200 "ok"
      http://127.0.0.1:HTTP_PORT/open/X    plain HTTP
    TLS 1.2 and 1.3 only; the certificate is ca.server, or ca.rogue with
    untrusted=True, or any Cert given as `cert`.  Range requests work (static
    files).  url(path, host=, scheme=) builds URLs; pause()/resume() stop and
    continue all nginx processes (SIGSTOP/SIGCONT): connections are still
    accepted by the kernel but nothing is answered.
    """

    def __init__(self, tmpdir, ca, images_dir, port=8443, http_port=8080,
                 user="vmuser", password="vmpass", untrusted=False, cert=None,
                 slow_rate="64k", name=None, timeout=20):
        self.dir = os.path.join(tmpdir, name or f"nginx-{port}")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.images_dir = os.path.abspath(images_dir)
        self.port, self.http_port = port, http_port
        self.user, self.password = user, password
        self.cert = cert or (ca.rogue if untrusted else ca.server)
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.access_log = os.path.join(self.dir, "access.log")
        self.pid_file = os.path.join(self.dir, "nginx.pid")
        self.paused = False
        self.proc = None
        for p in (port, http_port):
            if port_open(p):
                raise RuntimeError(f"port {p} is already in use")
        t0 = time.monotonic()
        hashed = _run(["openssl", "passwd", "-apr1", "-stdin"],
                      input=password.encode() + b"\n").stdout.decode().strip()
        with open(os.path.join(self.dir, "htpasswd"), "w") as f:
            f.write(f"{user}:{hashed}\n")
        with open(self.conf, "w") as f:
            f.write(_NGINX_CONF.format(dir=self.dir, port=port, http_port=http_port,
                                       cert=self.cert.cert, key=self.cert.key,
                                       images=self.images_dir, slow_rate=slow_rate))
        # -e: the error log before the config is read (else /var/log/nginx).
        # Its own session, so that pause()/stop() reach the workers too.
        self.proc = subprocess.Popen(
            ["nginx", "-p", self.dir + "/", "-e", self.error_log, "-c", self.conf,
             "-g", "daemon off;"], start_new_session=True)
        try:
            _wait_for("nginx", lambda: port_open(port) and port_open(http_port), timeout,
                      self.proc, self.error_log)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0

    def url(self, path="", host="127.0.0.1", scheme="https"):
        """e.g. url("open/a.iso") -> https://127.0.0.1:8443/open/a.iso"""
        port = self.port if scheme == "https" else self.http_port
        return f"{scheme}://{host}:{port}/{path.lstrip('/')}"

    def http_url(self, path="", host="127.0.0.1"):
        return self.url(path, host, "http")

    def pids(self):
        """The master and its workers (all in the master's session)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.getsid(int(d)) == self.proc.pid:
                    out.append(int(d))
            except OSError:
                pass
        return sorted(out)

    def pause(self):
        """Stall the server: SIGSTOP nginx's master and workers."""
        os.killpg(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def stop(self, timeout=10):
        if self.paused and self.proc is not None and self.proc.poll() is None:
            self.resume()  # a stopped process cannot act on SIGTERM
        super().stop(timeout)


# --------------------------------------------------------------------- Samba

_SMB_CONF = """\
[global]
    server role = standalone server
    workgroup = VMTEST
    netbios name = VBMC
    disable netbios = yes
    smb ports = {port}
    interfaces = lo
    bind interfaces only = yes
    server min protocol = {min_protocol}
    server max protocol = {max_protocol}
    server smb encrypt = required
    map to guest = never
    restrict anonymous = 2
    passdb backend = smbpasswd:{passdb}
    private dir = {dir}/private
    lock directory = {dir}/lock
    state directory = {dir}/state
    cache directory = {dir}/cache
    pid directory = {dir}/run
    ncalrpc dir = {dir}/run/ncalrpc
    log file = {dir}/smbd.log
    max log size = 0
    log level = {log_level}
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    usershare max shares = 0

[{share}]
    path = {path}
    read only = no
    guest ok = no
    force user = root
"""


class Smbd(_Server):
    """Samba's smbd on 127.0.0.1:port (default 445) with one share.

    The share (`share`, default "images") is `share_dir`, read-write for
    `user`/`password` and whoever add_user() adds (an "smbpasswd" passdb file
    in the temp dir, written here rather than with smbpasswd(8): a samba
    tool takes ~1-3 s to start under TCG; the Unix user is added to
    /etc/passwd if missing, inside the VM only; files are accessed as root:
    `force user = root`).  SMB3 only (`min_protocol`:
    note that Samba's "SMB3" means SMB3_11), encryption required (a client
    that does not ask for it is made to encrypt: the kernel's CIFS client
    then encrypts even without `seal`), no guest, no NetBIOS.
    unc(host) gives //HOST/SHARE; log is smbd's log file.
    """

    def __init__(self, tmpdir, share_dir, user="vmuser", password="vmpass", share="images",
                 port=445, min_protocol="SMB3_00", log_level=1, name="smbd", timeout=30,
                 max_protocol="SMB3_11"):
        self.dir = os.path.join(tmpdir, name)
        for d in ("private", "lock", "state", "cache", "run"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(os.path.join(self.dir, "private"), 0o700)
        self.share_dir = os.path.abspath(share_dir)
        self.user, self.password, self.share, self.port = user, password, share, port
        self.conf = os.path.join(self.dir, "smb.conf")
        self.log = os.path.join(self.dir, "smbd.log")
        self.passdb = os.path.join(self.dir, "private", "smbpasswd")
        self.proc = None
        if port_open(port):
            raise RuntimeError(f"port {port} is already in use")
        t0 = time.monotonic()
        with open(self.conf, "w") as f:
            f.write(_SMB_CONF.format(dir=self.dir, port=port, share=share, path=self.share_dir,
                                     passdb=self.passdb, log_level=log_level,
                                     min_protocol=min_protocol, max_protocol=max_protocol))
        open(self.passdb, "w").close()
        os.chmod(self.passdb, 0o600)
        self.add_user(user, password)
        self.proc = subprocess.Popen(
            ["smbd", "--foreground", "--no-process-group", "-s", self.conf],
            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_for("smbd", lambda: port_open(port), timeout, self.proc, self.log)
            self._first_session(timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0

    def _first_session(self, timeout):
        """smbd's first session loads what it still lacks (over 9p, under TCG):
        on a loaded host it took 35-60 s, past a Mount's watchdog, when a
        test's first mount met it.  Pay for it here, with the kernel client."""
        mp = os.path.join(self.dir, "first-session")
        os.makedirs(mp, exist_ok=True)
        r = mount_cifs(f"//127.0.0.1/{self.share}", mp, self.user, self.password, vers="3",
                       port=self.port, readonly=True, timeout=max(timeout, 120))
        if r.returncode != 0:
            raise RuntimeError(f"smbd: the first session failed: {r.stderr}" + _tail(self.log))
        umount(mp)

    def add_user(self, user, password):
        """Let another user in (also while smbd runs: it reads the passdb file
        at each login).  The Unix user is made if missing (in the VM only)."""
        uid = ensure_unix_user(user)
        line = f"{user}:{uid}:{'X' * 32}:{nt_hash(password)}:[U          ]:LCT-{int(time.time()):08X}:\n"
        with open(self.passdb, "a") as f:
            f.write(line)

    def unc(self, host="127.0.0.1"):
        return f"//{host}/{self.share}"



def ensure_unix_user(user):
    """The uid of `user`, added to /etc/passwd (and /etc/shadow, locked) if
    missing: only inside the VM, where the root is a throw-away overlay.
    Written directly, not with useradd: one process less."""
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        pass
    if not IN_VM:
        raise RuntimeError(f"no Unix user {user}; only inside the virtual BMC can one be made")
    uids = {p.pw_uid for p in pwd.getpwall()}
    uid = next(u for u in range(20000, 30000) if u not in uids)
    with open("/etc/passwd", "a") as f:
        f.write(f"{user}:x:{uid}:65534::/nonexistent:/usr/sbin/nologin\n")
    if os.path.exists("/etc/shadow"):
        with open("/etc/shadow", "a") as f:
            f.write(f"{user}:!:{int(time.time() // 86400)}::::::\n")
    return uid


def _md4(data):
    """MD4 (RFC 1320): Python's hashlib lacks it with OpenSSL 3."""
    mask = 0xFFFFFFFF
    rol = lambda x, n: ((x << n) | (x >> (32 - n))) & mask  # noqa: E731
    msg = bytearray(data) + b"\x80"
    msg += b"\0" * ((56 - len(msg) % 64) % 64) + (8 * len(data) & (2**64 - 1)).to_bytes(8, "little")
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for off in range(0, len(msg), 64):
        x = [int.from_bytes(msg[off + 4 * i:off + 4 * i + 4], "little") for i in range(16)]
        a, b, c, d = h
        for i in range(16):  # round 1
            k, s = i, (3, 7, 11, 19)[i % 4]
            a, b, c, d = d, rol((a + ((b & c) | (~b & d)) + x[k]) & mask, s), b, c
        for i in range(16):  # round 2
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            a, b, c, d = d, rol((a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999) & mask, s), b, c
        for i in range(16):  # round 3
            k, s = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i], (3, 9, 11, 15)[i % 4]
            a, b, c, d = d, rol((a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1) & mask, s), b, c
        h = [(v + n) & mask for v, n in zip(h, (a, b, c, d))]
    return b"".join(v.to_bytes(4, "little") for v in h)


def nt_hash(password):
    """The NT hash of a password (as in an smbpasswd file): MD4 of UTF-16LE."""
    return _md4(password.encode("utf-16-le")).hex().upper()


def mount_cifs(unc, mountpoint, user, password, vers="3.1.1", seal=True, port=None,
               options=(), readonly=False, timeout=60):
    """mount -t cifs UNC MOUNTPOINT: a CompletedProcess (text), not checked.

    The password goes in the environment (PASSWD), not on the command line.
    mount.cifs resolves a host name itself (getaddrinfo: /etc/hosts works)
    and hands the kernel the address as ip=.
    """
    opts = [f"username={user}", f"vers={vers}"]
    if seal:
        opts.append("seal")
    if port is not None:
        opts.append(f"port={port}")
    if readonly:
        opts.append("ro")
    opts += list(options)
    env = dict(os.environ, PASSWD=password)
    return subprocess.run(["mount", "-t", "cifs", unc, mountpoint, "-o", ",".join(opts)],
                          env=env, capture_output=True, text=True, timeout=timeout)


def umount(mountpoint, timeout=30):
    return subprocess.run(["umount", mountpoint], capture_output=True, text=True,
                          timeout=timeout)


# --------------------------------------------------------------------- NFS

class Nfsd(_Server):
    """The kernel's NFS server (nfsd, with nfs-utils' exportfs and rpc.mountd)
    on 127.0.0.1:2049, NFSv4 only (no rpcbind, no lockd), over TCP.

    `root` (a tmpfs) is the NFSv4 root (fsid=0), exported to 127.0.0.1 only:
    nfs://127.0.0.1/X is root/X.  A tmpfs, because the VM's / is an overlay,
    which nfsd cannot export -- nor can nfs-utils then build its pseudo root
    for an export below it.  Root is not squashed unless squash_root.
    add_export(name, squash_root=) exports another tmpfs at root/NAME with its
    own options (the client crosses into it).  The grace period is ended at
    start (v4_end_grace), so that the first OPEN is not held back for 90 s.
    stop_nfsd()/start_nfsd(): the server goes away (connections refused) and
    comes back; stop() undoes all (the module stays loaded).
    """

    def __init__(self, tmpdir, squash_root=False, name="nfsd", timeout=30):
        if not IN_VM:
            raise RuntimeError("Nfsd mounts and exports file systems: only inside the virtual BMC")
        self.dir = os.path.join(tmpdir, name)
        self.root = os.path.join(self.dir, "root")
        self.log = os.path.join(self.dir, "mountd.log")
        self.exports = []  # (client:path) for exportfs -u
        self.mounts = []
        self.proc = None
        if port_open(2049):
            raise RuntimeError("port 2049 is already in use")
        t0 = time.monotonic()
        os.makedirs(self.root, exist_ok=True)
        if not os.path.ismount("/proc/fs/nfsd"):
            _run(["mount", "-t", "nfsd", "nfsd", "/proc/fs/nfsd"])
        try:
            self._tmpfs(self.root)
            self._export(self.root, 0, squash_root)
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(["rpc.mountd", "--foreground", "-N", "2", "-N", "3",
                                              "--no-udp"], stdout=log, stderr=log,
                                             start_new_session=True)
            self.start_nfsd(timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0

    def _tmpfs(self, path):
        os.makedirs(path, exist_ok=True)
        _run(["mount", "-t", "tmpfs", "-o", "size=512m,mode=0755", "tmpfs", path])
        self.mounts.append(path)

    def _export(self, path, fsid, squash_root):
        opts = f"rw,sync,no_subtree_check,fsid={fsid},{'root_squash' if squash_root else 'no_root_squash'}"
        _run(["exportfs", "-i", "-o", opts, f"127.0.0.1:{path}"])
        self.exports.append(f"127.0.0.1:{path}")

    def add_export(self, name, squash_root=True):
        """Another export at root/NAME (its own tmpfs): the path, for files."""
        path = os.path.join(self.root, name)
        self._tmpfs(path)
        self._export(path, len(self.exports), squash_root)
        return path

    def start_nfsd(self, timeout=30):
        # the shortest lease the kernel takes; only settable while nfsd is down
        for knob in ("nfsv4leasetime", "nfsv4gracetime"):
            with open(f"/proc/fs/nfsd/{knob}", "w") as f:
                f.write("10")
        _run(["rpc.nfsd", "--no-nfs-version", "3", "--nfs-version", "4", "--no-udp", "4"])
        _wait_for("nfsd", lambda: port_open(2049), timeout, self.proc, self.log)
        with open("/proc/fs/nfsd/v4_end_grace", "w") as f:
            f.write("Y")

    def stop_nfsd(self):
        _run(["rpc.nfsd", "0"])

    def stop(self, timeout=10):
        if os.path.ismount("/proc/fs/nfsd"):
            subprocess.run(["rpc.nfsd", "0"], capture_output=True)
        for e in reversed(self.exports):
            subprocess.run(["exportfs", "-u", e], capture_output=True)
        self.exports = []
        super().stop(timeout)
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        self.mounts = []
