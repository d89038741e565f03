"""Power tuning's choice of memory, and the cost pictures (drawn without errors, with what they must show)."""
from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from labkit import viz
from labkit.cost import Constant, Workload, estimate, simulate
from labkit.cost.tuning import PowerPoint, PowerTuning, cost_per_invocation, pick, trimmed_mean
from labkit.errors import ConfigurationError

POINTS = (
    PowerPoint(128, (), 800.0, cost_per_invocation(128, 800.0)),
    PowerPoint(512, (), 150.0, cost_per_invocation(512, 150.0)),
    PowerPoint(1024, (), 90.0, cost_per_invocation(1024, 90.0)),
    PowerPoint(3008, (), 80.0, cost_per_invocation(3008, 80.0)),
)


def test_strategies_pick_cheapest_fastest_or_balanced() -> None:
    assert pick(POINTS, "cost").memory_mb == 512  # more memory was cheaper: 150 ms at 512 MB beats 800 ms at 128 MB
    assert pick(POINTS, "speed").memory_mb == 3008
    assert pick(POINTS, "balanced", 1.0).memory_mb == 512
    assert pick(POINTS, "balanced", 0.0).memory_mb == 3008
    assert pick(POINTS, "balanced", 0.5).memory_mb == 1024
    with pytest.raises(ConfigurationError, match="strategy"):
        pick(POINTS, "cheap")
    with pytest.raises(ConfigurationError, match="weight"):
        pick(POINTS, "balanced", 2)


def test_trimmed_mean_drops_a_fifth_at_each_end() -> None:
    assert trimmed_mean([1, 10, 10, 10, 100]) == 10
    assert cost_per_invocation(1024, 999.2) == pytest.approx(0.0000002 + 1.0 * 0.0000166667)


def test_cost_figures() -> None:
    bills = {"x86_64": estimate(3e6, 1000, 512), "arm64": estimate(3e6, 1000, 512, "arm64")}
    assert isinstance(viz.bill_breakdown(bills), Figure)
    tuning = PowerTuning(POINTS, "cost", 0.5, POINTS[1], "docker", True)
    figure = viz.power_tuning(tuning)
    assert len(figure.axes) == 2  # duration and cost on two axes
    requests = [1e6, 1e7, 1e8, 1e9]
    curves = {"x86_64": (requests, [estimate(r, 100, 512).total_usd for r in requests])}
    assert isinstance(viz.cost_by_requests(curves, flat={"server": 70.0}), Figure)
    sim = simulate(Constant(50, 20), Workload(duration_ms=200), account_concurrency=5)
    assert sim.throttles > 0 and isinstance(viz.simulation(sim, limit=5), Figure)
    assert "power tuning" in str(tuning).lower() or "best" in str(tuning)


def test_cost_explorer_builds_its_sliders() -> None:
    from labkit.viz.cost_widgets import cost_explorer

    box = cost_explorer(memory_mb=1024)
    sliders = [child for row in box.children[:2] for child in row.children]
    assert [s.description for s in sliders] == ["memory MB", "requests/s", "duration ms", "architecture"]
    sliders[0].value = 2048  # redraws without an error
