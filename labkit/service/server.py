"""The local AWS's single-port HTTP/1.1 server: Lambda's requests to a ServiceApp, the rest to a WSGI app.

One listening socket on loopback; one thread per connection (keep-alive, TCP_NODELAY,
`Expect: 100-continue`, chunked request bodies). A body over its route's bound
(`labkit.service.body_limits`) is refused from its Content-Length alone (or as soon as a chunked
body passes it): AWS's answer at once, then the connection is closed, the body unread; a body
that stops arriving ends with the connection when it has been idle for `idle_timeout_s`. Each
request is routed by `labkit.service.routing.service_of`: Lambda's go to the injected `ServiceApp` as an
`HttpRequest`; every other one is handed, in-process, to the injected WSGI application (the
embedded moto server) with a complete WSGI environ. Responses are sent with a Content-Length.

The server knows nothing of moto or of the Lambda service: both are given to it.
"""
from __future__ import annotations

import io
import logging
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, BinaryIO, Protocol, cast
from urllib.parse import parse_qs, unquote

from labkit.aws.embedded.app import UnknownServiceError
from labkit.service.body_limits import body_limit
from labkit.service.error_shapes import aws_error_body
from labkit.service.routing import LAMBDA, service_of
from labkit.service.wire import HttpRequest, HttpResponse, ServiceApp

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Router = Callable[[str, str, Mapping[str, str], Mapping[str, Sequence[str]]], str]


class Refusal(Protocol):
    """An answer given instead of serving a request (e.g. `labkit.security.enforce.Denial`)."""

    @property
    def status(self) -> int: ...

    @property
    def body(self) -> bytes: ...

    @property
    def headers(self) -> dict[str, str]: ...


class BodyBound(Protocol):
    """The bound on a request's body (e.g. `labkit.service.body_limits.BodyLimit`), and the answer past it."""

    @property
    def max_bytes(self) -> int: ...

    def refusal(self, size: int | None, headers: Mapping[str, str]) -> Refusal:
        """The answer to a body of `size` bytes (None: chunked, size unknown yet)."""
        ...


BoundOf = Callable[[str, str, Mapping[str, str]], BodyBound]
"""`(method, target, headers) -> the bound on the body` of a request whose headers have arrived."""

Authorizer = Callable[[str, str, Mapping[str, str], bytes, str], "Refusal | None"]
"""`(method, target, headers, body, client address) -> None` to serve the request, or the answer that refuses it."""

RAW_HEADERS_ENVIRON_KEY = "labkit.raw_headers"
"""WSGI environ key holding the request's headers as received: [(name, value)], names unchanged.

WSGI folds `-` and `_` into `_`, so (like werkzeug) the environ leaves out every header whose
name has an underscore; an application that needs them (S3 metadata) finds them here.
"""

_MAX_LINE = 64 * 1024
_READ_PIECE = 1024 * 1024  # a body is read in pieces: memory follows what arrives, not what Content-Length claims
_LINGER_S = 1.0  # after refusing a body: how long what the client still sends is discarded, so it reads the answer
_MAX_HEADERS = 200
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_BODY_STATUSES = frozenset({204, 304})

log = logging.getLogger(__name__)


def _new_status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


_STATUS_LINES = {int(s): _new_status_line(int(s)) for s in HTTPStatus}


def _status_line(status: int) -> bytes:
    """`HTTP/1.1 <status> <phrase>` with its CRLF (made once for every status HTTPStatus knows)."""
    return _STATUS_LINES.get(status) or _new_status_line(status)


def _refusal_head(refusal: Refusal) -> list[bytes]:
    """The status line and headers of a refusal's answer, without the framing headers."""
    return [_status_line(refusal.status), *(_encode_header(name, value) for name, value in refusal.headers.items())]


class BadRequest(Exception):
    """The bytes on a connection are not an HTTP/1.x request we can answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class BodyTooLarge(Exception):
    """A request's body is over its route's bound: `refusal` is the answer, and the connection ends unread."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"request body over the bound ({refusal.status})")
        self.refusal = refusal


class _Request:
    """One parsed request (internal: the server's own record, before routing)."""

    __slots__ = ("body", "headers", "keep_alive", "method", "raw_headers", "target", "version")

    def __init__(
        self,
        method: str,
        target: str,
        version: str,
        headers: dict[str, str],
        raw_headers: list[tuple[str, str]],
        body: bytes,
        keep_alive: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.raw_headers = raw_headers
        self.body = body
        self.keep_alive = keep_alive


def _read_request(rfile: BinaryIO, sock: socket.socket, bound_of: BoundOf) -> _Request | None:
    """Read one request from a connection; None when the client closed it between requests (or inside the body).

    Raises BodyTooLarge, before reading the body, when its Content-Length is over `bound_of`'s bound.
    """
    line = rfile.readline(_MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # tolerated before a request line (RFC 9112 2.2)
        line = rfile.readline(_MAX_LINE + 1)
    if not line:
        return None
    if len(line) > _MAX_LINE:
        raise BadRequest(414, "request line too long")
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "not an HTTP/1.x request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    raw_headers: list[tuple[str, str]] = []
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            return None
        if len(line) > _MAX_LINE or len(raw_headers) >= _MAX_HEADERS:
            raise BadRequest(431, "request headers too large")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest(400, "malformed header line")
        name = name.strip()
        value = value.strip()
        raw_headers.append((name, value))
        low = name.lower()
        previous = headers.get(low)
        headers[low] = value if previous is None else f"{previous},{value}"

    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.0":
        keep_alive = "keep-alive" in connection
    else:
        keep_alive = "close" not in connection

    bound = bound_of(method, target, headers)
    transfer = headers.get("transfer-encoding")
    if transfer is not None and "chunked" in transfer.lower():
        if headers.get("expect", "").lower() == "100-continue":
            sock.sendall(_CONTINUE)
        body = _read_chunked(rfile, bound, headers)
    else:
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise BadRequest(400, "invalid Content-Length") from None
        if length < 0:
            raise BadRequest(400, "invalid Content-Length")
        if length > bound.max_bytes:
            raise BodyTooLarge(bound.refusal(length, headers))
        if length:
            if headers.get("expect", "").lower() == "100-continue":
                sock.sendall(_CONTINUE)
            pieces = []
            remaining = length
            while remaining:
                piece = rfile.read(min(remaining, _READ_PIECE))
                if not piece:
                    return None
                pieces.append(piece)
                remaining -= len(piece)
            body = b"".join(pieces)
        else:
            body = b""
    return _Request(method, target, version, headers, raw_headers, body, keep_alive)


def _read_chunked(rfile: BinaryIO, bound: BodyBound, headers: Mapping[str, str]) -> bytes:
    """The body of a request sent with `Transfer-Encoding: chunked`, de-chunked (trailers dropped).

    Raises BodyTooLarge as soon as a chunk's size would take the body over `bound`.
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if not line:
            raise BadRequest(400, "connection closed inside a chunked body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest(400, "invalid chunk size") from None
        total += size
        if total > bound.max_bytes:
            raise BodyTooLarge(bound.refusal(None, headers))
        if size == 0:
            while True:  # optional trailer fields, then the final CRLF
                trailer = rfile.readline(_MAX_LINE + 1)
                if trailer in (b"\r\n", b"\n", b""):
                    return b"".join(chunks)
        chunk = rfile.read(size)
        if len(chunk) < size:
            raise BadRequest(400, "connection closed inside a chunk")
        chunks.append(chunk)
        rfile.readline(_MAX_LINE + 1)  # the CRLF after the chunk's data


def _origin_form(target: str) -> tuple[str | None, str]:
    """(the host an absolute-form target names, or None; the target as `/path?query`)."""
    if target[0] == "/" or "://" not in target:
        return None, target
    host, slash, tail = target.partition("://")[2].partition("/")
    return host, slash + tail if slash else "/"


def _path_and_query(target: str) -> tuple[str, str, str, dict[str, list[str]]]:
    """(raw path, decoded path, query string, parsed query) of an origin-form target."""
    raw_path, _, query_string = target.partition("?")
    path = unquote(raw_path) if "%" in raw_path else raw_path
    return raw_path, path, query_string, parse_qs(query_string, keep_blank_values=True) if query_string else {}


def _encode_header(name: str, value: Any) -> bytes:
    text = f"{name}: {value}\r\n"
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _shut_down(sock: socket.socket) -> None:
    """End a connection: its serving thread's read returns, and the thread closes it (gone already: fine)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


MAX_CONNECTIONS = 256
"""Connections served at once; past that, the one idle longest is closed to make room."""
IDLE_TIMEOUT_S = 120.0
"""How long a connection may wait for (the rest of) its next request before it is closed."""


class ServiceServer:
    """The single-port endpoint: `ServiceServer(lambda_app, aws_app).start()`, then `.close()`.

    Parameters
    ----------
    lambda_app
        Receives every request that `router` says is Lambda's.
    aws_app
        A WSGI application (the embedded moto server) for every other request.
    host, port
        Where to listen; port 0 picks a free port (see `.port` after construction).
    router
        `service_of(method, path, headers, query) -> str`; requests for which it returns
        `"lambda"` go to `lambda_app`.
    authorizer
        Asked first about every request (`labkit.security.enforce.Authorizer`: execution roles);
        a refusal it returns is sent instead of serving the request.
    """

    def __init__(
        self,
        lambda_app: ServiceApp,
        aws_app: WSGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        router: Router = service_of,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.lambda_app = lambda_app
        self.authorizer = authorizer
        self.max_connections = MAX_CONNECTIONS
        self.idle_timeout_s = IDLE_TIMEOUT_S
        self.aws_app = aws_app
        self._router = router
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.setblocking(False)
        self.host: str = self._listener.getsockname()[0]
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._stopping = False
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._idle: dict[socket.socket, float] = {}  # connections waiting for their next request, since when
        self._threads: list[threading.Thread] = []  # every connection thread that may still run
        self._accept_thread: threading.Thread | None = None
        self._closed = False

    @property
    def endpoint_url(self) -> str:
        """`http://host:port`; on a wildcard address (0.0.0.0, ::) the loopback address of the same family."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    # ----------------------------------------------------------------- life cycle
    def start(self) -> ServiceServer:
        """Accept connections on a daemon thread; returns self."""
        if self._accept_thread is None:
            self._accept_thread = threading.Thread(
                target=self._accept_loop, name=f"labkit-aws-accept-{self.port}", daemon=True
            )
            self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and end every open connection (requests in progress may still finish)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            sockets = list(self._connections)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        for sock in sockets:
            _shut_down(sock)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop, wait (up to timeout_s) for the server's threads to end, and release the port."""
        self.stop()
        if self._closed:
            return
        if self._accept_thread is not None:
            self._accept_thread.join(timeout_s)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        self._closed = True

    def __enter__(self) -> ServiceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    # ----------------------------------------------------------------- connections
    def _accept_loop(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping:
                ready = selector.select(timeout=min(self.idle_timeout_s / 4, 5.0))
                self._close_idle()
                for key, _ in ready:
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        sock, address = self._listener.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        if self._stopping:
                            return
                        continue
                    self._start_connection(sock, address)
        finally:
            selector.close()

    def _start_connection(self, sock: socket.socket, address: Any) -> None:
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(
            target=self._serve_connection, args=(sock, address), name=f"labkit-aws-conn-{self.port}", daemon=True
        )
        evicted: socket.socket | None = None
        with self._lock:
            if self._stopping:
                sock.close()
                return
            if len(self._connections) >= self.max_connections:
                evicted = min(self._idle, key=self._idle.__getitem__, default=None)
                if evicted is None:  # every connection is busy: say so, and serve the others
                    self._refuse(sock)
                    return
                self._idle.pop(evicted)
            self._connections[sock] = thread
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        if evicted is not None:  # the connection idle longest makes room (its client reconnects when it needs to)
            _shut_down(evicted)
        thread.start()

    @staticmethod
    def _refuse(sock: socket.socket) -> None:
        content_type, body = aws_error_body({}, "ServiceUnavailable", "labkit's local AWS is serving as many "
                                            "connections as it can at once: try again in a moment")
        head = f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        try:
            sock.sendall(_STATUS_LINES[503] + head.encode("latin-1") + body)
        except OSError:
            pass
        sock.close()

    def _body_bound(self, method: str, target: str, headers: Mapping[str, str]) -> BodyBound:
        """The bound on a request's body: its route's (`labkit.service.body_limits`)."""
        _, path, _, query = _path_and_query(_origin_form(target)[1])
        return body_limit(self._router(method, path, headers, query), method, path, headers)

    @staticmethod
    def _refuse_body(sock: socket.socket, refusal: Refusal) -> None:
        """Answer a body over its bound, then end the connection: nothing more is read into memory. What the
        client still sends meanwhile is discarded for up to `_LINGER_S`, so that closing with unread data (a
        TCP reset) does not destroy the answer before the client reads it."""
        head = _refusal_head(refusal)
        head.append(f"Content-Length: {len(refusal.body)}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        sock.sendall(b"".join(head) + refusal.body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(_LINGER_S)
        deadline = time.monotonic() + _LINGER_S
        try:
            while time.monotonic() < deadline and sock.recv(_READ_PIECE):
                pass
        except OSError:
            pass

    def _close_idle(self) -> None:
        """Close the connections that have waited longer than `idle_timeout_s` for their next request."""
        cutoff = time.monotonic() - self.idle_timeout_s
        with self._lock:
            stale = [sock for sock, since in self._idle.items() if since < cutoff]
            for sock in stale:
                self._idle.pop(sock)
        for sock in stale:
            _shut_down(sock)

    def _serve_connection(self, sock: socket.socket, address: Any) -> None:
        rfile = cast(BinaryIO, sock.makefile("rb", buffering=256 * 1024))
        try:
            while not self._stopping:
                with self._lock:
                    self._idle[sock] = time.monotonic()
                try:
                    request = _read_request(rfile, sock, self._body_bound)
                except BadRequest as exc:
                    body = f"{exc}\n".encode()
                    head = _status_line(exc.status)
                    sock.sendall(
                        head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1") + body
                    )
                    return
                except BodyTooLarge as exc:
                    self._refuse_body(sock, exc.refusal)
                    return
                finally:
                    with self._lock:
                        self._idle.pop(sock, None)
                if request is None:
                    return
                sock.sendall(self._respond(request, address))
                if not request.keep_alive:
                    return
        except OSError:
            pass  # the client went away, or stop() shut the socket
        except Exception:  # a bug here ends this connection only
            log.exception("labkit's local AWS dropped a connection")
        finally:
            with self._lock:
                self._connections.pop(sock, None)
                self._idle.pop(sock, None)
            try:
                rfile.close()
                sock.close()
            except OSError:
                pass

    # ----------------------------------------------------------------- dispatch
    def _respond(self, request: _Request, address: Any) -> bytes:
        host_override, target = _origin_form(request.target)
        if self.authorizer is not None:
            refusal = self.authorizer(request.method, target, request.headers, request.body, address[0])
            if refusal is not None:
                return self._finish(_refusal_head(refusal), False, request, refusal.status, refusal.body)
        raw_path, path, query_string, query = _path_and_query(target)
        if self._router(request.method, path, request.headers, query) == LAMBDA:
            return self._call_lambda(request, path, query)
        return self._call_wsgi(request, target, raw_path, path, query_string, host_override, address)

    def _call_lambda(self, request: _Request, path: str, query: dict[str, list[str]]) -> bytes:
        try:
            response = self.lambda_app.handle(HttpRequest(request.method, path, query, request.headers, request.body))
        except Exception as exc:  # a bug in the service must not take the endpoint down
            log.exception("the Lambda service failed on %s %s", request.method, path)
            response = HttpResponse.json(
                500,
                {"Type": "Service", "message": f"labkit's Lambda service failed: {type(exc).__name__}: {exc}"},
                {"x-amzn-ErrorType": "ServiceException"},
            )
        status = response.status
        body = response.body
        parts = [_status_line(status)]
        has_length = False
        for name, value in response.headers.items():
            if not has_length and name.lower() == "content-length":
                has_length = True
            parts.append(_encode_header(name, value))
        return self._finish(parts, has_length, request, status, body)

    def _call_wsgi(
        self,
        request: _Request,
        target: str,
        raw_path: str,
        path: str,
        query_string: str,
        host_override: str | None,
        address: Any,
    ) -> bytes:
        headers = request.headers
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path.encode("utf-8", "surrogateescape").decode("latin-1"),
            "QUERY_STRING": query_string,
            "REQUEST_URI": target,
            "RAW_URI": target,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": request.version,
            "SERVER_SOFTWARE": "labkit",
            "REMOTE_ADDR": address[0] if isinstance(address, tuple) else "127.0.0.1",
            "REMOTE_PORT": address[1] if isinstance(address, tuple) else 0,
            "CONTENT_LENGTH": str(len(request.body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            RAW_HEADERS_ENVIRON_KEY: request.raw_headers,
        }
        for name, value in headers.items():
            if "_" in name or name in ("content-length", "transfer-encoding"):
                continue  # the body is de-chunked and its length given above
            key = name.upper().replace("-", "_")
            environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
        if host_override:
            environ["HTTP_HOST"] = host_override
        elif "HTTP_HOST" not in environ:
            environ["HTTP_HOST"] = f"{self.host}:{self.port}"

        chunks: list[bytes] = []
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, response_headers]
            return chunks.append

        try:
            result = self.aws_app(environ, start_response)
            try:
                for chunk in result:
                    if chunk:
                        chunks.append(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not started:
                raise RuntimeError("the WSGI application did not call start_response")
        except UnknownServiceError as exc:
            content_type, body = aws_error_body(headers, "UnknownOperationException", str(exc), sender=True)
            started[:] = ["400 Bad Request", [("Content-Type", content_type)]]
            chunks[:] = [body]
        except Exception as exc:
            log.exception("the embedded AWS failed on %s %s", request.method, path)
            content_type, body = aws_error_body(headers, "InternalFailure",
                                                f"labkit's embedded AWS failed: {type(exc).__name__}: {exc}")
            started[:] = ["500 Internal Server Error", [("Content-Type", content_type)]]
            chunks[:] = [body]
        status_text, response_headers = started
        status = int(status_text[:3])
        parts = [f"HTTP/1.1 {status_text}\r\n".encode("latin-1")]
        has_length = False
        for name, value in response_headers:
            low = name.lower()
            if low == "content-length":
                has_length = True
            elif low in ("connection", "transfer-encoding", "keep-alive"):
                continue  # hop-by-hop: the server decides these
            parts.append(_encode_header(name, value))
        return self._finish(parts, has_length, request, status, b"".join(chunks))

    @staticmethod
    def _finish(parts: list[bytes], has_length: bool, request: _Request, status: int, body: bytes) -> bytes:
        if not has_length and status >= 200 and status not in _NO_BODY_STATUSES:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        if not request.keep_alive:
            parts.append(b"Connection: close\r\n")
        elif request.version == "HTTP/1.0":
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        if request.method != "HEAD" and status not in _NO_BODY_STATUSES:
            parts.append(body)
        return b"".join(parts)
