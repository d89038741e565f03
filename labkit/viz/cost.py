"""Pictures of money: a bill's breakdown, a power-tuning curve, cost against monthly requests, a simulated load.

Layout only: the bills, estimates, tuning results and simulations come from `labkit.cost`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from labkit.cost.billing import Bill
from labkit.cost.simulator import Simulation
from labkit.cost.tuning import PowerTuning
from labkit.viz.style import ERROR_COLOR, HANDLER_COLOR, INIT_COLOR, LIMIT_COLOR, SERIES_COLORS, WIDTH_IN

KIND_COLORS = {"requests": SERIES_COLORS[2], "compute": HANDLER_COLOR, "provisioned": SERIES_COLORS[3], "storage": SERIES_COLORS[4]}
_DOLLARS = FuncFormatter(lambda value, _: f"${value:,.2f}" if value < 100 else f"${value:,.0f}")


def bill_breakdown(bills: Mapping[str, Bill], title: str = "Where the money goes") -> Figure:
    """One stacked bar per bill (label -> Bill): requests, compute, provisioned, storage; the free tier hatched on top."""
    figure = Figure(figsize=(WIDTH_IN, 1.6 + 0.8 * len(bills)))
    ax = figure.subplots()
    labels = list(bills)
    labelled: set[str] = set()

    def legend_label(name: str) -> str | None:
        first = name not in labelled
        labelled.add(name)
        return name if first else None

    for row, label in enumerate(labels):
        bill = bills[label]
        left = 0.0
        for kind, usd in bill.usd_by_kind().items():
            ax.barh(row, usd, left=left, color=KIND_COLORS[kind], label=legend_label(kind))
            left += usd
        savings = bill.free_tier_savings_usd
        if savings:
            ax.barh(row, savings, left=left, color="none", edgecolor=LIMIT_COLOR, hatch="//",
                    label=legend_label("free tier (not charged)"))
        ax.annotate(f"${bill.total_usd:,.2f}", (left + savings, row), xytext=(6, 0), textcoords="offset points", va="center")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(_DOLLARS)
    ax.set_xlabel("US dollars")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.15)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=5, fontsize=9)
    figure.tight_layout()
    return figure


def power_tuning(result: PowerTuning, title: str | None = None) -> Figure:
    """The classic power-tuning chart: average duration and cost per invocation against memory."""
    figure = Figure(figsize=(WIDTH_IN, 4.5))
    ax = figure.subplots()
    memory = [p.memory_mb for p in result.points]
    ax.plot(memory, [p.average_ms for p in result.points], "o-", color=HANDLER_COLOR, label="average duration")
    ax.set_xlabel("memory (MB)")
    ax.set_ylabel("average duration (ms)", color=HANDLER_COLOR)
    ax.set_ylim(bottom=0)
    ax.set_xticks(memory, [str(m) for m in memory])
    cost_ax = ax.twinx()
    micro = [p.cost_usd * 1e6 for p in result.points]
    cost_ax.plot(memory, micro, "s--", color=INIT_COLOR, label="cost per invocation")
    cost_ax.set_ylabel("cost per 1 M invocations (US$)", color=INIT_COLOR)
    cost_ax.set_ylim(bottom=0)
    best = result.best
    cost_ax.annotate(f"best ({result.strategy}): {best.memory_mb} MB", (best.memory_mb, best.cost_usd * 1e6),
                     xytext=(10, 18), textcoords="offset points", arrowprops={"arrowstyle": "->"})
    ax.grid(alpha=0.3)
    ax.set_title(title or f"Power tuning ({result.backend} backend)")
    handles, labels = ax.get_legend_handles_labels()
    cost_handles, cost_labels = cost_ax.get_legend_handles_labels()
    ax.legend(handles + cost_handles, labels + cost_labels, frameon=False, loc="upper center")
    figure.tight_layout()
    return figure


def cost_by_requests(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    flat: Mapping[str, float] | None = None,
    title: str = "Monthly cost against monthly requests",
) -> Figure:
    """Monthly dollars against requests per month (log axes): `curves` label -> (requests, dollars);
    `flat` label -> a fixed monthly price (e.g. an always-on server), drawn as a dashed line."""
    figure = Figure(figsize=(WIDTH_IN, 5.0))
    ax = figure.subplots()
    for (label, (requests, usd)), color in zip(curves.items(), SERIES_COLORS):
        ax.plot(requests, usd, "-", color=color, label=label, linewidth=2)
    for label, monthly_usd in (flat or {}).items():
        ax.axhline(monthly_usd, color=LIMIT_COLOR, linestyle="--", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_count))
    ax.yaxis.set_major_formatter(_DOLLARS)
    ax.set_xlabel("requests per month")
    ax.set_ylabel("US dollars per month")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False, loc="upper left")
    figure.tight_layout()
    return figure


def _count(value: float, _: object) -> str:
    for size, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def simulation(result: Simulation, limit: int | None = None, title: str = "Simulated load") -> Figure:
    """A simulated load over time: peak concurrency (against `limit`), and warm, cold and throttled requests."""
    timeline = result.timeline
    hours = timeline.bin_s * len(timeline.starts_s) >= 3 * 3600
    scale, unit = (3600, "hours") if hours else (1, "seconds")
    x = timeline.starts_s / scale
    width = timeline.bin_s / scale
    figure = Figure(figsize=(WIDTH_IN, 6.0))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.step(x, timeline.peak_concurrency, where="post", color=HANDLER_COLOR, label=f"peak concurrency per {timeline.bin_s:,.3g} s")
    if limit is not None:
        top.axhline(limit, color=LIMIT_COLOR, linestyle="--", label=f"concurrency limit ({limit:,})")
    top.set_ylabel("concurrent executions")
    top.set_ylim(0, max([limit or 0, int(timeline.peak_concurrency.max(initial=0)), 1]) * 1.35)  # room for the legend
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend(frameon=False, loc="upper left")
    base = timeline.warm * 0
    for counts, label, color in ((timeline.warm, "warm", HANDLER_COLOR), (timeline.cold, "cold start", INIT_COLOR),
                                 (timeline.throttled, "throttled", ERROR_COLOR)):
        bottom.bar(x, counts, width=width, bottom=base, align="edge", color=color, label=label)
        base = base + counts
    bottom.set_ylabel(f"requests per {timeline.bin_s:,.3g} s")
    bottom.set_xlabel(f"{unit} since the start")
    bottom.grid(axis="y", alpha=0.3)
    bottom.legend(frameon=False, loc="upper left")
    figure.tight_layout()
    return figure
