"""The gateway's pure parts: route matching, the proxy response mapping, the token bucket."""
from __future__ import annotations

import base64
import json

import pytest

from labkit.errors import ConfigurationError
from labkit.triggers.cors import decorate, preflight
from labkit.triggers.proxy_response import HttpAnswer, MalformedResponse, proxy_response
from labkit.triggers.routes import find_route, make_route
from labkit.triggers.throttle import TokenBucket


def test_the_most_specific_route_wins() -> None:
    routes = [
        make_route("ANY", "/{proxy+}", "greedy"),
        make_route("GET", "/orders/{id}", "param"),
        make_route("GET", "/orders/latest", "literal"),
        make_route("ANY", "$default", "default"),
    ]
    assert find_route(routes, "GET", "/orders/latest") == (routes[2], {})
    assert find_route(routes, "GET", "/orders/7") == (routes[1], {"id": "7"})
    assert find_route(routes, "POST", "/orders/7") == (routes[0], {"proxy": "orders/7"})
    assert find_route(routes[1:3], "GET", "/orders") is None
    assert find_route(routes[1:], "DELETE", "/") == (routes[3], {})


def test_bad_routes_say_what_to_write() -> None:
    with pytest.raises(ConfigurationError, match="start with '/'"):
        make_route("GET", "orders", None)
    with pytest.raises(ConfigurationError, match="last segment"):
        make_route("GET", "/{proxy+}/x", None)
    with pytest.raises(ConfigurationError, match="method"):
        make_route("FETCH", "/", None)


def test_v1_response_headers_multi_value_and_base64() -> None:
    payload = {
        "statusCode": 201, "headers": {"X-One": "1", "Set-Cookie": "ignored"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True,
    }
    answer = proxy_response(json.dumps(payload).encode(), "1.0")
    assert answer.status == 201 and answer.body == b"\x00\x01"
    assert answer.headers == [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-One", "1"), ("Content-Type", "application/json")]


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'"a string"', b'{"body": "no status"}', b'{"statusCode": 200, "body": {"a": 1}}',
     b'{"statusCode": 99}', b'{"statusCode": 200, "headers": {"x": [1]}}'],
)
def test_v1_malformed_responses(payload: bytes) -> None:
    with pytest.raises(MalformedResponse):
        proxy_response(payload, "1.0")


def test_v2_shortcut_and_cookies() -> None:
    assert proxy_response(b'{"ok": true}', "2.0").body == b'{"ok":true}'  # re-serialised compactly, as AWS does
    assert proxy_response(b'"Hello"', "2.0").body == b"Hello"
    answer = proxy_response(b'{"statusCode": 302, "headers": {"Location": "/x"}, "cookies": ["s=1"]}', "2.0")
    assert answer.status == 302 and answer.header("location") == "/x" and answer.header("set-cookie") == "s=1"


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] = 0.5
    assert [bucket.take() for _ in range(2)] == [True, False]
    now[0] = 10.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    with pytest.raises(ConfigurationError):
        TokenBucket(rate=0, burst=1)


def test_cors_preflight_and_response_headers() -> None:
    cors = {"AllowOrigins": ["https://shop.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["content-type"],
            "ExposeHeaders": ["x-total"], "MaxAge": 300}
    asked = {"origin": "https://shop.example", "access-control-request-method": "POST"}
    answer = preflight(cors, "OPTIONS", asked)
    assert answer is not None and answer.status == 204
    assert answer.header("Access-Control-Allow-Origin") == "https://shop.example"
    assert answer.header("Access-Control-Allow-Methods") == "GET,POST" and answer.header("Access-Control-Max-Age") == "300"
    stranger = preflight(cors, "OPTIONS", {**asked, "origin": "https://evil.example"})
    assert stranger is not None and stranger.header("Access-Control-Allow-Origin") is None
    assert preflight(cors, "OPTIONS", {"origin": "https://shop.example"}) is None  # not a preflight: the function's
    decorated = decorate(cors, {"origin": "https://shop.example"}, HttpAnswer(200))
    assert decorated.header("Access-Control-Expose-Headers") == "x-total"
    assert decorate({"AllowOrigins": ["*"]}, {"origin": "https://any.example"}, HttpAnswer(200)).header("Access-Control-Allow-Origin") == "*"
