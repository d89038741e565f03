"""A load test, observed: concurrency over time against its limit, and what happened to the requests."""
from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure

from labkit.viz.style import (
    ERROR_COLOR,
    HANDLER_COLOR,
    INIT_COLOR,
    LIMIT_COLOR,
    WIDTH_IN,
)

KINDS = (("warm", "warm", HANDLER_COLOR), ("cold", "cold start", INIT_COLOR), ("throttled", "throttled (429)", ERROR_COLOR))


def load_test(
    samples: Sequence[tuple[float, int]],
    requests: Sequence[tuple[float, str]],
    *,
    limit: int | None = None,
    phases: Sequence[tuple[float, str]] = (),
    bin_s: float = 0.25,
    title: str = "Load test",
) -> Figure:
    """Two panels on one time axis (seconds since the test started).

    Top: `samples`, the (time, concurrent executions) steps of the function, with `limit` as a
    dashed line. Bottom: `requests` as (time sent, "warm" | "cold" | "throttled"), counted per
    `bin_s` seconds and stacked. `phases` are (start time, label) marks, e.g. the request rate.
    """
    figure = Figure(figsize=(WIDTH_IN, 6.0))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    if samples:
        times, values = zip(*samples)
        top.step(times, values, where="post", color=HANDLER_COLOR, label="concurrent executions")
    if limit is not None:
        top.axhline(limit, color=LIMIT_COLOR, linestyle="--", label=f"concurrency limit ({limit})")
    end = max([t for t, _ in samples] + [t for t, _ in requests] + [bin_s])
    bins = max(1, math.ceil(end / bin_s))
    lefts = [i * bin_s for i in range(bins)]
    base = [0] * bins
    for kind, label, color in KINDS:
        counts = [0] * bins
        for t, seen in requests:
            if seen == kind:
                counts[min(bins - 1, max(0, int(t // bin_s)))] += 1
        bottom.bar(lefts, counts, width=bin_s * 0.9, bottom=base, align="edge", color=color, label=label)
        base = [b + c for b, c in zip(base, counts)]
    for ax in (top, bottom):
        for start, _ in phases:
            ax.axvline(start, color=LIMIT_COLOR, alpha=0.3, linewidth=1)
    for start, label in phases:
        top.annotate(label, (start, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -14), textcoords="offset points", fontsize=9)
    top.set_ylabel("concurrent executions")
    top.set_ylim(0, max([limit or 0] + [v for _, v in samples] + [1]) * 1.3)
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend(frameon=False, loc="upper left", bbox_to_anchor=(0.0, 0.88))
    bottom.set_ylabel(f"requests per {bin_s:g} s")
    bottom.set_xlabel("seconds since the load test started")
    bottom.grid(axis="y", alpha=0.3)
    bottom.legend(frameon=False, loc="upper left")
    figure.tight_layout()
    return figure
