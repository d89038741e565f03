"""Lambda's Runtime API (the interface awslambdaric speaks) for one execution environment.

The server side is driven by the thread that invokes: no server thread, no hand-off. A minimal
HTTP/1.1 implementation (keep-alive, `Expect: 100-continue`, TCP_NODELAY) on a loopback socket.
As on Lambda, only the environment's own processes may talk to it: each accepted connection is
checked once (labkit.runtime.peer), and one from any other process is closed, with a warning.
"""
from __future__ import annotations

import json
import logging
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from labkit.runtime import busy_poll, peer

API_PREFIX = "/2018-06-01/runtime"
_MAX_HEADER_BYTES = 64 * 1024
_SEND_TIMEOUT_S = 30.0
"""How long an answer may wait for the runtime to read (a 6 MB event goes in many pieces)."""
_ACCEPTED = b'{"status":"OK"}'
LOG = logging.getLogger("labkit.runtime")


@dataclass
class ApiRequest:
    """One request the runtime made."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    conn: socket.socket

    @property
    def kind(self) -> str:
        """next | response | error | init-error | other."""
        if self.path == f"{API_PREFIX}/invocation/next":
            return "next"
        if self.path == f"{API_PREFIX}/init/error":
            return "init-error"
        if self.path.startswith(f"{API_PREFIX}/invocation/"):
            return self.path.rsplit("/", 1)[-1]
        return "other"

    @property
    def request_id(self) -> str:
        return self.path[len(f"{API_PREFIX}/invocation/") :].split("/", 1)[0]


class SandboxExited(Exception):
    """The runtime's process or container ended while we waited for it."""


class DeadlineReached(Exception):
    """The wait ran past its deadline."""


class _Connection:
    __slots__ = ("sock", "buffer", "continued")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.continued = False


class RuntimeApiChannel:
    """The Runtime API endpoint of one environment, polled by whoever drives the environment.

    `pids` gives the environment's processes, the only ones whose connections are served; `name`
    says whose endpoint it is in log lines.
    """

    def __init__(self, pids: Callable[[], set[int]], name: str, bind_host: str = "127.0.0.1") -> None:
        self._pids = pids
        self._name = name
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((bind_host, 0))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._poll = select.poll()
        self._poll.register(self._listener, select.POLLIN)
        self._connections: dict[int, _Connection] = {}
        self._watched: dict[int, Callable[[], bool]] = {}

    def watch(self, fd: int, on_ready: Callable[[], bool]) -> None:
        """Call on_ready when fd is readable; it returns True when the sandbox has exited."""
        self._watched[fd] = on_ready
        self._poll.register(fd, select.POLLIN | select.POLLHUP)

    def unwatch(self, fd: int) -> None:
        if self._watched.pop(fd, None) is not None:
            self._poll.unregister(fd)

    def next_request(self, deadline: float, tick: Callable[[], None] | None = None, tick_s: float = 0.01) -> ApiRequest:
        """Wait for the runtime's next complete request; tick runs every tick_s while waiting.

        Raises DeadlineReached at the deadline (time.monotonic) and SandboxExited when a
        watched fd reports the sandbox gone.
        """
        for fd, conn in list(self._connections.items()):
            # What is already buffered, then what already arrived (the runtime asks for its next
            # event right after we accept a response): no poll needed for either.
            request = self._parse(conn) or self._receive(fd)
            if request is not None:
                return request
        if self._connections:  # a fast runtime answers within microseconds: catch it awake
            request = busy_poll.spin(self._receive_any)
            if request is not None:
                return request
        next_tick = time.monotonic() + tick_s
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                raise DeadlineReached()
            if tick is not None and now >= next_tick:
                tick()
                next_tick = now + tick_s
            wait_s = min(remaining, next_tick - now) if tick is not None else remaining
            events = self._poll.poll(max(0, int(wait_s * 1000) + 1))
            for fd, _ in events:
                if fd == self._listener.fileno():
                    self._accept()
                    continue
                watcher = self._watched.get(fd)
                if watcher is not None:
                    if watcher():
                        raise SandboxExited()
                    continue
                request = self._receive(fd)
                if request is not None:
                    return request

    def _receive_any(self) -> ApiRequest | None:
        for fd in list(self._connections):
            request = self._receive(fd)
            if request is not None:
                return request
        return None

    def respond(self, request: ApiRequest, status: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        sock = request.conn
        try:
            _send_all(sock, head + body)
        except OSError:
            self._drop(sock.fileno())

    def accept(self, request: ApiRequest) -> None:
        self.respond(request, "202 Accepted", _ACCEPTED)

    def reject(self, request: ApiRequest, status: str, error_type: str, message: str) -> None:
        body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
        self.respond(request, status, body)

    def close(self) -> None:
        for fd in list(self._connections):
            self._drop(fd)
        for fd in list(self._watched):
            self.unwatch(fd)
        try:
            self._poll.unregister(self._listener)
        except (KeyError, ValueError):
            pass
        self._listener.close()

    def _accept(self) -> None:
        try:
            sock, client = self._listener.accept()
        except BlockingIOError:
            return
        verdict = peer.judge(client, self._listener.getsockname(), self._pids())
        if not verdict.admitted:
            sock.close()
            LOG.warning(
                "labkit refused a connection to the Runtime API of %s from %s:%d: %s. Only the environment's own "
                "processes may use it (as on Lambda); another process found its port.",
                self._name, client[0], client[1], verdict.reason,
            )
            return
        level = logging.DEBUG if verdict.checked else logging.WARNING
        LOG.log(level, "Runtime API of %s: connection from %s:%d admitted, %s", self._name, *client, verdict.reason)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._connections[sock.fileno()] = _Connection(sock)
        self._poll.register(sock, select.POLLIN)

    def _receive(self, fd: int) -> ApiRequest | None:
        conn = self._connections.get(fd)
        if conn is None:
            return None
        try:
            data = conn.sock.recv(1 << 20)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self._drop(fd)
            return None
        conn.buffer += data
        return self._parse(conn)

    def _parse(self, conn: _Connection) -> ApiRequest | None:
        end = conn.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(conn.buffer) > _MAX_HEADER_BYTES:
                self._drop(conn.sock.fileno())
            return None
        head = bytes(conn.buffer[:end]).decode("latin-1").split("\r\n")
        method, path, _ = (head[0].split(" ", 2) + ["", ""])[:3]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body_end = end + 4 + length
        if len(conn.buffer) < body_end:
            if headers.get("expect", "").lower() == "100-continue" and not conn.continued:
                conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                conn.continued = True
            return None
        body = bytes(conn.buffer[end + 4 : body_end])
        del conn.buffer[:body_end]
        conn.continued = False
        return ApiRequest(method, path.split("?", 1)[0], headers, body, conn.sock)

    def _drop(self, fd: int) -> None:
        conn = self._connections.pop(fd, None)
        if conn is None:
            return
        try:
            self._poll.unregister(fd)
        except (KeyError, ValueError):
            pass
        conn.sock.close()


def _send_all(sock: socket.socket, data: bytes) -> None:
    """Send all of `data` on a non-blocking socket, waiting for room whenever the buffer is full."""
    view, sent = memoryview(data), 0
    while sent < len(view):
        try:
            sent += sock.send(view[sent:])
        except BlockingIOError:
            waiter = select.poll()
            waiter.register(sock, select.POLLOUT)
            if not waiter.poll(int(_SEND_TIMEOUT_S * 1000)):
                raise TimeoutError(f"the runtime read nothing for {_SEND_TIMEOUT_S:.0f} s") from None
