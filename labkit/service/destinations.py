"""Where asynchronous invocations report: destinations (SQS, SNS, Lambda, EventBridge) and dead-letter queues.

The records are Lambda's own: an invocation record for destinations
(``{"version": "1.0", "timestamp", "requestContext", "requestPayload", "responseContext",
"responsePayload"}``) and, for a dead-letter queue, the event itself with the message attributes
``RequestID``, ``ErrorCode`` and ``ErrorMessage``. ``approximateInvokeCount`` counts every attempt
made for the event, throttled ones included. An S3 bucket (on-failure only) receives the record as
an object under ``aws/lambda/async/<function>/<request id>`` (approximate: the key AWS uses is not
documented in shared/FACTS.md).

Sending is done by a :class:`Sender`: :class:`AwsSender` delivers to the local AWS through boto3
(``labkit.aws.client`` when the embedded AWS is there, else the service's endpoint), and hands
records for a Lambda destination back to the service's own asynchronous queue.
:class:`RecordingSender` keeps what it is given, for tests and for lessons without the AWS server.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from labkit.runtime import limits

DESTINATION_SERVICES = ("sqs", "sns", "lambda", "events", "s3")
DLQ_SERVICES = ("sqs", "sns")
ERROR_MESSAGE_MAX = 1024  # the DLQ's ErrorMessage attribute holds the first KB of the error


def arn_service(arn: str) -> str | None:
    """`sqs` for arn:aws:sqs:..., None for what is not an ARN."""
    parts = (arn or "").split(":")
    return parts[2] if len(parts) >= 6 and parts[0] == "arn" else None


def iso_timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def decode_payload(payload: bytes) -> Any:
    """The payload as JSON when it is JSON, else as text (Lambda's records embed it decoded)."""
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_payload: bytes,
    status_code: int,
    executed_version: str | None,
    function_error: str | None,
    response_payload: bytes | None,
    now: float,
) -> dict[str, Any]:
    """Lambda's invocation record, as sent to an on-success or on-failure destination."""
    response_context: dict[str, Any] = {"statusCode": status_code}
    if executed_version:
        response_context["executedVersion"] = executed_version
    if function_error:
        response_context["functionError"] = function_error
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": iso_timestamp(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": decode_payload(request_payload),
        "responseContext": response_context,
    }
    if response_payload is not None:
        record["responsePayload"] = decode_payload(response_payload)
    return record


def dlq_attributes(request_id: str, error_code: int, error_message: str) -> dict[str, dict[str, str]]:
    """The message attributes Lambda puts on an event it sends to a dead-letter queue."""
    return {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(error_code)},
        "ErrorMessage": {"DataType": "String", "StringValue": error_message[:ERROR_MESSAGE_MAX] or "-"},
    }


class Sender(Protocol):
    """Delivers records; raising means the delivery failed (counted, logged, the event still ends once)."""

    def send_record(self, destination_arn: str, record: dict[str, Any], success: bool) -> None: ...

    def send_dead_letter(self, target_arn: str, payload: bytes, attributes: dict[str, dict[str, str]]) -> None: ...


@dataclass(frozen=True)
class Sent:
    """One delivery a RecordingSender was given."""

    kind: str  # "destination" | "dlq"
    arn: str
    body: Any  # the record (destination) or the event text (dlq)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    success: bool | None = None


class RecordingSender:
    """Keeps every delivery in `sent` (thread-safe); optionally forwards to another sender."""

    def __init__(self, forward: Sender | None = None) -> None:
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self.forward = forward

    def send_record(self, destination_arn: str, record: dict[str, Any], success: bool) -> None:
        with self._lock:
            self.sent.append(Sent("destination", destination_arn, record, success=success))
        if self.forward is not None:
            self.forward.send_record(destination_arn, record, success)

    def send_dead_letter(self, target_arn: str, payload: bytes, attributes: dict[str, dict[str, str]]) -> None:
        with self._lock:
            self.sent.append(Sent("dlq", target_arn, payload.decode("utf-8", "replace"), attributes))
        if self.forward is not None:
            self.forward.send_dead_letter(target_arn, payload, attributes)

    def to(self, arn: str) -> list[Sent]:
        with self._lock:
            return [item for item in self.sent if item.arn == arn]


ClientFactory = Callable[[str], Any]
LambdaEnqueue = Callable[[str, bytes], None]  # (function ARN, payload): an async invoke of the local service


class AwsSender:
    """Sends through boto3 clients of the local AWS; Lambda destinations go to `enqueue`."""

    def __init__(self, client_factory: ClientFactory, enqueue: LambdaEnqueue) -> None:
        self._client_factory = client_factory
        self._enqueue = enqueue
        self._clients: dict[str, Any] = {}
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def send_record(self, destination_arn: str, record: dict[str, Any], success: bool) -> None:
        service = arn_service(destination_arn)
        body = json.dumps(record)
        if service == "sqs":
            self._client("sqs").send_message(QueueUrl=self._queue_url(destination_arn), MessageBody=body)
        elif service == "sns":
            self._client("sns").publish(TopicArn=destination_arn, Message=body)
        elif service == "lambda":
            self._enqueue(destination_arn, body.encode())
        elif service == "events":
            outcome = "Success" if success else "Failure"
            self._client("events").put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {outcome}",
                        "Detail": body,
                        "Resources": [record["requestContext"]["functionArn"], destination_arn],
                        "EventBusName": destination_arn,
                    }
                ]
            )
        elif service == "s3":
            bucket = destination_arn.split(":::", 1)[-1].split("/", 1)[0]
            key = f"aws/lambda/async/{record['requestContext']['functionArn'].split(':')[6]}/{record['requestContext']['requestId']}"
            self._client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
        else:
            raise ValueError(f"unsupported destination {destination_arn}")

    def send_dead_letter(self, target_arn: str, payload: bytes, attributes: dict[str, dict[str, str]]) -> None:
        service = arn_service(target_arn)
        message = payload.decode("utf-8", "replace")
        if service == "sqs":
            self._client("sqs").send_message(
                QueueUrl=self._queue_url(target_arn), MessageBody=message, MessageAttributes=attributes
            )
        elif service == "sns":
            self._client("sns").publish(TopicArn=target_arn, Message=message, MessageAttributes=attributes)
        else:
            raise ValueError(f"unsupported dead-letter target {target_arn}")

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._clients[service] = self._client_factory(service)
            return client

    def _queue_url(self, arn: str) -> str:
        with self._lock:
            url = self._queue_urls.get(arn)
        if url is None:
            parts = arn.split(":")
            url = self._client("sqs").get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            with self._lock:
                self._queue_urls[arn] = url
        return url


def local_client_factory(endpoint_url: Callable[[], str | None], region: str = limits.DEFAULT_REGION) -> ClientFactory:
    """boto3 clients of the local AWS at `endpoint_url()`; without one, of the running `labkit.aws` if any."""

    def make(service: str) -> Any:
        url = endpoint_url()
        try:  # imported here: the embedded AWS sits above the service and starts it lazily
            from labkit.aws.endpoint import client as local_client
            from labkit.aws.local import current
        except ImportError:  # a labkit without the embedded AWS: plain boto3 below
            pass
        else:
            if url:
                return local_client(service, endpoint_url=url)
            running = current()
            if running is not None:
                return running.client(service)
        if not url:
            raise RuntimeError(
                "no local AWS to send to: start it (labkit.aws.start() or labkit serve) and give the service its "
                "endpoint_url, or give LambdaService a sender (labkit.service.destinations.RecordingSender)"
            )
        import boto3

        from labkit.runtime.lambda_env import LOCAL_CREDENTIALS

        return boto3.client(
            service,
            endpoint_url=url,
            region_name=region,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    return make
