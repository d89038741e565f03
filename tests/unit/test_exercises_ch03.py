"""Chapter 03's checks: a REST orders handler behind the local gateway, and a 1.0-to-2.0 converter."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from labkit.course.checks import CheckFailed, check
from labkit.course.workspace import write_handler

ORDERS_API = """
import json
from labkit_orders import ORDERS

def handler(event, context):
    order = ORDERS.get(event["pathParameters"]["id"])
    if order is None:
        return {"statusCode": 404, "body": json.dumps({"error": "not found"})}
    return {"statusCode": 200, "body": json.dumps(order)}
"""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LABKIT_WORK", raising=False)
    return tmp_path / "home"


def handler(name: str, source: str) -> Path:
    from labkit.course.exercises.ch03 import ORDERS

    write_handler("tests/labkit_orders.py", f"ORDERS = {ORDERS!r}\n")
    return write_handler(f"tests/{name}.py", textwrap.dedent(source))


def test_rest_orders_passes_a_handler_with_a_404(capsys: pytest.CaptureFixture[str]) -> None:
    check("03.rest-orders", handler("orders_api", ORDERS_API))
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("source", "hint"),
    [
        (ORDERS_API.replace('"statusCode": 404', '"statusCode": 200'), "does not exist is a 404"),
        (ORDERS_API.replace("json.dumps(order)", "order"), "502 Internal server error: a REST API wants"),
        (ORDERS_API.replace('event["pathParameters"]["id"]', 'event["id"]'), "the handler failed .KeyError"),
        (ORDERS_API.replace('{"error": "not found"}', '"not found"'), "JSON object with an 'error'"),
    ],
)
def test_rest_orders_hints(source: str, hint: str) -> None:
    with pytest.raises(CheckFailed, match=hint):
        check("03.rest-orders", handler("orders_api", source))


def to_v2(event: dict[str, Any], cookies_too: bool = True) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, values in (event["multiValueHeaders"] or {}).items():
        if name.lower() == "cookie" and cookies_too:
            cookies += [part.strip() for value in values for part in value.split(";")]
        else:
            headers[name.lower()] = ",".join(values)
    query = event["multiValueQueryStringParameters"] or {}
    context = event["requestContext"]
    out: dict[str, Any] = {
        "version": "2.0", "routeKey": f"{event['httpMethod']} {event['resource']}", "rawPath": event["path"],
        "rawQueryString": urlencode([(k, v) for k, vs in query.items() for v in vs]), "headers": headers,
        "isBase64Encoded": event["isBase64Encoded"],
        "requestContext": {
            "accountId": context["accountId"], "apiId": context["apiId"], "domainName": context["domainName"],
            "domainPrefix": context["domainPrefix"], "requestId": context["requestId"], "stage": "$default",
            "routeKey": f"{event['httpMethod']} {event['resource']}", "time": context["requestTime"],
            "timeEpoch": context["requestTimeEpoch"],
            "http": {"method": event["httpMethod"], "path": event["path"], "protocol": "HTTP/1.1",
                     "sourceIp": context["identity"]["sourceIp"], "userAgent": context["identity"]["userAgent"]},
        },
    }
    optional = {"cookies": cookies, "pathParameters": event["pathParameters"], "body": event["body"],
                "queryStringParameters": {k: ",".join(vs) for k, vs in query.items()}}
    out.update({key: value for key, value in optional.items() if value})
    return out


def test_v1_to_v2_passes_a_converter(capsys: pytest.CaptureFixture[str]) -> None:
    check("03.v1-to-v2", to_v2)
    assert "passed" in capsys.readouterr().out


def test_v1_to_v2_hints() -> None:
    with pytest.raises(CheckFailed, match="no Cookie header"):
        check("03.v1-to-v2", lambda event: to_v2(event, cookies_too=False))
    with pytest.raises(CheckFailed, match="not a valid 2.0 event"):
        check("03.v1-to-v2", lambda event: {"version": "2.0"})
    with pytest.raises(CheckFailed, match="pass your converter function"):
        check("03.v1-to-v2", {"not": "callable"})
