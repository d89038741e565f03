"""Log events and metric data written straight into the embedded AWS's CloudWatch Logs and CloudWatch.

:class:`BackendStore` skips boto3, HTTP and botocore's validation of thousands of events a second;
the checks left are those the backends make as CloudWatch does (events in time order, too old or
too new ones rejected, no NaN values). Arguments are what moto's own request handlers hand the
same backend methods (naive UTC timestamps, dimensions as ``{"Name", "Value"}`` dicts), so
reading back through boto3 gives the same answers as for data sent with PutLogEvents / PutMetricData.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from labkit.aws.embedded.loading import load_moto
from labkit.errors import LabkitError
from labkit.runtime import limits


class LogStreamMissingError(LabkitError, LookupError):
    """The log group or stream is not there (deleted since it was created): create it again."""


class BackendStore:
    """CloudWatch Logs and CloudWatch of one account and region of the embedded AWS, in this process."""

    def __init__(self, account: str = limits.DEFAULT_ACCOUNT_ID, region: str = limits.DEFAULT_REGION) -> None:
        load_moto()
        from moto.logs.exceptions import ResourceAlreadyExistsException, ResourceNotFoundException

        self.account = account
        self.region = region
        self._exists = ResourceAlreadyExistsException
        self._missing = ResourceNotFoundException

    def create_stream(self, group: str, stream: str) -> None:
        """Create the log stream, and its group when that is missing too; existing ones are fine."""
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
        """Store one stream's events (``{"timestamp": ms, "message"}``, in time order)."""
        try:
            self._logs().put_log_events(group, stream, events)
        except self._missing as exc:
            raise LogStreamMissingError(f"log stream {group} {stream} does not exist") from exc

    def put_metric_data(self, namespace: str, entries: list[dict[str, Any]]) -> None:
        """Store PutMetricData entries (timestamps as aware datetimes) of one namespace."""
        self._cloudwatch().put_metric_data(namespace, [{**entry, "Timestamp": _naive_utc(entry["Timestamp"])}
                                                       for entry in entries])

    # looked up on each call: resetting the local AWS replaces moto's backends
    def _logs(self) -> Any:
        load_moto()
        from moto.logs.models import logs_backends

        return logs_backends[self.account][self.region]

    def _cloudwatch(self) -> Any:
        load_moto()
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account][self.region]


def _naive_utc(timestamp: dt.datetime) -> dt.datetime:
    """A timestamp as moto's request parsing leaves it: UTC without tzinfo."""
    return timestamp.astimezone(dt.timezone.utc).replace(tzinfo=None) if timestamp.tzinfo else timestamp
