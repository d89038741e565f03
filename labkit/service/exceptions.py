"""The Lambda API's errors, each with its AWS error code, HTTP status and message.

They reach the caller as AWS sends them: the status, the header ``x-amzn-ErrorType: <Code>`` and
a JSON body ``{"Type": "User", "message": "..."}`` (``Message`` for the shapes whose member is
spelt that way in Lambda's service model), so botocore raises a ``ClientError`` whose
``response["Error"]["Code"]`` is the code below.
"""
from __future__ import annotations

import json
from typing import Any, ClassVar

from labkit.service.wire import HttpResponse


class LambdaServiceError(Exception):
    """Base class: one AWS error code."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    kind: ClassVar[str] = "User"  # the body's "Type": User (the caller's fault) or Service
    typed: ClassVar[bool] = True  # False: AWS's body for this error carries no "Type"
    message_key: ClassVar[str] = "message"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def body(self) -> dict[str, Any]:
        typed = {"Type": self.kind} if self.typed else {}
        return {**typed, self.message_key: self.message, **self.fields}

    def to_response(self, request_id: str | None = None) -> HttpResponse:
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": self.code}
        if request_id:
            headers["x-amzn-RequestId"] = request_id
        return HttpResponse(self.status, json.dumps(self.body()).encode(), headers)


class ServiceException(LambdaServiceError):
    code = "ServiceException"
    status = 500
    kind = "Service"
    message_key = "Message"


class ResourceNotFoundException(LambdaServiceError):
    code = "ResourceNotFoundException"
    status = 404
    message_key = "Message"


class ProvisionedConcurrencyConfigNotFoundException(LambdaServiceError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


class InvalidParameterValueException(LambdaServiceError):
    code = "InvalidParameterValueException"
    status = 400


class InvalidRequestContentException(LambdaServiceError):
    code = "InvalidRequestContentException"
    status = 400


class UnsupportedMediaTypeException(LambdaServiceError):
    code = "UnsupportedMediaTypeException"
    status = 415


class AccessDeniedException(LambdaServiceError):
    """A principal without permission to invoke (no statement of the function's policy allows it)."""

    code = "AccessDeniedException"
    status = 403
    message_key = "Message"


class ForeignAccountException(AccessDeniedException):
    """A function ARN of another account: Lambda's 403 carries no message at all."""

    def __init__(self, account: str) -> None:
        super().__init__(f"functions of account {account} are not reachable from this account")

    def body(self) -> dict[str, Any]:
        return {"Message": None}


class ResourceConflictException(LambdaServiceError):
    code = "ResourceConflictException"
    status = 409


class PreconditionFailedException(LambdaServiceError):
    code = "PreconditionFailedException"
    status = 412


class TooManyRequestsException(LambdaServiceError):
    """A throttle: ``Reason`` says which limit (reserved or account concurrency)."""

    code = "TooManyRequestsException"
    status = 429

    def __init__(self, reason: str, message: str = "Rate Exceeded.") -> None:
        super().__init__(message, Reason=reason)
        self.reason = reason


class RequestTooLargeException(LambdaServiceError):
    code = "RequestTooLargeException"
    status = 413


class RequestEntityTooLargeException(LambdaServiceError):
    """A deployment package over the direct-upload limit (API Gateway's code, as Lambda sends it)."""

    code = "RequestEntityTooLargeException"
    status = 413


class UnknownOperationException(LambdaServiceError):
    code = "UnknownOperationException"
    status = 404


# Throttle reasons (Lambda's ThrottleReason enum).
RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


def not_found(arn: str) -> ResourceNotFoundException:
    """Lambda's message for a function or version that does not exist."""
    return ResourceNotFoundException(f"Function not found: {arn}")
