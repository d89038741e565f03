"""Asynchronous retries: every attempt of each event on a lesson-time axis, and how the event ended."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from matplotlib.figure import Figure

from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, LIMIT_COLOR, WIDTH_IN


def retry_timeline(
    attempts: Mapping[str, Sequence[tuple[float, bool]]],
    *,
    ends: Mapping[str, str] | None = None,
    title: str = "Attempts of each asynchronous event",
) -> Figure:
    """One lane per event: its attempts at (lesson seconds since it was sent, succeeded?).

    Failed attempts are red crosses, successful ones blue dots; the gap to the next attempt is
    written above it in minutes. `ends` names where an event ended (e.g. "DLQ"), drawn after its
    last attempt.
    """
    figure = Figure(figsize=(WIDTH_IN, 1.6 + 0.7 * max(1, len(attempts))))
    ax = figure.add_subplot()
    labels = list(attempts)
    right = 60.0
    for lane, label in enumerate(labels):
        points = sorted(attempts[label])
        if not points:
            continue
        times = [t / 60 for t, _ in points]
        ax.plot(times, [lane] * len(times), color=LIMIT_COLOR, alpha=0.4, linewidth=1, zorder=1)
        for (t, ok), minutes in zip(points, times):
            ax.plot(
                [minutes], [lane], marker="o" if ok else "X", markersize=11, linestyle="none", zorder=2,
                color=HANDLER_COLOR if ok else ERROR_COLOR,
            )
        for before, after in pairwise(times):
            ax.annotate(f"+{after - before:.1f} min", ((before + after) / 2, lane - 0.15), ha="center", va="bottom", fontsize=9)
        end = (ends or {}).get(label)
        if end:
            ax.annotate(
                end, (times[-1], lane), xytext=(times[-1] + 0.2, lane), va="center", fontsize=10,
                arrowprops={"arrowstyle": "<-", "color": LIMIT_COLOR},
            )
        right = max(right, points[-1][0])
    ax.plot([], [], marker="X", color=ERROR_COLOR, linestyle="none", label="attempt failed")
    ax.plot([], [], marker="o", color=HANDLER_COLOR, linestyle="none", label="attempt succeeded")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(-0.1, right / 60 + 1.4)
    ax.set_xlabel("minutes since the event was sent (lesson clock)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    figure.tight_layout()
    return figure
