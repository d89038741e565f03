"""The scale simulator against a plain event loop of the same model, and its arrival processes."""
from __future__ import annotations

import numpy as np
import pytest

from bench.simulate import event_loop
from labkit.cost import Bursts, Constant, DailyCycle, Poisson, Times, Workload, simulate
from labkit.cost.workload import Lognormal, Measured, sample_ms
from labkit.errors import ConfigurationError
from labkit.runtime.invocation import Report


def same_draws(arrivals, workload, seed):
    """Arrival times, and the durations and INITs simulate(Times(arrival), workload, seed=seed) draws."""
    arrival = arrivals.times(np.random.default_rng(seed + 1000))
    rng = np.random.default_rng(seed)
    return arrival, sample_ms(workload.duration_ms, rng, arrival.size) / 1000, sample_ms(workload.init_ms, rng, arrival.size) / 1000


WORKLOAD = Workload(duration_ms=Lognormal(100, 300), init_ms=Lognormal(200, 400))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("limit", "idle_timeout_s", "provisioned"), [(1000, 30.0, 0), (15, 5.0, 0), (30, 1.0, 0), (40, 2.0, 8)])
def test_the_simulator_matches_a_plain_event_loop(seed, limit, idle_timeout_s, provisioned) -> None:
    arrivals = Bursts(rate_per_s=20, duration_s=60, burst_rate_per_s=200, every_s=20, burst_s=2)
    arrival, run_s, init_s = same_draws(arrivals, WORKLOAD, seed)
    sim = simulate(Times(arrival.tolist()), WORKLOAD, account_concurrency=limit, idle_timeout_s=idle_timeout_s,
                   provisioned=provisioned, seed=seed)
    throttles, cold = event_loop(arrival.tolist(), run_s.tolist(), init_s.tolist(), limit, idle_timeout_s, provisioned)
    assert sim.throttles == throttles
    # reaping is honoured to within 1/64 of the idle timeout: a few cold starts may differ
    assert abs(sim.cold_starts - cold) <= max(3, 0.05 * cold)


def test_reserved_concurrency_caps_and_burst_scaling_limits_new_environments() -> None:
    fixed = Workload(duration_ms=1000, init_ms=0)
    capped = simulate(Constant(rate_per_s=100, duration_s=10), fixed, reserved=20)
    assert capped.peak_concurrency == 20
    assert capped.throttles == pytest.approx(1000 - 20 * 10, abs=20)
    # 3,000 at once in an account raised to 10,000: 1,000 new environments per 10 s
    spike = simulate(Times([0.0] * 3000), Workload(duration_ms=60_000, init_ms=0), account_concurrency=10_000)
    assert spike.cold_starts == 1000 and spike.burst_throttles == 2000 == spike.throttles


def test_provisioned_environments_take_the_first_requests_warm() -> None:
    fixed = Workload(duration_ms=100, init_ms=500, memory_mb=1024)
    sim = simulate(Constant(rate_per_s=20, duration_s=60), fixed, provisioned=5)
    assert sim.cold_starts == 0 and sim.on_provisioned == sim.requests
    kinds = sim.bill.usd_by_kind()
    assert kinds["provisioned"] > 0 and "compute" not in kinds
    on_demand = simulate(Constant(rate_per_s=20, duration_s=60), fixed)
    assert on_demand.cold_starts >= 1 and on_demand.latency_ms["max"] == pytest.approx(600)


def test_idle_environments_are_reaped_and_start_cold_again() -> None:
    one_a_minute = Constant(rate_per_s=1 / 60, duration_s=600)
    fixed = Workload(duration_ms=50, init_ms=200)
    assert simulate(one_a_minute, fixed, idle_timeout_s=30).cold_starts == 10
    assert simulate(one_a_minute, fixed, idle_timeout_s=300).cold_starts == 1


def test_the_bill_of_a_simulation_counts_billed_milliseconds() -> None:
    fixed = Workload(duration_ms=99.2, init_ms=0.5, memory_mb=2048)
    sim = simulate(Constant(rate_per_s=10, duration_s=100), fixed)
    (compute,) = [item for item in sim.bill.items if item.kind == "compute"]
    assert compute.quantity == pytest.approx(999 * 0.100 * 2 + 0.100 * 2)  # one cold start: 99.7 ms -> 100 ms
    assert sim.timeline.warm.sum() + sim.timeline.cold.sum() == sim.ran == 1000


def test_arrival_processes_draw_their_rates() -> None:
    rng = np.random.default_rng(3)
    assert Constant(10, 5).times(rng).tolist() == [i / 10 for i in range(50)]
    poisson = Poisson(1000, 10).times(rng)
    assert abs(poisson.size - 10_000) < 500 and np.all(np.diff(poisson) >= 0) and poisson.max() < 10
    day = DailyCycle(mean_rate_per_s=50, peak_to_trough=4, peak_hour=14).times(rng)
    per_hour = np.bincount((day // 3600).astype(int), minlength=24)
    assert abs(day.size - 50 * 86_400) < 0.01 * 50 * 86_400
    assert per_hour[14] / per_hour[2] == pytest.approx(4, rel=0.1)
    bursts = Bursts(rate_per_s=10, duration_s=60, burst_rate_per_s=1000, every_s=30, burst_s=1).times(rng)
    assert np.sum((bursts % 30) < 1) > 1500


def test_calibration_from_measured_runs() -> None:
    cold = Report("a", 10.0, 200, 256, 50, init_ms=180.0)
    warm = [Report(f"w{i}", 10.0 + i, 11 + i, 256, 50) for i in range(5)]
    from_reports = Workload.calibrate([cold, *warm])
    assert from_reports.init_ms == Measured((180.0,)) and from_reports.memory_mb == 256
    held = Workload.calibrate([cold, *warm], held_ms=[320.0, 20, 21, 22, 23, 24])
    assert held.init_ms == Measured((298.0,)) and held.duration_ms == Measured((20, 21, 22, 23, 24))
    with pytest.raises(ConfigurationError, match="cold run"):
        Workload.calibrate(warm)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: simulate(Constant(1, 1), WORKLOAD, reserved=2000), "reserved"),
        (lambda: simulate(Constant(1, 1), WORKLOAD, provisioned=5, reserved=2), "provisioned"),
        (lambda: Poisson(-1, 10), "rate_per_s"),
        (lambda: Workload(duration_ms="fast"), "milliseconds"),
        (lambda: Lognormal(100, 50), "median_ms <= p99_ms"),
        (lambda: Times([]), "at least one"),
    ],
)
def test_bad_input_names_the_problem(call, words) -> None:
    with pytest.raises(ConfigurationError, match=words):
        call()
