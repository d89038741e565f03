"""Chapter 08, cost: a monthly bill worked out by hand, and the cheapest memory size from measurements."""
from __future__ import annotations

import math
from typing import Any

from labkit.cost.billing import estimate
from labkit.cost.prices import PRICES
from labkit.cost.tuning import cost_per_invocation
from labkit.course.checks import exercise, expect

# (requests a month, average duration ms, memory MB), x86_64 with the free tier
BILL_CASES = [
    (3_000_000, 1000, 512),  # AWS's classic example: $18.73
    (30_000_000, 27.4, 1024),  # billed 28 ms each
    (500_000, 200, 128),  # inside the free tier
    (120_000_000, 85.2, 1769),
    (2_000_000, 3000, 10_240),
]

# measured average durations (ms) per memory size (MB): CPU-bound work on Lambda-like CPU shares
MEMORY_CASES = [
    {128: 1650.0, 256: 820.0, 512: 405.0, 1024: 204.0, 2048: 118.0},
    {128: 95.0, 256: 91.0, 512: 90.0, 1024: 89.5},  # waiting on the network: memory buys nothing
    {128: 2400.0, 512: 390.0, 1024: 190.0, 1769: 112.0, 3008: 108.0},  # 128 MB was swapping
    {256: 33.5, 512: 15.1, 1024: 8.9, 2048: 8.7},
]


def _monthly(requests: float, duration_ms: float, memory_mb: float, *, free_tier: bool = True, rounding_ms: float = 1,
             mb_per_gb: float = 1024) -> float:
    """The bill as a learner might work it out, right or with one of the usual slips (all cases stay in tier 1)."""
    billed_ms = math.ceil(round(duration_ms, 6) / rounding_ms) * rounding_ms if rounding_ms else duration_ms
    gb_s = requests * billed_ms / 1000 * memory_mb / mb_per_gb
    free_requests, free_gb_s = (PRICES.free_requests, PRICES.free_gb_s) if free_tier else (0, 0)
    compute_usd = PRICES.prices("x86_64").tiers[0].usd_per_gb_s
    return max(0.0, requests - free_requests) * PRICES.request_usd + max(0.0, gb_s - free_gb_s) * compute_usd


SLIPS = (
    ({"free_tier": False}, "is the bill without the free tier: take 1 M requests and 400,000 GB-s off first."),
    ({"rounding_ms": 100}, "rounds to 100 ms: Lambda bills in steps of 1 ms since December 2020."),
    ({"rounding_ms": 0}, "uses the exact duration: round each request's duration up to the next millisecond first."),
    ({"mb_per_gb": 1000}, "counts 1,000 MB to the GB: Lambda's GB-second is 1,024 MB for one second."),
)


@exercise("08.monthly-bill", title="A monthly bill by hand")
def monthly_bill(answer: Any) -> None:
    """`answer`: a function (requests, duration_ms, memory_mb) -> the month's dollars (x86_64, free tier, 1 ms billing)."""
    expect(callable(answer), "pass your function itself (its name, without calling it).")
    for requests, duration_ms, memory_mb in BILL_CASES:
        call = f"bill_usd({requests:_}, {duration_ms}, {memory_mb})"
        got = answer(requests, duration_ms, memory_mb)
        expect(isinstance(got, (int, float)) and not isinstance(got, bool), f"{call} returned {got!r}: return dollars, a number.")
        want = estimate(requests=requests, duration_ms=duration_ms, memory_mb=memory_mb).total_usd
        if abs(got - want) < 0.01:
            continue
        expect(got >= 0, f"{call} returned {got:.2f}: a bill is never negative; the free tier takes usage off, down to zero.")
        for slip, message in SLIPS:
            expect(abs(got - _monthly(requests, duration_ms, memory_mb, **slip)) >= 0.005, f"{call} {message}")
        expect(False, f"{call} returned {got:.2f}, not the bill: requests beyond the free million at $0.20 per million, plus "
                      "GB-seconds beyond the free 400,000 at $0.0000166667 each (GB = memory_mb / 1024, seconds = "
                      "billed milliseconds / 1000).")


def _cheapest(measurements: dict[int, float]) -> int:
    return min(measurements, key=lambda memory: (cost_per_invocation(memory, measurements[memory]), measurements[memory]))


@exercise("08.cheapest-mem", title="Find the cheapest memory size")
def cheapest_memory(answer: Any) -> None:
    """`answer`: a function {memory_mb: average duration ms} -> the memory size with the lowest cost per invocation."""
    expect(callable(answer), "pass your function itself (its name, without calling it).")
    for measurements in MEMORY_CASES:
        got = answer(dict(measurements))
        want = _cheapest(measurements)
        if got == want:
            continue
        expect(got in measurements, f"for {measurements} you returned {got!r}: return one of the measured memory sizes.")
        fastest = min(measurements, key=measurements.__getitem__)
        expect(got != fastest, f"for {measurements} you picked the fastest, {got} MB: the fastest is not always the cheapest. "
                               "Compare the cost of one invocation at each size.")
        expect(got != min(measurements), f"for {measurements} you picked the smallest memory, {got} MB: less memory is not "
                                         "always cheaper, because it runs longer. Compare the cost of one invocation at each size.")
        expect(False, f"for {measurements} {got} MB is not the cheapest: one invocation costs GB-seconds "
                      "(memory_mb / 1024 × billed ms / 1000) × the price per GB-s, plus the request.")
