"""The lesson clock of the notebook: ``labkit.clock.speed(60)`` makes a lesson minute last a real second.

Every wait of the local Lambda service (retry delays, event age) runs on it; see
:mod:`labkit.service.clock`.
"""
from __future__ import annotations

import sys

from labkit.service.clock import CLOCK, LessonClock, now, sleep, speed

__all__ = ["CLOCK", "LessonClock", "now", "sleep", "speed"]

# `labkit.clock` (the package attribute, resolved lazily through labkit._EXPORTS) is this module.
clock = sys.modules[__name__]
