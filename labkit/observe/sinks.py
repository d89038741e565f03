"""Where the observer's log events and metric data go: the one seam between it and CloudWatch.

* :class:`BackendSink` writes straight into moto's CloudWatch Logs and CloudWatch backends in
  this process, which is what the local AWS serves: no boto3 request, no HTTP, no botocore
  validation of thousands of events a second; the checks left are those the backends make as
  CloudWatch does (events in time order, too old or too new ones rejected, no NaN values).
  Arguments are what moto's own request handlers hand the same backend methods (naive UTC
  timestamps, dimensions as ``{"Name", "Value"}`` dicts), so reading back through boto3 gives
  the same answers as for data sent with PutLogEvents / PutMetricData.
* :class:`ClientSink` sends those requests through boto3 clients, for an AWS elsewhere.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from labkit.errors import LabkitError
from labkit.observe import logs
from labkit.runtime import limits
from labkit.service.destinations import ClientFactory


class LogStreamMissingError(LabkitError, LookupError):
    """The log group or stream is not there (deleted since it was created): create it again."""


class CloudWatchSink(Protocol):
    def create_stream(self, group: str, stream: str) -> None:
        """Create the log stream, and its group when that is missing too; existing ones are fine."""

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        """Store one stream's events (``{"timestamp": ms, "message"}``, in time order); raises
        :class:`LogStreamMissingError` when the group or the stream does not exist."""

    def put_metric_data(self, namespace: str, entries: list[dict[str, Any]]) -> None:
        """Store PutMetricData entries (timestamps as aware datetimes) of one namespace."""


class BackendSink:
    """Into moto's backends of one account and region in this process (see the module docstring)."""

    def __init__(self, account: str = limits.DEFAULT_ACCOUNT_ID, region: str = limits.DEFAULT_REGION) -> None:
        from moto.logs.exceptions import ResourceAlreadyExistsException, ResourceNotFoundException

        self.account = account
        self.region = region
        self._exists = ResourceAlreadyExistsException
        self._missing = ResourceNotFoundException

    def create_stream(self, group: str, stream: str) -> None:
        backend = self._logs()
        try:
            backend.create_log_stream(group, stream)
        except self._missing:
            try:
                backend.create_log_group(group, None, kmsKeyId=None)  # as CreateLogGroup without tags or key
            except self._exists:
                pass
            backend.create_log_stream(group, stream)
        except self._exists:
            pass

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        try:
            self._logs().put_log_events(group, stream, events)
        except self._missing as exc:
            raise LogStreamMissingError(f"log stream {group} {stream} does not exist") from exc

    def put_metric_data(self, namespace: str, entries: list[dict[str, Any]]) -> None:
        self._cloudwatch().put_metric_data(namespace, [{**entry, "Timestamp": _naive_utc(entry["Timestamp"])}
                                                       for entry in entries])

    # looked up on each call: resetting the local AWS replaces moto's backends
    def _logs(self) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[self.account][self.region]

    def _cloudwatch(self) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account][self.region]


class ClientSink:
    """Through boto3 clients made by `clients` (``clients("logs")``, ``clients("cloudwatch")``)."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients
        self._logs_client: Any = None
        self._cloudwatch_client: Any = None

    def create_stream(self, group: str, stream: str) -> None:
        client = self._logs()
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
        except client.exceptions.ResourceNotFoundException:
            try:
                client.create_log_group(logGroupName=group)
            except client.exceptions.ResourceAlreadyExistsException:
                pass
            client.create_log_stream(logGroupName=group, logStreamName=stream)
        except client.exceptions.ResourceAlreadyExistsException:
            pass

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        client = self._logs()
        for batch in logs.batches(events):
            try:
                client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            except client.exceptions.ResourceNotFoundException as exc:
                raise LogStreamMissingError(f"log stream {group} {stream} does not exist") from exc

    def put_metric_data(self, namespace: str, entries: list[dict[str, Any]]) -> None:
        if self._cloudwatch_client is None:
            self._cloudwatch_client = self._clients("cloudwatch")
        self._cloudwatch_client.put_metric_data(Namespace=namespace, MetricData=entries)

    def _logs(self) -> Any:
        if self._logs_client is None:
            self._logs_client = self._clients("logs")
        return self._logs_client


def _naive_utc(timestamp: dt.datetime) -> dt.datetime:
    """A timestamp as moto's request parsing leaves it: UTC without tzinfo."""
    return timestamp.astimezone(dt.timezone.utc).replace(tzinfo=None) if timestamp.tzinfo else timestamp
