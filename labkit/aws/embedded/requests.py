"""An AWS API request read as the embedded AWS reads it: its operation and its parameters.

`read_call` routes a request with botocore's service model as moto does (``X-Amz-Target`` for
the JSON protocol, ``Action`` for query, method and path for REST) and parses its parameters with
moto's protocol parsers, so what labkit authorizes is exactly what moto then serves.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labkit.aws.embedded.loading import load_moto


@dataclass(frozen=True)
class ApiRequest:
    """One request's operation (botocore's name, e.g. ``PutItem``), protocol and parameters."""

    operation: str
    protocol: str
    params: dict[str, Any] = field(default_factory=dict)


def read_call(service: str, method: str, target: str, headers: Mapping[str, str], body: bytes) -> ApiRequest | None:
    """The operation `service`'s model finds for the request, or None when it has none (or no model)."""
    load_moto()
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import Request
    from moto.core.routing import NotFound

    try:
        model, router = _model_and_router(service)
    except Exception:  # an unknown signing name: no model to read
        return None
    request = Request.from_primitives(method, f"http://{headers.get('host', 'localhost')}{target}", dict(headers), body)
    try:
        protocol = _protocol(model, request)
        operation, uri_params = router.match(request)
    except (NotFound, NotImplementedError):
        return None
    try:
        params = PROTOCOL_PARSERS[protocol](operation).parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": request.data,
                "url_path": request.path,
                "url_params": uri_params,
            }
        )
    except Exception:  # a malformed body: the operation is still known, its parameters may not be
        params = dict(uri_params)
    return ApiRequest(str(operation.name), protocol, dict(params or {}))


@functools.lru_cache(maxsize=None)
def _model_and_router(service: str) -> tuple[Any, Any]:
    load_moto()
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    return get_service_model(service), get_service_router(service)


def _protocol(model: Any, request: Any) -> str:
    load_moto()
    from moto.core.request import determine_request_protocol

    if _protocol_takes_request():
        return str(determine_request_protocol(model, request))
    return str(determine_request_protocol(model, request.content_type))


@functools.lru_cache(maxsize=1)
def _protocol_takes_request() -> bool:
    """moto 5.2.6 passes the request (for CBOR's header); 5.2.5 passed its content type."""
    load_moto()
    from moto.core.request import determine_request_protocol

    parameters = list(inspect.signature(determine_request_protocol).parameters)
    return len(parameters) > 1 and parameters[1] == "request"
