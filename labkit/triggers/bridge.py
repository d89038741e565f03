"""The bridge from the embedded AWS's event sources to labkit's Lambda service.

moto's S3, SNS and EventBridge deliver to a Lambda target by invoking *moto's* Lambda. The
local AWS serves Lambda with labkit's own service, so :class:`TriggerBridge` takes those
deliveries over: S3 bucket notifications (:mod:`labkit.triggers.s3`), SNS subscriptions with
protocol ``lambda`` (:mod:`labkit.triggers.sns`), EventBridge rules and schedules
(:mod:`labkit.triggers.eventbridge`, :mod:`labkit.triggers.scheduler`). Each delivery is an
asynchronous invoke (``invoke_async``), as on AWS, with the event built by :mod:`labkit.events`.

`LocalAws` makes one bridge and puts :meth:`TriggerBridge.wsgi` in front of the embedded AWS. Its
hooks (:mod:`labkit.aws.embedded.hooks`) are installed once per process, on the first request to
it; a hook delivers through the bridge of the local AWS that is answering the request (its
scheduler's, for schedules), and behaves as moto does when no bridge is open. The embedded AWS's
state is process-wide: two local AWSs in one process share buckets, topics and rules. Every delivery is recorded in :attr:`TriggerBridge.deliveries`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from labkit.aws.embedded import hooks
from labkit.events import s3 as s3_events
from labkit.service.clock import CLOCK, LessonClock
from labkit.service.models import parse_function_ref
from labkit.triggers import eventbridge, s3, sns

log = logging.getLogger(__name__)

EVENTS_TARGET = "AWSEvents."
"""How EventBridge's API requests start their X-Amz-Target header."""
MAX_DELIVERIES = 10_000
"""How many deliveries a bridge remembers (the oldest are forgotten first)."""


class AsyncInvoker(Protocol):
    def invoke_async(self, name: str, qualifier: str | None, payload: bytes, *, principal: str | None = None,
                     source_arn: str | None = None, source_account: str | None = None) -> str: ...


@dataclass(frozen=True)
class Delivery:
    """One event an event source handed to a function (an asynchronous invoke)."""

    source: str  # "s3", "sns", "events" or "schedule"
    source_arn: str  # the bucket, topic or rule
    principal: str  # the service principal that invokes: s3.amazonaws.com ...
    source_account: str  # the account that owns the source
    function_arn: str
    payload: bytes
    time: float  # wall-clock epoch seconds
    request_id: str | None = None  # the async invoke's, when accepted
    error: str | None = None  # why the invoke was not accepted


SOURCE_KINDS = {"s3": "S3 bucket", "sns": "SNS topic", "events": "EventBridge rule", "schedule": "schedule",
                "sqs": "SQS queue", "dynamodb": "DynamoDB stream", "kinesis": "Kinesis stream"}


@dataclass(frozen=True)
class Flow:
    """How many events went from one source to one function (the edges of an event-flow diagram)."""

    source: str  # "s3", "sns", "events", "schedule" (or another event source's kind)
    source_name: str  # the bucket, topic, rule or queue
    function_name: str
    delivered: int  # accepted invokes
    refused: int  # invokes the Lambda service refused (no permission, no such function)

    @property
    def source_label(self) -> str:
        return f"{SOURCE_KINDS.get(self.source, self.source)}\n{self.source_name}"


def flows(deliveries: Iterable[Delivery]) -> list[Flow]:
    """The deliveries counted per (source, function), in the order each pair first occurred."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for delivery in deliveries:
        name, _ = parse_function_ref(delivery.function_arn)
        source_name = delivery.source_arn.rsplit(":", 1)[-1].split("/")[-1]
        tally = counts.setdefault((delivery.source, source_name, name), [0, 0])
        tally[0 if delivery.error is None else 1] += 1
    return [Flow(source, source_name, name, ok, refused) for (source, source_name, name), (ok, refused) in counts.items()]


class TriggerBridge:
    """Delivers the embedded AWS's notifications to the Lambda service `target()` returns.

    Parameters
    ----------
    target
        Returns the Lambda service to invoke (None while there is none: events are then dropped,
        as AWS drops what it cannot deliver, and recorded with the reason). Settable later.
    clock
        The lesson clock schedules fire on (default: the target's ``clock``, else labkit's).
    """

    def __init__(self, target: Callable[[], AsyncInvoker | None] | None = None, clock: LessonClock | None = None) -> None:
        self.target: Callable[[], AsyncInvoker | None] = target or (lambda: None)
        self._clock = clock
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._listeners: list[Callable[[Delivery], None]] = []
        self._scheduler: Any = None
        self._closed = False
        _BRIDGES.open(self)

    # -- wiring ------------------------------------------------------------------------------------------

    def wsgi(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """`app` (moto's WSGI application) with the bridge's hooks installed before each request needs them."""

        def bridged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if not hooks.installed():
                hooks.install(_current_deliveries)
            if self._scheduler is None and str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(EVENTS_TARGET):
                self._start_scheduler()  # this local AWS's EventBridge is in use
            with _BRIDGES.serving(self):  # what moto delivers while answering goes through this bridge
                return app(environ, start_response)

        return bridged

    @property
    def clock(self) -> LessonClock:
        if self._clock is not None:
            return self._clock
        target = self.target()
        clock = getattr(target, "clock", None)
        return clock if isinstance(clock, LessonClock) else CLOCK

    def _start_scheduler(self) -> None:
        from labkit.triggers.scheduler import Scheduler

        with self._lock:
            if self._scheduler is None and not self._closed:
                self._scheduler = Scheduler(self)
                self._scheduler.start()

    @property
    def scheduler(self) -> Any:
        """The schedule rules' thread (None until EventBridge is first used)."""
        return self._scheduler

    # -- delivering --------------------------------------------------------------------------------------

    def deliver(self, source: str, source_arn: str, principal: str, source_account: str, function_arn: str,
                event: Any) -> Delivery:
        """Invoke `function_arn` asynchronously with `event` (JSON-serialisable, or bytes) and record it.

        The function's resource-based policy must let `principal` invoke it for `source_arn` (AddPermission),
        as on AWS; a denied or failed invoke is recorded with its reason and logged as a warning.
        """
        payload = event if isinstance(event, bytes) else json.dumps(event).encode()
        request_id = error = None
        try:
            target = self.target()
            if target is None:
                raise LookupError("the local AWS has no Lambda service")
            name, qualifier = parse_function_ref(function_arn)
            request_id = target.invoke_async(
                name, qualifier, payload, principal=principal, source_arn=source_arn, source_account=source_account
            )
        except Exception as exc:  # delivery is asynchronous on AWS: the caller's request still succeeds
            error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            log.warning("%s could not invoke %s: %s", source_arn, function_arn, error)
        delivery = Delivery(source, source_arn, principal, source_account, function_arn, payload, time.time(), request_id, error)
        with self._lock:
            self._deliveries.append(delivery)
            del self._deliveries[:-MAX_DELIVERIES]
            listeners = list(self._listeners)
        for listener in listeners:
            listener(delivery)
        return delivery

    def refusal(self, principal: str, source_arn: str, source_account: str, function_arn: str) -> str | None:
        """Why the Lambda service would refuse `principal`'s invokes of `function_arn` (None: it would not,
        or it cannot say)."""
        target = self.target()
        check = getattr(target, "invoke_refusal", None)
        if not callable(check):
            return None
        try:
            name, qualifier = parse_function_ref(function_arn)
        except Exception as exc:
            return getattr(exc, "message", None) or str(exc)
        reason: str | None = check(name, qualifier, principal, source_arn, source_account)
        return reason

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def flows(self) -> list[Flow]:
        """The deliveries so far, counted per source and function (see :func:`flows`)."""
        return flows(self.deliveries)

    def subscribe(self, listener: Callable[[Delivery], None]) -> None:
        """Call `listener(delivery)` after each delivery (on the thread that delivered)."""
        with self._lock:
            self._listeners.append(listener)

    # -- closing -----------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the scheduler thread and stop delivering (idempotent)."""
        with self._lock:
            self._closed = True
            scheduler, self._scheduler = self._scheduler, None
        _BRIDGES.close(self)
        if scheduler is not None:
            scheduler.stop()


class _OpenBridges:
    """The bridges open in this process, and the one serving the current thread's request.

    moto's hooks deliver through the bridge of the local AWS whose request made the event (or whose
    scheduler fired it); outside such a request, through the bridge opened last.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[TriggerBridge] = []
        self._local = threading.local()

    def open(self, bridge: TriggerBridge) -> None:
        with self._lock:
            self._open.append(bridge)

    def close(self, bridge: TriggerBridge) -> None:
        with self._lock:
            if bridge in self._open:
                self._open.remove(bridge)

    @contextlib.contextmanager
    def serving(self, bridge: TriggerBridge) -> Iterator[None]:
        previous = getattr(self._local, "bridge", None)
        self._local.bridge = bridge
        try:
            yield
        finally:
            self._local.bridge = previous

    def current(self) -> TriggerBridge | None:
        serving = getattr(self._local, "bridge", None)
        if serving is not None:
            return None if serving.closed else serving
        with self._lock:
            return self._open[-1] if self._open else None


class BridgeDeliveries:
    """The embedded AWS's deliveries (:class:`labkit.aws.embedded.hooks.Deliveries`) through `bridge`."""

    def __init__(self, bridge: TriggerBridge) -> None:
        self.bridge = bridge

    def s3_notification(self, event: hooks.ObjectEvent) -> dict[str, Any]:
        return s3.notification(event)

    def s3_to_lambda(self, account: str, notification: dict[str, Any], function_arn: str) -> None:
        bucket_arn = notification["Records"][0]["s3"]["bucket"]["arn"]
        self.bridge.deliver("s3", bucket_arn, s3.PRINCIPAL, account, function_arn, notification)

    def s3_refusal(self, bucket: str, account: str, function_arn: str) -> str | None:
        return self.bridge.refusal(s3.PRINCIPAL, s3_events.bucket_arn(bucket), account, function_arn)

    def sns_to_lambda(self, message: hooks.TopicMessage) -> None:
        self.bridge.deliver("sns", message.topic_arn, sns.PRINCIPAL, message.account, message.function_arn,
                            sns.subscription_event(message))

    def rule_to_lambda(self, firing: hooks.RuleFiring) -> None:
        source = "schedule" if firing.scheduled else "events"
        for function_arn, payload in eventbridge.firing_payloads(firing):
            self.bridge.deliver(source, firing.rule_arn, eventbridge.PRINCIPAL, firing.account, function_arn, payload)

    def schedule_error(self, expression: str) -> str | None:
        return eventbridge.schedule_error(expression)


def _current_deliveries() -> BridgeDeliveries | None:
    bridge = _BRIDGES.current()
    return None if bridge is None else BridgeDeliveries(bridge)


_BRIDGES = _OpenBridges()


def current() -> TriggerBridge | None:
    """The bridge moto's hooks deliver through on this thread now, or None."""
    return _BRIDGES.current()


def serving(bridge: TriggerBridge) -> contextlib.AbstractContextManager[None]:
    """Within the block, moto's hooks on this thread deliver through `bridge`."""
    return _BRIDGES.serving(bridge)
