"""Memory: the Max Memory Used of each invocation against the function's memory size."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, LIMIT_COLOR, WIDTH_IN


def memory_use(records: Sequence[tuple[str, Any]], *, memory_mb: int, title: str = "Max Memory Used per invocation") -> Figure:
    """One bar per (label, Invocation): its REPORT's Max Memory Used, red when it ended in an error.

    The dashed line is the configured memory size: the limit a bar reaches when Lambda stops the
    runtime for running out of memory.
    """
    figure = Figure(figsize=(WIDTH_IN, 4.0))
    ax = figure.add_subplot()
    labels = [label for label, _ in records]
    used = [float(inv.report.max_memory_mb) for _, inv in records]
    colors = [ERROR_COLOR if inv.error is not None else HANDLER_COLOR for _, inv in records]
    bars = ax.bar(range(len(records)), used, color=colors, width=0.6)
    for bar, (_, inv), value in zip(bars, records, used):
        text = f"{value:.0f} MB" + (f"\n{inv.error.get('errorType', 'error')}" if inv.error is not None else "")
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, value), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=9)
    ax.axhline(memory_mb, color=LIMIT_COLOR, linestyle="--", label=f"memory size ({memory_mb} MB)")
    ax.set_xticks(range(len(records)), labels)
    ax.set_ylim(0, memory_mb * 1.35)
    ax.set_ylabel("Max Memory Used (MB)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, loc="upper left")
    figure.tight_layout()
    return figure
