"""Events of API Gateway's Lambda proxy integrations and of function URLs: REST API (payload 1.0),
HTTP API (payload 2.0) and function URL (2.0 shape, ``routeKey`` and ``stage`` ``$default``).

Every builder takes the request as a client sends it and fills the rest with sensible defaults:

>>> rest_v1("GET", "/orders/{id}", path_parameters={"id": "42"}, query={"expand": ["items", "total"]})
... # doctest: +SKIP
>>> http_v2("POST", "/orders", body={"item": "book"}, cookies=["session=abc"])      # doctest: +SKIP
>>> function_url("GET", "/", headers={"Accept": "image/png"})                          # doctest: +SKIP

Arguments shared by the builders
--------------------------------
``route``
    The route as configured, with ``{name}`` and ``{name+}`` placeholders (``/orders/{id}``,
    ``/{proxy+}``); the request path is the route with ``path_parameters`` filled in, unless
    ``path=`` gives it.
``query``
    ``{"name": "value"}`` or ``{"name": ["v1", "v2"]}`` (multi-value), or a list of pairs.
``headers``
    ``{"Name": "value"}`` or ``{"Name": ["v1", "v2"]}``, or a list of pairs (repeated headers).
``body``
    ``str``, ``bytes`` (sent base64-encoded, as API Gateway does for binary media), or any
    JSON value (serialised). ``base64=True`` encodes a text body too.
The shapes follow the API Gateway developer guide and are checked against Powertools' parser
models and SAM's sample events.
"""
from __future__ import annotations

import base64 as b64
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Union
from urllib.parse import quote, urlencode

from labkit.errors import ConfigurationError
from labkit.runtime.limits import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

Values = Union[str, Sequence[str]]
Pairs = Union[Mapping[str, Values], Sequence[tuple[str, str]], None]

DEFAULT_API_ID = "labkitapi1"
DEFAULT_URL_ID = "labkitfnurl0000000000000000000000"
DEFAULT_SOURCE_IP = "127.0.0.1"
DEFAULT_USER_AGENT = "labkit"
DEFAULT_STAGE_V1 = "prod"
DEFAULT_STAGE_V2 = "$default"
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)(\+?)\}")


def pairs(values: Pairs) -> list[tuple[str, str]]:
    """Headers or query parameters as (name, value) pairs, in order, repeated names kept."""
    if values is None:
        return []
    if isinstance(values, Mapping):
        out: list[tuple[str, str]] = []
        for name, value in values.items():
            if isinstance(value, (str, bytes, int, float)):
                out.append((str(name), str(value)))
            else:
                out.extend((str(name), str(item)) for item in value)
        return out
    return [(str(name), str(value)) for name, value in values]


def fill_route(route: str, path_parameters: Mapping[str, str] | None) -> str:
    """The request path of `route` with its ``{name}`` placeholders filled from `path_parameters`."""
    params = dict(path_parameters or {})

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise ConfigurationError(
                f"the route {route} has the placeholder {{{name}{match.group(2)}}}: give path_parameters={{{name!r}: ...}}"
            )
        return str(params[name]) if match.group(2) else quote(str(params[name]), safe="")

    return _PLACEHOLDER.sub(value, route)


def encode_body(body: Any, base64: bool | None) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded``: bytes are base64-encoded, JSON values serialised."""
    if body is None:
        return None, False
    if isinstance(body, (bytes, bytearray, memoryview)):
        raw = bytes(body)
        if base64 is False:
            try:
                return raw.decode("utf-8"), False
            except UnicodeDecodeError:
                raise ConfigurationError("a binary body cannot be sent as text: leave base64 unset or True") from None
        return b64.b64encode(raw).decode("ascii"), True
    text = body if isinstance(body, str) else json.dumps(body)
    if base64:
        return b64.b64encode(text.encode()).decode("ascii"), True
    return text, False


def request_times(epoch_ms: int | None = None) -> tuple[str, int]:
    """API Gateway's request time (``09/Apr/2015:12:34:56 +0000``) and its epoch in milliseconds."""
    ms = int(time.time() * 1000) if epoch_ms is None else int(epoch_ms)
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ms / 1000)), ms


def _multi(items: list[tuple[str, str]], lower: bool = False) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name.lower() if lower else name, []).append(value)
    return out


def rest_v1(
    method: str = "GET",
    route: str = "/",
    *,
    path: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: Pairs = None,
    headers: Pairs = None,
    body: Any = None,
    base64: bool | None = None,
    stage: str = DEFAULT_STAGE_V1,
    stage_variables: Mapping[str, str] | None = None,
    source_ip: str = DEFAULT_SOURCE_IP,
    api_id: str = DEFAULT_API_ID,
    request_id: str | None = None,
    epoch_ms: int | None = None,
    authorizer: Mapping[str, Any] | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A REST API proxy event (payload format 1.0).

    ``headers`` holds the last value of each header and ``multiValueHeaders`` all of them (names as
    sent); likewise ``queryStringParameters`` / ``multiValueQueryStringParameters``, which are ``null``
    when the request has none, as API Gateway sends them. ``authorizer``: the ``requestContext.authorizer`` a Lambda
    authorizer or Cognito would add (e.g. ``{"principalId": "user-1"}``).
    """
    method = method.upper()
    request_path = path if path is not None else fill_route(route, path_parameters)
    header_pairs = pairs(headers)
    query_pairs = pairs(query)
    multi_headers = _multi(header_pairs)
    multi_query = _multi(query_pairs)
    text, encoded = encode_body(body, base64)
    request_time, epoch = request_times(epoch_ms)
    user_agent = next((v for n, v in header_pairs if n.lower() == "user-agent"), DEFAULT_USER_AGENT)
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": f"{api_id}.execute-api.{DEFAULT_REGION}.amazonaws.com",
        "domainPrefix": api_id,
        "extendedRequestId": uuid.uuid4().hex[:16] + "=",
        "httpMethod": method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": source_ip,
            "user": None,
            "userAgent": user_agent,
            "userArn": None,
        },
        "path": request_path if stage == DEFAULT_STAGE_V2 else f"/{stage}{request_path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id or str(uuid.uuid4()),
        "requestTime": request_time,
        "requestTimeEpoch": epoch,
        "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route).hex[:6],
        "resourcePath": route,
        "stage": stage,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return {
        "resource": route,
        "path": request_path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": encoded,
    }


def http_v2(
    method: str = "GET",
    route: str = "/",
    *,
    path: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: Pairs = None,
    headers: Pairs = None,
    cookies: Sequence[str] | None = None,
    body: Any = None,
    base64: bool | None = None,
    route_key: str | None = None,
    stage: str = DEFAULT_STAGE_V2,
    stage_variables: Mapping[str, str] | None = None,
    source_ip: str = DEFAULT_SOURCE_IP,
    api_id: str = DEFAULT_API_ID,
    domain_name: str | None = None,
    request_id: str | None = None,
    epoch_ms: int | None = None,
    authorizer: Mapping[str, Any] | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """An HTTP API proxy event (payload format 2.0).

    Header names are lower-case and repeated headers comma-joined; repeated query parameters are
    comma-joined in ``queryStringParameters`` (``rawQueryString`` keeps them apart). Cookies come
    in ``cookies`` (from ``cookies=`` and any ``Cookie`` header), not among the headers.
    ``route_key`` defaults to ``"METHOD route"``; pass ``"$default"`` for the catch-all route.
    ``authorizer``: e.g. ``{"jwt": {"claims": {...}, "scopes": [...]}}``.
    """
    method = method.upper()
    request_path = path if path is not None else fill_route(route, path_parameters)
    header_pairs = pairs(headers)
    jar = list(cookies or [])
    joined: dict[str, str] = {}
    for name, value in header_pairs:
        low = name.lower()
        if low == "cookie":
            jar.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[low] = f"{joined[low]},{value}" if low in joined else value
    query_pairs = pairs(query)
    joined_query: dict[str, str] = {}
    for name, value in query_pairs:
        joined_query[name] = f"{joined_query[name]},{value}" if name in joined_query else value
    text, encoded = encode_body(body, base64)
    request_time, epoch = request_times(epoch_ms)
    domain = domain_name or f"{api_id}.execute-api.{DEFAULT_REGION}.amazonaws.com"
    key = route_key or f"{method} {route}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": key,
        "rawPath": request_path if stage == DEFAULT_STAGE_V2 else f"/{stage}{request_path}",
        "rawQueryString": urlencode(query_pairs),
        "headers": joined,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": request_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", DEFAULT_USER_AGENT),
            },
            "requestId": request_id or uuid.uuid4().hex[:14] + "=",
            "routeKey": key,
            "stage": stage,
            "time": request_time,
            "timeEpoch": epoch,
        },
        "isBase64Encoded": encoded,
    }
    if jar:
        event["cookies"] = jar
    if joined_query:
        event["queryStringParameters"] = joined_query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    if text is not None:
        event["body"] = text
    return event


def function_url(
    method: str = "GET",
    path: str = "/",
    *,
    query: Pairs = None,
    headers: Pairs = None,
    cookies: Sequence[str] | None = None,
    body: Any = None,
    base64: bool | None = None,
    url_id: str = DEFAULT_URL_ID,
    auth_type: str = "NONE",
    caller_arn: str | None = None,
    source_ip: str = DEFAULT_SOURCE_IP,
    request_id: str | None = None,
    epoch_ms: int | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """A function URL event: the 2.0 shape with ``routeKey`` and ``stage`` ``$default``.

    With ``auth_type="AWS_IAM"`` the request context carries ``authorizer.iam`` (the signer's
    account, ARN and ids; ``caller_arn`` default: an IAM user of the account).
    """
    if auth_type not in ("NONE", "AWS_IAM"):
        raise ConfigurationError(f"auth_type={auth_type!r} is not a function URL auth type: use 'NONE' or 'AWS_IAM'")
    authorizer = None
    if auth_type == "AWS_IAM":
        arn = caller_arn or f"arn:aws:iam::{account_id}:user/learner"
        authorizer = {
            "iam": {
                "accessKey": "AKIAIOSFODNN7EXAMPLE",
                "accountId": account_id,
                "callerId": "AIDACKCEVSQ6C2EXAMPLE",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": arn,
                "userId": "AIDACKCEVSQ6C2EXAMPLE",
            }
        }
    return http_v2(
        method,
        path,
        path=path,
        query=query,
        headers=headers,
        cookies=cookies,
        body=body,
        base64=base64,
        route_key="$default",
        source_ip=source_ip,
        api_id=url_id,
        domain_name=f"{url_id}.lambda-url.{DEFAULT_REGION}.on.aws",
        request_id=request_id or str(uuid.uuid4()),
        epoch_ms=epoch_ms,
        authorizer=authorizer,
        account_id=account_id,
    )
