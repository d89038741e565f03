"""Prices and bills: AWS's published examples (shared/FACTS.md) reproduced to the cent."""
from __future__ import annotations

import pytest

from labkit.cost import PRICES, bill, billed_ms, estimate
from labkit.errors import ConfigurationError
from labkit.runtime.invocation import Report


def test_the_classic_example_512_mb_3_million_seconds_costs_18_73() -> None:
    result = estimate(requests=3_000_000, duration_ms=1000, memory_mb=512)
    by_kind = result.usd_by_kind()
    assert round(by_kind["compute"], 2) == 18.33  # (1.5 M - 400 k free) GB-s x $0.0000166667
    assert round(by_kind["requests"], 2) == 0.40  # (3 M - 1 M free) x $0.20 per million
    assert round(result.total_usd, 2) == 18.73
    compute = next(item for item in result.items if item.kind == "compute")
    assert compute.quantity == pytest.approx(1_100_000)


def test_one_ms_rounding_and_the_old_100_ms() -> None:
    assert billed_ms(27.40) == 28  # AWS News Blog, 1 ms billing granularity
    assert billed_ms(27.40, 100) == 100
    assert billed_ms(100.0) == 100
    legacy = estimate(requests=1_000_000, duration_ms=27.4, memory_mb=128, free_tier=False, rounding_ms=100)
    modern = estimate(requests=1_000_000, duration_ms=27.4, memory_mb=128, free_tier=False)
    assert legacy.usd_by_kind()["compute"] / modern.usd_by_kind()["compute"] == pytest.approx(100 / 28)


def test_init_is_billed_as_in_the_aws_docs_example() -> None:
    line = ("REPORT RequestId: 3f9b2c1e-0000-4000-8000-000000000001\tDuration: 15.74 ms\tBilled Duration: 147 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t")
    assert Report.billed(15.74, 130.49) == 147
    result = bill([line], free_tier=False)
    (invocation,) = result.invocations
    assert invocation.billed_ms == 147
    assert invocation.gb_s == pytest.approx(0.147 * 128 / 1024)
    with_init = estimate(requests=1000, duration_ms=15.74, memory_mb=128, free_tier=False, cold_start_rate=1.0, init_ms=130.49)
    assert with_init.usd_by_kind()["compute"] == pytest.approx(1000 * 0.147 / 8 * 0.0000166667)


def test_volume_tiers_per_architecture() -> None:
    x86 = estimate(requests=0, duration_ms=1000, memory_mb=1024, free_tier=False)
    assert x86.total_usd == 0
    gb_s = 20e9
    assert PRICES.compute_usd(gb_s, "x86_64") == pytest.approx(6e9 * 0.0000166667 + 9e9 * 0.0000150 + 5e9 * 0.0000133334)
    assert PRICES.compute_usd(gb_s, "arm64") == pytest.approx(7.5e9 * 0.0000133334 + 11.25e9 * 0.0000120001 + 1.25e9 * 0.0000106667)
    big = estimate(requests=20e9, duration_ms=1000, memory_mb=1024, free_tier=False)
    assert [item.description for item in big.items if item.kind == "compute"] == [
        "compute (x86_64), tier 1", "compute (x86_64), tier 2", "compute (x86_64), tier 3"]


def test_arm64_is_cheaper_per_gb_second() -> None:
    x86 = estimate(requests=10e6, duration_ms=200, memory_mb=1024, free_tier=False)
    arm = estimate(requests=10e6, duration_ms=200, memory_mb=1024, architecture="arm64", free_tier=False)
    assert arm.usd_by_kind()["compute"] / x86.usd_by_kind()["compute"] == pytest.approx(0.0000133334 / 0.0000166667)
    assert arm.usd_by_kind()["requests"] == x86.usd_by_kind()["requests"] == pytest.approx(2.0)


def test_provisioned_concurrency_is_billed_while_configured_and_loses_the_free_tier() -> None:
    result = estimate(requests=1_000_000, duration_ms=100, memory_mb=1024, provisioned_concurrency=10, provisioned_hours=730)
    configured = 10 * 1.0 * 730 * 3600
    lines = {item.description: item for item in result.items}
    assert lines["provisioned concurrency (x86_64)"].quantity == pytest.approx(configured)
    assert lines["provisioned concurrency (x86_64)"].usd == pytest.approx(configured * 0.0000041667)
    assert lines["duration on provisioned (x86_64)"].usd == pytest.approx(1_000_000 * 0.1 * 0.0000097222)
    assert result.usd_by_kind()["requests"] == pytest.approx(0.20)  # no free requests
    assert not any(item.kind == "free tier" for item in result.items)
    # 10 environments for 730 hours hold 26.28 M seconds of work: the rest runs on demand
    busy = estimate(requests=1e9, duration_ms=100, memory_mb=1024, provisioned_concurrency=10)
    lines = {item.description: item for item in busy.items}
    assert lines["duration on provisioned (x86_64)"].quantity == pytest.approx(configured)
    assert lines["compute (x86_64)"].quantity == pytest.approx(1e9 * 0.1 - configured)
    five_minutes = estimate(requests=0, duration_ms=1, memory_mb=1024, provisioned_concurrency=1, provisioned_hours=0.01)
    assert five_minutes.usd_by_kind()["provisioned"] == pytest.approx(300 * 0.0000041667)


def test_ephemeral_storage_above_512_mb() -> None:
    result = estimate(requests=1_000_000, duration_ms=1000, memory_mb=1024, free_tier=False, ephemeral_storage_mb=10_240)
    assert result.usd_by_kind()["storage"] == pytest.approx(1_000_000 * 1.0 * (10_240 - 512) / 1024 * 0.0000000309)


def test_bill_of_invocations_per_function_and_invocation() -> None:
    def report(billed: int, memory: int = 1024) -> Report:
        return Report(request_id=f"r{billed}", duration_ms=billed - 0.5, billed_ms=billed, memory_mb=memory, max_memory_mb=60)

    result = bill({"api": [report(100), report(200)], "worker": [report(1000, 2048)]}, free_tier=False)
    assert [cost.gb_s for cost in result.invocations] == pytest.approx([0.1, 0.2, 2.0])
    assert result.by_function["worker"] == pytest.approx(0.0000002 + 2.0 * 0.0000166667)
    assert result.total_usd == pytest.approx(sum(result.by_function.values()))
    free = bill({"api": [report(100)]})
    assert free.total_usd == 0 and free.free_tier_savings_usd > 0
    assert "total" in str(result)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: estimate(requests=1, duration_ms=1, memory_mb=64), "128-10240"),
        (lambda: estimate(requests=1, duration_ms=1, memory_mb=128, architecture="arm"), "x86_64"),
        (lambda: estimate(requests=-1, duration_ms=1, memory_mb=128), "requests"),
        (lambda: estimate(requests=1, duration_ms=1, memory_mb=128, rounding_ms=10), "rounds up"),
        (lambda: bill(["START RequestId: x"]), "REPORT"),
        (lambda: bill([42]), "Invocations"),
    ],
)
def test_bad_input_names_the_problem(call, words) -> None:
    with pytest.raises(ConfigurationError, match=words):
        call()


def test_the_price_table_is_dated() -> None:
    assert PRICES.checked.isoformat() == "2026-11-23"
    assert (PRICES.ms_rounding_since.isoformat(), PRICES.init_billed_since.isoformat()) == ("2020-12-01", "2025-08-01")
    assert PRICES.prices("arm64").provisioned_confirmed is False
