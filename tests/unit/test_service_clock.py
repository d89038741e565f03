"""The lesson clock: speed, monotonic lesson time, waits woken by a change of speed."""
from __future__ import annotations

import threading
import time

import pytest

import labkit
from labkit.service.clock import LessonClock


def test_at_speed_one_lesson_time_is_wall_clock_time() -> None:
    clock = LessonClock()
    assert clock.speed() == 1
    assert abs(clock.now() - time.time()) < 0.05


def test_a_fast_clock_makes_lesson_seconds_short() -> None:
    clock = LessonClock(speed=600)
    start_real, start_lesson = time.monotonic(), clock.now()
    clock.sleep(60)  # one lesson minute = 0.1 real seconds
    real = time.monotonic() - start_real
    assert clock.now() - start_lesson >= 60
    assert 0.09 <= real < 1.0
    assert clock.real_seconds(120) == pytest.approx(0.2)


def test_changing_speed_keeps_lesson_time_continuous_and_monotonic() -> None:
    clock = LessonClock(speed=1000)
    time.sleep(0.02)
    before = clock.now()
    clock.speed(1)
    after = clock.now()
    assert 0 <= after - before < 1.0  # no jump back, no jump forward
    readings = []
    for factor in (5, 0.5, 100, 1):
        clock.speed(factor)
        readings.append(clock.now())
    assert readings == sorted(readings)


def test_a_waiter_picks_up_a_new_speed_at_once() -> None:
    clock = LessonClock(speed=1)
    done = threading.Event()

    def wait() -> None:
        clock.sleep(3600)  # an hour of lesson time
        done.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    time.sleep(0.05)
    assert not done.is_set()
    clock.speed(1_000_000)  # the hour now lasts 3.6 ms
    assert done.wait(2.0), "the sleeper kept waiting at the old speed"


def test_wait_until_on_a_condition_is_woken_by_a_speed_change() -> None:
    clock = LessonClock(speed=1)
    condition = threading.Condition()
    clock.subscribe(lambda: _notify(condition))
    deadline = clock.now() + 600
    results = []

    def wait() -> None:
        with condition:
            while not clock.wait_until(deadline, condition):
                pass
        results.append(True)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    time.sleep(0.05)
    clock.speed(100_000)
    thread.join(2.0)
    assert results == [True]


def _notify(condition: threading.Condition) -> None:
    with condition:
        condition.notify_all()


@pytest.mark.parametrize("bad", [0, -1, "fast", True])
def test_a_speed_must_be_a_positive_number(bad: object) -> None:
    with pytest.raises(ValueError, match="positive"):
        LessonClock().speed(bad)  # type: ignore[arg-type]


def test_labkit_clock_is_the_notebook_clock() -> None:
    previous = labkit.clock.speed()
    try:
        assert labkit.clock.speed(60) == 60
        assert labkit.clock.speed() == 60
        start = labkit.clock.now()
        time.sleep(0.05)
        assert labkit.clock.now() - start >= 2.5  # 0.05 real s x 60
    finally:
        labkit.clock.speed(previous)
    assert labkit.clock.speed() == previous
