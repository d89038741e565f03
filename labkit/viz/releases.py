"""Safe releases: the share of an alias's traffic on the new version over time, and where a release rolled back."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from labkit.viz.style import ERROR_COLOR, LIMIT_COLOR, SERIES_COLORS, WIDTH_IN


def traffic_shift(
    shifts: Mapping[str, Sequence[tuple[float, float]]],
    *,
    planned: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    ends: Mapping[str, str] | None = None,
    title: str = "Traffic on the new version during each release",
) -> Figure:
    """One step line per release: (lesson seconds since it started, share of traffic on the new version).

    `planned` draws each release's plan dashed behind it; `ends` labels how a release ended
    (e.g. "rolled back: alarm Errors"), drawn in red at its last point when that point is 0.
    """
    figure = Figure(figsize=(WIDTH_IN, 4.2))
    ax = figure.add_subplot()
    right = 60.0
    for index, (label, points) in enumerate(shifts.items()):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        plan = list((planned or {}).get(label, ()))
        if plan:
            right = max(right, plan[-1][0] * 1.15)
            xs = [t / 60 for t, _ in plan] + [right / 60]
            ax.step(xs, [100 * w for _, w in plan] + [100 * plan[-1][1]], where="post", color=color, alpha=0.35,
                    linestyle="--", linewidth=1.5)
        if not points:
            continue
        right = max(right, points[-1][0] * 1.15)
        xs = [t / 60 for t, _ in points] + [right / 60]
        ys = [100 * w for _, w in points] + [100 * points[-1][1]]
        ax.step(xs, ys, where="post", color=color, linewidth=2.5, label=label)
        end = (ends or {}).get(label)
        if end:
            last_t, last_w = points[-1]
            rolled_back = last_w == 0
            ax.plot([last_t / 60], [100 * last_w], marker="X" if rolled_back else "o", markersize=12,
                    color=ERROR_COLOR if rolled_back else color, linestyle="none", zorder=3)
            ax.annotate(end, (last_t / 60, 100 * last_w), xytext=(8, 12 if rolled_back else -16),
                        textcoords="offset points", fontsize=10, color=ERROR_COLOR if rolled_back else LIMIT_COLOR)
    ax.set_xlim(-0.1, right / 60)
    ax.set_ylim(-5, 108)
    ax.set_xlabel("minutes since the release started (lesson clock)")
    ax.set_ylabel("% of the alias's traffic on the new version")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.plot([], [], color=LIMIT_COLOR, linestyle="--", alpha=0.5, label="planned")
    ax.legend(frameon=False, loc="center right")
    figure.tight_layout()
    return figure
