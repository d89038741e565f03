"""A discrete-event simulator of the Lambda service at scale: cold starts, throttles, latency, concurrency, the bill.

The model (one function, one account):

- requests arrive as an arrival process draws them (:mod:`labkit.cost.arrivals`); each runs for its
  drawn duration, plus its INIT when it starts a new execution environment;
- an execution environment serves one request at a time; a request takes an idle environment
  if one is alive (the most recently used first, as the local service does), else starts one
  (a cold start);
- idle environments are reaped after `idle_timeout_s` of idleness (within 1/64 of it);
- provisioned environments are always alive: the first `provisioned` concurrent requests are warm;
- a request is throttled when the function's concurrency is at its limit (its reserved
  concurrency, else the account quota), or when it would start a new environment beyond burst
  scaling (1,000 new environments per function every 10 s, shared/FACTS.md, checked 2026-11-23).

How it is fast: concurrency at each arrival is counted with sorted arrays (numpy), the
environments alive before each arrival are the highest concurrency of the last `idle_timeout_s`
(true for most-recently-used reuse), and only the stretches of time where the limit is reached
are walked request by request. Cold starts lengthen requests, which can raise concurrency: the
passes repeat until the cold starts no longer change.
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from labkit.cost.arrivals import Arrivals
from labkit.cost.billing import Bill, Usage, price
from labkit.cost.prices import PRICES, PROVISIONED_ROUNDING_S, PriceTable
from labkit.cost.workload import Workload, sample_ms
from labkit.errors import ConfigurationError

ACCOUNT_CONCURRENCY = 1_000  # default quota per region and account (shared/FACTS.md, checked 2026-11-23)
BURST_ENVIRONMENTS = 1_000  # new environments a function may add ...
BURST_WINDOW_S = 10.0  # ... every 10 seconds (since November 2023)
IDLE_TIMEOUT_S = 300.0  # an assumption: AWS does not publish it; the local service's default
REAP_PRECISION = 64  # the idle timeout is honoured to within 1/64 of it
MAX_PASSES = 12
TIMELINE_BINS = 400


@dataclass(frozen=True)
class Timeline:
    """The simulation over time, in `bins` equal bins from 0: peak concurrency and what requests met."""

    starts_s: np.ndarray
    bin_s: float
    peak_concurrency: np.ndarray
    warm: np.ndarray
    cold: np.ndarray
    throttled: np.ndarray


@dataclass(frozen=True)
class Simulation:
    """What a simulated load met: counts, latency percentiles (ms), concurrency over time and the bill."""

    requests: int
    throttles: int
    cold_starts: int
    burst_throttles: int
    on_provisioned: int
    peak_concurrency: int
    latency_ms: dict[str, float]  # p50, p90, p99, p99.9, max of the requests that ran (INIT included)
    duration_s: float
    timeline: Timeline
    bill: Bill
    passes: int

    @property
    def ran(self) -> int:
        return self.requests - self.throttles

    @property
    def cold_start_rate(self) -> float:
        """Cold starts per request that ran."""
        return self.cold_starts / self.ran if self.ran else 0.0

    @property
    def throttle_rate(self) -> float:
        return self.throttles / self.requests if self.requests else 0.0

    def __str__(self) -> str:
        latency = ", ".join(f"{name} {value:,.1f} ms" for name, value in self.latency_ms.items())
        return (
            f"{self.requests:,} requests over {self.duration_s:,.0f} s: {self.throttles:,} throttled "
            f"({self.throttle_rate:.2%}), {self.cold_starts:,} cold starts ({self.cold_start_rate:.3%} of those that ran), "
            f"peak concurrency {self.peak_concurrency:,}\nlatency: {latency}\nbill for the period: ${self.bill.total_usd:,.2f}"
        )


def simulate(
    arrivals: Arrivals,
    workload: Workload,
    *,
    account_concurrency: int = ACCOUNT_CONCURRENCY,
    reserved: int | None = None,
    provisioned: int = 0,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    burst_environments: int = BURST_ENVIRONMENTS,
    free_tier: bool = False,
    seed: int | None = 0,
    prices: PriceTable = PRICES,
) -> Simulation:
    """Simulate `arrivals` of `workload` on one function of an account; see the module's model.

    `reserved` caps the function (and is its limit instead of the account quota); `provisioned`
    environments are initialised ahead and never reaped. The bill covers the simulated period
    (`free_tier` off by default: a period is rarely a whole month alone).
    """
    limit = _check_limits(account_concurrency, reserved, provisioned, idle_timeout_s, burst_environments)
    rng = np.random.default_rng(seed)
    arrival = arrivals.times(rng)
    count = arrival.size
    run_s = sample_ms(workload.duration_ms, rng, count) / 1000
    init_s = sample_ms(workload.init_ms, rng, count) / 1000
    cold = np.zeros(count, dtype=bool)
    refused = np.zeros(count, dtype=bool)  # throttled by burst scaling
    bins = _Bins(arrival, idle_timeout_s / REAP_PRECISION)
    passes = 0
    held_s = run_s
    accepted, concurrency, ends = _admit(arrival, held_s, limit, ~refused)
    while True:
        passes += 1
        if passes > 1:
            previous, held_s = held_s, run_s + np.where(cold, init_s, 0.0)
            shifted = None if refused.any() or not accepted.all() else _lengthen(arrival, previous, held_s, concurrency, ends, limit)
            accepted, concurrency, ends = shifted or _admit(arrival, held_s, limit, ~refused)
        alive = np.maximum(bins.alive_before(arrival, accepted, concurrency, ends), provisioned)
        new_cold = accepted & (concurrency > alive)
        new_refused = refused | _beyond_burst(arrival, new_cold, burst_environments)
        new_cold &= ~new_refused
        settled = np.array_equal(new_cold, cold) and np.array_equal(new_refused, refused)
        cold, refused = new_cold, new_refused
        if settled or passes >= MAX_PASSES:
            break
    accepted &= ~refused
    held_s = run_s + np.where(cold, init_s, 0.0)
    on_provisioned = accepted & (concurrency <= provisioned)
    duration_s = max(arrivals.duration_s, float(arrival[-1]) if count else 0.0)
    return Simulation(
        requests=count,
        throttles=int(count - accepted.sum()),
        cold_starts=int(cold.sum()),
        burst_throttles=int(refused.sum()),
        on_provisioned=int(on_provisioned.sum()),
        peak_concurrency=int(concurrency[accepted].max()) if accepted.any() else 0,
        latency_ms=_percentiles(held_s[accepted] * 1000),
        duration_s=duration_s,
        timeline=_timeline(arrival, accepted, cold, concurrency, ends, duration_s),
        bill=_bill(held_s, accepted, on_provisioned, workload, provisioned, duration_s, free_tier, prices),
        passes=passes,
    )


def _check_limits(account: int, reserved: int | None, provisioned: int, idle_timeout_s: float, burst: int) -> int:
    for name, value in (("account_concurrency", account), ("provisioned", provisioned), ("burst_environments", burst)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigurationError(f"{name}={value!r} must be a whole number, 0 or more")
    if reserved is not None and (not isinstance(reserved, int) or not 0 <= reserved <= account):
        raise ConfigurationError(f"reserved={reserved!r} must be a whole number from 0 to the account's {account}")
    limit = account if reserved is None else reserved
    if provisioned > limit:
        raise ConfigurationError(f"provisioned={provisioned} is above the function's concurrency limit of {limit}")
    if not idle_timeout_s > 0:
        raise ConfigurationError(f"idle_timeout_s={idle_timeout_s!r} must be positive (seconds)")
    return limit


@dataclass(frozen=True)
class _Ends:
    """When the accepted requests end, sorted: the first pass's ends, then the moves of requests that changed length."""

    base: np.ndarray
    removed: np.ndarray = field(default_factory=lambda: np.zeros(0))
    added: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def finished_by(self, at: np.ndarray) -> np.ndarray:
        """How many requests have ended at each time of `at`."""
        finished = np.searchsorted(self.base, at, side="right")
        if self.removed.size:
            finished += np.searchsorted(self.added, at, side="right") - np.searchsorted(self.removed, at, side="right")
        return finished

    def moved(self, old: np.ndarray, new: np.ndarray) -> _Ends:
        return _Ends(self.base, np.sort(np.concatenate([self.removed, old])), np.sort(np.concatenate([self.added, new])))


def _in_flight(starts: np.ndarray, ends: _Ends, at: np.ndarray) -> np.ndarray:
    """How many of the requests (sorted starts) are running just before each time of `at`."""
    return np.searchsorted(starts, at, side="left") - ends.finished_by(at)


def _concurrency(arrival: np.ndarray, held_s: np.ndarray, accepted: np.ndarray) -> tuple[np.ndarray, _Ends]:
    """Each request's concurrency on arrival (itself included, accepted requests only), and when they end."""
    everyone = accepted.all()
    ends = np.sort(arrival + held_s if everyone else (arrival + held_s)[accepted])
    started = np.arange(1, arrival.size + 1) if everyone else np.cumsum(accepted, dtype=np.int64)
    return started - np.searchsorted(ends, arrival, side="right"), _Ends(ends)


def _admit(
    arrival: np.ndarray, held_s: np.ndarray, limit: int, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, _Ends]:
    """Which requests get a slot (`allowed` ones, walked one by one where the limit is reached),
    with their concurrency on arrival and when they end."""
    accepted = allowed.copy()
    tentative, sorted_ends = _concurrency(arrival, held_s, allowed)
    over = np.flatnonzero(allowed & (tentative > limit))
    if over.size == 0:
        return accepted, tentative, sorted_ends
    ends = arrival + held_s
    longest = float(held_s.max())
    arrivals = arrival.tolist()

    def running_at(i: int) -> list[float]:
        """The end times of the accepted requests still running when request i arrives."""
        window = slice(int(np.searchsorted(arrival, arrivals[i] - longest)), i)
        running = [end for end in ends[window][accepted[window]].tolist() if end > arrivals[i]]
        heapq.heapify(running)
        return running

    i = int(over[0])
    running = running_at(i)
    throttled_until = -math.inf
    while i < arrival.size:
        if arrivals[i] > throttled_until and not (allowed[i] and tentative[i] > limit):
            # every throttled request would have ended: counts are exact again until the next overload
            following = over[np.searchsorted(over, i):]
            if following.size == 0:
                break
            i = int(following[0])
            running = running_at(i)
        t = arrivals[i]
        while running and running[0] <= t:
            heapq.heappop(running)
        if allowed[i]:
            if len(running) >= limit:
                accepted[i] = False
                throttled_until = max(throttled_until, float(ends[i]))
            else:
                heapq.heappush(running, float(ends[i]))
        i += 1
    return (accepted, *_concurrency(arrival, held_s, accepted))


def _lengthen(
    arrival: np.ndarray, before_s: np.ndarray, after_s: np.ndarray, concurrency: np.ndarray, ends: _Ends, limit: int
) -> tuple[np.ndarray, np.ndarray, _Ends] | None:
    """Concurrency (updated in place) and ends after a few requests changed length, every request
    accepted before and after; None when the change reaches the limit (then admit afresh)."""
    changed = np.flatnonzero(before_s != after_s)
    old_ends = arrival[changed] + before_s[changed]
    new_ends = arrival[changed] + after_s[changed]
    low = np.searchsorted(arrival, np.minimum(old_ends, new_ends), side="right")
    high = np.searchsorted(arrival, np.maximum(old_ends, new_ends), side="right")
    step = np.where(new_ends > old_ends, 1, -1)
    if changed.size > 2_000:
        difference = np.zeros(arrival.size + 1, dtype=np.int64)
        np.add.at(difference, low, step)
        np.add.at(difference, high, -step)
        concurrency += np.cumsum(difference[:-1])
        over = bool(concurrency.max() > limit)
    else:
        over = False
        for start, stop, change in zip(low.tolist(), high.tolist(), step.tolist()):
            touched = concurrency[start:stop]
            touched += change
            over = over or (change > 0 and touched.size > 0 and int(touched.max()) > limit)
    if over:
        return None
    return np.ones(arrival.size, dtype=bool), concurrency, ends.moved(old_ends, new_ends)


class _Bins:
    """Arrivals grouped in time bins of `bin_s`: the grid on which idle environments are reaped."""

    def __init__(self, arrival: np.ndarray, bin_s: float) -> None:
        self.bin_s = bin_s
        self.count = int(arrival[-1] // bin_s) + 1 if arrival.size else 0
        self.which = (arrival // bin_s).astype(np.int64)
        self.starts = np.arange(self.count) * bin_s
        first = np.searchsorted(self.which, np.arange(self.count))
        self.filled = first < np.append(first[1:], arrival.size)
        self.first = first[self.filled]

    def alive_before(self, arrival: np.ndarray, accepted: np.ndarray, concurrency: np.ndarray, ends: _Ends) -> np.ndarray:
        """Environments alive just before each arrival: the peak concurrency of the last REAP_PRECISION bins
        and of this bin so far."""
        if arrival.size == 0:
            return np.zeros(0, dtype=np.int64)
        everyone = accepted.all()
        level = concurrency if everyone else np.where(accepted, concurrency, 0)
        at_start = _in_flight(arrival if everyone else arrival[accepted], ends, self.starts)  # what each bin inherits
        peak = at_start.copy()
        peak[self.filled] = np.maximum(peak[self.filled], np.maximum.reduceat(level, self.first))
        padded = np.concatenate([np.zeros(REAP_PRECISION, dtype=peak.dtype), peak])
        earlier = np.lib.stride_tricks.sliding_window_view(padded[:-1], REAP_PRECISION).max(axis=1)
        alive = np.maximum(at_start, earlier)[self.which]
        # only arrivals above that can start an environment: add the peak so far within their bin
        candidates = level > alive
        if candidates.any():
            in_bins = np.zeros(self.count, dtype=bool)
            in_bins[self.which[candidates]] = True
            chosen = np.flatnonzero(in_bins[self.which])
            which, levels = self.which[chosen], level[chosen]
            big = int(levels.max()) + 2
            running = np.maximum.accumulate(levels + which * big) - which * big
            before = np.zeros(chosen.size, dtype=np.int64)
            same_bin = which[1:] == which[:-1]
            before[1:][same_bin] = running[:-1][same_bin]
            alive[chosen] = np.maximum(alive[chosen], before)
        return alive


def _beyond_burst(arrival: np.ndarray, cold: np.ndarray, burst_environments: int) -> np.ndarray:
    """Cold starts beyond burst scaling: more than `burst_environments` new environments within 10 s."""
    refused = np.zeros(arrival.size, dtype=bool)
    starts = np.flatnonzero(cold)
    if starts.size <= burst_environments:
        return refused
    times = arrival[starts]
    # a quick test: is any window of burst_environments + 1 cold starts shorter than the burst window?
    if not (times[burst_environments:] - times[:-burst_environments] < BURST_WINDOW_S).any():
        return refused
    window: deque[float] = deque()
    for index, t in zip(starts.tolist(), times.tolist()):
        while window and window[0] <= t - BURST_WINDOW_S:
            window.popleft()
        if len(window) >= burst_environments:
            refused[index] = True
        else:
            window.append(t)
    return refused


def _percentiles(latency_ms: np.ndarray) -> dict[str, float]:
    if latency_ms.size == 0:
        return {}
    names = ("p50", "p90", "p99", "p99.9")
    values = np.percentile(latency_ms, [50, 90, 99, 99.9])
    return {**{name: float(value) for name, value in zip(names, values)}, "max": float(latency_ms.max())}


def _timeline(
    arrival: np.ndarray, accepted: np.ndarray, cold: np.ndarray, concurrency: np.ndarray, ends: _Ends, duration_s: float
) -> Timeline:
    bin_s = max(duration_s, 1e-9) / TIMELINE_BINS
    which = np.minimum((arrival // bin_s).astype(np.int64), TIMELINE_BINS - 1)
    starts = np.arange(TIMELINE_BINS) * bin_s
    peak = _in_flight(arrival[accepted], ends, starts)
    first = np.searchsorted(which, np.arange(TIMELINE_BINS))
    filled = first < np.append(first[1:], arrival.size)
    if filled.any():
        level = np.where(accepted, concurrency, 0)
        peak[filled] = np.maximum(peak[filled], np.maximum.reduceat(level, first[filled]))

    def counted(mask: np.ndarray) -> np.ndarray:
        return np.bincount(which[mask], minlength=TIMELINE_BINS)

    return Timeline(starts, bin_s, peak, counted(accepted & ~cold), counted(cold), counted(~accepted))


def _bill(
    held_s: np.ndarray,
    accepted: np.ndarray,
    on_provisioned: np.ndarray,
    workload: Workload,
    provisioned: int,
    duration_s: float,
    free_tier: bool,
    prices: PriceTable,
) -> Bill:
    billed_s = np.ceil(np.round(held_s * 1000, 6)) / 1000  # 1 ms rounding, INIT included
    memory_gb = workload.memory_mb / 1024
    on_demand_s = float(billed_s[accepted & ~on_provisioned].sum())
    provisioned_s = float(billed_s[on_provisioned].sum())
    configured_s = math.ceil(duration_s / PROVISIONED_ROUNDING_S) * PROVISIONED_ROUNDING_S
    use = Usage(
        requests=float(accepted.sum()),
        gb_s=on_demand_s * memory_gb,
        storage_gb_s=(on_demand_s + provisioned_s) * (workload.ephemeral_storage_mb - 512) / 1024,
        provisioned_gb_s=provisioned * memory_gb * configured_s,
        provisioned_duration_gb_s=provisioned_s * memory_gb,
        provisioned=provisioned > 0,
    )
    return Bill(price({workload.architecture: use}, free_tier=free_tier, prices=prices), prices=prices)
