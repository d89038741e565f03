"""EventBridge schedule expressions: ``rate(5 minutes)`` and AWS's six-field ``cron(...)``, in UTC.

:func:`parse` turns an expression into a :class:`Rate` or a :class:`Cron`; both answer
``next_after(epoch)``: the first firing strictly after that moment. AWS's cron fields are
minutes, hours, day-of-month, month, day-of-week, year; one of day-of-month and day-of-week
must be ``?``; days of the week count from 1 = SUN; ``L``, ``W`` and ``#`` work as on AWS.

>>> parse("cron(0 12 ? * MON-FRI *)").next_after(0)     # 1970-01-01 was a Thursday: noon that day
43200.0
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from labkit.errors import LabkitError

RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
LAST_YEAR = 2199

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


class ScheduleExpressionError(LabkitError, ValueError):
    """A rate(...) or cron(...) expression EventBridge would reject."""


@dataclass(frozen=True)
class Rate:
    """``rate(N unit)``: every `seconds`, counted from when the rule was created."""

    expression: str
    seconds: int

    def next_after(self, epoch: float, anchor: float | None = None) -> float:
        """The first firing after `epoch` of a schedule that started at `anchor` (default: `epoch`)."""
        start = epoch if anchor is None else anchor
        periods = max(0, int((epoch - start) // self.seconds)) + 1
        return start + periods * self.seconds


@dataclass(frozen=True)
class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)``, in UTC."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    days: frozenset[int] | None  # day-of-month values (None: '?')
    last_day: bool  # day-of-month 'L'
    nearest_weekday: int | None  # day-of-month 'NW'
    weekdays: frozenset[int] | None  # 1 = SUN ... 7 = SAT (None: '?')
    last_weekday: int | None  # day-of-week 'NL': the last such weekday of the month
    nth_weekday: tuple[int, int] | None  # day-of-week 'D#N'

    def next_after(self, epoch: float, anchor: float | None = None) -> float:
        """The first minute after `epoch` that matches (`anchor` is ignored: cron is wall-clock time)."""
        start = dt.datetime.fromtimestamp(int(epoch // 60) * 60, dt.timezone.utc) + dt.timedelta(minutes=1)
        day = start.date()
        while day.year <= LAST_YEAR:
            if day.year not in self.years:
                day = dt.date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = _first_of_next_month(day)
                continue
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)
                        if moment >= start:
                            return moment.timestamp()
            day += dt.timedelta(days=1)
        raise ScheduleExpressionError(f"{self.expression} never fires again (its years end before {LAST_YEAR + 1})")

    def _day_matches(self, day: dt.date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if self.weekdays is None and self.last_weekday is None and self.nth_weekday is None:  # day-of-week is '?'
            if self.last_day:
                return day.day == last
            if self.nearest_weekday is not None:
                return day.day == _nearest_weekday(day.year, day.month, self.nearest_weekday)
            return self.days is not None and day.day in self.days
        weekday = day.isoweekday() % 7 + 1  # 1 = SUN
        if self.last_weekday is not None:
            return weekday == self.last_weekday and day.day + 7 > last
        if self.nth_weekday is not None:
            wanted, nth = self.nth_weekday
            return weekday == wanted and (day.day - 1) // 7 + 1 == nth
        return self.weekdays is not None and weekday in self.weekdays


Schedule = Rate | Cron


def parse(expression: str) -> Schedule:
    """A schedule from ``rate(value unit)`` or ``cron(fields)``; ScheduleExpressionError says what is wrong."""
    text = (expression or "").strip()
    rate = _RATE.match(text)
    if rate:
        return _parse_rate(text, int(rate.group(1)), rate.group(2))
    cron = _CRON.match(text)
    if cron:
        return _parse_cron(text, cron.group(1).split())
    raise ScheduleExpressionError(
        f"{expression!r} is not a schedule expression: write rate(5 minutes) or cron(0 12 * * ? *) "
        "(six fields: minutes hours day-of-month month day-of-week year, in UTC)"
    )


def _parse_rate(text: str, value: int, unit: str) -> Rate:
    if value < 1:
        raise ScheduleExpressionError(f"{text}: the value must be a positive whole number, e.g. rate(1 minute)")
    singular = unit.rstrip("s")
    if value == 1 and unit != singular:
        raise ScheduleExpressionError(f"{text}: a value of 1 takes the singular unit: rate(1 {singular})")
    if value > 1 and unit == singular:
        raise ScheduleExpressionError(f"{text}: a value above 1 takes the plural unit: rate({value} {singular}s)")
    return Rate(text, value * RATE_UNITS[singular])


def _parse_cron(text: str, fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise ScheduleExpressionError(
            f"{text} has {len(fields)} fields; AWS's cron has six: minutes hours day-of-month month day-of-week year, "
            "e.g. cron(0 12 * * ? *) for every day at noon UTC"
        )
    minute_f, hour_f, dom_f, month_f, dow_f, year_f = (field.upper() for field in fields)
    if (dom_f == "?") == (dow_f == "?"):
        raise ScheduleExpressionError(
            f"{text}: exactly one of day-of-month and day-of-week must be '?', e.g. cron(0 12 * * ? *) "
            "(every day) or cron(0 12 ? * MON *) (Mondays)"
        )
    cron: dict[str, Any] = dict(
        expression=text,
        minutes=_values(text, "minutes", minute_f, 0, 59),
        hours=_values(text, "hours", hour_f, 0, 23),
        months=_values(text, "month", month_f, 1, 12, MONTHS),
        years=_values(text, "year", year_f, 1970, LAST_YEAR),
        days=None, last_day=False, nearest_weekday=None, weekdays=None, last_weekday=None, nth_weekday=None,
    )
    if dow_f == "?":
        if dom_f == "L":
            cron["last_day"] = True
        elif dom_f.endswith("W"):
            cron["nearest_weekday"] = _number(text, "day-of-month", dom_f[:-1], 1, 31)
        else:
            cron["days"] = _values(text, "day-of-month", dom_f, 1, 31)
    elif dow_f.endswith("L") and dow_f != "L":
        cron["last_weekday"] = _number(text, "day-of-week", dow_f[:-1], 1, 7, WEEKDAYS)
    elif "#" in dow_f:
        day, _, nth = dow_f.partition("#")
        cron["nth_weekday"] = (_number(text, "day-of-week", day, 1, 7, WEEKDAYS), _number(text, "day-of-week", nth, 1, 5))
    else:
        cron["weekdays"] = _values(text, "day-of-week", "7" if dow_f == "L" else dow_f, 1, 7, WEEKDAYS)
    return Cron(**cron)  # type: ignore[arg-type]


def _values(text: str, field: str, spec: str, low: int, high: int, names: tuple[str, ...] = ()) -> frozenset[int]:
    """The values of one field: lists (a,b), ranges (a-b), steps (*/n, a/n, a-b/n) and '*'."""
    values: set[int] = set()
    for item in spec.split(","):
        part, _, step_text = item.partition("/")
        step = _number(text, field, step_text, 1, high) if step_text else 1
        if part == "*":
            first, last = low, high
        elif "-" in part:
            first_text, _, last_text = part.partition("-")
            first = _number(text, field, first_text, low, high, names)
            last = _number(text, field, last_text, low, high, names)
        else:
            first = _number(text, field, part, low, high, names)
            last = high if step_text else first
        if first > last:
            raise ScheduleExpressionError(f"{text}: the {field} range {part} runs backwards; write it low-high")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _number(text: str, field: str, token: str, low: int, high: int, names: tuple[str, ...] = ()) -> int:
    if token in names:
        return names.index(token) + low
    if not token.isdigit() or not low <= int(token) <= high:
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise ScheduleExpressionError(f"{text}: {token!r} is not a valid {field} value (allowed: {allowed})")
    return int(token)


def _first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _nearest_weekday(year: int, month: int, wanted: int) -> int:
    """The weekday (Mon-Fri) nearest to day `wanted` of the month, without leaving the month (cron's 'W')."""
    last = calendar.monthrange(year, month)[1]
    day = min(wanted, last)
    weekday = dt.date(year, month, day).weekday()  # 0 = Monday
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return day + 1 if day < last else day - 2
    return day
