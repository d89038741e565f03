"""The lesson clock: the time every wait of the Lambda service is measured in.

Lambda's asynchronous queue waits one minute, then two, between retries and keeps an event up
to six hours. A lesson cannot wait that long, so the service measures those waits on a clock
that can run faster than real time: ``labkit.clock.speed(60)`` makes one lesson minute last one
real second. At speed 1 (the default) lesson time is wall-clock time.

Lesson time is epoch seconds, like :func:`time.time`, and never runs backwards: changing the
speed re-anchors the clock at the current lesson time. Waiters (:meth:`LessonClock.wait_until`)
are woken when the speed changes, so a retry already waiting picks up the new speed at once.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["CLOCK", "LessonClock", "now", "sleep", "speed"]


class LessonClock:
    """A clock whose seconds last ``1 / speed`` real seconds; thread-safe.

    >>> clock = LessonClock(speed=60)
    >>> start = clock.now(); clock.sleep(60); round(clock.now() - start) >= 60   # one real second
    True
    """

    def __init__(self, speed: float = 1.0, *, start: float | None = None) -> None:
        _check_speed(speed)
        self._lock = threading.Lock()
        # (real monotonic anchor, lesson anchor, speed): replaced whole, read without the lock.
        self._state = (time.monotonic(), time.time() if start is None else start, float(speed))
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        """Lesson time in epoch seconds."""
        real, lesson, factor = self._state
        return lesson + (time.monotonic() - real) * factor

    def speed(self, factor: float | None = None) -> float:
        """Set how many lesson seconds pass per real second (when given); return the speed in force."""
        if factor is None:
            return self._state[2]
        _check_speed(factor)
        with self._lock:
            real = time.monotonic()
            old_real, lesson, old_factor = self._state
            self._state = (real, lesson + (real - old_real) * old_factor, float(factor))
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
        return float(factor)

    def real_seconds(self, lesson_seconds: float) -> float:
        """How long `lesson_seconds` last in real time at the current speed."""
        return max(0.0, lesson_seconds) / self._state[2]

    def sleep(self, lesson_seconds: float) -> None:
        """Sleep for `lesson_seconds` of lesson time (shorter in real time when the clock runs fast)."""
        deadline = self.now() + lesson_seconds
        event = threading.Event()
        self.subscribe(event.set)
        try:
            while True:
                remaining = deadline - self.now()
                if remaining <= 0:
                    return
                event.clear()
                event.wait(self.real_seconds(remaining))
        finally:
            self.unsubscribe(event.set)

    def wait_until(self, deadline: float, condition: threading.Condition) -> bool:
        """Wait on `condition` (held by the caller) until lesson time `deadline` or a notify.

        Returns True when the deadline has passed. Register ``condition.notify_all`` with
        :meth:`subscribe` so that a change of speed wakes the waiter.
        """
        remaining = deadline - self.now()
        if remaining <= 0:
            return True
        condition.wait(self.real_seconds(remaining))
        return deadline <= self.now()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` (without arguments) after every change of speed."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            try:
                self._listeners.remove(listener)
            except ValueError:
                pass

    def __repr__(self) -> str:
        return f"<LessonClock speed={self._state[2]:g}x now={self.now():.3f}>"


def _check_speed(factor: float) -> None:
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise ValueError(f"clock speed {factor!r} must be a positive number: 1 is real time, 60 makes a minute last a second")


#: The clock of the notebook (and of every service that is not given its own).
CLOCK = LessonClock()


def speed(factor: float | None = None) -> float:
    """``labkit.clock.speed(60)``: one lesson second lasts 1/60 of a real second; without an argument, the speed."""
    return CLOCK.speed(factor)


def now() -> float:
    """Lesson time (epoch seconds) on the notebook's clock."""
    return CLOCK.now()


def sleep(lesson_seconds: float) -> None:
    """Sleep for lesson seconds on the notebook's clock."""
    CLOCK.sleep(lesson_seconds)
