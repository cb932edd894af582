# SPDX-License-Identifier: Apache-2.0
"""A stand-in for what serves a Proxy slot in production: bmcweb's NBD
WebSocket proxy with the browser's jsnbd behind it, in one thread.

bmcweb (include/nbd_proxy.hpp): removes a stale socket file, binds and listens
on the slot's Socket, accepts one connection (nbd-client's), forwards what
nbd-client sends to the browser, and each WebSocket message of the browser to
nbd-client.  It reads a browser's message into a buffer of 131 088 bytes
(128 KiB + the 16-byte NBD reply header); a larger one ends the session
("message too big"): the socket is closed and removed, and bmcweb calls
Proxy.Unmount.

jsnbd (web/js/nbd.js): the server side of NBD, fixed newstyle; sends
NBDMAGIC/IHAVEOPT with FIXED_NEWSTYLE|NO_ZEROES, reads the client's flags,
answers NBD_OPT_EXPORT_NAME with the file's size (32 bits of it) and
HAS_FLAGS|READ_ONLY (+124 zero bytes unless the client said NO_ZEROES) and
every other option with NBD_REP_ERR_UNSUP; in transmission: READ → one
message of header + data, WRITE/TRIM → EPERM, DISC → closes, anything else
→ EINVAL.  Each reply is one message: that is what meets bmcweb's limit.
"""
import os
import socket
import struct
import threading

MAX_MESSAGE = 131088  # bmcweb's nbdBufferSize

NBD_MAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC_OPT = 0x0003E889045565A9
NBD_FLAG_FIXED_NEWSTYLE, NBD_FLAG_NO_ZEROES = 1, 2
NBD_FLAG_HAS_FLAGS, NBD_FLAG_READ_ONLY = 1, 2
NBD_OPT_EXPORT_NAME = 1
NBD_REP_ERR_UNSUP = (1 << 31) | 1
REQUEST_MAGIC, REPLY_MAGIC = 0x25609513, 0x67446698
CMD_READ, CMD_WRITE, CMD_DISC, CMD_TRIM = 0, 1, 2, 4
EPERM, EINVAL, ENOSPC = 1, 22, 28


class SessionClosed(Exception):
    pass


class BmcwebJsnbd:
    """Serves `image` on `socket_path` as bmcweb+jsnbd do.  After the session:
    `closed` is None if it ended normally (nbd-client hung up or disconnected),
    else bmcweb's reason; `largest_request` the largest READ asked for;
    `options` the NBD options the client sent (with their export names);
    `on_close` is called (from the thread) when bmcweb would call Unmount."""

    def __init__(self, socket_path, image, on_close=None):
        self.socket_path = socket_path
        self.image = image
        self.size = os.path.getsize(image)
        self.on_close = on_close
        self.closed = None
        self.largest_request = 0
        self.reads = 0
        self.options = []
        self.finished = threading.Event()
        self.conn = None
        if os.path.exists(socket_path):  # bmcweb: std::remove() of a stale one
            os.unlink(socket_path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path)
        self.listener.listen(1)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    # --- bmcweb's side ----------------------------------------------------------------

    def _message(self, data):
        """One WebSocket message from the browser, as bmcweb takes it."""
        if len(data) > MAX_MESSAGE:
            raise SessionClosed(f"message too big ({len(data)} bytes > {MAX_MESSAGE})")
        self.conn.sendall(data)

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _run(self):
        try:
            self.conn, _ = self.listener.accept()  # once, as bmcweb's acceptor
        except OSError:
            self.finished.set()
            return
        try:
            with open(self.image, "rb") as f:
                self._serve(f)
        except SessionClosed as e:
            self.closed = str(e)
            self._end_session()
        except (EOFError, ConnectionError, OSError):
            pass  # nbd-client has gone: the WebSocket closes normally
        finally:
            self.finished.set()

    def _end_session(self):
        # ~NbdProxyServer: close the peer, remove the socket file, call Unmount
        self.conn.close()
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        if self.on_close:
            self.on_close()

    # --- jsnbd's side -----------------------------------------------------------------

    def _serve(self, f):
        self._message(NBD_MAGIC + struct.pack(">QH", IHAVEOPT,
                                              NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES))
        (cflags,) = struct.unpack(">I", self._recv(4))
        while True:
            magic, opt, length = struct.unpack(">QII", self._recv(16))
            if magic != IHAVEOPT:
                raise EOFError  # jsnbd: "invalid option magic", stops
            data = self._recv(length)
            self.options.append((opt, data))
            if opt == NBD_OPT_EXPORT_NAME:
                reply = struct.pack(">QH", self.size & 0xFFFFFFFF,
                                    NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY)
                if not cflags & NBD_FLAG_NO_ZEROES:
                    reply += bytes(124)
                self._message(reply)
                break
            self._message(struct.pack(">QIII", REPLY_MAGIC_OPT, opt, NBD_REP_ERR_UNSUP, 0))
        while True:
            magic, _flags, cmd, handle, offset, length = struct.unpack(">IHHQQI",
                                                                       self._recv(28))
            if magic != REQUEST_MAGIC:
                raise EOFError
            if cmd == CMD_READ:
                self.reads += 1
                self.largest_request = max(self.largest_request, length)
                if offset + length > self.size:
                    self._message(struct.pack(">IIQ", REPLY_MAGIC, ENOSPC, handle))
                    continue
                f.seek(offset)
                self._message(struct.pack(">IIQ", REPLY_MAGIC, 0, handle) + f.read(length))
            elif cmd == CMD_DISC:
                return
            else:
                if cmd == CMD_WRITE:
                    self._recv(length)
                err = EPERM if cmd in (CMD_WRITE, CMD_TRIM) else EINVAL
                self._message(struct.pack(">IIQ", REPLY_MAGIC, err, handle))

    def export_names(self):
        return [data.decode(errors="replace") for opt, data in self.options
                if opt == NBD_OPT_EXPORT_NAME]

    def stop(self):
        self.listener.close()
        if self.conn:
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.conn.close()
        self.thread.join(10)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
