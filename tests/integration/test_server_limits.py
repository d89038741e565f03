"""The one-port server bounds request bodies by route from their headers alone, and never waits forever for one."""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser

from labkit.service.server import ServiceServer
from labkit.service.wire import HttpRequest, HttpResponse

SIGNED_S3 = "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n"


class Recorder:
    """Both apps of the server: answer 200 and remember every body that reached them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def handle(self, request: HttpRequest) -> HttpResponse:
        self.bodies.append(request.body)
        return HttpResponse(200, b"{}", {"Content-Type": "application/json"})

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def served() -> Iterator[tuple[ServiceServer, Recorder]]:
    recorder = Recorder()
    server = ServiceServer(recorder, recorder)
    server.idle_timeout_s = 0.5
    with server.start():
        yield server, recorder


def exchange(server: ServiceServer, head: str, timeout_s: float = 5.0) -> tuple[bytes, float]:
    """Send `head` only (no body) on a raw socket; everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout_s) as raw:
        raw.sendall(head.encode("latin-1"))
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
    return data, time.monotonic() - started


def split(data: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


def test_an_invoke_body_over_6_mb_is_refused_from_its_content_length(served: tuple[ServiceServer, Recorder]) -> None:
    server, recorder = served
    data, took = exchange(server, "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\n"
                                  f"Content-Length: {100 * 1024 * 1024}\r\n\r\n")
    status, headers, body = split(data)
    assert status == "HTTP/1.1 413 Request Entity Too Large" and took < 2.0
    assert headers["x-amzn-errortype"] == "RequestTooLargeException" and headers["connection"] == "close"
    model = botocore.session.get_session().get_service_model("lambda")
    parsed = create_parser("rest-json").parse(
        {"status_code": 413, "headers": headers, "body": body}, model.operation_model("Invoke").output_shape)
    assert parsed["Error"]["Code"] == "RequestTooLargeException"
    assert parsed["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    assert recorder.bodies == []


def test_a_content_length_of_a_terabyte_is_answered_at_once(served: tuple[ServiceServer, Recorder]) -> None:
    server, recorder = served
    data, took = exchange(server, f"PUT /bucket/key HTTP/1.1\r\nHost: x\r\n{SIGNED_S3}Content-Length: {10**12}\r\n"
                                  "Expect: 100-continue\r\n\r\n")
    status, headers, body = split(data)
    assert status == "HTTP/1.1 400 Bad Request" and took < 2.0  # S3's answer; never a 100 Continue first
    assert b"<Code>EntityTooLarge</Code>" in body and b"<MaxSizeAllowed>5368709120</MaxSizeAllowed>" in body
    assert f"<ProposedSize>{10**12}</ProposedSize>".encode() in body
    data, _ = exchange(server, f"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\n\r\n")
    assert json.loads(split(data)[2])["message"] == "Request must be smaller than 69905067 bytes for the CreateFunction operation"
    assert recorder.bodies == []


def test_a_chunked_body_is_refused_as_soon_as_a_chunk_passes_the_bound(served: tuple[ServiceServer, Recorder]) -> None:
    server, recorder = served
    data, took = exchange(server, "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n800000\r\n")
    assert split(data)[0] == "HTTP/1.1 413 Request Entity Too Large" and took < 2.0
    assert recorder.bodies == []


def test_a_body_shorter_than_its_content_length_ends_with_the_idle_timeout(served: tuple[ServiceServer, Recorder]) -> None:
    server, recorder = served
    data, took = exchange(server, "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: 100\r\n\r\n0123456789", timeout_s=10)
    assert data == b"" and took < 3.0  # closed unanswered after idle_timeout_s (0.5 s), not left waiting
    assert recorder.bodies == []
    data, _ = exchange(server, "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               "Content-Length: 2\r\n\r\n42")
    assert split(data)[0] == "HTTP/1.1 200 OK" and recorder.bodies == [b"42"]
