"""The trace waterfall and the function dashboard draw from observe's records (layout only)."""
from __future__ import annotations

from matplotlib.figure import Figure

from labkit.observe.summary import Bucket, FunctionSummary
from labkit.observe.traces import Span, Trace
from labkit.viz import dashboard_figure, waterfall


def test_waterfall_has_one_row_per_span_indented_by_depth() -> None:
    spans = (
        Span("a", None, "fn", 0.0, 0.5, "segment", "AWS::Lambda", 0),
        Span("b", "a", "Initialization", 0.0, 0.3, "subsegment", "local", 1),
        Span("c", "a", "s3", 0.31, 0.35, "subsegment", "aws", 1, fault=True),
    )
    figure = waterfall(Trace("1-0-0", spans))
    assert isinstance(figure, Figure)
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert labels == ["fn (AWS::Lambda)", "  Initialization", "  s3"]
    assert len(figure.axes[0].patches) == 3


def test_dashboard_figure_draws_four_panels_with_alarm_states_in_the_title() -> None:
    buckets = tuple(Bucket(60.0 * i, 3, i % 2, 1 if i == 0 else 0, 10.0, 20.0, None if i else 30.0, 2) for i in range(4))
    summary = FunctionSummary("orders", 60, buckets, ("START RequestId: x",), (("orders-errors", "ALARM"),))
    figure = dashboard_figure(summary)
    assert len(figure.axes) == 4
    assert "orders-errors: ALARM" in figure._suptitle.get_text() and "12 invocations, 2 errors" in figure._suptitle.get_text()
