"""labkit.viz: each drawing function returns a Figure holding what was measured, one artist per record."""
from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from labkit.viz import (
    init_by_size,
    load_test,
    memory_use,
    phase_bars,
    remaining_time,
    retry_timeline,
    timeline,
)
from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, INIT_COLOR


def inv(environment: str, at: float, duration_ms: float, init_ms: float | None = None, error: object = None) -> SimpleNamespace:
    return SimpleNamespace(
        environment_id=environment,
        started_at=1_700_000_000.0 + at,
        report=SimpleNamespace(init_ms=init_ms, duration_ms=duration_ms),
        error=error,
    )


# Environment a: cold, then two warm invokes; b: cold during a burst; c: cold, fails.
RECORDS = [
    inv("a", 0.0, 100.0, init_ms=40.0),
    inv("a", 0.2, 100.0),
    inv("b", 0.25, 300.0, init_ms=50.0),
    inv("a", 0.4, 100.0),
    inv("c", 0.3, 200.0, init_ms=45.0, error={"errorType": "ValueError"}),
]


def bars(figure: Figure) -> list[Rectangle]:
    ax = figure.axes[0]
    return [patch for patch in ax.patches if isinstance(patch, Rectangle)]


def by_lane(rectangles: list[Rectangle], color: str) -> Counter[int]:
    return Counter(round(bar.get_y() + bar.get_height() / 2) for bar in rectangles if to_hex(bar.get_facecolor()) == color)


def test_timeline_draws_one_lane_per_environment_in_order_of_first_use() -> None:
    figure = timeline(list(reversed(RECORDS)), title="burst")
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["environment 1", "environment 2", "environment 3"]
    assert ax.get_title() == "burst" and "ms" in ax.get_xlabel()


def test_timeline_draws_init_only_for_cold_starts_and_one_handler_bar_per_invocation() -> None:
    rectangles = bars(timeline(RECORDS))
    assert by_lane(rectangles, INIT_COLOR) == {0: 1, 1: 1, 2: 1}
    assert by_lane(rectangles, HANDLER_COLOR) == {0: 3, 1: 1}
    assert by_lane(rectangles, ERROR_COLOR) == {2: 1}


def test_timeline_places_segments_on_a_time_axis_from_the_first_invoke() -> None:
    rectangles = bars(timeline(RECORDS))
    init_a = next(bar for bar in rectangles if to_hex(bar.get_facecolor()) == INIT_COLOR and round(bar.get_y() + 0.3) == 0)
    assert (init_a.get_x(), init_a.get_width()) == (0.0, 40.0)
    handlers_a = sorted((bar.get_x(), bar.get_width()) for bar in rectangles if to_hex(bar.get_facecolor()) == HANDLER_COLOR and round(bar.get_y() + 0.3) == 0)
    assert handlers_a == [(40.0, 100.0), pytest.approx((200.0, 100.0)), pytest.approx((400.0, 100.0))]


def test_timeline_legend_names_the_phases() -> None:
    legend = timeline(RECORDS).axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "INIT (cold start)", "handler (invoke)", "handler ended in an error", "request arrives",
    ]


def test_timeline_can_draw_into_given_axes() -> None:
    figure = Figure()
    ax = figure.add_subplot()
    assert timeline(RECORDS[:2], ax=ax) is figure


def test_phase_bars_draw_one_panel_per_group_and_one_stack_per_invocation() -> None:
    figure = phase_bars({"setup in the handler": RECORDS[:2], "setup at INIT": RECORDS[:4]})
    assert [ax.get_title() for ax in figure.axes] == ["setup in the handler", "setup at INIT"]
    for ax, count in zip(figure.axes, (2, 4)):
        rectangles = [patch for patch in ax.patches if isinstance(patch, Rectangle)]
        assert len(rectangles) == 2 * count  # an INIT bar (0 ms when warm) under each handler bar
    first_init = figure.axes[0].patches[0]
    assert first_init.get_height() == 40.0
    assert [text.get_text() for text in figure.axes[0].texts] == ["140 ms", "100 ms"]
    assert figure.axes[0].get_ylabel() == "time (ms)"


def test_init_by_size_draws_a_median_line_per_series_and_leaves_warm_invokes_out() -> None:
    series = {
        "source only": {0: [inv("x", 0, 1, 30.0), inv("y", 0, 1, 34.0)], 100: [inv("z", 0, 1, 130.0), inv("w", 0, 1)]},
        "with bytecode": {0: [inv("x", 0, 1, 29.0)], 100: [inv("z", 0, 1, 40.0)]},
    }
    figure = init_by_size(series, xlabel="imported code (KB)")
    ax = figure.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["source only", "with bytecode"]
    assert list(lines[0].get_ydata()) == [32.0, 130.0]
    assert sum(len(collection.get_offsets()) for collection in ax.collections) == 5
    assert ax.get_ylabel() == "Init Duration (ms)" and ax.get_xlabel() == "imported code (KB)"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["source only", "with bytecode", "one cold start (line: median)"]


def test_remaining_time_draws_the_deadline_the_samples_and_the_timeout() -> None:
    figure = remaining_time([(0, 1000), (100, 900), (200, 800)], timeout_ms=1000, margin_ms=300, timed_out=True)
    ax = figure.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["deadline (timeout 1,000 ms)", "after each step", "safety margin (300 ms)", "task timed out"]
    assert list(ax.get_lines()[1].get_ydata()) == [1000, 900, 800]


def test_retry_timeline_draws_one_lane_per_event_with_its_attempts_gaps_and_end() -> None:
    attempts = {"ok": [(20.0, True)], "retried": [(200.0, True), (20.0, False), (80.0, False)]}
    figure = retry_timeline(attempts, ends={"retried": "DLQ"}, title="retries")
    ax = figure.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["ok", "retried"]
    markers = [line for line in ax.get_lines() if line.get_marker() in ("o", "X") and len(line.get_xdata()) == 1]
    failed = sorted(line.get_xdata()[0] for line in markers if to_hex(line.get_color()) == ERROR_COLOR)
    succeeded = sorted(line.get_xdata()[0] for line in markers if to_hex(line.get_color()) == HANDLER_COLOR)
    assert failed == pytest.approx([20 / 60, 80 / 60]) and succeeded == pytest.approx([20 / 60, 200 / 60])
    assert [text.get_text() for text in ax.texts] == ["+1.0 min", "+2.0 min", "DLQ"]
    assert ax.get_title() == "retries" and "lesson clock" in ax.get_xlabel()


def test_memory_use_draws_a_bar_per_invocation_errors_in_red_and_the_memory_size() -> None:
    def used(mb: float, error: object = None) -> SimpleNamespace:
        return SimpleNamespace(report=SimpleNamespace(max_memory_mb=mb), error=error)

    records = [("small", used(24)), ("too big", used(128, {"errorType": "Runtime.OutOfMemory"}))]
    ax = memory_use(records, memory_mb=128, title="memory").axes[0]
    rectangles = bars(ax.figure)
    assert [bar.get_height() for bar in rectangles] == [24.0, 128.0]
    assert [to_hex(bar.get_facecolor()) for bar in rectangles] == [HANDLER_COLOR, ERROR_COLOR]
    assert [text.get_text() for text in ax.texts] == ["24 MB", "128 MB\nRuntime.OutOfMemory"]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["small", "too big"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["memory size (128 MB)"]


def test_load_test_draws_concurrency_against_the_limit_and_stacks_requests_per_bin() -> None:
    samples = [(0.0, 1), (0.1, 2), (0.6, 1), (0.9, 0)]
    requests = [(0.0, "cold"), (0.1, "cold"), (0.3, "warm"), (0.6, "throttled"), (0.7, "warm")]
    figure = load_test(samples, requests, limit=2, phases=[(0.0, "10/s"), (0.5, "20/s")], bin_s=0.5, title="load")
    top, bottom = figure.axes
    assert top.get_title() == "load"
    step, limit = top.get_lines()[:2]
    assert list(step.get_ydata()) == [1, 2, 1, 0] and list(limit.get_ydata()) == [2, 2]
    assert [text.get_text() for text in top.texts] == ["10/s", "20/s"]
    heights: dict[str, list[float]] = {}
    for container, label in zip(bottom.containers, ("warm", "cold", "throttled")):
        heights[label] = [bar.get_height() for bar in container]
    assert heights == {"warm": [1, 1], "cold": [2, 0], "throttled": [0, 1]}
    assert [text.get_text() for text in bottom.get_legend().get_texts()] == ["warm", "cold start", "throttled (429)"]
