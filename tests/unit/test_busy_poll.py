"""Bounded busy-polling (labkit.runtime.busy_poll): it stops when asked, when answered and when CPUs are taken."""
from __future__ import annotations

import threading
import time

import pytest

from labkit.runtime import busy_poll


def test_spin_returns_the_first_answer() -> None:
    answers = iter([None, None, "request"])
    calls = []

    def attempt() -> str | None:
        calls.append(1)
        return next(answers)

    assert busy_poll.spin(attempt, budget_s=1.0) == "request"
    assert len(calls) == 3


def test_spin_gives_up_after_its_budget() -> None:
    began = time.perf_counter()
    assert busy_poll.spin(lambda: None, budget_s=0.002) is None
    elapsed = time.perf_counter() - began
    assert 0.002 <= elapsed < 1.0


def test_a_zero_budget_does_not_spin() -> None:
    calls = []
    assert busy_poll.spin(lambda: calls.append(1), budget_s=0.0) is None
    assert calls == []


def test_no_more_spinners_than_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(busy_poll, "_spinners", threading.BoundedSemaphore(1))
    inside = threading.Event()
    release = threading.Event()

    def hold() -> str | None:
        inside.set()
        return "done" if release.is_set() else None

    holder = threading.Thread(target=lambda: busy_poll.spin(hold, budget_s=10.0))
    holder.start()
    try:
        assert inside.wait(5)
        calls = []
        assert busy_poll.spin(lambda: calls.append(1), budget_s=1.0) is None
        assert calls == []  # the one slot is taken: the caller goes straight to sleeping in poll()
    finally:
        release.set()
        holder.join(5)
    assert busy_poll.spin(lambda: "free again", budget_s=1.0) == "free again"


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("150", 150e-6), ("", 300e-6), ("fast", 300e-6), ("-5", 0.0)])
def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, seconds: float) -> None:
    monkeypatch.setenv(busy_poll.ENV_VAR, value)
    assert busy_poll._spin_seconds() == pytest.approx(seconds)
