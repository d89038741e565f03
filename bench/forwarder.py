"""The floor under any Python service in front of awslambdaric: a bare forwarder, as a benchmark peer.

:class:`BareForwarder` runs, in a child process of its own, the least a Python server can do to
serve ``POST .../invocations`` with the real runtime client: one thread, one kept-alive client
connection at a time, the event handed to ``python -m awslambdaric`` over Lambda's Runtime API
(request id, deadline, ARN and trace headers), the runtime's answer relayed back, ``202`` to the
runtime, nothing else — no API, no accounting, no logs, no limits. Its warm latency is what the
process layout (client, server, runtime) and the sockets cost on this machine, so a service's
ratio against the RIE can be read against the forwarder's: what is left between the two is the
service's own work. With ``busy_poll`` the forwarder polls the runtime's socket instead of
sleeping in ``recv`` (as ``labkit.runtime.busy_poll`` does).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

from bench.peers import _terminate

_ACK = b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"OK"}'
_ARN = "arn:aws:lambda:us-east-1:123456789012:function:forwarded"
_TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"


class _Reader:
    """HTTP/1.1 messages (head and Content-Length body) from one socket."""

    def __init__(self, sock: socket.socket, busy_poll: bool) -> None:
        self.sock = sock
        self.busy_poll = busy_poll
        self.buffer = bytearray()
        sock.setblocking(not busy_poll)

    def message(self) -> tuple[bytes, bytes]:
        """(head, body) of the next message; EOFError when the peer closed the connection."""
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buffer[:end])
                at = head.lower().find(b"content-length:")
                length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
                if len(self.buffer) >= end + 4 + length:
                    body = bytes(self.buffer[end + 4 : end + 4 + length])
                    del self.buffer[: end + 4 + length]
                    return head, body
            data = self._recv()
            if not data:
                raise EOFError
            self.buffer += data

    def _recv(self) -> bytes:
        while True:
            try:
                return self.sock.recv(1 << 16)
            except BlockingIOError:
                continue


def _serve(handler: str, code_dir: str, busy_poll: bool, parent: Connection) -> None:
    """The child process: start awslambdaric, then relay each client's invokes until told to stop."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))  # so that the runtime is ended below
    api = socket.create_server(("127.0.0.1", 0))
    clients = socket.create_server(("127.0.0.1", 0))
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")}
    env.update(PYTHONPATH=code_dir, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.getsockname()[1]}")
    runtime = subprocess.Popen(
        [sys.executable, "-m", "awslambdaric", handler], cwd=code_dir, env=env,  # as the RIE peer runs it
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    api.settimeout(60)
    try:
        conn, _ = api.accept()
        conn.settimeout(None)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        runtime_api = _Reader(conn, busy_poll)
        runtime_api.message()  # the first GET /invocation/next: init is done
        parent.send(clients.getsockname()[1])
        number = 0
        while True:
            client_sock, _ = clients.accept()
            client_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = _Reader(client_sock, busy_poll=False)
            waiting_for_next = False
            try:
                while True:
                    _, event = client.message()
                    if waiting_for_next:
                        runtime_api.message()
                    number += 1
                    head = (
                        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(event)}\r\n"
                        f"Lambda-Runtime-Aws-Request-Id: {number}\r\n"
                        f"Lambda-Runtime-Deadline-Ms: {int((time.time() + 60) * 1000)}\r\n"
                        f"Lambda-Runtime-Invoked-Function-Arn: {_ARN}\r\nLambda-Runtime-Trace-Id: {_TRACE}\r\n\r\n"
                    )
                    conn.sendall(head.encode() + event)
                    posted, result = runtime_api.message()
                    conn.sendall(_ACK)
                    waiting_for_next = True
                    error = b"X-Amz-Function-Error: Unhandled\r\n" if posted.split(b" ", 2)[1].endswith(b"/error") else b""
                    client_sock.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
                        % (error, len(result), result)
                    )
            except (EOFError, OSError):
                client_sock.close()
    finally:
        _terminate(runtime)


class BareForwarder:
    """``with BareForwarder(handler, code_dir) as floor:`` then POST invokes to ``127.0.0.1:floor.port``."""

    def __init__(self, handler: str, code_dir: Path, busy_poll: bool = True) -> None:
        self.handler = handler
        self.code_dir = Path(code_dir).resolve()
        self.busy_poll = busy_poll
        self.port: int | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> BareForwarder:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(self.handler, str(self.code_dir), self.busy_poll, child), daemon=True
        )
        self._process.start()
        if not parent.poll(90):
            self.close()
            raise RuntimeError("the bare forwarder's runtime did not ask for its first event within 90 s")
        self.port = parent.recv()
        return self

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()  # SIGTERM: its finally block ends the runtime
            self._process.join(10)
            self._process = None

    def __enter__(self) -> BareForwarder:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
