"""A live cost explorer: ipywidgets sliders (memory, rate, duration, architecture) that redraw the monthly cost."""
from __future__ import annotations

from typing import Any

from labkit.cost.billing import estimate
from labkit.cost.prices import ARCHITECTURES, HOURS_PER_MONTH
from labkit.viz.cost import bill_breakdown

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


def cost_explorer(memory_mb: int = 512, requests_per_s: float = 10.0, duration_ms: float = 120.0,
                  architecture: str = "x86_64") -> Any:
    """Sliders for memory, request rate and duration and a choice of architecture; the bill redraws as they move."""
    import ipywidgets as widgets
    from IPython.display import display

    memory = widgets.IntSlider(value=memory_mb, min=128, max=10_240, step=64, description="memory MB", continuous_update=False)
    rate = widgets.FloatLogSlider(value=requests_per_s, base=10, min=-1, max=4, description="requests/s", continuous_update=False)
    duration = widgets.FloatLogSlider(value=duration_ms, base=10, min=0, max=5, description="duration ms", continuous_update=False)
    arch = widgets.ToggleButtons(options=list(ARCHITECTURES), value=architecture, description="architecture")
    output = widgets.Output()

    def redraw(*_: object) -> None:
        requests = rate.value * SECONDS_PER_MONTH
        bill = estimate(requests=requests, duration_ms=duration.value, memory_mb=memory.value, architecture=arch.value)
        title = (f"{requests:,.0f} requests a month of {duration.value:,.0f} ms at {memory.value:,} MB ({arch.value}): "
                 f"${bill.total_usd:,.2f}")
        with output:
            output.clear_output(wait=True)
            display(bill_breakdown({"this month": bill}, title=title))

    for control in (memory, rate, duration, arch):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([memory, rate]), widgets.HBox([duration, arch]), output])
