"""Colours and sizes shared by labkit's figures, so that INIT looks the same in every picture."""
from __future__ import annotations

from typing import Protocol

INIT_COLOR = "#f28e2b"  # orange: the cold start (INIT phase)
HANDLER_COLOR = "#4e79a7"  # blue: the handler running (INVOKE phase)
ERROR_COLOR = "#e15759"  # red: an invocation that ended in an error or a timeout
LIMIT_COLOR = "#59595b"  # grey: limits such as a timeout
SERIES_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948")
WIDTH_IN = 10.0


class ReportLike(Protocol):
    """The REPORT figures a picture needs (`labkit.Report` has them)."""

    @property
    def init_ms(self) -> float | None: ...

    @property
    def duration_ms(self) -> float: ...


class InvocationLike(Protocol):
    """The parts of an invocation a picture needs (`labkit.Invocation` has them)."""

    @property
    def report(self) -> ReportLike: ...

    @property
    def environment_id(self) -> str: ...

    @property
    def started_at(self) -> float: ...

    @property
    def error(self) -> object: ...
