"""The thread that fires EventBridge schedule rules on the lesson clock.

A local AWS starts it when its EventBridge API is first used.

Each enabled rule with a ScheduleExpression fires at its expression's times: ``rate(...)`` counted
from when the scheduler first saw the rule, ``cron(...)`` at wall-clock minutes (UTC) of lesson
time. ``labkit.clock.speed(60)`` makes ``rate(1 minute)`` fire every real second. A firing sends
the Scheduled Event to the rule's targets (Lambda targets through the bridge). If the clock runs
so fast that more than MAX_CATCH_UP firings of one rule are due at once, the rest are skipped, as
a real scheduler never bunches them up. :meth:`Scheduler.stop` ends and joins the thread.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labkit.aws.embedded.hooks import schedule_rules
from labkit.triggers.eventbridge import scheduled_firing_event
from labkit.triggers.schedule import Schedule, ScheduleExpressionError, parse

if TYPE_CHECKING:
    from labkit.triggers.bridge import TriggerBridge

log = logging.getLogger(__name__)

POLL_S = 0.1
"""Longest real wait between looks at the rules (new rules, changes of clock speed)."""
MAX_CATCH_UP = 10


@dataclass
class _Timer:
    schedule: Schedule
    anchor: float  # lesson time the scheduler first saw the rule
    due: float  # lesson time of the next firing


class Scheduler:
    """Fires the schedule rules of the embedded EventBridge through `bridge`; one thread, started by :meth:`start`."""

    def __init__(self, bridge: TriggerBridge) -> None:
        self.bridge = bridge
        self._stop = threading.Event()
        self._timers: dict[tuple[str, str], _Timer] = {}
        self._invalid: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="labkit-schedules", daemon=True)
        self.fired = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        from labkit.triggers.bridge import serving

        with serving(self.bridge):
            self._loop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            clock = self.bridge.clock
            try:
                next_due = self.tick(clock.now())
            except Exception:  # pragma: no cover - keep firing the other rules; say why once per tick
                log.exception("the schedule rules could not be read")
                next_due = None
            wait = POLL_S if next_due is None else min(POLL_S, clock.real_seconds(next_due - clock.now()))
            self._stop.wait(max(wait, 0.001))

    def tick(self, now: float) -> float | None:
        """Fire every due rule at lesson time `now`; return when the next one is due (None: no rules)."""
        seen: set[tuple[str, str]] = set()
        for rule in schedule_rules():
            key = (rule.arn, rule.expression)
            seen.add(key)
            if key in self._invalid:
                continue
            timer = self._timers.get(key) or self._new_timer(key, now)
            if timer is None:
                self._invalid.add(key)
                continue
            fired = 0
            while timer.due <= now and not self._stop.is_set():
                if fired < MAX_CATCH_UP:
                    rule.fire(scheduled_firing_event(rule, timer.due))
                    fired += 1
                    self.fired += 1
                timer.due = timer.schedule.next_after(timer.due if fired < MAX_CATCH_UP else now, timer.anchor)
        for key in set(self._timers) - seen:
            del self._timers[key]
        return min((timer.due for timer in self._timers.values()), default=None)

    def _new_timer(self, key: tuple[str, str], now: float) -> _Timer | None:
        try:
            schedule = parse(key[1])
        except ScheduleExpressionError as exc:  # accepted before the bridge was installed
            log.warning("rule %s: %s", key[0], exc)
            return None
        timer = self._timers[key] = _Timer(schedule, now, schedule.next_after(now, now))
        return timer
