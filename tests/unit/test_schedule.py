"""Schedule expressions: rate(...) and AWS's six-field cron(...), next firings in UTC, clear errors."""
from __future__ import annotations

import datetime as dt

import pytest

from labkit.triggers.schedule import Cron, Rate, ScheduleExpressionError, parse


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M %a")


def firings(expression: str, after: str, count: int) -> list[str]:
    schedule, moment, found = parse(expression), utc(after), []
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(iso(moment))
    return found


def test_rates_count_from_their_anchor() -> None:
    rate = parse("rate(5 minutes)")
    assert isinstance(rate, Rate) and rate.seconds == 300
    assert rate.next_after(1000.0, anchor=1000.0) == 1300.0
    assert rate.next_after(1299.0, anchor=1000.0) == 1300.0 and rate.next_after(1300.0, anchor=1000.0) == 1600.0
    assert parse("rate(1 hour)").seconds == 3600 and parse("rate(2 days)").seconds == 172800


@pytest.mark.parametrize("expression, after, expected", [
    ("cron(0 12 * * ? *)", "2026-11-23 12:00", ["2026-11-24 12:00 Tue", "2026-11-25 12:00 Wed"]),
    ("cron(0/15 * * * ? *)", "2026-11-23 10:07", ["2026-11-23 10:15 Mon", "2026-11-23 10:30 Mon"]),
    ("cron(0 18 ? * MON-FRI *)", "2026-11-27 19:00", ["2026-11-30 18:00 Mon", "2026-12-01 18:00 Tue"]),
    ("cron(0 8 1 * ? *)", "2026-11-23 00:00", ["2026-12-01 08:00 Tue", "2027-01-01 08:00 Fri"]),
    ("cron(30 9 L * ? *)", "2027-02-01 00:00", ["2027-02-28 09:30 Sun", "2027-03-31 09:30 Wed"]),
    ("cron(0 10 ? * 6L 2027)", "2027-01-01 00:00", ["2027-01-29 10:00 Fri", "2027-02-26 10:00 Fri"]),
    ("cron(0 10 ? * 3#2 *)", "2026-11-23 00:00", ["2026-12-08 10:00 Tue", "2027-01-12 10:00 Tue"]),
    ("cron(0 9 15W * ? *)", "2026-11-01 00:00", ["2026-11-16 09:00 Mon", "2026-12-15 09:00 Tue"]),
    ("cron(15 10 ? * SUN,SAT *)", "2026-11-23 00:00", ["2026-11-28 10:15 Sat", "2026-11-29 10:15 Sun"]),
    ("cron(0 0 29 FEB ? *)", "2026-01-01 00:00", ["2028-02-29 00:00 Tue", "2032-02-29 00:00 Sun"]),
])
def test_cron_firings_follow_aws_fields(expression: str, after: str, expected: list[str]) -> None:
    assert isinstance(parse(expression), Cron)
    assert firings(expression, after, 2) == expected


@pytest.mark.parametrize("expression, hint", [
    ("cron(0 12 * * *)", "six"),
    ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 12 ? * ? *)", "exactly one of day-of-month and day-of-week"),
    ("cron(61 12 * * ? *)", "'61' is not a valid minutes value"),
    ("cron(0 12 ? * FUNDAY *)", "day-of-week"),
    ("cron(0 12-10 * * ? *)", "backwards"),
    ("rate(1 minutes)", "rate(1 minute)"),
    ("rate(5 minute)", "rate(5 minutes)"),
    ("rate(0 minutes)", "positive"),
    ("every 5 minutes", "rate(5 minutes) or cron("),
])
def test_bad_expressions_say_what_to_write(expression: str, hint: str) -> None:
    with pytest.raises(ScheduleExpressionError, match=None) as caught:
        parse(expression)
    assert hint in str(caught.value)


def test_a_cron_whose_years_have_passed_says_so() -> None:
    with pytest.raises(ScheduleExpressionError, match="never fires again"):
        parse("cron(0 0 1 1 ? 1999)").next_after(utc("2026-01-01 00:00"))
