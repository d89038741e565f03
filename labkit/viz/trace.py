"""A trace as a waterfall: one row per segment or subsegment, indented by depth, on a time axis."""
from __future__ import annotations

from matplotlib.figure import Figure

from labkit.observe.traces import Span, Trace
from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, INIT_COLOR, LIMIT_COLOR, SERIES_COLORS, WIDTH_IN

AWS_CALL_COLOR = SERIES_COLORS[2]  # green: calls to AWS services (boto3)
OTHER_COLOR = SERIES_COLORS[3]  # purple: other subsegments (your own code, remote calls)


def _color(span: Span) -> str:
    if span.fault or span.error:
        return ERROR_COLOR
    if span.name == "Initialization":
        return INIT_COLOR
    if span.origin.startswith("AWS::Lambda") or span.name == "Invocation":
        return HANDLER_COLOR if span.name == "Invocation" else LIMIT_COLOR
    return AWS_CALL_COLOR if span.origin == "aws" else OTHER_COLOR


def waterfall(trace: Trace, title: str | None = None) -> Figure:
    """Rows top to bottom in tree order; each bar from the span's start to its end, labelled in ms."""
    spans = trace.spans
    figure = Figure(figsize=(WIDTH_IN, 0.9 + 0.38 * max(1, len(spans))))
    ax = figure.subplots()
    origin = trace.start
    total_ms = max(trace.duration_ms, 1e-3)
    for row, span in enumerate(spans):
        left = (span.start - origin) * 1000
        width = max(span.duration_ms, total_ms / 400)
        ax.barh(row, width, left=left, color=_color(span), height=0.6)
        ax.text(left + width + total_ms * 0.01, row, f"{span.duration_ms:.1f} ms", va="center", fontsize=8)
    labels = []
    for span in spans:
        kind = f" ({span.origin})" if span.kind == "segment" else ""
        labels.append("  " * span.depth + span.name + kind)
    ax.set_yticks(range(len(spans)), labels, fontsize=9, family="monospace", ha="left")
    ax.tick_params(axis="y", pad=4 + 0.6 * 9 * max(map(len, labels)))  # monospace: left-aligned, indented by depth
    ax.invert_yaxis()
    ax.set_xlim(0, total_ms * 1.15)
    ax.set_xlabel("milliseconds since the trace started")
    ax.set_title(title or f"Trace {trace.id}")
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure
