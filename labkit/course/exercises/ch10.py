"""Chapter 10, monitoring and observability: an alarm on a function's error rate, driven through an
error burst and back; the slow dependency found in a trace.

The alarm check runs against the process-wide local AWS (`labkit.aws.start()`), whose Lambda
service is observed by `labkit.observe`: it invokes the alarm's function with a burst of failing
events (``{"fail": true}``), then with healthy ones, on a fast lesson clock, and reads the
alarm's state after each.
"""
from __future__ import annotations

import json
from typing import Any

from labkit.course.checks import exercise, expect

BURST: list[dict[str, Any]] = [{"fail": True}] * 6 + [{}] * 4  # 60 % of the burst fails
HEALTHY: list[dict[str, Any]] = [{}] * 5
CHECK_SPEED = 20  # lesson seconds per real second while the check runs: a 60 s period lasts 3 s
SLOW_DEPENDENCY = "load_exchange_rates"


@exercise("10.error-alarm", title="An alarm on the error rate")
def error_alarm(answer: Any) -> None:
    """`answer`: the AlarmName of an alarm on the error rate of a function that fails on ``{"fail": true}``."""
    from labkit import observe
    from labkit.aws import current

    expect(isinstance(answer, str), "pass the alarm's name (the AlarmName you gave put_metric_alarm), a string.")
    aws = current()
    expect(aws is not None, "the local AWS is not running: run the chapter's first cells (labkit.aws.start()).")
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNames=[answer])["MetricAlarms"]
    expect(bool(alarms), f"there is no alarm named {answer!r}: create it with cloudwatch.put_metric_alarm(AlarmName={answer!r}, ...).")
    alarm = alarms[0]
    expect(alarm.get("Namespace") == "AWS/Lambda" and alarm.get("MetricName") == "Errors",
           "alarm on Lambda's Errors metric (Namespace 'AWS/Lambda', MetricName 'Errors').")
    dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    expect("FunctionName" in dimensions, "give the alarm the dimension FunctionName, so it watches one function.")
    expect(alarm.get("Statistic") == "Average",
           "the Sum of Errors counts errors, not their share: Lambda publishes Errors as 0 or 1 per invocation, "
           "so which statistic over a period is the error rate?")
    threshold = float(alarm["Threshold"])
    expect(0 < threshold <= 0.5, f"a threshold of {threshold:g} is not an error rate the check can cross: use a fraction "
           "between 0 and 0.5 (0.1 means 10 % of invocations failed).")
    expect(alarm["ComparisonOperator"] in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold"),
           "the alarm should fire when the error rate goes *above* the threshold.")
    period, periods = int(alarm["Period"]), int(alarm["EvaluationPeriods"])
    expect(period * periods <= 300, "keep the alarm's window (Period × EvaluationPeriods) within 5 minutes.")
    observer = observe.observer(aws)
    lam = aws.client("lambda")
    name = dimensions["FunctionName"]
    clock = observer.clock
    speed = clock.speed()
    clock.speed(CHECK_SPEED)
    try:
        clock.sleep(period - clock.now() % period + 0.5)  # start at the beginning of a period
        failures = _invoke(lam, name, BURST)
        expect(failures == 6, f"{name} failed {failures} of the 6 events {{'fail': true}}: the alarm's function must raise for them.")
        state = observer.alarm_state(answer)
        expect(state == "ALARM", f"while 60 % of the invocations of {name} failed, the alarm stayed {state}: with DatapointsToAlarm "
               "above 1, one bad period is not enough; check the threshold and the comparison too.")
        for _ in range(periods):
            clock.sleep(period - clock.now() % period + 0.5)
            _invoke(lam, name, HEALTHY)
        state = observer.alarm_state(answer)
        expect(state == "OK", f"after {periods} healthy period(s) the alarm is still {state}: healthy invocations should "
               "bring the error rate under the threshold.")
    finally:
        clock.speed(speed)


def _invoke(lam: Any, name: str, events: list[dict[str, Any]]) -> int:
    failures = 0
    for event in events:
        response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        failures += "FunctionError" in response
    return failures


@exercise("10.slow-dep", title="Find the slow dependency in a trace")
def slow_dependency(answer: Any) -> None:
    """`answer`: the name of the subsegment (under the handler's) that took the longest."""
    expect(isinstance(answer, str), "pass the subsegment's name, a string (Span.name).")
    short = answer.removeprefix("## ").rsplit(".", 1)[-1]
    expect(short not in ("handler", "Invocation", "Initialization", "checkout"),
           f"{answer!r} is the whole invocation, not one dependency: look at the children of '## handler'.")
    expect(short == SLOW_DEPENDENCY, f"{answer!r} is not the slowest call under the handler: compare the durations of the "
           "handler's children (the spans whose parent_id is the handler's id).")
