"""The local API Gateway: an HTTP server that turns requests into Lambda proxy events (REST API
payload 1.0, HTTP API payload 2.0, or function URL), invokes a function, and maps its response back.

>>> with ApiGateway("http") as api:                                      # doctest: +SKIP
...     api.route("GET", "/orders/{id}", fn)         # a labkit.Function
...     requests.get(f"{api.url}/orders/42").json()

A target is a :class:`labkit.Function`, or the name/ARN of a function in the ``service=`` (a
:class:`labkit.LambdaService`, e.g. the local AWS's). Routes can be added while the gateway runs.

As on AWS:

- ``kind="rest"``: the URL carries the stage (``/prod/orders/42``); an unknown route answers 403
  ``Missing Authentication Token``. ``kind="http"``: the ``$default`` stage, no prefix; an unknown
  route answers 404 ``Not Found``. ``kind="url"``: a function URL, every path goes to its function.
- A function error or a malformed response: 502 ``Internal server error``; a throttled (or deleted)
  function: 500.
- No answer within the integration timeout: 504 ``Endpoint request timed out`` (REST) or 503
  ``Service Unavailable`` (HTTP API); the function runs on.
- A body over the payload quota (API Gateway: 10 MB; a function URL: Lambda's 6 MB invoke) is
  refused from its Content-Length: 413 ``Request Entity Too Large``, unread.
- ``rate_limit`` / ``burst_limit`` throttle with a token bucket: 429 ``Too Many Requests``.
- Auth, shown locally: ``api_key_required`` routes want an ``x-api-key`` from ``api_keys``
  (403 ``Forbidden``); an ``authorizer`` callable gets the request's headers and returns the
  authorizer context, or None for 401 ``Unauthorized``; ``auth_type="AWS_IAM"`` function URLs want
  a valid SigV4 signature for the service ``lambda`` by credentials labkit gave out (the local ones
  or a function's role session, `labkit.runtime.lambda_env.known_secret`), else 403 with AWS's
  body (``{"Message":"Forbidden"}`` unsigned; the signer's message otherwise) and labkit's reason
  in a log line.

Every request is recorded in ``api.log`` (time, route, status, latency), for pictures.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote

from labkit.errors import ConfigurationError
from labkit.events.apigateway import DEFAULT_STAGE_V1, function_url, http_v2, rest_v1
from labkit.runtime import limits
from labkit.runtime.lambda_env import known_secret
from labkit.security import sigv4
from labkit.service.body_limits import TooLarge
from labkit.service.exceptions import LambdaServiceError
from labkit.service.models import parse_function_ref
from labkit.service.server import ServiceServer, _Request, _status_line
from labkit.triggers.cors import decorate, preflight
from labkit.triggers.proxy_response import (
    INTERNAL_ERROR,
    HttpAnswer,
    MalformedResponse,
    gateway_error,
    proxy_response,
)
from labkit.triggers.routes import DEFAULT_ROUTE, Route, find_route, make_route
from labkit.triggers.throttle import TokenBucket

if TYPE_CHECKING:
    from labkit.runtime.function import Function
    from labkit.service.lambda_service import LambdaService

KINDS = {"rest": "1.0", "http": "2.0", "url": "2.0"}
# How long API Gateway waits for the function by default (the most it allows without a quota
# increase); a function URL waits as long as the function may run.
INTEGRATION_TIMEOUT_S: dict[str, float | None] = {"rest": 29.0, "http": 30.0, "url": None}
PAYLOAD_MAX_BYTES = {"rest": 10 * 1024 * 1024, "http": 10 * 1024 * 1024, "url": limits.SYNC_REQUEST_MAX_BYTES}
LOG = logging.getLogger("labkit.triggers")
Authorizer = Callable[[dict[str, str]], "Mapping[str, Any] | None"]
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "+json", "+xml", "form-urlencoded")


@dataclass(frozen=True)
class Outcome:
    """What invoking a target gave: the response payload, or a function error, or the Lambda service's
    refusal to invoke (throttled, or the function is gone)."""

    payload: bytes = b""
    error: dict[str, Any] | None = None
    refused: bool = False


@dataclass(frozen=True)
class LogEntry:
    """One request through the gateway, as its access log would show it."""

    at: float  # epoch seconds when the request arrived
    method: str
    path: str
    route_key: str | None
    status: int
    latency_ms: float


Target = Callable[[bytes], Outcome]


def function_target(function: Function) -> Target:
    """Invoke a labkit.Function synchronously."""

    def invoke(payload: bytes) -> Outcome:
        invocation = function.invoke(payload)
        return Outcome(invocation.payload, invocation.error)

    return invoke


def service_target(service: LambdaService, function: str) -> Target:
    """Invoke a function (name, name:qualifier or ARN) of a LambdaService synchronously."""
    name, qualifier = parse_function_ref(function)
    service.model.resolve(name, qualifier)  # fails now, naming the function, when it does not exist

    def invoke(payload: bytes) -> Outcome:
        try:
            result = service.invoke(name, qualifier, payload)
        except LambdaServiceError:  # throttled (429), deleted since: API Gateway answers 500
            return Outcome(refused=True)
        return Outcome(result.invocation.payload, result.invocation.error)

    return invoke


class ApiGateway:
    """A local API Gateway (or function URL) on its own loopback port.

    Parameters
    ----------
    kind
        ``"rest"`` (REST API, payload 1.0), ``"http"`` (HTTP API, payload 2.0) or ``"url"``
        (a function URL: give ``target``).
    service
        The LambdaService whose functions string targets name.
    stage
        REST API stage (default ``prod``), the first segment of every URL.
    rate_limit, burst_limit
        Throttling: steady requests per second and the bucket size (both or neither).
    integration_timeout_s
        How long the gateway waits for the function: default 29 s (REST), 30 s (HTTP API), as
        long as the function runs (function URL).
    payload_version
        HTTP API only: ``"2.0"`` (the default) or ``"1.0"`` (an HTTP API can send REST's format).
    cors
        HTTP API or function URL: ``{"AllowOrigins": [...], "AllowMethods": [...], ...}`` (the Lambda
        API's ``Cors`` keys); the gateway answers preflights and adds ``Access-Control-*`` headers.
    binary_media_types
        REST API: content types whose bodies reach the function base64-encoded (``image/*``).
        HTTP APIs and function URLs encode every body that is not text.
    """

    def __init__(
        self,
        kind: str = "http",
        *,
        service: LambdaService | None = None,
        stage: str = DEFAULT_STAGE_V1,
        rate_limit: float | None = None,
        burst_limit: int | None = None,
        integration_timeout_s: float | None = None,
        binary_media_types: Iterable[str] = (),
        api_keys: Iterable[str] = (),
        target: Function | str | None = None,
        auth_type: str = "NONE",
        cors: Mapping[str, Any] | None = None,
        payload_version: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if kind not in KINDS:
            raise ConfigurationError(f"kind={kind!r} is not an API: use 'rest', 'http' or 'url'")
        if (rate_limit is None) != (burst_limit is None):
            raise ConfigurationError("throttling needs both rate_limit (requests per second) and burst_limit")
        if auth_type not in ("NONE", "AWS_IAM"):
            raise ConfigurationError(f"auth_type={auth_type!r} is not a function URL auth type: use 'NONE' or 'AWS_IAM'")
        if integration_timeout_s is not None and integration_timeout_s <= 0:
            raise ConfigurationError(f"integration_timeout_s={integration_timeout_s!r} must be positive (seconds)")
        if payload_version not in (None, KINDS[kind]) and not (kind == "http" and payload_version == "1.0"):
            raise ConfigurationError(
                f"payload_version={payload_version!r} is not available here: REST APIs send 1.0, function URLs 2.0, "
                "HTTP APIs 2.0 or 1.0"
            )
        self.kind = kind
        self.version = payload_version or KINDS[kind]
        self.service = service
        self.stage = stage if kind == "rest" else "$default"
        self.integration_timeout_s = INTEGRATION_TIMEOUT_S[kind] if integration_timeout_s is None else integration_timeout_s
        self.binary_media_types = tuple(binary_media_types)
        self.api_keys = set(api_keys)
        if cors and kind == "rest":
            raise ConfigurationError("REST APIs configure CORS per method: use kind='http' or 'url' for cors=")
        self.auth_type = auth_type
        self.cors: dict[str, Any] = dict(cors or {})
        self.api_id = uuid.uuid4().hex[:10]
        self.bucket = TokenBucket(rate_limit, burst_limit) if rate_limit is not None and burst_limit is not None else None
        self.log: deque[LogEntry] = deque(maxlen=100_000)
        self._routes: list[Route] = []
        self._lock = threading.Lock()
        self._invokers = ThreadPoolExecutor(max_workers=64, thread_name_prefix="labkit-apigw-invoke")
        self._server = _GatewayServer(self, host, port)
        self._started = False
        self._closed = False
        if kind == "url":
            if target is None:
                raise ConfigurationError("a function URL needs its function: ApiGateway('url', target=fn)")
            self.route("ANY", DEFAULT_ROUTE, target)
        elif target is not None:
            raise ConfigurationError("target= is for kind='url'; add routes to an API with api.route(method, path, fn)")

    # -- configuration -------------------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        target: Function | str,
        *,
        api_key_required: bool = False,
        authorizer: Authorizer | None = None,
    ) -> Route:
        """Send `method path` (``ANY``, ``{param}``, ``{proxy+}``; ``$default``) to `target`."""
        if self.kind == "rest" and path == DEFAULT_ROUTE:
            raise ConfigurationError("REST APIs have no $default route: catch every path with api.route('ANY', '/{proxy+}', fn)")
        invoke = self._target(target)
        route = make_route(method, path, invoke, api_key_required=api_key_required, authorizer=authorizer)
        with self._lock:
            self._routes = [r for r in self._routes if r.key != route.key] + [route]
        return route

    def remove_route(self, method: str, path: str) -> None:
        key = make_route(method, path, None).key
        with self._lock:
            self._routes = [r for r in self._routes if r.key != key]

    @property
    def routes(self) -> list[str]:
        """The route keys, e.g. ``["GET /orders/{id}", "$default"]``."""
        with self._lock:
            return [route.key for route in self._routes]

    def _target(self, target: Function | str) -> Target:
        if isinstance(target, str):
            if self.service is None:
                raise ConfigurationError(
                    f"the target {target!r} names a function: give the gateway its service "
                    "(ApiGateway(..., service=aws_service)) or pass a labkit.Function"
                )
            return service_target(self.service, target)
        if callable(getattr(target, "invoke", None)):
            return function_target(target)
        raise ConfigurationError(f"{target!r} is not a target: pass a labkit.Function or a function name of the service")

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self) -> ApiGateway:
        """Serve on the gateway's port (idempotent); returns self."""
        if self._closed:
            raise ConfigurationError("this gateway is closed: create a new ApiGateway")
        if not self._started:
            self._server.start()
            self._started = True
        return self

    def close(self) -> None:
        """Stop serving, wait for the requests in flight, release the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._server.close()
        self._invokers.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ApiGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Where to send requests: ``http://127.0.0.1:PORT`` (+ ``/stage`` for a REST API)."""
        base = self._server.endpoint_url
        return f"{base}/{self.stage}" if self.kind == "rest" else base

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._started else "not started")
        return f"<ApiGateway {self.kind} {self.url} routes={self.routes} {state}>"

    # -- requests ---------------------------------------------------------------------------------------

    def answer(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        source_ip: str = "127.0.0.1",
    ) -> HttpAnswer:
        """The gateway's answer to one request (what the server sends back; callable without a socket)."""
        started = time.time()
        path = unquote(target.partition("?")[0])
        route_key: str | None = None
        try:
            answer, route_key = self._answer(method.upper(), target, headers, body, source_ip)
        except Exception:  # a bug (or a failing authorizer) answers like API Gateway's own failures
            LOG.exception("the local API Gateway failed on %s %s", method, path)
            answer = gateway_error(500, INTERNAL_ERROR)
        self.log.append(LogEntry(started, method, path, route_key, answer.status, (time.time() - started) * 1000))
        return answer

    def _answer(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[HttpAnswer, str | None]:
        raw_path, _, raw_query = target.partition("?")
        path = unquote(raw_path)
        if self.kind == "rest":
            prefix = f"/{self.stage}"
            if path != prefix and not path.startswith(prefix + "/"):
                return gateway_error(403, "Missing Authentication Token"), None
            path = path[len(prefix):] or "/"
        lower = {name.lower(): value for name, value in headers}
        if self.cors:  # preflights are answered by the API itself, whatever the routes
            answer = preflight(self.cors, method, lower)
            if answer is not None:
                return answer, None
        with self._lock:
            routes = list(self._routes)
        found = find_route(routes, method, path)
        if found is None:
            if self.kind == "rest":
                return gateway_error(403, "Missing Authentication Token"), None
            return gateway_error(404, "Not Found"), None
        route, params = found
        if self.bucket is not None and not self.bucket.take():
            return gateway_error(429, "Too Many Requests"), route.key
        denied = self._check_auth(route, method, target, lower, body)
        if denied is not None:
            return denied, route.key
        authorizer = route.options.get("authorizer")
        context = None
        if authorizer is not None:
            context = authorizer(dict(lower))
            if context is None:
                return gateway_error(401, "Unauthorized"), route.key
        event = self._event(method, path, raw_query, route, params, headers, body, source_ip, context)
        answer = self._invoke(route.target, json.dumps(event).encode())
        return (decorate(self.cors, lower, answer) if self.cors else answer), route.key

    def _check_auth(self, route: Route, method: str, target: str, headers: dict[str, str], body: bytes) -> HttpAnswer | None:
        if route.options.get("api_key_required") and headers.get("x-api-key") not in self.api_keys:
            return gateway_error(403, "Forbidden")
        if self.auth_type != "AWS_IAM":
            return None
        url = f"http://{headers.get('host', self._server.endpoint_url.partition('://')[2])}{target}"
        rejection = sigv4.verify(method, url, headers, body, "lambda", known_secret)
        if rejection is None:
            return None
        LOG.warning("function URL %s refused %s %s (403): %s. It takes requests signed (SigV4, service 'lambda') with "
                    "the credentials of labkit's local AWS or of a function's role, e.g. botocore's SigV4Auth with "
                    "LocalAws.session().get_credentials()", self.url, method, target, rejection.reason)
        answer = {"Message": "Forbidden"} if rejection.unsigned else {"message": rejection.message}
        body = json.dumps(answer, separators=(",", ":")).encode()
        return HttpAnswer(403, [("Content-Type", "application/json")], body)

    def _event(
        self,
        method: str,
        path: str,
        raw_query: str,
        route: Route,
        params: dict[str, str],
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        authorizer: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
        payload: bytes | None = body or None
        encode = bool(body) and (self._binary(content_type) or not _is_utf8(body))
        query = parse_qsl(raw_query, keep_blank_values=True)
        forwarded = [*headers, ("X-Forwarded-For", source_ip), ("X-Forwarded-Proto", "http")]
        common: dict[str, Any] = {"query": query, "body": payload, "base64": encode, "source_ip": source_ip}
        if self.kind == "url":
            return function_url(method, path, headers=forwarded, auth_type=self.auth_type, url_id=self.api_id, **common)
        if self.version == "1.0":
            return rest_v1(
                method, route.path, path=path, path_parameters=params or None,
                headers=forwarded, stage=self.stage, api_id=self.api_id, authorizer=authorizer, **common,
            )
        return http_v2(
            method, route.path, path=path, path_parameters=params or None, headers=forwarded,
            route_key=route.key, api_id=self.api_id,
            authorizer={"lambda": dict(authorizer)} if authorizer is not None else None, **common,
        )

    def _binary(self, content_type: str) -> bool:
        media = content_type.split(";")[0].strip().lower()
        if self.kind != "rest":
            return bool(media) and not any(marker in media for marker in _TEXT_TYPES)
        return any(_media_matches(pattern, media) for pattern in self.binary_media_types)

    def _invoke(self, target: Target, payload: bytes) -> HttpAnswer:
        future = self._invokers.submit(target, payload)
        try:
            outcome = future.result(timeout=self.integration_timeout_s)
        except FutureTimeout:
            if self.kind == "rest":
                return gateway_error(504, "Endpoint request timed out")
            return gateway_error(503, "Service Unavailable")
        if outcome.refused:
            return gateway_error(500, INTERNAL_ERROR)
        if outcome.error is not None:
            return gateway_error(502, INTERNAL_ERROR)
        try:
            return proxy_response(outcome.payload, self.version)
        except MalformedResponse:
            return gateway_error(502, INTERNAL_ERROR)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _media_matches(pattern: str, media: str) -> bool:
    pattern = pattern.lower()
    if pattern in ("*/*", media):
        return True
    return pattern.endswith("/*") and media.startswith(pattern[:-1])


@dataclass(frozen=True)
class _PayloadBound:
    """The gateway's payload quota, and API Gateway's 413 past it."""

    max_bytes: int

    def refusal(self, size: int | None, headers: Mapping[str, str]) -> TooLarge:
        answer = gateway_error(413, "Request Entity Too Large")
        return TooLarge(answer.status, answer.body, dict(answer.headers))


class _GatewayServer(ServiceServer):
    """The single-port server's connection handling (keep-alive, TCP_NODELAY, clean close), answering
    every request with the gateway's answer: headers as received, repeated response headers kept."""

    def __init__(self, gateway: ApiGateway, host: str, port: int) -> None:
        # Only the connection handling is reused: _respond below replaces the Lambda/WSGI dispatch.
        super().__init__(cast(Any, None), cast(Any, None), host=host, port=port)
        self.gateway = gateway

    def _body_bound(self, method: str, target: str, headers: Mapping[str, str]) -> _PayloadBound:
        return _PayloadBound(PAYLOAD_MAX_BYTES[self.gateway.kind])

    def _respond(self, request: _Request, address: Any) -> bytes:
        source_ip = address[0] if isinstance(address, tuple) else "127.0.0.1"
        answer = self.gateway.answer(request.method, request.target, request.raw_headers, request.body, source_ip)
        parts = [_status_line(answer.status)]
        has_length = False
        for name, value in answer.headers:
            if name.lower() in ("connection", "transfer-encoding", "keep-alive"):
                continue
            has_length = has_length or name.lower() == "content-length"
            parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        parts.append(f"x-amzn-RequestId: {uuid.uuid4()}\r\n".encode())
        return self._finish(parts, has_length, request, answer.status, answer.body)


class FunctionUrlHost:
    """Serves a LambdaService's function URLs: one local gateway (kind ``url``) per URL."""

    def __init__(self, service: LambdaService, host: str = "127.0.0.1") -> None:
        self.service = service
        self.host = host
        self._gateways: dict[str, ApiGateway] = {}
        self._lock = threading.Lock()

    def open(self, function_name: str, qualifier: str | None, auth_type: str, cors: dict[str, Any]) -> str:
        target = f"{function_name}:{qualifier}" if qualifier else function_name
        gateway = ApiGateway("url", target=target, service=self.service, auth_type=auth_type, cors=cors, host=self.host).start()
        url = gateway.url + "/"
        with self._lock:
            self._gateways[url] = gateway
        return url

    def configure(self, url: str, auth_type: str, cors: dict[str, Any]) -> None:
        with self._lock:
            gateway = self._gateways.get(url)
        if gateway is not None:
            gateway.auth_type = auth_type
            gateway.cors = dict(cors)

    def close(self, url: str) -> None:
        with self._lock:
            gateway = self._gateways.pop(url, None)
        if gateway is not None:
            gateway.close()


def serve_function_urls(service: LambdaService) -> FunctionUrlHost:
    """Let `service` serve its function URLs on this machine (the local AWS does this for its service)."""
    host = FunctionUrlHost(service)
    service.function_urls.host = host
    return host
