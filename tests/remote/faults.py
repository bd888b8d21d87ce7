"""A TCP proxy in front of the S3 server that misbehaves on cue: the network faults the
remote tier must survive, injected between a real client and a real server.

- ``stop_after(n)``: after ``n`` more bytes from the client (a request body, say), or
  to it (``downloaded=True``), the "server" stops: every open connection is cut and new
  ones are refused until ``start()``. ``reset_after`` cuts the connections only, once.
- ``fail_next(n)``: the next ``n`` requests are answered ``503 Slow Down``.
- ``reset_next(n)``: the next ``n`` connections are reset once the request starts.
- ``hang_next(n)``: the next ``n`` connections get no answer at all (a timeout).

Arming a fault drops the connections the client keeps alive, so the fault meets the next
request whatever connection pool the client has.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter


class FaultProxy:
    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = 0
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._cut_after: int | None = None
        self._cut_down = False  # count bytes to the client instead of from it
        self._cut_stops = True
        self._fail = self._reset = self._hang = 0
        self.injected: Counter[str] = Counter()  # faults actually delivered, by kind

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- life -------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop like a crashed server: cut every connection, refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            socks, self._socks = self._socks, set()
        if listener is not None:
            _close(listener)
        for s in socks:
            _close(s, reset=True)

    def drop_connections(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, set()
        for s in socks:
            _close(s, reset=True)

    # -- faults -----------------------------------------------------------------------
    def stop_after(self, nbytes: int, downloaded: bool = False) -> None:
        self.drop_connections()
        self._cut_after, self._cut_down, self._cut_stops = nbytes, downloaded, True

    def reset_after(self, nbytes: int, downloaded: bool = False) -> None:
        self.drop_connections()
        self._cut_after, self._cut_down, self._cut_stops = nbytes, downloaded, False

    def fail_next(self, n: int) -> None:
        self.drop_connections()
        self._fail = n

    def reset_next(self, n: int) -> None:
        self.drop_connections()
        self._reset = n

    def hang_next(self, n: int) -> None:
        self.drop_connections()
        self._hang = n

    # -- plumbing ---------------------------------------------------------------------
    def _track(self, s: socket.socket) -> bool:
        with self._lock:
            if self._listener is None:
                return False
            self._socks.add(s)
            return True

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self._track(client):
                _close(client, reset=True)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _take(self, name: str) -> bool:
        with self._lock:
            if getattr(self, name) > 0:
                setattr(self, name, getattr(self, name) - 1)
                return True
            return False

    def _serve(self, client: socket.socket) -> None:
        if self._take("_hang"):
            self.injected["hang"] += 1
            return  # accepted, never answered; closed by stop() or the client's timeout
        if self._take("_reset"):
            self.injected["reset"] += 1
            try:
                client.recv(1024)
            except OSError:
                pass
            _close(client, reset=True)
            return
        if self._take("_fail"):
            self._answer_503(client)
            return
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            _close(client, reset=True)
            return
        if not self._track(upstream):
            _close(upstream)
            _close(client, reset=True)
            return
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._pump(client, upstream, True)

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client != self._cut_down and self._cut_after is not None:
                    self._cut_after -= len(data)
                    if self._cut_after <= 0:
                        self._cut_after = None
                        self.injected["stop" if self._cut_stops else "reset"] += 1
                        if self._cut_down:
                            dst.sendall(data[: len(data) // 2])  # part of it gets through
                        self.stop() if self._cut_stops else self.drop_connections()
                        return
                dst.sendall(data)
        except OSError:
            pass
        _close(src)
        _close(dst)

    def _answer_503(self, client: socket.socket) -> None:
        """Read one request (head and Content-Length body), answer 503, close."""
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(body) < length:
                chunk = client.recv(65536)
                if not chunk:
                    break
                body += chunk
            xml = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            client.sendall(
                b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\n"
                b"Content-Length: " + str(len(xml)).encode() + b"\r\n\r\n" + xml
            )
            self.injected["503"] += 1
        except OSError:
            pass
        finally:
            _close(client)


def _close(s: socket.socket, reset: bool = False) -> None:
    try:
        if reset:  # RST rather than FIN: what a crashed peer looks like
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # shutdown wakes a thread blocked in recv on this socket; close alone may not.
        s.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
