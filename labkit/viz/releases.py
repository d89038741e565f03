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
    """One panel per release: (lesson seconds since it started, share of traffic on the new version) as steps.

    `planned` draws each release's plan dashed behind it; `ends` labels how a release ended
    (e.g. "rolled back: alarm Errors"), in red with a cross when its last share is 0.
    """
    labels = list(shifts)
    figure = Figure(figsize=(WIDTH_IN, 1.0 + 2.2 * max(1, len(labels))))
    axes = figure.subplots(max(1, len(labels)), 1, sharex=True, squeeze=False)[:, 0]
    right = max([60.0] + [t * 1.15 for points in [*shifts.values(), *(planned or {}).values()] for t, _ in points])
    for index, (ax, label) in enumerate(zip(axes, labels)):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        plan = list((planned or {}).get(label, ()))
        if plan:
            ax.step([t / 60 for t, _ in plan] + [right / 60], [100 * w for _, w in plan] + [100 * plan[-1][1]],
                    where="post", color=LIMIT_COLOR, alpha=0.6, linestyle="--", linewidth=1.5, label="planned")
        points = list(shifts[label])
        if points:
            ax.step([t / 60 for t, _ in points] + [right / 60], [100 * w for _, w in points] + [100 * points[-1][1]],
                    where="post", color=color, linewidth=2.5, label="actual")
            end = (ends or {}).get(label)
            if end:
                last_t, last_w = points[-1]
                rolled_back = last_w == 0
                mark_color = ERROR_COLOR if rolled_back else color
                ax.plot([last_t / 60], [100 * last_w], marker="X" if rolled_back else "o", markersize=12,
                        color=mark_color, linestyle="none", zorder=3)
                ax.annotate(end, (last_t / 60, 100 * last_w), xytext=(10, 14 if rolled_back else -18),
                            textcoords="offset points", fontsize=10, color=mark_color)
        ax.set_title(label, fontsize=11, loc="left")
        ax.set_ylim(-8, 112)
        ax.set_yticks([0, 10, 50, 100], ["0 %", "10 %", "50 %", "100 %"])
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, loc="center right")
    axes[-1].set_xlim(-0.1, right / 60)
    axes[-1].set_xlabel("minutes since the release started (lesson clock)")
    figure.supylabel("traffic on the new version", fontsize=10)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
