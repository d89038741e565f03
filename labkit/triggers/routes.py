"""API Gateway routes: `METHOD /path/{param}/{proxy+}` templates, matched to request paths the way
API Gateway picks a route (the most specific one wins; `ANY` and greedy `{proxy+}` last)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from labkit.errors import ConfigurationError

DEFAULT_ROUTE = "$default"
METHODS = ("ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_SEGMENT = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


@dataclass(frozen=True)
class Route:
    """One route: its method, its path template, and what it invokes (any object the gateway knows)."""

    method: str
    path: str
    target: Any
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """The route key as API Gateway writes it: `GET /orders/{id}` or `$default`."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route takes the request, else None."""
        if self.method not in ("ANY", method):
            return None
        if self.path == DEFAULT_ROUTE:
            return {}
        return _match_segments(self.path.strip("/").split("/"), path.strip("/").split("/"))

    @property
    def rank(self) -> tuple[int, int, int, int]:
        """Sort key: literal segments first, then parameters, greedy paths and ANY, $default last."""
        if self.path == DEFAULT_ROUTE:
            return (1, 0, 0, 0)
        segments = self.path.strip("/").split("/")
        greedy = int(segments[-1].endswith("+}"))
        literals = sum(1 for segment in segments if not _SEGMENT.match(segment))
        return (0, greedy, -literals, int(self.method == "ANY"))


def make_route(method: str, path: str, target: Any, **options: Any) -> Route:
    """A validated route; raises ConfigurationError naming what is wrong."""
    method = method.upper()
    if method not in METHODS:
        raise ConfigurationError(f"{method!r} is not an API Gateway method: use one of {', '.join(METHODS)}")
    if path != DEFAULT_ROUTE:
        if not path.startswith("/"):
            raise ConfigurationError(f"the route path {path!r} must start with '/' (e.g. '/orders/{{id}}'), or be '$default'")
        segments = path.strip("/").split("/")
        for index, segment in enumerate(segments):
            placeholder = _SEGMENT.match(segment)
            if placeholder and placeholder.group(2) and index != len(segments) - 1:
                raise ConfigurationError(f"the greedy parameter {segment} must be the last segment of {path!r}")
            if not placeholder and ("{" in segment or "}" in segment):
                raise ConfigurationError(f"the segment {segment!r} of {path!r} is not a whole {{name}} or {{name+}} parameter")
    return Route(method, path, target, dict(options))


def _match_segments(template: list[str], actual: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, segment in enumerate(template):
        placeholder = _SEGMENT.match(segment)
        if placeholder and placeholder.group(2):  # greedy: the rest of the path, at least one segment
            rest = actual[index:]
            if not rest or rest == [""]:
                return None
            params[placeholder.group(1)] = unquote("/".join(rest))
            return params
        if index >= len(actual):
            return None
        if placeholder:
            if not actual[index]:
                return None
            params[placeholder.group(1)] = unquote(actual[index])
        elif segment != actual[index]:
            return None
    return params if len(actual) == len(template) else None


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route that takes `method path` (routes in any order), with its path parameters."""
    for route in sorted(routes, key=lambda r: r.rank):
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None
