"""Which service a request on the single-port endpoint is for: the routing rule, apart from any server.

A signed request names its service in its SigV4 credential scope, in the `Authorization` header
(`AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/lambda/aws4_request, ...`) or, for a
presigned URL, in the `X-Amz-Credential` query parameter. SigV4a scopes have no region
(`AKID/20261123/lambda/aws4_request`): the service is always the part before `aws4_request`.
An unsigned request (plain curl) is Lambda's when its path is one of Lambda's API paths,
`/<api version>/<resource>...` (for example `/2015-03-31/functions/...`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

LAMBDA = "lambda"
"""The signing name of the Lambda API, and what `service_of` returns for Lambda's requests."""

UNKNOWN = ""
"""What `service_of` returns for an unsigned request that is not Lambda's: the embedded AWS works it out."""

# Lambda's REST API: (API version, first path segment) of every operation in botocore's model.
# Versions and resources are matched together: other services use some of these dates or
# resource names (Route 53 has `/2013-04-01/tags`), never the same pair.
LAMBDA_API_PATHS: frozenset[tuple[str, str]] = frozenset(
    {
        ("2014-11-13", "functions"),
        ("2015-03-31", "functions"),
        ("2015-03-31", "event-source-mappings"),
        ("2016-08-19", "account-settings"),
        ("2017-03-31", "tags"),
        ("2017-10-31", "functions"),  # reserved concurrency
        ("2018-10-31", "layers"),
        ("2019-09-25", "functions"),  # event invoke config
        ("2019-09-30", "functions"),  # provisioned concurrency
        ("2020-04-22", "code-signing-configs"),
        ("2020-06-30", "functions"),  # code signing config of a function
        ("2021-07-20", "functions"),  # runtime management config
        ("2021-10-31", "functions"),  # function URLs
        ("2021-11-15", "functions"),  # invoke with response stream
        ("2024-08-31", "functions"),  # recursion config
        ("2025-11-30", "functions"),
        ("2025-11-30", "capacity-providers"),
        ("2025-12-01", "functions"),
        ("2025-12-01", "durable-executions"),
        ("2025-12-01", "durable-execution-callbacks"),
        ("2026-07-09", "resource-policy"),
    }
)


def signing_service(credential: str) -> str | None:
    """The service of a SigV4 (or SigV4a) credential scope `AKID/date/[region/]service/aws4_request`."""
    parts = credential.strip().split("/")
    if len(parts) < 4 or parts[-1] != "aws4_request":
        return None
    return parts[-2].lower() or None


def service_in_authorization(authorization: str) -> str | None:
    """The service named by an `Authorization` header, or None for SigV2 and other schemes."""
    start = authorization.find("Credential=")
    if start < 0:
        return None
    start += len("Credential=")
    end = authorization.find(",", start)
    return signing_service(authorization[start:] if end < 0 else authorization[start:end])


def is_lambda_path(path: str) -> bool:
    """True for Lambda's API paths, e.g. `/2015-03-31/functions/hello/invocations`."""
    if len(path) < 13 or path[0] != "/" or path[11] != "/":
        return False
    end = path.find("/", 12)
    resource = path[12:] if end < 0 else path[12:end]
    return (path[1:11], resource) in LAMBDA_API_PATHS


def service_of(
    method: str,
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The service a request is for: its signing name (e.g. "lambda", "s3", "sqs"), or UNKNOWN.

    Parameters
    ----------
    method
        The HTTP method (not needed by today's rule; part of the signature so the rule can grow).
    path
        The request path, without the query string.
    headers
        Header names in lower case.
    query
        The parsed query string (only `X-Amz-Credential` is read).

    Returns
    -------
    str
        The signing name when the request is signed; for unsigned requests LAMBDA when the path
        is one of Lambda's API paths, else UNKNOWN.
    """
    authorization = headers.get("authorization")
    if authorization:
        service = service_in_authorization(authorization)
        if service:
            return service
    if query:
        credential = query.get("X-Amz-Credential")
        if credential:
            service = signing_service(credential[0])
            if service:
                return service
    if is_lambda_path(path):
        return LAMBDA
    return UNKNOWN
