"""What API Gateway and function URLs make of a function's response: Lambda proxy responses
(payload 1.0 and 2.0) as HTTP status, headers and body, and API Gateway's own error answers.

Payload 1.0 needs ``{"statusCode": int, "headers", "multiValueHeaders", "body": str,
"isBase64Encoded"}``; anything else is a malformed proxy response (502). Payload 2.0 also takes
``cookies`` (each a ``Set-Cookie`` header), and any other JSON value as the body of a 200
``application/json`` answer (a string as it is, anything else serialised compactly, as AWS does).
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HttpAnswer:
    """An HTTP response as the client gets it; headers as (name, value) pairs, repeated names kept."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The last value of a header (case-insensitive), or None."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None


class MalformedResponse(ValueError):
    """The function answered with something API Gateway cannot turn into an HTTP response."""


def gateway_error(status: int, message: str) -> HttpAnswer:
    """API Gateway's own error body, `{"message": ...}`."""
    return HttpAnswer(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


INTERNAL_ERROR = "Internal server error"


def proxy_response(payload: bytes, version: str) -> HttpAnswer:
    """The HTTP response for a function's response `payload` (JSON bytes) in payload format `version`."""
    try:
        value = json.loads(payload) if payload else None
    except ValueError:
        raise MalformedResponse("the function's response is not JSON") from None
    if version == "2.0" and not (isinstance(value, dict) and "statusCode" in value):
        if isinstance(value, str):
            return HttpAnswer(200, [("Content-Type", "application/json")], value.encode())
        compact = json.dumps(value, separators=(",", ":")).encode() if value is not None else b""  # compact, as AWS sends it
        return HttpAnswer(200, [("Content-Type", "application/json")], compact)
    if not isinstance(value, dict):
        raise MalformedResponse("the response must be a JSON object with a statusCode")
    status = value.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an HTTP status (100-599), not {status!r}")
    headers = _header_pairs(value)
    if version == "2.0":
        cookies = value.get("cookies") or []
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResponse("cookies must be a list of strings")
        headers += [("Set-Cookie", cookie) for cookie in cookies]
    body = value.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise MalformedResponse(f"body must be a string (serialise it with json.dumps), not {type(body).__name__}")
    elif value.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("isBase64Encoded is true but the body is not base64") from None
    else:
        data = body.encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpAnswer(status, headers, data)


def _header_pairs(value: dict[str, Any]) -> list[tuple[str, str]]:
    headers = value.get("headers") or {}
    multi = value.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be JSON objects")
    out: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list of values")
        out.extend((str(name), _text(item)) for item in values)
    seen = {name.lower() for name, _ in out}
    out.extend((str(name), _text(item)) for name, item in headers.items() if str(name).lower() not in seen)
    return out


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise MalformedResponse("header values must be strings, numbers or booleans")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
