"""The scale simulator: 10 million requests, against a plain event loop of the same model.

    .venv/bin/python bench/simulate.py [--requests 10000000] [--peer-requests 300000]

A day of traffic with a daily cycle (peak 4x the trough at 14:00), requests of 120 ms median
(p99 600 ms) at 512 MB, cold starts of 250 ms median, the default quota of 1,000, an idle timeout
of 300 s. `labkit.cost.simulate` runs all of it; the peer, a request-by-request event loop with a
heap (the textbook discrete-event simulator of the same model, in Python), runs the first
`--peer-requests` of the same arrivals and is extrapolated per request. Prints both, their
ratio, and whether they agree on throttles and cold starts over the peer's share.
"""
from __future__ import annotations

import argparse
import heapq
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labkit.cost import DailyCycle, Lognormal, Times, Workload, simulate  # noqa: E402
from labkit.cost.workload import sample_ms  # noqa: E402

SECONDS_PER_DAY = 86_400


def event_loop(
    arrival: Sequence[float], run_s: Sequence[float], init_s: Sequence[float], limit: int, idle_timeout_s: float,
    provisioned: int = 0,
) -> tuple[int, int]:
    """(throttles, cold starts), one request at a time: the most recently used idle environment
    first (provisioned ones before), idle ones reaped after idle_timeout_s, a concurrency limit."""
    running: list[tuple[float, int, bool]] = []
    idle: deque[tuple[float, int, bool]] = deque((float("-inf"), n, True) for n in range(provisioned))
    created = provisioned
    throttles = cold = 0
    for t, run, init in zip(arrival, run_s, init_s):
        while running and running[0][0] <= t:
            idle.append(heapq.heappop(running))
        while idle and not idle[0][2] and idle[0][0] < t - idle_timeout_s:
            idle.popleft()  # the least recently used is the first to go
        if len(running) >= limit:
            throttles += 1
            continue
        ready = [env for env in idle if env[2]][-1:] if provisioned else []
        if ready or idle:
            env = ready[0] if ready else idle[-1]
            idle.remove(env)
            heapq.heappush(running, (t + run, env[1], env[2]))
        else:
            cold += 1
            heapq.heappush(running, (t + run + init, created, False))
            created += 1
    return throttles, cold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--peer-requests", type=int, default=1_000_000)
    args = parser.parse_args()
    workload = Workload(duration_ms=Lognormal(120, 600), init_ms=Lognormal(250, 900), memory_mb=512)
    arrivals = DailyCycle(mean_rate_per_s=args.requests / SECONDS_PER_DAY)

    wall, cpu = time.perf_counter(), time.process_time()
    sim = simulate(arrivals, workload, seed=1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"labkit.cost.simulate: {sim.requests:,} requests in {wall:.2f} s ({cpu:.2f} s CPU), "
          f"{wall / sim.requests * 1e6:.3f} us per request")
    print(sim)

    arrival = arrivals.times(np.random.default_rng(1))[: args.peer_requests]
    rng = np.random.default_rng(2)
    run_s = sample_ms(workload.duration_ms, rng, arrival.size) / 1000
    init_s = sample_ms(workload.init_ms, rng, arrival.size) / 1000
    peer_wall = time.perf_counter()
    throttles, cold = event_loop(arrival.tolist(), run_s.tolist(), init_s.tolist(), 1000, 300.0)
    peer_wall = time.perf_counter() - peer_wall
    per_request = peer_wall / arrival.size
    print(f"peer (event loop, heapq): {arrival.size:,} requests in {peer_wall:.2f} s, {per_request * 1e6:.3f} us per "
          f"request -> {per_request * sim.requests:.1f} s for {sim.requests:,}")
    print(f"ratio: labkit {per_request * sim.requests / wall:.1f}x faster than the event loop")

    small = simulate(Times(arrival.tolist()), workload, seed=2)
    print(f"agreement on the peer's {arrival.size:,} requests: throttles {small.throttles} vs {throttles}, "
          f"cold starts {small.cold_starts} vs {cold}")


if __name__ == "__main__":
    main()
