"""`ServiceObserver`: what the local Lambda service's invokes leave in the local CloudWatch and X-Ray.

Attached to a :class:`labkit.service.lambda_service.LambdaService` (``attach(service)``; the
local AWS does it for its own service), it is told about each invocation and ships, on one
background thread and in batches, off the invoke path:

* the invocation's log lines to CloudWatch Logs (group ``/aws/lambda/<name>`` or the function's
  ``LoggingConfig.LogGroup``, one stream per execution environment), in Text or JSON format;
* Lambda's metrics (namespace AWS/Lambda) and the EMF metrics found in the logs to CloudWatch;
* Lambda's own trace segments for functions with ``TracingConfig`` Active, next to those the
  function's X-Ray SDK sends to the observer's daemon;

then evaluates the metric alarms (:mod:`labkit.observe.alarms`). Logs and metrics go through a
sink (:mod:`labkit.observe.sinks`): straight into moto's backends when the local AWS runs in this
process (the usual case), through boto3 otherwise. ``flush()`` waits until all of
that is done for every invoke so far; ``close()`` flushes and stops the thread.
"""
from __future__ import annotations

import operator
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from labkit.observe import logs, metrics
from labkit.observe.alarms import AlarmChange, AlarmEvaluator
from labkit.observe.sinks import BackendSink, ClientSink, CloudWatchSink, LogStreamMissingError
from labkit.observe.summary import FunctionSummary, summarize
from labkit.observe.traces import (
    Trace,
    TraceDaemon,
    build_trace,
    lambda_documents,
    new_id,
    new_trace_id,
    parse_header,
    sampled_header,
)
from labkit.errors import LabkitError
from labkit.runtime import limits
from labkit.service.clock import LessonClock
from labkit.service.destinations import ClientFactory
from labkit.service.invoke import ACCOUNT, InvokeRecord
from labkit.service.models import VersionConfig

RECENT_INVOCATIONS = 10_000
CLIENT_TIMEOUT_S = 5
ALARM_EVERY_S = 1.0  # real seconds between alarm evaluations when nothing new arrives
_timestamp = operator.itemgetter("timestamp")


class NotObservedError(LabkitError, RuntimeError):
    """There is no local AWS, or its Lambda service has no observer."""


class AlarmNotFoundError(LabkitError, LookupError):
    """No CloudWatch alarm has the name asked for."""


@dataclass(frozen=True)
class InvocationSummary:
    """What the observer keeps of one invocation (for dashboards): lesson time and REPORT figures."""

    function_name: str
    at: float
    request_id: str
    duration_ms: float
    init_ms: float | None
    error: bool
    trace_id: str | None


class ServiceObserver:
    """Logs, metrics, traces and alarms of one Lambda service (see the module docstring)."""

    def __init__(
        self, service: Any, clients: ClientFactory, *, interval_s: float = 1.0, sink: CloudWatchSink | None = None
    ) -> None:
        self.service = service
        self.clock: LessonClock = service.clock
        self._clients = clients
        self.sink: CloudWatchSink = sink or ClientSink(clients)
        """Where log events and metric data go (moto's backends in this process, or boto3)."""
        self._interval_s = interval_s
        self.daemon = TraceDaemon()
        self.invocations: deque[InvocationSummary] = deque(maxlen=RECENT_INVOCATIONS)
        self._pending: list[tuple[InvokeRecord, float]] = []
        self._queued = 0
        self._done = 0
        self._cond = threading.Condition()
        self._closed = False
        self._flush_wanted = False
        self._known_streams: set[tuple[str, str]] = set()
        self._counters = metrics.CounterWatch()
        self._alarms: AlarmEvaluator | None = None
        self.last_error: str | None = None
        self._evaluated_at = 0.0
        self._thread = threading.Thread(target=self._run, name="labkit-observe", daemon=True)
        self._thread.start()

    # -- the service's hooks (labkit.service.invoke.InvokeObserver) ------------------------------------------

    def platform_env(self) -> dict[str, str]:
        host, port = self.daemon.address.rsplit(":", 1)
        return {"AWS_XRAY_DAEMON_ADDRESS": self.daemon.address, "_AWS_XRAY_DAEMON_ADDRESS": host,
                "_AWS_XRAY_DAEMON_PORT": port}

    def trace_header(self, config: VersionConfig) -> str | None:
        if config.tracing_mode != "Active":
            return None
        return sampled_header(new_trace_id(), new_id())

    def invoked(self, record: InvokeRecord) -> None:
        with self._cond:
            self._pending.append((record, self.clock.now()))
            self._queued += 1

    # -- reading back ------------------------------------------------------------------------------------------

    def flush(self, timeout: float = 30) -> bool:
        """Wait until every invoke so far is shipped and alarms were evaluated after it (real seconds)."""
        with self._cond:
            target = self._queued + 1  # +1: one more full round, so alarms see the latest data
            self._queued += 1
            self._flush_wanted = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= target or self._closed, timeout)

    def traces(self, function_name: str | None = None) -> list[Trace]:
        """The traces of traced invokes (oldest first), of one function or all."""
        self.flush()
        self.daemon.sync()  # the functions' own segments, sent before their invokes returned
        ids = [s.trace_id for s in list(self.invocations)
               if s.trace_id and (function_name is None or s.function_name == function_name)]
        return [build_trace(trace_id, self.daemon.documents(trace_id)) for trace_id in dict.fromkeys(ids)]

    def alarm_state(self, name: str) -> str:
        """An alarm's state now (OK, ALARM or INSUFFICIENT_DATA), after evaluating alarms on the latest data."""
        self.flush()
        alarms = self.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if not alarms:
            raise AlarmNotFoundError(
                f"no alarm named {name!r}: create it with cloudwatch.put_metric_alarm(AlarmName={name!r}, ...)"
            )
        return str(alarms[0]["StateValue"])

    def summary(self, function_name: str, period_s: float = 60, periods: int = 15, log_lines: int = 12) -> FunctionSummary:
        """A function's last periods for a dashboard (see :func:`labkit.observe.summary.summarize`)."""
        return summarize(self, function_name, period_s, periods, log_lines)

    def client(self, service: str) -> Any:
        """A boto3 client of the observed local AWS (``logs``, ``cloudwatch``, ...)."""
        return self._clients(service)

    @property
    def alarm_changes(self) -> list[AlarmChange]:
        return list(self._alarms.changes) if self._alarms else []

    def close(self) -> None:
        """Ship what is left, stop the thread and the trace daemon (idempotent)."""
        if self._closed:
            return
        self.flush(timeout=2 * CLIENT_TIMEOUT_S)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self.daemon.close()

    # -- the background thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                # one round per interval (the invoke path only appends), or at once when flush() asks
                self._cond.wait_for(lambda: self._closed or self._flush_wanted, self._interval_s)
                if self._closed:
                    return
                self._flush_wanted = False
                batch, self._pending = self._pending, []
                target = self._queued
            try:
                self._ship(batch)
                self._ship_counters()
                now = time.monotonic()
                if self._alarms is not None and (target > self._done or now - self._evaluated_at >= ALARM_EVERY_S):
                    self._evaluated_at = now
                    self._alarms.evaluate()
                self.last_error = None
            except Exception as exc:  # the local AWS went away or refused: keep the service running
                self.last_error = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self._done = target
                self._cond.notify_all()

    def _ship(self, batch: list[tuple[InvokeRecord, float]]) -> None:
        if self._alarms is None:
            self._alarms = AlarmEvaluator(self.client("cloudwatch"), self.clock, sns=lambda: self.client("sns"))
        streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        data: list[metrics.Datum] = []
        for record, at in batch:
            config, invocation = record.config, record.invocation
            name = config.function_name
            events = logs.invocation_events(invocation, config.log_format, config.system_log_level)
            streams.setdefault((config.log_group or f"/aws/lambda/{name}", invocation.log_stream), []).extend(events)
            data += metrics.invocation_data(
                name, invocation.error is not None, invocation.report.duration_ms, at, record.async_received_at
            )
            for event in events:
                data += metrics.emf_data(event["message"], at)
            trace_id = None
            if record.trace_header:
                trace_id = parse_header(record.trace_header)["Root"]
                for document in lambda_documents(
                    invocation, record.trace_header, name, record.invoked_arn, limits.DEFAULT_REGION
                ):
                    self.daemon.add(document)
            self.invocations.append(
                InvocationSummary(name, at, invocation.request_id, invocation.report.duration_ms,
                                  invocation.report.init_ms, invocation.error is not None, trace_id)
            )
        for (group, stream), events in streams.items():
            events.sort(key=_timestamp)  # an environment's invocations arrive in order; its REPORT lines may not
            self._put_log_events(group, stream, events)
        self._put(data)

    def _ship_counters(self) -> None:
        now = self.clock.now()
        data: list[metrics.Datum] = []
        for name in [ACCOUNT, *self.service.limiter.names()]:
            data += self._counters.data(self.service.limiter.metrics(name), now)
        self._put(data)

    def _put(self, data: list[metrics.Datum]) -> None:
        for namespace, metric_data in metrics.put_calls(data):
            self.sink.put_metric_data(namespace, metric_data)

    def _put_log_events(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        if (group, stream) not in self._known_streams:
            self.sink.create_stream(group, stream)
            self._known_streams.add((group, stream))
        try:
            self.sink.put_log_events(group, stream, events)
        except LogStreamMissingError:  # the group or stream was deleted: create it again, as Lambda does
            self.sink.create_stream(group, stream)
            self.sink.put_log_events(group, stream, events)


def attach(service: Any, clients: ClientFactory | None = None, *, sink: CloudWatchSink | None = None) -> ServiceObserver:
    """Observe `service` (a LambdaService): its logs, metrics, traces and alarms go to the local AWS.

    Logs and metrics go to `sink`; by default straight into moto's backends when the service's local
    AWS runs in this process (and no `clients` are given), else through boto3 (`clients`, or clients
    of the service's endpoint)."""
    if sink is None and clients is None:
        sink = _in_process_sink(service)
    observer = ServiceObserver(service, clients or _local_clients(service), sink=sink)
    service.add_observer(observer)
    return observer


def _in_process_sink(service: Any) -> CloudWatchSink | None:
    """moto's backends, when the service's endpoint is a local AWS of this process; else None."""
    from labkit.aws.local import in_process

    return BackendSink() if in_process(getattr(service, "endpoint_url", None)) else None


def _local_clients(service: Any) -> ClientFactory:
    """boto3 clients of the service's local AWS that give up quickly (it may stop before the observer)."""
    from botocore.config import Config

    from labkit.aws.endpoint import client

    config = Config(connect_timeout=2, read_timeout=CLIENT_TIMEOUT_S, retries={"total_max_attempts": 1})
    return lambda name: client(name, endpoint_url=service.endpoint_url, config=config)
