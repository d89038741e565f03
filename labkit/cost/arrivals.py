"""Arrival processes for the scale simulator: when requests reach the function (seconds from the start).

Each process draws sorted arrival times with a numpy random generator: `Constant` (evenly
spaced), `Poisson` (independent requests at a mean rate), `Bursts` (a Poisson base load with
periodic bursts on top), `DailyCycle` (a Poisson load whose rate follows the hours of a day) and
`Times` (given times, e.g. those of a measured load test).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from labkit.errors import ConfigurationError

SECONDS_PER_DAY = 86_400


class Arrivals(Protocol):
    """Something that draws arrival times: sorted float64 seconds in [0, duration_s)."""

    @property
    def duration_s(self) -> float: ...

    def times(self, rng: np.random.Generator) -> np.ndarray: ...


def _positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0 or math.isinf(value):
        raise ConfigurationError(f"{name}={value!r} must be a positive number")


def uniform_sorted(rng: np.random.Generator, count: int, high: float) -> np.ndarray:
    """`count` uniform points in [0, high), sorted, without sorting: normalised sums of exponential gaps."""
    gaps = rng.standard_exponential(count + 1)
    sums = np.cumsum(gaps)
    return sums[:-1] * (high / sums[-1])


@dataclass(frozen=True)
class _SteadyRate:
    """A rate (`rate_per_s` requests a second) held for `duration_s` seconds."""

    rate_per_s: float
    duration_s: float

    def __post_init__(self) -> None:
        _positive("rate_per_s", self.rate_per_s)
        _positive("duration_s", self.duration_s)


@dataclass(frozen=True)
class Constant(_SteadyRate):
    """`rate_per_s` requests a second, evenly spaced, for `duration_s` seconds."""

    def times(self, rng: np.random.Generator) -> np.ndarray:
        return np.arange(int(self.rate_per_s * self.duration_s), dtype=np.float64) / self.rate_per_s


@dataclass(frozen=True)
class Poisson(_SteadyRate):
    """Independent requests at a mean of `rate_per_s` a second for `duration_s` seconds."""

    def times(self, rng: np.random.Generator) -> np.ndarray:
        return uniform_sorted(rng, rng.poisson(self.rate_per_s * self.duration_s), self.duration_s)


@dataclass(frozen=True)
class Bursts:
    """A Poisson base load of `rate_per_s`, plus `burst_rate_per_s` more for `burst_s` seconds every `every_s`."""

    rate_per_s: float
    duration_s: float
    burst_rate_per_s: float
    every_s: float = 60.0
    burst_s: float = 5.0
    first_burst_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rate_per_s", "duration_s", "burst_rate_per_s", "every_s", "burst_s"):
            _positive(name, getattr(self, name))
        if self.burst_s > self.every_s:
            raise ConfigurationError(f"burst_s={self.burst_s} is longer than every_s={self.every_s}: bursts would overlap")

    def times(self, rng: np.random.Generator) -> np.ndarray:
        base = Poisson(self.rate_per_s, self.duration_s).times(rng)
        starts = np.arange(self.first_burst_s, self.duration_s, self.every_s)
        ends = np.minimum(starts + self.burst_s, self.duration_s)
        counts = rng.poisson(self.burst_rate_per_s * (ends - starts))
        offsets = np.repeat(starts, counts) + rng.random(int(counts.sum())) * np.repeat(ends - starts, counts)
        times = np.concatenate([base, offsets])
        times.sort()
        return times


@dataclass(frozen=True)
class DailyCycle:
    """A Poisson load averaging `mean_rate_per_s`, `peak_to_trough` times busier at `peak_hour` than 12 hours later."""

    mean_rate_per_s: float
    days: float = 1.0
    peak_to_trough: float = 4.0
    peak_hour: float = 14.0

    def __post_init__(self) -> None:
        _positive("mean_rate_per_s", self.mean_rate_per_s)
        _positive("days", self.days)
        if not self.peak_to_trough >= 1:
            raise ConfigurationError(f"peak_to_trough={self.peak_to_trough!r} must be 1 or more (1: a flat load)")

    @property
    def duration_s(self) -> float:
        return self.days * SECONDS_PER_DAY

    @property
    def amplitude(self) -> float:
        """The rate swings between mean × (1 - amplitude) and mean × (1 + amplitude)."""
        return (self.peak_to_trough - 1) / (self.peak_to_trough + 1)

    def rate_at(self, seconds: np.ndarray) -> np.ndarray:
        """The mean request rate at the given times (seconds since midnight of the first day)."""
        phase = 2 * np.pi * (seconds / 3600 - self.peak_hour) / 24
        return self.mean_rate_per_s * (1 + self.amplitude * np.cos(phase))

    def times(self, rng: np.random.Generator) -> np.ndarray:
        # a unit-rate Poisson process, mapped through the inverse of the expected count so far
        grid = np.linspace(0.0, self.duration_s, int(self.duration_s // 60) + 2)  # minute by minute
        rates = self.rate_at(grid)
        expected = np.concatenate([[0.0], np.cumsum((rates[1:] + rates[:-1]) / 2 * np.diff(grid))])
        count = rng.poisson(expected[-1])
        return np.interp(uniform_sorted(rng, count, expected[-1]), expected, grid)


@dataclass(frozen=True)
class Times:
    """Given arrival times in seconds (e.g. when a measured load test sent its requests)."""

    seconds: Sequence[float]

    def __post_init__(self) -> None:
        if len(self.seconds) == 0:
            raise ConfigurationError("Times() needs at least one arrival time")
        if min(self.seconds) < 0:
            raise ConfigurationError("arrival times are seconds since the start: none may be negative")

    @property
    def duration_s(self) -> float:
        return float(max(self.seconds)) + 1e-9

    def times(self, rng: np.random.Generator) -> np.ndarray:
        times = np.asarray(self.seconds, dtype=np.float64).copy()
        times.sort()
        return times
