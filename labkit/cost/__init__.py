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
    "Bill": "labkit.cost.bill",
    "LineItem": "labkit.cost.bill",
    "bill": "labkit.cost.bill",
    "estimate": "labkit.cost.bill",
    "billed_ms": "labkit.cost.bill",
    "power_tune": "labkit.cost.tuning",
    "PowerTuning": "labkit.cost.tuning",
    "simulate": "labkit.cost.simulate",
    "Simulation": "labkit.cost.simulate",
    "Workload": "labkit.cost.workload",
    "Constant": "labkit.cost.arrivals",
    "Poisson": "labkit.cost.arrivals",
    "Bursts": "labkit.cost.arrivals",
    "DailyCycle": "labkit.cost.arrivals",
    "Times": "labkit.cost.arrivals",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr("labkit.cost", _EXPORTS, globals())
