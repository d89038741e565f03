"""Events of an Application Load Balancer with a Lambda target group.

>>> alb("GET", "/health", query={"verbose": "1"})        # doctest: +SKIP

Header names are lower-case; by default the last value of a repeated header or query parameter
is kept, as ALB sends it. With ``multi_value=True`` (the target group's multi-value headers
setting) the event carries ``multiValueHeaders`` and ``multiValueQueryStringParameters`` instead.
ALB passes query values as the client encoded them. ``body`` and ``base64`` as in
:mod:`labkit.events.apigateway`; without a body ALB sends ``""``.
"""
from __future__ import annotations

from typing import Any

from labkit.events.apigateway import Pairs, encode_body, pairs
from labkit.runtime.limits import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

DEFAULT_TARGET_GROUP_ARN = (
    f"arn:aws:elasticloadbalancing:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:targetgroup/labkit-targets/73e2d6bc24d8a067"
)


def alb(
    method: str = "GET",
    path: str = "/",
    *,
    query: Pairs = None,
    headers: Pairs = None,
    body: Any = None,
    base64: bool | None = None,
    multi_value: bool = False,
    target_group_arn: str = DEFAULT_TARGET_GROUP_ARN,
) -> dict[str, Any]:
    """An ALB target-group event."""
    text, encoded = encode_body(body, base64)
    header_pairs = [(name.lower(), value) for name, value in pairs(headers)]
    query_pairs = pairs(query)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": method.upper(),
        "path": path,
    }
    if multi_value:
        multi_query: dict[str, list[str]] = {}
        for name, value in query_pairs:
            multi_query.setdefault(name, []).append(value)
        multi_headers: dict[str, list[str]] = {}
        for name, value in header_pairs:
            multi_headers.setdefault(name, []).append(value)
        event["multiValueQueryStringParameters"] = multi_query
        event["multiValueHeaders"] = multi_headers
    else:
        event["queryStringParameters"] = dict(query_pairs)
        event["headers"] = dict(header_pairs)
    event["body"] = text or ""
    event["isBase64Encoded"] = encoded
    return event
