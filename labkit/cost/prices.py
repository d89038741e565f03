"""Lambda's price table, dated: every price labkit's bills use, from shared/FACTS.md (checked 2026-11-23).

Prices are AWS's us-east-1 list prices in US dollars. Compute is priced per GB-second with
volume tiers, summed per architecture, per region, per account and month. The free tier (1 M
requests and 400,000 GB-s a month) is shared by both architectures and does not apply to
functions with provisioned concurrency.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from labkit.errors import ConfigurationError

ARCHITECTURES = ("x86_64", "arm64")
CHECKED = date(2026, 11, 23)
SOURCE = (
    "aws.amazon.com/lambda/pricing; AWS Compute Blog 'Introducing tiered pricing for AWS Lambda'; "
    "AWS price-list meters (us-east-1)"
)
FREE_STORAGE_MB = 512
LEGACY_ROUNDING_MS = 100  # billed duration was rounded up to 100 ms before December 2020
PROVISIONED_ROUNDING_S = 300  # provisioned concurrency is billed in 5-minute steps
HOURS_PER_MONTH = 730  # AWS's pricing examples' month (365 × 24 / 12 hours)


@dataclass(frozen=True)
class Tier:
    """A volume tier: `usd_per_gb_s` for GB-seconds up to `up_to_gb_s` (None: no upper end)."""

    up_to_gb_s: float | None
    usd_per_gb_s: float


@dataclass(frozen=True)
class ArchitecturePrices:
    """The compute prices of one architecture."""

    tiers: tuple[Tier, ...]
    provisioned_usd_per_gb_s: float  # per GB-s configured
    provisioned_duration_usd_per_gb_s: float  # per GB-s of duration while provisioned
    provisioned_confirmed: bool


@dataclass(frozen=True)
class PriceTable:
    """Lambda's prices on a date: compute tiers per architecture, requests, free tier, storage."""

    checked: date
    region: str
    request_usd: float
    architectures: dict[str, ArchitecturePrices]
    free_requests: int
    free_gb_s: float
    storage_usd_per_gb_s: float
    # Billing rules: duration rounded up to 1 ms since December 2020 (AWS News Blog), INIT billed like
    # invoke time for on-demand ZIP functions on managed runtimes since 1 August 2025 (AWS Compute Blog
    # "AWS Lambda standardizes billing for INIT Phase"); container images, custom runtimes and provisioned
    # concurrency were billed for INIT already.
    ms_rounding_since: date = date(2020, 12, 1)
    init_billed_since: date = date(2025, 8, 1)
    source: str = SOURCE

    def prices(self, architecture: str) -> ArchitecturePrices:
        """The prices of `architecture` ("x86_64" or "arm64")."""
        try:
            return self.architectures[architecture]
        except KeyError:
            raise ConfigurationError(
                f"architecture {architecture!r} is not one of Lambda's: use {' or '.join(map(repr, ARCHITECTURES))}"
            ) from None

    def compute_usd(self, gb_s: float, architecture: str) -> float:
        """The price of `gb_s` GB-seconds in one month, through the volume tiers of `architecture`."""
        return sum(usd for _, _, usd in self.tiered(gb_s, architecture))

    def tiered(self, gb_s: float, architecture: str) -> list[tuple[float, Tier, float]]:
        """`gb_s` split over the tiers: (GB-seconds in the tier, the tier, dollars) for each tier used."""
        parts: list[tuple[float, Tier, float]] = []
        low = 0.0
        for tier in self.prices(architecture).tiers:
            high = gb_s if tier.up_to_gb_s is None else min(gb_s, tier.up_to_gb_s)
            if high > low:
                parts.append((high - low, tier, (high - low) * tier.usd_per_gb_s))
            if tier.up_to_gb_s is None or gb_s <= tier.up_to_gb_s:
                break
            low = tier.up_to_gb_s
        return parts


PRICES = PriceTable(
    checked=CHECKED,
    region="us-east-1",
    request_usd=0.20 / 1_000_000,
    architectures={
        "x86_64": ArchitecturePrices(
            tiers=(Tier(6e9, 0.0000166667), Tier(15e9, 0.0000150000), Tier(None, 0.0000133334)),
            provisioned_usd_per_gb_s=0.0000041667,
            provisioned_duration_usd_per_gb_s=0.0000097222,
            provisioned_confirmed=True,
        ),
        "arm64": ArchitecturePrices(
            tiers=(Tier(7.5e9, 0.0000133334), Tier(18.75e9, 0.0000120001), Tier(None, 0.0000106667)),
            provisioned_usd_per_gb_s=0.0000033334,  # approximate: unconfirmed in FACTS.md
            provisioned_duration_usd_per_gb_s=0.0000077778,  # approximate: unconfirmed in FACTS.md
            provisioned_confirmed=False,
        ),
    },
    free_requests=1_000_000,
    free_gb_s=400_000,
    storage_usd_per_gb_s=0.0000000309,
)
