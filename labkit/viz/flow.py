"""Event flow: which sources (buckets, topics, rules, schedules, queues) invoked which functions, how often,
and where the functions wrote; three columns of boxes joined by counted arrows."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, LIMIT_COLOR, SERIES_COLORS, WIDTH_IN

SOURCE_COLORS = {"s3": SERIES_COLORS[2], "sns": SERIES_COLORS[3], "events": SERIES_COLORS[1],
                 "schedule": SERIES_COLORS[5], "sqs": SERIES_COLORS[4], "dynamodb": "#9c755f", "kinesis": "#9c755f"}
BOX_W = 0.24
COLUMNS = (0.14, 0.5, 0.86)


class FlowLike(Protocol):
    """An edge source -> function with its counts (`labkit.triggers.bridge.Flow` is one)."""

    @property
    def source(self) -> str: ...

    @property
    def source_label(self) -> str: ...

    @property
    def function_name(self) -> str: ...

    @property
    def delivered(self) -> int: ...

    @property
    def refused(self) -> int: ...


def event_flow(
    flows: Sequence[FlowLike],
    *,
    outputs: Sequence[tuple[str, str]] = (),
    title: str = "Who invoked whom: asynchronous and stream triggers",
) -> Figure:
    """Sources on the left, functions in the middle, what the functions wrote to on the right.

    Each arrow from a source is labelled with the events it delivered (and those refused, in red);
    `outputs` are (function name, target label) pairs drawn as dashed arrows.
    """
    sources = list(dict.fromkeys((flow.source, flow.source_label) for flow in flows))
    functions = list(dict.fromkeys([flow.function_name for flow in flows] + [name for name, _ in outputs]))
    sinks = list(dict.fromkeys(target for _, target in outputs))
    rows = max(len(sources), len(functions), len(sinks), 1)
    figure = Figure(figsize=(WIDTH_IN, 1.4 + 0.75 * rows))
    box_h = min(0.11, 0.6 / (rows + 1))
    ax = figure.add_axes((0, 0, 1, 0.9))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")

    def y(index: int, count: int) -> float:
        return 1 - (index + 1) / (count + 1)

    source_at = {key: (COLUMNS[0], y(i, len(sources))) for i, key in enumerate(sources)}
    function_at = {name: (COLUMNS[1], y(i, len(functions))) for i, name in enumerate(functions)}
    sink_at = {label: (COLUMNS[2], y(i, len(sinks))) for i, label in enumerate(sinks)}
    for (kind, label), center in source_at.items():
        _box(ax, center, box_h, label, SOURCE_COLORS.get(kind, LIMIT_COLOR))
    for name, center in function_at.items():
        _box(ax, center, box_h, f"λ {name}", HANDLER_COLOR)
    for label, center in sink_at.items():
        _box(ax, center, box_h, label, LIMIT_COLOR)
    for flow in flows:
        start, end = source_at[(flow.source, flow.source_label)], function_at[flow.function_name]
        text = f"{flow.delivered} event{'s' if flow.delivered != 1 else ''}"
        _arrow(ax, start, end, HANDLER_COLOR if flow.delivered else ERROR_COLOR, "solid")
        if flow.refused:
            text += f", {flow.refused} refused"
        near_source = (start[0] + BOX_W / 2 + 0.01, start[1] + 0.3 * (end[1] - start[1]) + 0.012)
        ax.text(*near_source, text, ha="left", va="bottom", fontsize=9,
                color=ERROR_COLOR if flow.refused else LIMIT_COLOR)
    for name, target in outputs:
        _arrow(ax, function_at[name], sink_at[target], LIMIT_COLOR, "dashed")
    for column, heading in zip(COLUMNS, ("event sources", "functions", "what they wrote to")):
        ax.text(column, 0.99, heading, ha="center", va="top", fontsize=10, color=LIMIT_COLOR, style="italic")
    figure.suptitle(title, y=0.98)
    return figure


def _box(ax: object, center: tuple[float, float], height: float, label: str, color: str) -> None:
    x, y = center
    patch = FancyBboxPatch((x - BOX_W / 2, y - height / 2), BOX_W, height, boxstyle="round,pad=0.01",
                           facecolor=color, edgecolor="none", alpha=0.9)
    ax.add_patch(patch)  # type: ignore[attr-defined]
    ax.text(x, y, label, ha="center", va="center", fontsize=9, color="white", weight="bold")  # type: ignore[attr-defined]


def _arrow(ax: object, start: tuple[float, float], end: tuple[float, float], color: str, style: str) -> None:
    ax.annotate(  # type: ignore[attr-defined]
        "", xy=(end[0] - BOX_W / 2 - 0.005, end[1]), xytext=(start[0] + BOX_W / 2 + 0.005, start[1]),
        arrowprops={"arrowstyle": "-|>", "color": color, "linestyle": style, "linewidth": 1.4, "shrinkA": 0, "shrinkB": 0},
    )
