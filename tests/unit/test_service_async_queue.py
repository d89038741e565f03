"""The async queue on its own: retry delays, throttle back-off, event age, records, and the end of every event.

The function is a fake (`Plan`): each event's payload lists what its attempts return, so the
tests run in milliseconds on a fast lesson clock.
"""
from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections import Counter
from typing import Any

import pytest

from labkit.service.async_queue import (
    DISCARDED,
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    AsyncEvent,
    AsyncQueue,
    AsyncSettings,
    Attempt,
)
from labkit.service.clock import LessonClock
from labkit.service.destinations import RecordingSender

OK = "arn:aws:sqs:us-east-1:123456789012:ok"
FAILED = "arn:aws:sqs:us-east-1:123456789012:failed"
DLQ = "arn:aws:sqs:us-east-1:123456789012:dlq"
FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:worker:$LATEST"


class Plan:
    """A fake function: attempt n of an event returns payload["plan"][n] (the last entry repeats)."""

    def __init__(self, clock: LessonClock, delay_s: float = 0.0) -> None:
        self.clock = clock
        self.delay_s = delay_s
        self.calls: dict[str, list[tuple[float, str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: AsyncEvent) -> Attempt:
        plan = json.loads(event.payload)["plan"]
        with self._lock:
            calls = self.calls.setdefault(event.request_id, [])
            kind = plan[min(len(calls), len(plan) - 1)]
            calls.append((self.clock.now(), kind))
        if self.delay_s:
            time.sleep(self.delay_s)
        if kind == "success":
            return Attempt("success", payload=b'{"done": true}', executed_version="$LATEST")
        if kind == "throttle":
            return Attempt("throttled", status_code=429, error_message="Rate Exceeded.")
        return Attempt(
            "error",
            payload=b'{"errorMessage": "boom", "errorType": "ValueError"}',
            executed_version="$LATEST",
            function_error="Unhandled",
            error_message="boom",
        )


def make_queue(
    speed: float = 20_000, settings: AsyncSettings | None = None, workers: int = 4, sender: Any = None, delay_s: float = 0.0
) -> tuple[AsyncQueue, Plan, RecordingSender, LessonClock]:
    clock = LessonClock(speed=speed)
    plan = Plan(clock, delay_s)
    recorder = sender or RecordingSender()
    chosen = settings or AsyncSettings(on_success=OK, on_failure=FAILED, dead_letter=DLQ)
    queue = AsyncQueue(plan, lambda event: chosen, recorder, clock, workers=workers)
    return queue, plan, recorder, clock


def submit(queue: AsyncQueue, clock: LessonClock, plan: list[str], request_id: str | None = None) -> AsyncEvent:
    event = AsyncEvent(
        request_id=request_id or f"req-{random.random()}",
        function_name="worker",
        qualifier=None,
        payload=json.dumps({"plan": plan}).encode(),
        received_at=clock.now(),
        function_arn=FN_ARN,
    )
    queue.submit(event)
    return event


def test_a_success_sends_lambdas_invocation_record_to_the_on_success_destination() -> None:
    queue, _plan, sender, clock = make_queue()
    event = submit(queue, clock, ["success"], "req-1")
    assert queue.wait_idle(5)
    queue.close()
    [outcome] = queue.outcomes
    assert (outcome.condition, outcome.invokes, outcome.delivered) == (SUCCESS, 1, (OK,))
    [sent] = sender.sent
    record = sent.body
    assert (sent.kind, sent.arn, sent.success) == ("destination", OK, True)
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"}
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": "req-1", "functionArn": FN_ARN, "condition": "Success", "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == json.loads(event.payload)
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"done": True}


def test_function_errors_are_retried_after_one_then_two_lesson_minutes() -> None:
    queue, plan, _sender, clock = make_queue(speed=1_200)  # 1 lesson minute = 50 ms
    submit(queue, clock, ["error", "error", "success"], "req-2")
    assert queue.wait_idle(5)
    queue.close()
    times = [t for t, _ in plan.calls["req-2"]]
    assert len(times) == 3
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert 60 <= first_gap < 90, first_gap
    assert 120 <= second_gap < 150, second_gap
    assert queue.outcomes[0].condition == SUCCESS and queue.outcomes[0].invokes == 3


def test_retries_exhausted_goes_to_on_failure_and_the_dead_letter_queue() -> None:
    queue, plan, sender, clock = make_queue()
    event = submit(queue, clock, ["error"], "req-3")
    assert queue.wait_idle(5)
    queue.close()
    assert len(plan.calls["req-3"]) == 3, "default MaximumRetryAttempts is 2: three attempts in all"
    [outcome] = queue.outcomes
    assert outcome.condition == RETRIES_EXHAUSTED and set(outcome.delivered) == {FAILED, DLQ}
    record = next(s for s in sender.sent if s.kind == "destination").body
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "boom"
    dead = next(s for s in sender.sent if s.kind == "dlq")
    assert dead.arn == DLQ and json.loads(dead.body) == json.loads(event.payload)
    assert dead.attributes == {
        "RequestID": {"DataType": "String", "StringValue": "req-3"},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "boom"},
    }


@pytest.mark.parametrize("retries", [0, 1])
def test_maximum_retry_attempts_bounds_the_attempts(retries: int) -> None:
    queue, plan, _sender, clock = make_queue(settings=AsyncSettings(max_retries=retries))
    submit(queue, clock, ["error"], "req-4")
    assert queue.wait_idle(5)
    queue.close()
    assert len(plan.calls["req-4"]) == retries + 1


def test_throttles_back_off_from_one_second_doubling_until_the_event_is_too_old() -> None:
    settings = AsyncSettings(max_age_s=120, on_failure=FAILED)
    queue, plan, sender, clock = make_queue(speed=500, settings=settings)  # 120 lesson s = 0.24 real s
    submit(queue, clock, ["throttle"], "req-5")
    assert queue.wait_idle(5)
    queue.close()
    times = [t for t, _ in plan.calls["req-5"]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # steps of 1, 2, 4, 8, 16, 32, 64 s, each wait jittered within the upper half of its step
    assert len(gaps) >= 5
    for gap, step in zip(gaps, [1, 2, 4, 8, 16, 32, 64]):
        assert max(1, step / 2) <= gap < step * 1.2 + 3, gaps
    [outcome] = queue.outcomes
    assert outcome.condition == EVENT_AGE_EXCEEDED
    assert 120 <= outcome.age_s < 125
    assert "EventAgeExceeded" in outcome.log and "120 s" in outcome.log
    record = sender.sent[0].body
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["responseContext"]["statusCode"] == 429


def test_throttle_back_off_is_capped_at_five_minutes() -> None:
    queue, _plan, _sender, _clock = make_queue()
    queue.close()
    for throttles in range(1, 30):
        step = min(300, 2 ** (throttles - 1))
        waits = [queue._backoff(throttles) for _ in range(50)]
        assert all(max(1, step / 2) <= wait <= step for wait in waits), (throttles, waits)
    assert max(queue._backoff(40) for _ in range(200)) <= 300


def test_throttled_events_do_not_come_back_in_lockstep() -> None:
    queue, plan, _sender, clock = make_queue(speed=10_000, settings=AsyncSettings(max_age_s=600))
    for i in range(20):
        submit(queue, clock, ["throttle"] * 5 + ["success"], f"req-j{i}")
    assert queue.wait_idle(5)
    queue.close()
    fifth = sorted(calls[5][0] - calls[0][0] for calls in plan.calls.values())
    assert fifth[-1] - fifth[0] > 3, "throttled together, retried together: the back-off has no jitter"


def test_an_expired_event_without_destinations_is_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    queue, _plan, sender, clock = make_queue(speed=5_000, settings=AsyncSettings(max_age_s=60))
    submit(queue, clock, ["error"], "req-7")  # retry due at 60 s: exactly the maximum age
    with caplog.at_level("WARNING", logger="labkit.service.async"):
        assert queue.wait_idle(5)
        queue.close()
    [outcome] = queue.outcomes
    assert outcome.condition == EVENT_AGE_EXCEEDED and outcome.delivered == ()
    assert "dropped" in outcome.log
    assert any("req-7" in record.getMessage() and "dropped" in record.getMessage() for record in caplog.records)
    assert list(queue.log) == [outcome.log]
    assert sender.sent == []


class FlakySender(RecordingSender):
    def send_record(self, destination_arn: str, record: dict[str, Any], success: bool) -> None:
        raise ConnectionError("queue is gone")


def test_a_failed_delivery_still_ends_the_event_once_and_says_so() -> None:
    queue, _plan, _sender, clock = make_queue(sender=FlakySender())
    submit(queue, clock, ["error"], "req-8")
    assert queue.wait_idle(5)
    queue.close()
    [outcome] = queue.outcomes
    assert outcome.failed == (FAILED,) and outcome.delivered == (DLQ,)
    assert "FAILED" in outcome.log


def test_closing_discards_waiting_events_once_each() -> None:
    queue, plan, _sender, clock = make_queue(speed=1)  # retries would wait a real minute
    for i in range(5):
        submit(queue, clock, ["error"], f"req-c{i}")
    deadline = time.monotonic() + 5
    while sum(len(calls) for calls in plan.calls.values()) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.close()
    assert sorted(o.request_id for o in queue.outcomes) == [f"req-c{i}" for i in range(5)]
    assert {o.condition for o in queue.outcomes} == {DISCARDED}
    with pytest.raises(RuntimeError, match="closed"):
        submit(queue, clock, ["success"])


def test_every_accepted_event_ends_exactly_once_under_concurrent_load() -> None:
    """1,000 events, random errors and throttles, 8 workers, submitted from 4 threads: none lost, none twice."""
    rng = random.Random(7)
    plans = {}
    for i in range(1000):
        prefix = [rng.choice(["error", "throttle"]) for _ in range(rng.randint(0, 3))]
        plans[f"req-{i:04d}"] = prefix + [rng.choice(["success", "success", "error", "throttle"])]
    # at 2,000x the retries' 3 minutes take 90 ms and the hour of maximum age 1.8 s: every kind of end
    # occurs, with room for a loaded machine (at 20,000x the age ran out before retries could)
    settings = AsyncSettings(max_retries=2, max_age_s=3600, on_success=OK, on_failure=FAILED, dead_letter=DLQ)
    queue, plan, sender, clock = make_queue(speed=2_000, settings=settings, workers=8, delay_s=0.0002)
    ids = sorted(plans)

    def feed(part: list[str]) -> None:
        for request_id in part:
            submit(queue, clock, plans[request_id], request_id)

    feeders = [threading.Thread(target=feed, args=(ids[k::4],)) for k in range(4)]
    for thread in feeders:
        thread.start()
    for thread in feeders:
        thread.join()
    assert queue.wait_idle(60), f"{queue.outstanding} events never ended"
    queue.close()

    ends = Counter(outcome.request_id for outcome in queue.outcomes)
    assert set(ends) == set(ids), "events were lost"
    assert max(ends.values()) == 1, "an event ended twice"
    conditions = Counter(outcome.condition for outcome in queue.outcomes)
    assert set(conditions) <= {SUCCESS, RETRIES_EXHAUSTED, EVENT_AGE_EXCEEDED}
    assert conditions[SUCCESS] and conditions[RETRIES_EXHAUSTED] and conditions[EVENT_AGE_EXCEEDED], conditions
    # each success sent one record; each failure one record and one DLQ message
    records = Counter((s.kind, s.arn) for s in sender.sent)
    failures = len(ids) - conditions[SUCCESS]
    assert records == Counter({("destination", OK): conditions[SUCCESS], ("destination", FAILED): failures, ("dlq", DLQ): failures})
    sent_ids = Counter(s.body["requestContext"]["requestId"] for s in sender.sent if s.kind == "destination")
    assert set(sent_ids) == set(ids) and max(sent_ids.values()) == 1
    # the attempts follow each event's plan: never more than 3 function invokes
    for request_id, calls in plan.calls.items():
        assert sum(1 for _, kind in calls if kind == "error") <= 3
        outcome = next(o for o in queue.outcomes if o.request_id == request_id)
        assert outcome.invokes + outcome.throttles == len(calls)
