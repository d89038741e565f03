"""Throttling at the API: the requests of a burst over time, let through or answered 429, against
the token bucket's allowance (burst + rate x time)."""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, LIMIT_COLOR, WIDTH_IN


def throttling(
    requests: Sequence[tuple[float, int]],
    *,
    rate: float,
    burst: int,
    title: str = "Requests through the API",
) -> Figure:
    """`requests`: (seconds since the first request, HTTP status) in arrival order.

    The blue steps count the requests let through, the red marks the 429s; the dashed line is the
    most a token bucket of `burst` tokens refilled at `rate` per second lets through by then.
    """
    figure = Figure(figsize=(WIDTH_IN, 4.2))
    ax = figure.subplots()
    passed = [t for t, status in requests if status != 429]
    throttled = [t for t, status in requests if status == 429]
    if passed:
        ax.step(passed, range(1, len(passed) + 1), where="post", color=HANDLER_COLOR, label=f"let through ({len(passed)})")
    if throttled:
        ax.scatter(throttled, [0] * len(throttled), marker="|", s=300, color=ERROR_COLOR, label=f"429 Too Many Requests ({len(throttled)})")
    end = max([t for t, _ in requests] + [1e-3])
    ax.plot([0, end], [burst, burst + rate * end], color=LIMIT_COLOR, linestyle="--", label=f"bucket: burst {burst} + {rate:g}/s")
    ax.set_xlabel("seconds since the first request")
    ax.set_ylabel("requests let through")
    ax.set_ylim(-1, max(len(passed), burst + rate * end) * 1.15 + 1)
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False)
    figure.tight_layout()
    return figure
