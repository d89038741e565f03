"""Where the observer's log events and metric data go: the one seam between it and CloudWatch.

* :class:`BackendSink` writes straight into the CloudWatch Logs and CloudWatch backends of the
  embedded AWS in this process, which is what the local AWS serves
  (:class:`labkit.aws.embedded.cloudwatch.BackendStore`: no boto3 request, no HTTP).
* :class:`ClientSink` sends those requests through boto3 clients, for an AWS elsewhere.
"""
from __future__ import annotations

from typing import Any, Protocol

from labkit.aws.embedded.cloudwatch import BackendStore, LogStreamMissingError
from labkit.observe import logs
from labkit.service.destinations import ClientFactory


class CloudWatchSink(Protocol):
    def create_stream(self, group: str, stream: str) -> None:
        """Create the log stream, and its group when that is missing too; existing ones are fine."""

    def put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        """Store one stream's events (``{"timestamp": ms, "message"}``, in time order); raises
        :class:`LogStreamMissingError` when the group or the stream does not exist."""

    def put_metric_data(self, namespace: str, entries: list[dict[str, Any]]) -> None:
        """Store PutMetricData entries (timestamps as aware datetimes) of one namespace."""


BackendSink = BackendStore
"""Into the embedded AWS's backends of one account and region in this process (see the module docstring)."""

__all__ = ["BackendSink", "ClientSink", "CloudWatchSink", "LogStreamMissingError"]


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
