"""Cost: Lambda's dated price table, bills of real invocations, monthly estimates, power tuning and
a discrete-event simulator of the Lambda service at scale.

>>> labkit.cost.estimate(requests=3_000_000, duration_ms=1000, memory_mb=512).total_usd   # doctest: +SKIP
18.73...
"""
from __future__ import annotations

from labkit._lazy import lazy_getattr

_EXPORTS = {
    "PRICES": "labkit.cost.prices",
    "PriceTable": "labkit.cost.prices",
    "Bill": "labkit.cost.billing",
    "LineItem": "labkit.cost.billing",
    "bill": "labkit.cost.billing",
    "estimate": "labkit.cost.billing",
    "billed_ms": "labkit.cost.billing",
    "power_tune": "labkit.cost.tuning",
    "PowerTuning": "labkit.cost.tuning",
    "simulate": "labkit.cost.simulator",
    "Simulation": "labkit.cost.simulator",
    "Workload": "labkit.cost.workload",
    "Lognormal": "labkit.cost.workload",
    "Measured": "labkit.cost.workload",
    "Constant": "labkit.cost.arrivals",
    "Poisson": "labkit.cost.arrivals",
    "Bursts": "labkit.cost.arrivals",
    "DailyCycle": "labkit.cost.arrivals",
    "Times": "labkit.cost.arrivals",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr("labkit.cost", _EXPORTS, globals())
