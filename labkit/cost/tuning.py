"""Power tuning, as alexcasalboni/aws-lambda-power-tuning does it: the same function at several memory sizes.

At each memory size the function is invoked `runs` times (after one cold invoke that is not
counted), the fastest and slowest 20 % are dropped, and the average Duration and the cost per
invocation are reported. A strategy picks the best size: ``cost`` (cheapest), ``speed``
(fastest) or ``balanced`` (``weight`` × cost / the highest cost + (1 − weight) × duration / the
longest duration, smallest wins; weight 1 is ``cost``, 0 is ``speed``).

On the docker backend a function gets memory / 1,769 MB of a vCPU, as on Lambda, so CPU-bound
work speeds up with memory. The process backend does not limit CPU: every size runs at the
host's speed there, and the result says so.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.cost.billing import billed_ms
from labkit.cost.prices import PRICES, PriceTable
from labkit.errors import ConfigurationError, LabkitError
from labkit.runtime.backends import Backend, get_backend
from labkit.runtime.function import Function

POWER_VALUES = (128, 256, 512, 1024, 1536, 3008)  # aws-lambda-power-tuning's default powerValues
TRIM = 0.2  # the share of fastest and of slowest runs dropped
STRATEGIES = ("cost", "speed", "balanced")


class PowerTuningError(LabkitError, RuntimeError):
    """The function failed while being tuned."""


@dataclass(frozen=True)
class PowerPoint:
    """One memory size: the measured durations, their trimmed average and the cost per invocation."""

    memory_mb: int
    durations_ms: tuple[float, ...]
    average_ms: float
    cost_usd: float  # request + compute, at the first volume tier


@dataclass(frozen=True)
class PowerTuning:
    """A power-tuning run: `points` per memory size, the `best` by `strategy`, and where it ran."""

    points: tuple[PowerPoint, ...]
    strategy: str
    weight: float
    best: PowerPoint
    backend: str
    cpu_follows_memory: bool

    @property
    def note(self) -> str:
        if self.cpu_follows_memory:
            return "CPU follows memory here (memory / 1,769 MB of a vCPU), as on Lambda."
        return (
            f"The {self.backend} backend does not scale CPU with memory: durations barely change with memory "
            "here, unlike on Lambda. Use backend='docker' to see the real trade-off."
        )

    def __str__(self) -> str:
        lines = [f"{'memory':>8} {'avg duration':>14} {'cost per invocation':>20}"]
        for point in self.points:
            mark = "  <- best (" + self.strategy + ")" if point is self.best else ""
            lines.append(f"{point.memory_mb:>5} MB {point.average_ms:>11.2f} ms ${point.cost_usd:>18.10f}{mark}")
        return "\n".join(lines + [self.note])


def cost_per_invocation(memory_mb: int, duration_ms: float, architecture: str = "x86_64", prices: PriceTable = PRICES) -> float:
    """One invocation's list price: the request plus its billed duration (1 ms rounding) at `memory_mb`."""
    gb_s = billed_ms(duration_ms) / 1000 * memory_mb / 1024
    return prices.request_usd + gb_s * prices.prices(architecture).tiers[0].usd_per_gb_s


def trimmed_mean(values: Sequence[float], trim: float = TRIM) -> float:
    """The average without the `trim` share of lowest and of highest values."""
    ordered = sorted(values)
    drop = int(len(ordered) * trim)
    kept = ordered[drop: len(ordered) - drop] or ordered
    return sum(kept) / len(kept)


def check_strategy(strategy: str, weight: float) -> None:
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"strategy {strategy!r} is unknown: use one of {', '.join(STRATEGIES)}")
    if not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise ConfigurationError(f"weight={weight!r} must be between 0 (speed) and 1 (cost)")


def pick(points: Sequence[PowerPoint], strategy: str = "balanced", weight: float = 0.5) -> PowerPoint:
    """The best point by `strategy`: cost, speed, or balanced with `weight` (1: cost only, 0: speed only)."""
    check_strategy(strategy, weight)
    if not points:
        raise ConfigurationError("no measurements to pick from")
    if strategy == "cost":
        return min(points, key=lambda p: (p.cost_usd, p.average_ms))
    if strategy == "speed":
        return min(points, key=lambda p: (p.average_ms, p.cost_usd))
    top_cost = max(p.cost_usd for p in points) or 1.0
    top_ms = max(p.average_ms for p in points) or 1.0
    return min(points, key=lambda p: weight * p.cost_usd / top_cost + (1 - weight) * p.average_ms / top_ms)


def power_tune(
    handler: str,
    code: str | Path,
    event: Any = None,
    *,
    memory_sizes: Sequence[int] = POWER_VALUES,
    runs: int = 10,
    backend: str | Backend = "process",
    strategy: str = "balanced",
    weight: float = 0.5,
    architecture: str = "x86_64",
    env: dict[str, str] | None = None,
    timeout_s: float = 30,
    prices: PriceTable = PRICES,
) -> PowerTuning:
    """Invoke `handler` (in `code`) with `event` `runs` times at each of `memory_sizes`; see the module."""
    if not isinstance(runs, int) or runs < 1:
        raise ConfigurationError(f"runs={runs!r} must be a whole number, 1 or more (aws-lambda-power-tuning's num)")
    sizes = sorted(set(memory_sizes))
    if not sizes:
        raise ConfigurationError("memory_sizes is empty: give memory sizes in MB, e.g. (128, 256, 512, 1024)")
    check_strategy(strategy, weight)
    prices.prices(architecture)
    chosen = get_backend(backend) if isinstance(backend, str) else backend
    points = []
    for memory_mb in sizes:
        with Function(handler, code, memory_mb=memory_mb, timeout_s=timeout_s, env=env, backend=chosen,
                      name=f"power-tuning-{memory_mb}") as function:
            durations = []
            for invocation in [function.invoke(event) for _ in range(runs + 1)][1:]:
                if invocation.error is not None:
                    raise PowerTuningError(
                        f"the function failed at {memory_mb} MB: {invocation.error.get('errorType')}: "
                        f"{invocation.error.get('errorMessage')}. Power tuning needs a function that succeeds "
                        "(a memory size too small for it? leave it out of memory_sizes)"
                    )
                durations.append(invocation.report.duration_ms)
        average = trimmed_mean(durations)
        points.append(PowerPoint(memory_mb, tuple(durations), average, cost_per_invocation(memory_mb, average, architecture, prices)))
    return PowerTuning(tuple(points), strategy, weight, pick(points, strategy, weight), chosen.name, chosen.name == "docker")
