"""Cold starts against what a function loads: Init Duration by the size of the code it imports."""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from labkit.viz.style import LIMIT_COLOR, SERIES_COLORS, WIDTH_IN, InvocationLike


def init_by_size(
    series: Mapping[str, Mapping[float, Sequence[InvocationLike]]],
    *,
    xlabel: str = "code imported at INIT (KB)",
    title: str = "Cold start time against the code a function imports",
) -> Figure:
    """Init Duration (ms) of cold invocations against a size, one coloured series per label.

    `series` maps a label ("source only", "with bytecode" …) to {size: invocations measured at
    that size}. Every cold invocation is a dot; a line, labelled with the series, joins the
    medians. Warm invocations (no Init Duration) are left out.
    """
    figure = Figure(figsize=(WIDTH_IN, 4.5))
    ax = figure.add_subplot()
    for number, (label, by_size) in enumerate(series.items()):
        color = SERIES_COLORS[number % len(SERIES_COLORS)]
        sizes: list[float] = []
        medians: list[float] = []
        for size in sorted(by_size):
            inits = [inv.report.init_ms for inv in by_size[size] if inv.report.init_ms is not None]
            if not inits:
                continue
            ax.scatter([size] * len(inits), inits, color=color, alpha=0.45, s=18)
            sizes.append(size)
            medians.append(statistics.median(inits))
        ax.plot(sizes, medians, color=color, marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Init Duration (ms)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    dot = Line2D([], [], marker="o", color=LIMIT_COLOR, alpha=0.45, linestyle="none", markersize=5, label="one cold start (line: median)")
    ax.legend(handles=[*ax.get_lines(), dot], frameon=False)
    figure.tight_layout()
    return figure
