"""Lambda's asynchronous invocation queue: retries, back-off, event age, destinations and dead-letter queues.

Rules (shared/FACTS.md, "Asynchronous invocation"):

* A function error (an exception, a timeout, a crash) is retried up to ``MaximumRetryAttempts``
  times (default 2): 1 minute after the first attempt, 2 minutes after the second.
* A throttle is retried with back-off from 1 s, doubling, up to 5 minutes between attempts
  (each wait jittered within the upper half of its step), for as long as the event is younger
  than ``MaximumEventAgeInSeconds`` (default 6 hours).
* An event older than that is discarded (``EventAgeExceeded``); one whose retries are used up
  fails with ``RetriesExhausted``. Failures go to the on-failure destination and to the
  dead-letter queue when they are configured; successes to the on-success destination.

Every wait is on the lesson clock, so ``labkit.clock.speed(600)`` turns the three minutes of two
retries into 0.3 real seconds.

The queue guarantees that every accepted event ends exactly once: as a success, or as a failure
(with its records sent, or a log line saying it was dropped), or discarded when the service
closes or the function is deleted. :attr:`AsyncQueue.outcomes` lists the ends.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.service.clock import LessonClock
from labkit.service.destinations import (
    Sender,
    dlq_attributes,
    invocation_record,
    iso_timestamp,
)

FIRST_RETRY_DELAY_S = 60
SECOND_RETRY_DELAY_S = 120
THROTTLE_BACKOFF_MIN_S = 1
THROTTLE_BACKOFF_MAX_S = 300

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
DISCARDED = "Discarded"  # the service closed, or the function was deleted, before the event could end

LOG = logging.getLogger("labkit.service.async")


@dataclass(frozen=True)
class AsyncSettings:
    """How one event is handled (the function's event-invoke config and dead-letter queue)."""

    max_retries: int = 2
    max_age_s: float = 6 * 3600
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None


@dataclass(frozen=True)
class Attempt:
    """What one try of an event gave."""

    outcome: str  # "success" | "error" | "throttled" | "gone"
    payload: bytes | None = None  # the function's response (its error document on an error)
    executed_version: str | None = None
    function_error: str | None = None  # "Unhandled" on a function error
    status_code: int = 200
    error_message: str = ""


@dataclass
class AsyncEvent:
    """An accepted asynchronous invocation."""

    request_id: str
    function_name: str
    qualifier: str | None
    payload: bytes
    received_at: float  # lesson time
    function_arn: str  # qualified with what was invoked ($LATEST, version or alias)
    invokes: int = 0  # attempts that ran the function
    throttles: int = 0
    retries: int = 0  # retries used after function errors
    last: Attempt | None = None


@dataclass(frozen=True)
class AsyncOutcome:
    """How an event ended (exactly one per accepted event)."""

    request_id: str
    function_name: str
    condition: str  # Success | RetriesExhausted | EventAgeExceeded | Discarded
    invokes: int
    throttles: int
    finished_at: float  # lesson time
    age_s: float  # lesson seconds from acceptance to the end
    delivered: tuple[str, ...] = ()  # destinations and DLQ that received a record
    failed: tuple[str, ...] = ()  # deliveries that raised
    log: str = ""


@dataclass(order=True)
class _Due:
    due: float
    seq: int
    event: AsyncEvent = field(compare=False)


AttemptFn = Callable[[AsyncEvent], Attempt]
SettingsFn = Callable[[AsyncEvent], AsyncSettings]
CountFn = Callable[..., None]


class AsyncQueue:
    """Worker threads that run accepted events, retry them on the lesson clock, and report their ends."""

    def __init__(
        self,
        attempt: AttemptFn,
        settings: SettingsFn,
        sender: Sender,
        clock: LessonClock,
        *,
        workers: int = 16,
        count: CountFn | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers={workers!r}: the async queue needs at least one worker")
        self._attempt = attempt
        self._settings = settings
        self.sender = sender
        self.clock = clock
        self._count = count or (lambda name, **increments: None)
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._random = random.Random()
        self._running = 0
        self._closing = False
        self._finished: set[str] = set()
        self.accepted = 0
        self.outcomes: list[AsyncOutcome] = []
        self.log: deque[str] = deque(maxlen=10_000)
        clock.subscribe(self._notify)

    # -- public -------------------------------------------------------------------------------

    def submit(self, event: AsyncEvent) -> None:
        """Accept an event: it will end exactly once."""
        with self._lock:
            if self._closing:
                raise RuntimeError("the async queue is closed")
            self.accepted += 1
            self._push(event, event.received_at)
            if len(self._threads) < self._workers:
                self._start_worker()
        self._count(event.function_name, async_received=1)

    @property
    def outstanding(self) -> int:
        """Events accepted and not ended yet."""
        with self._lock:
            return self.accepted - len(self.outcomes)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block (real seconds) until every accepted event has ended; False on timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: self.accepted == len(self.outcomes), timeout)

    def close(self, timeout: float = 5.0, join: bool = True) -> None:
        """Stop the workers; events still waiting end as Discarded (with a log line).

        Events being invoked end when their invoke returns (as Discarded unless it succeeded);
        `join=False` returns without waiting for that (call :meth:`join` later).
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
            waiting = [item.event for item in self._heap]
            self._heap.clear()
            self._wake.notify_all()
        self.clock.unsubscribe(self._notify)
        for event in waiting:
            self._end(event, DISCARDED, AsyncSettings(), reason="the service closed before the event ran")
        if join:
            self.join(timeout)

    def join(self, timeout: float = 5.0) -> None:
        """Wait (real seconds, per worker) for the workers to finish after close()."""
        for thread in self._threads:
            thread.join(timeout)

    # -- workers -------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        thread = threading.Thread(target=self._work, name=f"labkit-async-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def _push(self, event: AsyncEvent, due: float) -> None:
        heapq.heappush(self._heap, _Due(due, next(self._seq), event))
        self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while True:
                    if self._closing:
                        return
                    if self._heap:
                        head = self._heap[0]
                        if self.clock.wait_until(head.due, self._wake) and self._heap and self._heap[0] is head:
                            heapq.heappop(self._heap)
                            self._running += 1
                            break
                    else:
                        self._wake.wait()
            try:
                self._process(head.event)
            except Exception as exc:  # never lose an event to a bug: end it, say why
                LOG.exception("async event %s failed inside the queue", head.event.request_id)
                self._end(head.event, DISCARDED, AsyncSettings(), reason=f"internal error: {exc!r}")
            finally:
                with self._wake:
                    self._running -= 1
                    self._wake.notify_all()

    def _process(self, event: AsyncEvent) -> None:
        settings = self._settings(event)
        now = self.clock.now()
        if now >= event.received_at + settings.max_age_s:
            self._end(event, EVENT_AGE_EXCEEDED, settings)
            return
        if self._closing:
            self._end(event, DISCARDED, settings, reason="the service closed before the event ran")
            return
        attempt = self._attempt(event)
        if attempt.outcome == "success":
            event.invokes += 1
            event.last = attempt
            self._end(event, SUCCESS, settings)
        elif attempt.outcome == "gone":
            self._end(event, DISCARDED, settings, reason=attempt.error_message or "the function no longer exists")
        elif attempt.outcome == "throttled":
            event.throttles += 1
            if event.last is None or event.last.outcome == "throttled":
                event.last = attempt
            self._retry(event, self._backoff(event.throttles), settings)
        else:
            event.invokes += 1
            event.last = attempt
            if event.retries >= settings.max_retries or self._closing:
                self._end(event, RETRIES_EXHAUSTED if not self._closing else DISCARDED, settings,
                          reason="" if not self._closing else "the service closed before the event's retries")
                return
            delay = FIRST_RETRY_DELAY_S if event.retries == 0 else SECOND_RETRY_DELAY_S
            event.retries += 1
            self._count(event.function_name, async_retries=1)
            self._retry(event, delay, settings)

    def _backoff(self, throttles: int) -> float:
        """The wait before the next try after `throttles` throttles: 1 s doubling to 5 min, jittered.

        The jitter (a random part of the upper half of each step) keeps events throttled
        together from coming back together, which would throttle them again.
        """
        step = min(THROTTLE_BACKOFF_MAX_S, THROTTLE_BACKOFF_MIN_S * 2 ** (throttles - 1))
        return max(THROTTLE_BACKOFF_MIN_S, step * (0.5 + 0.5 * self._random.random()))

    def _retry(self, event: AsyncEvent, delay_s: float, settings: AsyncSettings) -> None:
        """Schedule the next try; an event that would be too old by then is looked at when it expires."""
        due = min(self.clock.now() + delay_s, event.received_at + settings.max_age_s)
        with self._lock:
            if not self._closing:
                self._push(event, due)
                return
        self._end(event, DISCARDED, settings, reason="the service closed before the event's retry")

    # -- the end -------------------------------------------------------------------------------

    def _end(self, event: AsyncEvent, condition: str, settings: AsyncSettings, reason: str = "") -> None:
        now = self.clock.now()
        age = now - event.received_at
        with self._lock:
            if event.request_id in self._finished:
                LOG.error("async event %s would have ended twice (%s): ignored", event.request_id, condition)
                return
            self._finished.add(event.request_id)
        delivered: list[str] = []
        failed: list[str] = []
        last = event.last or Attempt("none", status_code=0)
        if condition != DISCARDED:
            success = condition == SUCCESS
            target = settings.on_success if success else settings.on_failure
            if target:
                record = invocation_record(
                    request_id=event.request_id,
                    function_arn=event.function_arn,
                    condition=condition,
                    invoke_count=max(1, event.invokes + event.throttles),
                    request_payload=event.payload,
                    status_code=last.status_code,
                    executed_version=last.executed_version,
                    function_error=last.function_error,
                    response_payload=last.payload,
                    now=now,
                )
                self._deliver(target, delivered, failed, lambda: self.sender.send_record(target, record, success))
                if target in failed:
                    self._count(event.function_name, destination_failures=1)
            if not success and settings.dead_letter:
                dlq = settings.dead_letter
                attributes = dlq_attributes(event.request_id, last.status_code, last.error_message or condition)
                self._deliver(dlq, delivered, failed, lambda: self.sender.send_dead_letter(dlq, event.payload, attributes))
                if dlq in failed:
                    self._count(event.function_name, dead_letter_errors=1)
        line = self._log_line(event, condition, settings, age, delivered, failed, reason, now)
        if condition == EVENT_AGE_EXCEEDED:
            self._count(event.function_name, async_expired=1)
        if condition != SUCCESS and not delivered:
            self._count(event.function_name, async_dropped=1)
        outcome = AsyncOutcome(
            event.request_id, event.function_name, condition, event.invokes, event.throttles, now, age,
            tuple(delivered), tuple(failed), line,
        )
        with self._wake:
            self.outcomes.append(outcome)
            if line:
                self.log.append(line)
            self._wake.notify_all()
        if line:
            (LOG.warning if failed or (condition != SUCCESS and not delivered) else LOG.info)(line)

    @staticmethod
    def _deliver(target: str, delivered: list[str], failed: list[str], send: Callable[[], None]) -> None:
        try:
            send()
        except Exception as exc:
            LOG.warning("delivery to %s failed: %s", target, exc)
            failed.append(target)
        else:
            delivered.append(target)

    @staticmethod
    def _log_line(
        event: AsyncEvent, condition: str, settings: AsyncSettings, age: float, delivered: list[str],
        failed: list[str], reason: str, now: float,
    ) -> str:
        stamp = f"{iso_timestamp(now)} {event.request_id} {event.function_name}"
        tries = f"{event.invokes} invoke(s), {event.throttles} throttle(s)"
        if condition == SUCCESS:
            return f"{stamp} Success after {tries}" + (f"; record sent to {', '.join(delivered)}" if delivered else "")
        if condition == DISCARDED:
            return f"{stamp} Discarded after {tries}: {reason}"
        if condition == EVENT_AGE_EXCEEDED:
            what = (f"EventAgeExceeded: the event is {age:.0f} s old, past MaximumEventAgeInSeconds "
                    f"({settings.max_age_s:.0f} s), after {tries}")
        else:
            what = f"RetriesExhausted: the function failed {event.invokes} time(s) ({tries}, MaximumRetryAttempts {settings.max_retries})"
        if delivered:
            what += f"; record sent to {', '.join(delivered)}"
        if failed:
            what += f"; delivery FAILED to {', '.join(failed)}"
        if not delivered:
            what += "; the event is dropped (configure an on-failure destination or a dead-letter queue to keep it)"
        return f"{stamp} {what}"
