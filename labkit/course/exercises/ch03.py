"""Chapter 03, synchronous triggers: a REST API handler with path parameters and a 404, and a
converter from the REST API's event (payload 1.0) to the HTTP API's (payload 2.0).

The handler check puts the learner's handler behind labkit's local API Gateway and sends it real
HTTP requests; the converter check compares the learner's events with labkit's own builders and
with Powertools' model of the 2.0 payload.
"""
from __future__ import annotations

import json
from typing import Any

from labkit.course.checks import exercise, expect
from labkit.course.exercises.ch01 import handler_file

# The orders the REST exercise serves (the notebook shows the same dict to the learner).
ORDERS: dict[str, dict[str, Any]] = {
    "1": {"id": "1", "item": "notebook", "quantity": 2},
    "2": {"id": "2", "item": "pencil", "quantity": 12},
    "7": {"id": "7", "item": "eraser", "quantity": 1},
}


@exercise("03.rest-orders", title="A REST API handler with path parameters and a 404")
def rest_orders(answer: Any) -> None:
    """`answer`: the path of a handler answering GET /orders/{id} with the order (200) or a 404."""
    import requests

    from labkit.runtime.function import Function
    from labkit.triggers.apigateway import ApiGateway

    path = handler_file(answer)
    with Function(f"{path.stem}.handler", code=path.parent, name=f"check-{path.stem}") as fn, ApiGateway("rest") as api:
        api.route("GET", "/orders/{id}", fn)
        with requests.Session() as http:
            for order_id, order in ORDERS.items():
                reply = http.get(f"{api.url}/orders/{order_id}", timeout=30)
                _expect_not_gateway_error(reply, fn)
                expect(reply.status_code == 200, f"GET /orders/{order_id} answered {reply.status_code}: an order that exists is a 200.")
                expect(_json(reply.text) == order, f"GET /orders/{order_id} answered {reply.text[:200]!r}: the body is the order as JSON.")
            missing = http.get(f"{api.url}/orders/99", timeout=30)
            _expect_not_gateway_error(missing, fn)
            expect(missing.status_code == 404, f"GET /orders/99 answered {missing.status_code}: an order that does not exist is a 404.")
            body = _json(missing.text)
            expect(
                isinstance(body, dict) and "error" in body,
                f"the 404's body is {missing.text[:200]!r}: answer a JSON object with an 'error' that says what was not found.",
            )


def _expect_not_gateway_error(answer: Any, fn: Any) -> None:
    if answer.status_code != 502:
        return
    last = fn.history[-1] if fn.history else None
    if last is not None and last.error is not None:
        raise AssertionError(
            f"the handler failed ({last.error.get('errorType')}: {str(last.error.get('errorMessage'))[:200]}), so API "
            "Gateway answered 502 Internal server error."
        )
    raise AssertionError(
        "API Gateway answered 502 Internal server error: a REST API wants a dict with an int 'statusCode' and a string "
        "'body' (json.dumps it), and 'headers' as a dict of strings."
    )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@exercise("03.v1-to-v2", title="Convert a REST API event (1.0) to an HTTP API event (2.0)")
def v1_to_v2(answer: Any) -> None:
    """`answer`: a function taking a 1.0 event and returning the 2.0 event of the same request."""
    from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
    from pydantic import ValidationError

    from labkit.events.apigateway import http_v2, rest_v1

    expect(callable(answer), "pass your converter function itself (to_v2), not what it returned.")
    cases: list[dict[str, Any]] = [
        dict(method="GET", route="/orders/{id}", path_parameters={"id": "42"}, query=[("tag", "a"), ("tag", "b")],
             headers=[("Accept", "application/json"), ("X-Trace", "one"), ("X-Trace", "two")]),
        dict(method="POST", route="/orders", headers={"Content-Type": "application/json", "Cookie": "session=s1; theme=dark"},
             body={"item": "pencil"}),
        dict(method="PUT", route="/files/{proxy+}", path_parameters={"proxy": "a/b.png"}, body=b"\x89PNG", headers={"Content-Type": "image/png"}),
    ]
    for case in cases:
        v1 = rest_v1(case["method"], case["route"], **{k: v for k, v in case.items() if k not in ("method", "route")})
        wanted = http_v2(case["method"], case["route"], **{k: v for k, v in case.items() if k not in ("method", "route")})
        request = f"{case['method']} {v1['path']}"
        try:
            got = answer(json.loads(json.dumps(v1)))
        except Exception as error:  # the learner's code: say which request broke it
            raise AssertionError(f"for {request} your converter raised {type(error).__name__}: {error}") from None
        expect(isinstance(got, dict), f"for {request} your converter returned {type(got).__name__}: return a dict (the 2.0 event).")
        try:
            APIGatewayProxyEventV2Model(**got)
        except (ValidationError, TypeError) as error:
            raise AssertionError(f"for {request} the event is not a valid 2.0 event: {str(error).splitlines()[0:3]}") from None
        for key in ("version", "routeKey", "rawPath", "rawQueryString", "headers", "queryStringParameters",
                    "pathParameters", "cookies", "body", "isBase64Encoded"):
            expect(
                got.get(key) == wanted.get(key),
                f"for {request}, {key} is {got.get(key)!r}; the HTTP API would send {wanted.get(key)!r}"
                + _HINTS.get(key, "."),
            )
        for key in ("method", "path", "sourceIp"):
            value = got.get("requestContext", {}).get("http", {}).get(key)
            expect(value == wanted["requestContext"]["http"][key], f"for {request}, requestContext.http.{key} is {value!r}: take it from the 1.0 event.")


_HINTS: dict[str, str] = {
    "headers": ": names in lower case, repeated headers joined with ',' (from multiValueHeaders), and no Cookie header.",
    "queryStringParameters": ": repeated parameters joined with ',' (from multiValueQueryStringParameters); leave the key out when there are none.",
    "cookies": ": 2.0 moves the Cookie header's 'name=value' parts into a list (leave the key out when there are none).",
    "rawQueryString": ": the query as in the URL, e.g. urllib.parse.urlencode of the (name, value) pairs.",
    "routeKey": ": 'METHOD resource', e.g. 'GET /orders/{id}'.",
    "pathParameters": ": the same as in 1.0; leave the key out when there are none.",
    "body": ": the same as in 1.0 (leave the key out when there is none).",
}
