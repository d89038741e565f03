"""CORS as HTTP APIs and function URLs apply it from their configuration (``AllowOrigins``,
``AllowMethods``, ``AllowHeaders``, ``ExposeHeaders``, ``MaxAge``, ``AllowCredentials``): they
answer preflight requests themselves and add the ``Access-Control-*`` headers to responses."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labkit.triggers.proxy_response import HttpAnswer


def _allowed_origin(cors: Mapping[str, Any], origin: str | None) -> str | None:
    if not origin:
        return None
    origins = list(cors.get("AllowOrigins") or [])
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    return origin if origin in origins else None


def preflight(cors: Mapping[str, Any], method: str, headers: Mapping[str, str]) -> HttpAnswer | None:
    """The answer to a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method), else None."""
    if method != "OPTIONS" or "access-control-request-method" not in headers or "origin" not in headers:
        return None
    answer = HttpAnswer(204)
    origin = _allowed_origin(cors, headers.get("origin"))
    if origin is None:
        return answer
    answer.headers.append(("Access-Control-Allow-Origin", origin))
    for key, header in (("AllowMethods", "Access-Control-Allow-Methods"), ("AllowHeaders", "Access-Control-Allow-Headers")):
        if cors.get(key):
            answer.headers.append((header, ",".join(cors[key])))
    if cors.get("MaxAge") is not None:
        answer.headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        answer.headers.append(("Access-Control-Allow-Credentials", "true"))
    return answer


def decorate(cors: Mapping[str, Any], headers: Mapping[str, str], answer: HttpAnswer) -> HttpAnswer:
    """`answer` with the CORS headers a request from an allowed Origin gets."""
    origin = _allowed_origin(cors, headers.get("origin"))
    if origin is None:
        return answer
    answer.headers.append(("Access-Control-Allow-Origin", origin))
    if cors.get("ExposeHeaders"):
        answer.headers.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        answer.headers.append(("Access-Control-Allow-Credentials", "true"))
    return answer
