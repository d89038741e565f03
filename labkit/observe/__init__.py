"""Logs, metrics, traces and alarms of the local Lambda service, in the local CloudWatch and X-Ray.

The local AWS (`labkit.aws.start()`, `labkit serve`) attaches a
:class:`~labkit.observe.observer.ServiceObserver` to its Lambda service, so every function's
output lands in CloudWatch Logs, its metrics in CloudWatch (AWS/Lambda and EMF namespaces),
its alarms change state, and traced functions' segments are kept:

>>> aws = labkit.aws.start()                                                   # doctest: +SKIP
>>> labkit.observe.flush()                       # wait until everything so far is shipped
>>> aws.client("logs").filter_log_events(logGroupName="/aws/lambda/hello")      # doctest: +SKIP
>>> labkit.observe.alarm_state("errors-high")                                   # doctest: +SKIP
'ALARM'
>>> trace, = labkit.observe.traces("hello")                                     # doctest: +SKIP

Modules: `logs` (log events, Lambda's JSON format), `metrics` (AWS/Lambda metrics, EMF),
`alarms` (alarm evaluation), `traces` (X-Ray daemon, Lambda's segments, traces as spans),
`observer` (the background shipper tying them to a service), `sinks` (where it writes: moto's
backends in this process, or boto3), `summary` (a function's figures for a dashboard).
"""
from __future__ import annotations

from typing import Any

from labkit.observe.observer import AlarmNotFoundError, InvocationSummary, NotObservedError, ServiceObserver, attach
from labkit.observe.summary import FunctionSummary
from labkit.observe.traces import Span, Trace

__all__ = [
    "AlarmNotFoundError", "FunctionSummary", "InvocationSummary", "NotObservedError", "ServiceObserver", "Span",
    "Trace", "alarm_state", "attach", "flush", "observer", "summary", "traces",
]


def observer(aws: Any = None) -> ServiceObserver:
    """The observer of a local AWS's Lambda service (default: the running `labkit.aws`)."""
    from labkit.aws.local import current

    aws = aws or current()
    if aws is None:
        raise NotObservedError("no local AWS is running: start it first with labkit.aws.start()")
    app = getattr(aws, "lambda_app", aws)  # a LocalAws's Lambda app, or a LambdaService itself
    service = getattr(app, "app", app)  # built on first use when lazy
    found = [o for o in getattr(getattr(service, "invoker", None), "observers", []) if isinstance(o, ServiceObserver)]
    if not found:
        raise NotObservedError("this Lambda service is not observed: call labkit.observe.attach(service) first")
    return found[0]


def flush(aws: Any = None, timeout: float = 30) -> bool:
    """Wait until every invoke so far is in CloudWatch (logs, metrics) and alarms were evaluated."""
    return observer(aws).flush(timeout)


def traces(function_name: str | None = None, aws: Any = None) -> list[Trace]:
    """The traces of a function's traced invokes (TracingConfig Active), oldest first."""
    return observer(aws).traces(function_name)


def summary(function_name: str, period_s: float = 60, periods: int = 15, aws: Any = None) -> FunctionSummary:
    """A function's last periods (invocations, errors, duration percentiles, concurrency, logs, alarms)."""
    return observer(aws).summary(function_name, period_s, periods)


def alarm_state(name: str, aws: Any = None) -> str:
    """A CloudWatch alarm's state (OK, ALARM, INSUFFICIENT_DATA) after evaluating it on the latest data."""
    return observer(aws).alarm_state(name)
