"""Chapter 08's checks: a monthly bill by hand and the cheapest memory pass good answers and explain slips."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from labkit.course.checks import CheckFailed, check


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))


def bill(requests, duration_ms, memory_mb, *, free=True, step_ms=1, mb_per_gb=1024):
    billed_s = math.ceil(duration_ms / step_ms) * step_ms / 1000
    gb_s = requests * billed_s * memory_mb / mb_per_gb
    free_requests, free_gb_s = (1_000_000, 400_000) if free else (0, 0)
    return max(0, requests - free_requests) * 0.2 / 1e6 + max(0, gb_s - free_gb_s) * 0.0000166667


def fails(name, answer, hint) -> None:
    with pytest.raises(CheckFailed, match=hint):
        check(name, answer)


def test_monthly_bill_passes_the_arithmetic_and_names_each_slip(capsys: pytest.CaptureFixture[str]) -> None:
    check("08.monthly-bill", bill)
    assert "passed" in capsys.readouterr().out
    fails("08.monthly-bill", lambda r, d, m: bill(r, d, m, free=False), "without the free tier")
    fails("08.monthly-bill", lambda r, d, m: bill(r, d, m, step_ms=100), "1 ms since December 2020")
    fails("08.monthly-bill", lambda r, d, m: bill(r, d, m, mb_per_gb=1000), "1,024 MB")
    fails("08.monthly-bill", lambda r, d, m: r * 0.2 / 1e6 - 1, "never negative")
    fails("08.monthly-bill", lambda r, d, m: "$18.73", "return dollars")


def test_cheapest_memory_passes_cost_per_invocation_and_explains_the_myths(capsys: pytest.CaptureFixture[str]) -> None:
    def per_invocation(measurements, memory):
        return 0.2 / 1e6 + math.ceil(measurements[memory]) / 1000 * memory / 1024 * 0.0000166667

    check("08.cheapest-mem", lambda m: min(m, key=lambda memory: (per_invocation(m, memory), m[memory])))
    assert "passed" in capsys.readouterr().out
    fails("08.cheapest-mem", lambda m: min(m, key=m.get), "the fastest is not always the cheapest")
    fails("08.cheapest-mem", min, "less memory is not\\s+always cheaper")
    fails("08.cheapest-mem", lambda m: 100, "one of the measured memory sizes")
