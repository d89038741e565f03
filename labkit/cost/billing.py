"""Bills: an itemised Lambda bill from real invocations (`bill`) or from a workload's figures (`estimate`).

Both add up a month of usage per architecture (requests, GB-seconds, provisioned concurrency,
ephemeral storage) and price it with :data:`labkit.cost.prices.PRICES`: the free tier first (it
is shared by both architectures: labkit gives it to x86_64 usage first), then the volume tiers
on what remains. A GB-second is one second of billed duration at 1,024 MB of configured memory.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from labkit.cost.prices import (
    ARCHITECTURES,
    FREE_STORAGE_MB,
    HOURS_PER_MONTH,
    LEGACY_ROUNDING_MS,
    PRICES,
    PROVISIONED_ROUNDING_S,
    PriceTable,
)
from labkit.errors import ConfigurationError
from labkit.runtime import limits
from labkit.runtime.invocation import Report


class HasReport(Protocol):
    @property
    def report(self) -> Report: ...

    @property
    def request_id(self) -> str: ...


Billable = HasReport | Report | str


@dataclass(frozen=True)
class LineItem:
    """One line of a bill: `quantity` `unit` at `unit_usd` each makes `usd` (free-tier lines cost 0)."""

    kind: str  # requests | compute | provisioned | storage | free tier
    description: str
    quantity: float
    unit: str
    unit_usd: float
    usd: float


@dataclass(frozen=True)
class InvocationCost:
    """What one invocation costs at list prices (before the free tier, first volume tier)."""

    function: str
    request_id: str
    billed_ms: int
    memory_mb: int
    gb_s: float
    usd: float


@dataclass
class Usage:
    """A month of usage of one architecture, in billing units."""

    requests: float = 0.0
    gb_s: float = 0.0  # on-demand duration, INIT included where billed
    storage_gb_s: float = 0.0  # ephemeral storage above the free 512 MB, over billed duration
    provisioned_gb_s: float = 0.0  # configured provisioned concurrency
    provisioned_duration_gb_s: float = 0.0  # duration that ran on provisioned environments
    provisioned: bool = False  # some function has provisioned concurrency: no free tier for it


@dataclass(frozen=True)
class Bill:
    """An itemised Lambda bill: `items`, `total_usd`, and per function and per invocation where known."""

    items: tuple[LineItem, ...]
    by_function: dict[str, float] = field(default_factory=dict)  # list price before the free tier
    invocations: tuple[InvocationCost, ...] = ()
    prices: PriceTable = PRICES

    @property
    def total_usd(self) -> float:
        return sum(item.usd for item in self.items)

    @property
    def free_tier_savings_usd(self) -> float:
        """What the free tier took off the bill."""
        return sum(item.quantity * item.unit_usd for item in self.items if item.kind == "free tier")

    def usd_by_kind(self) -> dict[str, float]:
        """Dollars per kind of line (requests, compute, provisioned, storage)."""
        totals: dict[str, float] = {}
        for item in self.items:
            if item.kind != "free tier":
                totals[item.kind] = totals.get(item.kind, 0.0) + item.usd
        return totals

    def __str__(self) -> str:
        width = max([len(item.description) for item in self.items] + [5])
        lines = [f"Lambda bill, {self.prices.region} prices checked {self.prices.checked.isoformat()}"]
        for item in self.items:
            amount = f"{item.quantity:>18,.2f} {item.unit:<8}"
            lines.append(f"  {item.description:<{width}} {amount} ${item.usd:>12,.2f}")
        lines.append(f"  {'total':<{width}} {'':>27} ${self.total_usd:>12,.2f}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(str(self))  # type: ignore[attr-defined]


def price(usage: Mapping[str, Usage], *, free_tier: bool = True, prices: PriceTable = PRICES) -> tuple[LineItem, ...]:
    """The line items of a month's `usage` (architecture -> Usage)."""
    items: list[LineItem] = []
    free_requests = float(prices.free_requests) if free_tier else 0.0
    free_gb_s = prices.free_gb_s if free_tier else 0.0
    for architecture in ARCHITECTURES:
        use = usage.get(architecture)
        if use is None or not (use.requests or use.gb_s or use.provisioned_gb_s):
            continue
        label = f" ({architecture})"
        arch = prices.prices(architecture)
        free_here = not use.provisioned
        requests_free = min(use.requests, free_requests) if free_here else 0.0
        free_requests -= requests_free
        gb_s_free = min(use.gb_s, free_gb_s) if free_here else 0.0
        free_gb_s -= gb_s_free
        if requests_free:
            items.append(LineItem("free tier", "free tier: requests" + label, requests_free, "requests", prices.request_usd, 0.0))
        items.append(
            LineItem("requests", "requests" + label, use.requests - requests_free, "requests", prices.request_usd,
                     (use.requests - requests_free) * prices.request_usd)
        )
        if gb_s_free:
            items.append(LineItem("free tier", "free tier: compute" + label, gb_s_free, "GB-s", arch.tiers[0].usd_per_gb_s, 0.0))
        tiers = prices.tiered(use.gb_s - gb_s_free, architecture)
        for number, (gb_s, tier, usd) in enumerate(tiers, start=1):
            tier_name = f", tier {number}" if len(tiers) > 1 else ""
            items.append(LineItem("compute", f"compute{label}{tier_name}", gb_s, "GB-s", tier.usd_per_gb_s, usd))
        if use.provisioned_gb_s:
            note = "" if arch.provisioned_confirmed else ", approximate"
            items.append(LineItem("provisioned", f"provisioned concurrency{label}{note}", use.provisioned_gb_s, "GB-s",
                                  arch.provisioned_usd_per_gb_s, use.provisioned_gb_s * arch.provisioned_usd_per_gb_s))
            items.append(LineItem("provisioned", f"duration on provisioned{label}{note}", use.provisioned_duration_gb_s, "GB-s",
                                  arch.provisioned_duration_usd_per_gb_s,
                                  use.provisioned_duration_gb_s * arch.provisioned_duration_usd_per_gb_s))
        if use.storage_gb_s:
            items.append(LineItem("storage", "ephemeral storage above 512 MB" + label, use.storage_gb_s, "GB-s",
                                  prices.storage_usd_per_gb_s, use.storage_gb_s * prices.storage_usd_per_gb_s))
    return tuple(items)


def bill(
    invocations: Iterable[Billable] | Mapping[str, Iterable[Billable]],
    *,
    architecture: str = "x86_64",
    free_tier: bool = True,
    ephemeral_storage_mb: int = FREE_STORAGE_MB,
    prices: PriceTable = PRICES,
) -> Bill:
    """The bill of real invocations: `labkit.Invocation`s, `labkit.Report`s or REPORT log lines.

    Pass ``{"function-name": invocations, ...}`` to see the bill per function. Each invocation
    is billed its REPORT's Billed Duration (INIT included on cold starts) at its Memory Size.
    """
    groups = invocations.items() if isinstance(invocations, Mapping) else [("function", invocations)]
    prices.prices(architecture)
    _check_storage(ephemeral_storage_mb)
    extra_storage_gb = (ephemeral_storage_mb - FREE_STORAGE_MB) / 1024
    compute_usd = prices.prices(architecture).tiers[0].usd_per_gb_s
    use = Usage()
    costs: list[InvocationCost] = []
    by_function: dict[str, float] = {}
    for function, group in groups:
        by_function.setdefault(function, 0.0)
        for billable in group:
            request_id, report = _report_of(billable)
            gb_s = report.billed_ms / 1000 * report.memory_mb / 1024
            storage_gb_s = report.billed_ms / 1000 * extra_storage_gb
            usd = prices.request_usd + gb_s * compute_usd + storage_gb_s * prices.storage_usd_per_gb_s
            use.requests += 1
            use.gb_s += gb_s
            use.storage_gb_s += storage_gb_s
            costs.append(InvocationCost(function, request_id, report.billed_ms, report.memory_mb, gb_s, usd))
            by_function[function] += usd
    items = price({architecture: use}, free_tier=free_tier, prices=prices)
    return Bill(items, by_function, tuple(costs), prices)


def estimate(
    requests: float,
    duration_ms: float,
    memory_mb: int,
    architecture: str = "x86_64",
    free_tier: bool = True,
    *,
    ephemeral_storage_mb: int = FREE_STORAGE_MB,
    cold_start_rate: float = 0.0,
    init_ms: float = 0.0,
    provisioned_concurrency: int = 0,
    provisioned_hours: float = HOURS_PER_MONTH,
    provisioned_share: float | None = None,
    rounding_ms: int = 1,
    prices: PriceTable = PRICES,
) -> Bill:
    """A monthly estimate for one function: `requests` a month of `duration_ms` each at `memory_mb`.

    `cold_start_rate` of the on-demand requests also bill `init_ms` of INIT. With
    `provisioned_concurrency` environments configured for `provisioned_hours` a month,
    `provisioned_share` of the requests run on them (the rest on demand) and the free tier does
    not apply; by default as many as they can hold if the traffic were spread evenly over those
    hours. `rounding_ms=100` bills as Lambda did before December 2020.
    """
    _check_number("requests", requests, 0)
    _check_number("duration_ms", duration_ms, 0)
    _check_number("init_ms", init_ms, 0)
    _check_number("cold_start_rate", cold_start_rate, 0, 1)
    if provisioned_share is not None:
        _check_number("provisioned_share", provisioned_share, 0, 1)
    _check_number("provisioned_hours", provisioned_hours, 0)
    _check_number("provisioned_concurrency", provisioned_concurrency, 0)
    if not limits.MEMORY_MIN_MB <= memory_mb <= limits.MEMORY_MAX_MB:
        raise ConfigurationError(
            f"memory_mb={memory_mb!r} is outside Lambda's {limits.MEMORY_MIN_MB}-{limits.MEMORY_MAX_MB} MB"
        )
    if rounding_ms not in (1, LEGACY_ROUNDING_MS):
        raise ConfigurationError(f"rounding_ms={rounding_ms!r}: Lambda rounds up to 1 ms (since December 2020) or 100 ms (before)")
    _check_storage(ephemeral_storage_mb)
    prices.prices(architecture)
    memory_gb = memory_mb / 1024
    warm_s = billed_ms(duration_ms, rounding_ms) / 1000
    if provisioned_share is None:
        busy_s = requests * warm_s
        provisioned_share = min(1.0, provisioned_concurrency * provisioned_hours * 3600 / busy_s) if busy_s else 0.0
    on_provisioned = requests * provisioned_share if provisioned_concurrency else 0.0
    on_demand = requests - on_provisioned
    cold_s = billed_ms(duration_ms + init_ms, rounding_ms) / 1000
    on_demand_s = on_demand * ((1 - cold_start_rate) * warm_s + cold_start_rate * cold_s)
    configured_s = math.ceil(provisioned_hours * 3600 / PROVISIONED_ROUNDING_S) * PROVISIONED_ROUNDING_S
    use = Usage(
        requests=requests,
        gb_s=on_demand_s * memory_gb,
        storage_gb_s=(on_demand_s + on_provisioned * warm_s) * (ephemeral_storage_mb - FREE_STORAGE_MB) / 1024,
        provisioned_gb_s=provisioned_concurrency * memory_gb * configured_s,
        provisioned_duration_gb_s=on_provisioned * warm_s * memory_gb,
        provisioned=provisioned_concurrency > 0,
    )
    return Bill(price({architecture: use}, free_tier=free_tier, prices=prices), prices=prices)


def billed_ms(duration_ms: float, rounding_ms: int = 1) -> int:
    """Lambda's billed duration: rounded up to the next `rounding_ms` (1 ms since December 2020)."""
    return math.ceil(round(duration_ms, 6) / rounding_ms) * rounding_ms


def _report_of(billable: Billable) -> tuple[str, Report]:
    if isinstance(billable, Report):
        return billable.request_id, billable
    if isinstance(billable, str):
        try:
            report = Report.parse(billable)
        except ValueError as exc:
            raise ConfigurationError(f"{exc}: pass REPORT lines as Lambda writes them, Invocations or Reports") from None
        return report.request_id, report
    found = getattr(billable, "report", None)
    if not isinstance(found, Report):
        raise ConfigurationError(
            f"cannot bill {type(billable).__name__!r}: pass labkit Invocations, their .report, or REPORT log lines"
        )
    return billable.request_id, found


def _check_number(name: str, value: float, low: float, high: float | None = None) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise ConfigurationError(f"{name}={value!r} must be a number {bounds}")


def _check_storage(ephemeral_storage_mb: int) -> None:
    if not limits.EPHEMERAL_MIN_MB <= ephemeral_storage_mb <= limits.EPHEMERAL_MAX_MB:
        raise ConfigurationError(
            f"ephemeral_storage_mb={ephemeral_storage_mb!r} is outside Lambda's "
            f"{limits.EPHEMERAL_MIN_MB}-{limits.EPHEMERAL_MAX_MB} MB"
        )
