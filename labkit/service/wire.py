"""The HTTP request and response as the service's API layer sees them, apart from any server."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class HttpRequest:
    """One request: header names lower-case, the query parsed (values in order)."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    @functools.cached_property
    def json_body(self) -> Any:
        """The body parsed as JSON, once per request (raises what ``json.loads`` raises)."""
        return json.loads(self.body)


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, headers: dict[str, str] | None = None) -> HttpResponse:
        return cls(status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})})


class ServiceApp(Protocol):
    """What the single-port server hands the requests of one service to."""

    def handle(self, request: HttpRequest) -> HttpResponse: ...
