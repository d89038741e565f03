"""What each simulated request does: its duration, its cold start's INIT, its memory and architecture.

A duration is a fixed number of milliseconds, a `Lognormal` (the usual shape of service times:
a median and a long right tail) or `Measured` values resampled at random. `Workload.calibrate`
takes both from measured local runs (labkit Invocations, or Reports).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from labkit.cost.prices import ARCHITECTURES
from labkit.errors import ConfigurationError
from labkit.runtime import limits
from labkit.runtime.invocation import Report

_P99_Z = 2.3263478740408408  # the standard normal's 99th percentile


@dataclass(frozen=True)
class Lognormal:
    """Milliseconds with median `median_ms` and 99th percentile `p99_ms` (log-normally distributed)."""

    median_ms: float
    p99_ms: float

    def __post_init__(self) -> None:
        if not 0 < self.median_ms <= self.p99_ms:
            raise ConfigurationError(
                f"Lognormal(median_ms={self.median_ms}, p99_ms={self.p99_ms}): need 0 < median_ms <= p99_ms"
            )

    def sample_ms(self, rng: np.random.Generator, count: int) -> np.ndarray:
        sigma = math.log(self.p99_ms / self.median_ms) / _P99_Z
        return rng.lognormal(math.log(self.median_ms), sigma, count)


@dataclass(frozen=True)
class Measured:
    """Measured milliseconds, drawn again at random (bootstrap)."""

    values_ms: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values_ms or min(self.values_ms) < 0:
            raise ConfigurationError("Measured() needs at least one duration, none negative")

    def sample_ms(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values_ms, dtype=np.float64), count)


Milliseconds = float | int | Lognormal | Measured


def sample_ms(value: Milliseconds, rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` draws of `value` (a fixed number is the same each time)."""
    if isinstance(value, (int, float)):
        return np.full(count, float(value))
    return value.sample_ms(rng, count)


@dataclass(frozen=True)
class Workload:
    """One function's requests: handler `duration_ms`, cold starts' `init_ms`, `memory_mb`, `architecture`."""

    duration_ms: Milliseconds
    init_ms: Milliseconds = 250.0
    memory_mb: int = 128
    architecture: str = "x86_64"
    ephemeral_storage_mb: int = 512

    def __post_init__(self) -> None:
        for name in ("duration_ms", "init_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, Lognormal, Measured)):
                raise ConfigurationError(f"{name} must be milliseconds: a number, labkit.cost.Lognormal or Measured")
            if isinstance(value, (int, float)) and value < 0:
                raise ConfigurationError(f"{name}={value!r} must not be negative")
        if not limits.MEMORY_MIN_MB <= self.memory_mb <= limits.MEMORY_MAX_MB:
            raise ConfigurationError(f"memory_mb={self.memory_mb!r} is outside Lambda's 128-10,240 MB")
        if self.architecture not in ARCHITECTURES:
            raise ConfigurationError(f"architecture {self.architecture!r}: use 'x86_64' or 'arm64'")

    @classmethod
    def calibrate(
        cls,
        runs: Iterable[object],
        *,
        held_ms: Sequence[float] | None = None,
        architecture: str = "x86_64",
    ) -> Workload:
        """A workload from measured runs of one function: labkit Invocations (or their Reports).

        Warm runs give the durations and cold runs the INIT durations, as measured values drawn
        again at random. `held_ms`, one per run, is how long each request held its execution
        environment as the caller measured it (the runtime's own overhead included): then warm
        runs give those times, and a cold run gives its time minus the median warm one as INIT.
        """
        reports = [run if isinstance(run, Report) else getattr(run, "report", None) for run in runs]
        if not reports or not all(isinstance(report, Report) for report in reports):
            raise ConfigurationError("calibrate() needs labkit Invocations or Reports of one function, at least one")
        checked = [report for report in reports if isinstance(report, Report)]
        if held_ms is not None and len(held_ms) != len(checked):
            raise ConfigurationError(f"held_ms has {len(held_ms)} times for {len(checked)} runs: give one per run")
        held = list(held_ms) if held_ms is not None else [r.duration_ms for r in checked]
        warm = [ms for ms, report in zip(held, checked) if not report.cold]
        if not warm or len(warm) == len(checked):
            raise ConfigurationError("calibrate() needs a cold run (a new function's first invoke) and warm runs")
        typical = float(np.median(warm))
        if held_ms is not None:
            inits = [max(0.0, ms - typical) for ms, report in zip(held, checked) if report.cold]
        else:
            inits = [float(report.init_ms or 0.0) for report in checked if report.cold]
        return cls(
            duration_ms=Measured(tuple(warm)),
            init_ms=Measured(tuple(inits)),
            memory_mb=checked[0].memory_mb,
            architecture=architecture,
        )
