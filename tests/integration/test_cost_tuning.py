"""Power tuning on the real backends: CPU follows memory on docker, not on process, and the result says which."""
from __future__ import annotations

import pytest

from labkit.cost import power_tune
from labkit.cost.tuning import PowerTuningError

CPU_BOUND = """
def handler(event, context):
    x = 0
    for i in range(event["loops"]):
        x = (x * 31 + i) % 1000003
    return x
"""


def test_power_tuning_measures_each_memory_size(make_code, backend) -> None:
    code = make_code(app=CPU_BOUND)
    result = power_tune("app.handler", code, {"loops": 3_000_000}, memory_sizes=(256, 1769), runs=3, backend=backend,
                        strategy="speed")
    low, high = result.points
    assert [p.memory_mb for p in result.points] == [256, 1769] and len(low.durations_ms) == 3
    assert result.backend == backend and result.cpu_follows_memory == (backend == "docker")
    if backend == "docker":
        # 256 MB gets 1/7 of a vCPU (a CPU quota per 100 ms period), 1,769 MB a whole one: about 7x slower on an
        # idle host; a loaded host slows the whole vCPU more than the small share, so ask for 1.5x
        assert low.average_ms > 1.5 * high.average_ms
        assert result.best.memory_mb == 1769
    else:
        assert "does not scale CPU" in result.note


def test_a_failing_function_stops_the_tuning_with_its_error(make_code) -> None:
    code = make_code(app="def handler(event, context):\n    raise ValueError('no')\n")
    with pytest.raises(PowerTuningError, match="ValueError: no"):
        power_tune("app.handler", code, memory_sizes=(128,), runs=1)
