"""Bounded busy-polling: how the invoking thread waits the first few hundred microseconds for its runtime.

A thread that sleeps in poll() until the runtime answers is woken by the kernel, and on a virtual
machine that wake-up (a cross-CPU interrupt) costs tens of microseconds, twice per warm invoke (the
response, then the runtime's next /invocation/next). Asking the socket again and again for a
short while instead catches a fast runtime awake: `bench/invoke.py` measures the difference.

The spin is bounded twice, so it never costs more than it can save: by time (SPIN_S, then the
caller sleeps in poll() as before) and by CPUs (at most half of them spin at once; the other
half runs the runtimes).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

ENV_VAR = "LABKIT_BUSY_POLL_US"
"""Microseconds a waiting thread polls before it sleeps; 0 turns busy-polling off."""

DEFAULT_SPIN_US = 300

T = TypeVar("T")


def _spin_seconds() -> float:
    raw = os.environ.get(ENV_VAR, "")
    try:
        return max(0.0, float(raw)) / 1e6 if raw else DEFAULT_SPIN_US / 1e6
    except ValueError:
        return DEFAULT_SPIN_US / 1e6


SPIN_S = _spin_seconds()
_spinners = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))


def spin(attempt: Callable[[], T | None], budget_s: float | None = None) -> T | None:
    """Call `attempt` until it returns something or `budget_s` (default SPIN_S) has passed.

    Returns None at once when the budget is 0 or as many threads as allowed are spinning already.
    """
    budget_s = SPIN_S if budget_s is None else budget_s
    if budget_s <= 0 or not _spinners.acquire(blocking=False):
        return None
    try:
        clock = time.perf_counter
        until = clock() + budget_s
        while True:
            result = attempt()
            if result is not None or clock() >= until:
                return result
    finally:
        _spinners.release()
