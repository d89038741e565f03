"""Timelines of invocations: which execution environment ran what, and when INIT happened."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, INIT_COLOR, LIMIT_COLOR, WIDTH_IN, InvocationLike

LANE_HEIGHT = 0.6
ARRIVAL_MARKER = "v"


def _legend(ax: Axes, with_errors: bool) -> None:
    handles: list[Artist] = [
        Patch(facecolor=INIT_COLOR, label="INIT (cold start)"),
        Patch(facecolor=HANDLER_COLOR, label="handler (invoke)"),
    ]
    if with_errors:
        handles.append(Patch(facecolor=ERROR_COLOR, label="handler ended in an error"))
    handles.append(Line2D([], [], marker=ARRIVAL_MARKER, color=LIMIT_COLOR, linestyle="none", label="request arrives"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def timeline(
    invocations: Sequence[InvocationLike],
    *,
    title: str = "Execution environments over time",
    ax: Axes | None = None,
) -> Figure:
    """One lane per execution environment (in order of first use), time in ms along the x axis.

    Each invocation is drawn where it began (`started_at`): its INIT segment first when it was a
    cold start (`report.init_ms`), then its handler segment (`report.duration_ms`); a small
    triangle above the lane marks its arrival, so back-to-back and sub-millisecond invocations
    stay apart. Invocations that ended in an error are drawn in red.
    """
    figure, ax = _axes(ax, height=1.4 + LANE_HEIGHT * max(2, len({inv.environment_id for inv in invocations})))
    ordered = sorted(invocations, key=lambda inv: inv.started_at)
    lanes: dict[str, int] = {}
    for inv in ordered:
        lanes.setdefault(inv.environment_id, len(lanes))
    origin = ordered[0].started_at if ordered else 0.0
    with_errors = False
    end_ms = 1.0
    for inv in ordered:
        lane = lanes[inv.environment_id]
        start_ms = (inv.started_at - origin) * 1000
        init_ms = inv.report.init_ms or 0.0
        if inv.report.init_ms is not None:
            ax.barh(lane, init_ms, left=start_ms, height=LANE_HEIGHT, color=INIT_COLOR, edgecolor="white", linewidth=0.6)
        failed = inv.error is not None
        with_errors = with_errors or failed
        color = ERROR_COLOR if failed else HANDLER_COLOR
        ax.barh(lane, inv.report.duration_ms, left=start_ms + init_ms, height=LANE_HEIGHT, color=color, edgecolor="white", linewidth=0.6)
        end_ms = max(end_ms, start_ms + init_ms + inv.report.duration_ms)
        ax.plot([start_ms], [lane - LANE_HEIGHT / 2 - 0.08], marker=ARRIVAL_MARKER, markersize=5, color=LIMIT_COLOR, linestyle="none")
    ax.set_yticks(range(len(lanes)), [f"environment {number + 1}" for number in range(len(lanes))])
    ax.set_ylim(len(lanes) - 0.5 if lanes else 0.5, -0.6)
    ax.set_xlim(-0.012 * end_ms, 1.02 * end_ms)  # a little room left of 0 keeps the first arrival marker whole
    ax.set_xlabel("time since the first invoke (ms)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    _legend(ax, with_errors)
    figure.tight_layout()
    return figure


def phase_bars(
    groups: Mapping[str, Sequence[InvocationLike]],
    *,
    title: str = "Where the time goes, invoke by invoke",
) -> Figure:
    """One panel per group, one bar per invocation (1, 2, 3 … in order): INIT stacked under the handler.

    All panels share the y axis (ms), so two versions of a function compare at a glance.
    """
    count = max(1, len(groups))
    figure = Figure(figsize=(WIDTH_IN, 4.0), layout="constrained")
    axes = figure.subplots(1, count, sharey=True, squeeze=False)[0]
    for ax, (label, invocations) in zip(axes, groups.items()):
        numbers = list(range(1, len(invocations) + 1))
        init = [inv.report.init_ms or 0.0 for inv in invocations]
        handler = [inv.report.duration_ms for inv in invocations]
        ax.bar(numbers, init, color=INIT_COLOR, width=0.7)
        tops = ax.bar(numbers, handler, bottom=init, color=HANDLER_COLOR, width=0.7)
        ax.bar_label(tops, labels=[_ms(a + b) for a, b in zip(init, handler)], padding=2, fontsize=8)
        ax.set_xticks(numbers)
        ax.set_xlabel("invocation")
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("time (ms)")
    axes[0].set_ylim(top=axes[0].get_ylim()[1] * 1.08)  # room for the labels above the bars
    figure.legend(
        handles=[Patch(facecolor=INIT_COLOR, label="INIT (cold start)"), Patch(facecolor=HANDLER_COLOR, label="handler")],
        loc="outside right upper",
        frameon=False,
    )
    figure.suptitle(title)
    return figure


def _ms(value: float) -> str:
    """A bar's label: whole milliseconds, or one decimal below 10 ms so that tiny bars still say something."""
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _axes(ax: Axes | None, height: float) -> tuple[Figure, Axes]:
    """The axes to draw on: the caller's, or those of a new figure `height` inches tall."""
    if ax is not None:
        figure = ax.get_figure()
        if not isinstance(figure, Figure):
            raise ValueError("the axes given belong to no figure")
        return figure, ax
    figure = Figure(figsize=(WIDTH_IN, height))
    return figure, figure.add_subplot()
