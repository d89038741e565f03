"""The API Gateway, function URL and ALB builders against Powertools' parser models and SAM's sample events."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    AlbModel,
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
    LambdaFunctionUrlModel,
)

from labkit.errors import ConfigurationError
from labkit.events.alb import alb
from labkit.events.apigateway import fill_route, function_url, http_v2, rest_v1

SAM = Path(__file__).resolve().parents[1] / "fixtures" / "sam_events"


def sam(name: str) -> dict[str, Any]:
    return json.loads((SAM / name).read_text())


def keys(value: Any, prefix: str = "") -> set[str]:
    """Every key path of nested dicts (`requestContext.http.method`), without the free-form maps' keys."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}{key}"
            out.add(path)
            if key not in FREE_FORM:
                out |= keys(item, f"{path}.")
    return out


# Maps whose keys are the request's own (header names, parameters) or optional extras (auth, mTLS).
FREE_FORM = {
    "headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters",
    "pathParameters", "stageVariables", "authorizer", "authentication", "identity",
}
MTLS_ONLY = {"requestContext.authentication"}  # present only on APIs with mutual TLS


def test_rest_v1_matches_powertools_and_sam_keys() -> None:
    event = rest_v1(
        "get", "/orders/{id}", path_parameters={"id": "42"}, query={"expand": ["items", "total"]},
        headers=[("Accept", "text/html"), ("X-Trace", "a"), ("X-Trace", "b")], body={"note": "hi"},
        stage_variables={"baz": "qux"},
    )
    model = APIGatewayProxyEventModel(**event)
    assert model.path == "/orders/42" and model.resource == "/orders/{id}" and model.httpMethod == "GET"
    assert event["headers"]["X-Trace"] == "b" and event["multiValueHeaders"]["X-Trace"] == ["a", "b"]
    assert event["queryStringParameters"] == {"expand": "total"}
    assert event["multiValueQueryStringParameters"] == {"expand": ["items", "total"]}
    assert json.loads(event["body"]) == {"note": "hi"} and event["isBase64Encoded"] is False
    assert event["requestContext"]["path"] == "/prod/orders/42"
    assert keys(sam("apigateway-aws-proxy.json")) <= keys(event)


def test_rest_v1_without_parameters_sends_nulls() -> None:
    event = rest_v1()
    APIGatewayProxyEventModel(**event)
    for key in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "body"):
        assert event[key] is None


def test_http_v2_matches_powertools_and_sam_keys() -> None:
    event = http_v2(
        "POST", "/orders/{id}", path_parameters={"id": "7"}, query=[("a", "1"), ("a", "2"), ("b", "x y")],
        headers=[("X-Multi", "1"), ("x-multi", "2"), ("Cookie", "s=1; theme=dark")], cookies=["extra=3"],
        body=b"\x89PNG\r\n", stage_variables={"v": "1"}, authorizer={"jwt": {"claims": {"sub": "u1"}, "scopes": ["read"]}},
    )
    model = APIGatewayProxyEventV2Model(**event)
    assert model.routeKey == "POST /orders/{id}" and model.rawPath == "/orders/7"
    assert event["headers"] == {"x-multi": "1,2"}
    assert event["cookies"] == ["extra=3", "s=1", "theme=dark"]
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["rawQueryString"] == "a=1&a=2&b=x+y"
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x89PNG\r\n"
    assert keys(sam("apigateway-http-api.json")) - MTLS_ONLY <= keys(event)


def test_function_url_matches_powertools_and_the_v2_keys() -> None:
    event = function_url("GET", "/any/path", query={"q": "1"}, auth_type="AWS_IAM")
    model = LambdaFunctionUrlModel(**event)
    assert model.routeKey == "$default" and model.requestContext.stage == "$default"
    assert model.requestContext.domainName.endswith(".lambda-url.us-east-1.on.aws")
    assert model.requestContext.authorizer and model.requestContext.authorizer.iam
    assert "pathParameters" not in event and "stageVariables" not in event
    # no body, no cookies in this request: 2.0 leaves such keys out
    expected = keys(sam("apigateway-http-api.json")) - MTLS_ONLY - {"pathParameters", "stageVariables", "cookies", "body"}
    assert expected <= keys(event)


def test_function_url_rejects_an_unknown_auth_type() -> None:
    with pytest.raises(ConfigurationError, match="AWS_IAM"):
        function_url(auth_type="IAM")


def test_alb_matches_powertools_and_sam_keys() -> None:
    event = alb("GET", "/health", query={"verbose": "1"}, headers={"Host": "lb"})
    model = AlbModel(**event)
    assert model.headers == {"host": "lb"} and model.body == ""
    assert keys(sam("alb-request.json")) <= keys(event)
    multi = alb("GET", "/", headers=[("X", "1"), ("x", "2")], multi_value=True)
    assert multi["multiValueHeaders"] == {"x": ["1", "2"]} and "headers" not in multi


def test_fill_route_names_the_missing_parameter() -> None:
    assert fill_route("/files/{proxy+}", {"proxy": "a/b c"}) == "/files/a/b c"
    assert fill_route("/users/{id}", {"id": "a/b"}) == "/users/a%2Fb"
    with pytest.raises(ConfigurationError, match="path_parameters"):
        fill_route("/users/{id}", {})
