"""The largest request body each route of the local AWS takes, told from the request's headers alone.

The single-port server asks `body_limit` before it reads a body; a larger one (by its
Content-Length, or as a chunked body grows) is refused at once with `BodyLimit.refusal`, the
answer AWS gives, and the connection is closed unread. The bounds are AWS's:

- Lambda: Invoke 6,291,456 bytes (``RequestResponse``) or 1,048,576 (``Event``, and the 2014
  InvokeAsync), answered as the Lambda service itself answers them (``RequestTooLargeException``);
  every other operation 69,905,067 bytes, the base64 of a 50 MB ZIP (CreateFunction,
  UpdateFunctionCode, PublishLayerVersion), ``RequestEntityTooLargeException``.
- S3: 5 GiB, the largest single PUT (PutObject, UploadPart), S3's 400 ``EntityTooLarge``; unsigned
  requests, which the embedded AWS may route to S3, get the same bound.
- Every other service: 64 MiB, above the largest request of any of them (SES raw mail, 40 MB).
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from labkit.runtime import limits
from labkit.service.error_shapes import aws_error_body
from labkit.service.routing import LAMBDA, UNKNOWN

CODE_UPLOAD_MAX_BYTES = 69_905_067  # "Request must be smaller than 69905067 bytes for the CreateFunction operation"
S3_PUT_MAX_BYTES = 5 * 1024**3
OTHER_MAX_BYTES = 64 * 1024 * 1024

_INVOKE = re.compile(r"^/2015-03-31/functions/[^/]+/invocations/?$")
_INVOKE_ASYNC = re.compile(r"^/2014-11-13/functions/[^/]+/invoke-async/?$")
_CODE_OPERATIONS = (  # (method, path) -> the operation AWS names in its refusal
    ("POST", re.compile(r"^/2015-03-31/functions/?$"), "CreateFunction"),
    ("PUT", re.compile(r"^/2015-03-31/functions/[^/]+/code/?$"), "UpdateFunctionCode"),
    ("POST", re.compile(r"^/2018-10-31/layers/[^/]+/versions/?$"), "PublishLayerVersion"),
)


@dataclass(frozen=True)
class TooLarge:
    """The answer to a body over its route's bound (a `labkit.service.server.Refusal`)."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BodyLimit:
    """A route's bound, and how AWS words the refusal of a larger body."""

    max_bytes: int
    service: str
    operation: str = ""
    code: str = "RequestEntityTooLargeException"

    def refusal(self, size: int | None, headers: Mapping[str, str]) -> TooLarge:
        """AWS's answer to a body of `size` bytes (None: a chunked body, size unknown) over this bound."""
        if self.service == LAMBDA:
            text = f"Request must be smaller than {self.max_bytes} bytes for the {self.operation} operation"
            body = json.dumps({"Type": "User", "message": text}).encode()
            return TooLarge(413, body, {"Content-Type": "application/json", "x-amzn-ErrorType": self.code})
        if self.service == "s3":
            proposed = f"<ProposedSize>{size}</ProposedSize>" if size is not None else ""
            xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>EntityTooLarge</Code><Message>Your proposed '
                   f"upload exceeds the maximum allowed size</Message>{proposed}<MaxSizeAllowed>{self.max_bytes}"
                   f"</MaxSizeAllowed><RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>")
            return TooLarge(400, xml.encode(), {"Content-Type": "application/xml"})
        content_type, body = aws_error_body(headers, self.code, f"Request must be smaller than {self.max_bytes} bytes",
                                            sender=True)
        return TooLarge(413, body, {"Content-Type": content_type})


def body_limit(service: str, method: str, path: str, headers: Mapping[str, str]) -> BodyLimit:
    """The bound on the body of a request for `service` (`labkit.service.routing.service_of`), headers lower-case."""
    if service == LAMBDA:
        return _lambda_limit(method, path, headers)
    if service in ("s3", UNKNOWN):
        return BodyLimit(S3_PUT_MAX_BYTES, "s3")
    return BodyLimit(OTHER_MAX_BYTES, service)


def _lambda_limit(method: str, path: str, headers: Mapping[str, str]) -> BodyLimit:
    if _INVOKE.match(path):
        event = headers.get("x-amz-invocation-type") == "Event"
        bound = limits.ASYNC_REQUEST_MAX_BYTES if event else limits.SYNC_REQUEST_MAX_BYTES
        return BodyLimit(bound, LAMBDA, "InvokeFunction", "RequestTooLargeException")
    if _INVOKE_ASYNC.match(path):
        return BodyLimit(limits.ASYNC_REQUEST_MAX_BYTES, LAMBDA, "InvokeAsync", "RequestTooLargeException")
    operation = next((name for verb, pattern, name in _CODE_OPERATIONS if verb == method and pattern.match(path)), "")
    return BodyLimit(CODE_UPLOAD_MAX_BYTES, LAMBDA, operation or "requested")
