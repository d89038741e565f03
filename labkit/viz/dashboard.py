"""A function's dashboard: invocations and errors, duration percentiles, concurrency and cold starts
per period, its alarms and its latest log lines; as a figure, or a widget with a refresh button."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure

from labkit.observe.summary import FunctionSummary
from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, INIT_COLOR, SERIES_COLORS, WIDTH_IN

ALARM_COLORS = {"OK": SERIES_COLORS[2], "ALARM": ERROR_COLOR, "INSUFFICIENT_DATA": "#9c9c9c"}


def dashboard_figure(summary: FunctionSummary) -> Figure:
    """Four panels over the summary's periods (lesson time), alarm states in the title."""
    figure = Figure(figsize=(WIDTH_IN, 6.4))
    (calls, duration), (concurrency, cold) = figure.subplots(2, 2, sharex=True)
    buckets = summary.buckets
    x = [dt.datetime.fromtimestamp(b.start, dt.timezone.utc) for b in buckets]
    width = dt.timedelta(seconds=summary.period_s * 0.8)
    calls.bar(x, [b.invocations - b.errors for b in buckets], width=width, align="edge", color=HANDLER_COLOR, label="succeeded")
    calls.bar(x, [b.errors for b in buckets], width=width, align="edge", bottom=[b.invocations - b.errors for b in buckets],
              color=ERROR_COLOR, label="errors")
    calls.set_title("Invocations and errors")
    calls.legend(loc="upper left", fontsize=8)
    for key, label, color in (("p50_ms", "p50", SERIES_COLORS[0]), ("p90_ms", "p90", SERIES_COLORS[1]),
                              ("p99_ms", "p99", ERROR_COLOR)):
        values = [getattr(b, key) for b in buckets]
        duration.plot(x, [v if v is not None else float("nan") for v in values], marker="o", markersize=3,
                      color=color, label=label)
    duration.set_title("Duration (ms)")
    duration.legend(loc="upper left", fontsize=8)
    concurrency.step(x, [b.concurrency for b in buckets], where="post", color=HANDLER_COLOR)
    concurrency.set_title("Concurrent executions (max)")
    cold.bar(x, [b.cold_starts for b in buckets], width=width, align="edge", color=INIT_COLOR)
    cold.set_title("Cold starts")
    for ax in (calls, concurrency, cold):
        ax.set_ylim(bottom=0)
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in (concurrency, cold):
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.set_xlabel("lesson time (UTC)")
    alarms = "   ".join(f"{name}: {state}" for name, state in summary.alarms) or "no alarms"
    totals = summary.totals
    figure.suptitle(f"{summary.function_name} — {totals['invocations']} invocations, {totals['errors']} errors, "
                    f"{totals['cold_starts']} cold starts   |   {alarms}", fontsize=11)
    figure.tight_layout()
    return figure


def dashboard(source: Callable[[], FunctionSummary]) -> Any:
    """An ipywidgets dashboard drawn from `source()` (e.g. ``lambda: labkit.observe.summary("fn")``):
    the figure, the alarms as badges, the latest log lines, and a Refresh button that draws it again."""
    import ipywidgets as widgets
    from IPython.display import display

    figure_out = widgets.Output()
    alarms = widgets.HTML()
    logs = widgets.Textarea(layout=widgets.Layout(width="100%", height="12em"), disabled=True)
    button = widgets.Button(description="Refresh", icon="refresh")

    def refresh(_: object = None) -> None:
        summary = source()
        figure_out.clear_output(wait=True)
        with figure_out:
            display(dashboard_figure(summary))
        alarms.value = " ".join(
            f'<span style="background:{ALARM_COLORS.get(state, "#9c9c9c")};color:white;padding:2px 6px;'
            f'border-radius:4px;margin-right:4px">{name}: {state}</span>'
            for name, state in summary.alarms
        ) or "<i>no alarms on this function</i>"
        logs.value = "\n".join(summary.recent_logs)

    button.on_click(refresh)
    refresh()
    return widgets.VBox([widgets.HBox([button, alarms]), figure_out, widgets.Label("Latest log lines"), logs])
