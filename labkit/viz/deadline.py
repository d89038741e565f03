"""The deadline of one invocation: remaining time, step by step, against the timeout."""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, LIMIT_COLOR, WIDTH_IN


def remaining_time(
    samples: Sequence[tuple[float, float]],
    *,
    timeout_ms: float,
    margin_ms: float | None = None,
    timed_out: bool = False,
    title: str = "Time left while the handler works",
) -> Figure:
    """Remaining time (ms) after each step of a handler, against the time elapsed since it started.

    `samples` are (elapsed ms, remaining ms) pairs, as a handler can log them from
    `context.get_remaining_time_in_millis()`. The dashed diagonal is the deadline the runtime
    counts down to; `margin_ms` draws the safety margin a careful handler stops at; `timed_out`
    marks the point where Lambda ended the invocation.
    """
    figure = Figure(figsize=(WIDTH_IN, 4.0))
    ax = figure.add_subplot()
    ax.plot([0, timeout_ms], [timeout_ms, 0], linestyle="--", color=LIMIT_COLOR, label=f"deadline (timeout {timeout_ms:,.0f} ms)")
    if samples:
        elapsed, remaining = zip(*samples)
        ax.plot(elapsed, remaining, marker="o", color=HANDLER_COLOR, label="after each step")
    if margin_ms is not None:
        ax.axhline(margin_ms, color=ERROR_COLOR, alpha=0.6, linestyle=":", label=f"safety margin ({margin_ms:,.0f} ms)")
    if timed_out:
        ax.plot([timeout_ms], [0], marker="X", markersize=12, color=ERROR_COLOR, linestyle="none", label="task timed out")
    ax.set_xlim(0, timeout_ms * 1.05)
    ax.set_ylim(0, timeout_ms * 1.05)
    ax.set_xlabel("time since the handler started (ms)")
    ax.set_ylabel("get_remaining_time_in_millis() (ms)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper right")
    figure.tight_layout()
    return figure
