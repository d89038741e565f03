"""Pictures of what happened: matplotlib figures drawn from labkit's records (Invocations and the
numbers taken from them), for the course notebooks.

Each function takes records and returns a `matplotlib.figure.Figure` (not one managed by pyplot,
so a notebook shows it once, where it is the cell's last expression or passed to `display`).
Layout only: what to measure and how to count belongs to the code that made the records.

- `timeline`: one lane per execution environment, INIT and handler segments on a time axis.
- `phase_bars`: per invocation, INIT and handler time stacked; one panel per group to compare.
- `init_by_size`: Init Duration against the size of the code a function imports.
- `event_flow`: which event sources invoked which functions, how often, and where the functions wrote.
- `retry_timeline`: the attempts of asynchronous events on the lesson clock, and where they ended.
- `load_test`: concurrency against its limit over a load test, with warm, cold and throttled requests.
- `memory_use`: Max Memory Used per invocation against the memory size, out-of-memory errors in red.
- `throttling`: requests through an API over time, let through or throttled (429), against the token bucket.
- `bill_breakdown`, `power_tuning`, `cost_by_requests`, `simulation`: bills, power tuning, cost at
  scale and a simulated load (`labkit.cost`); `cost_widgets.cost_explorer`: sliders that redraw a bill.
- `remaining_time`: what `context.get_remaining_time_in_millis()` said, step by step, up to the timeout.
- `dashboard_figure` / `dashboard`: a function's invocations, errors, duration percentiles, concurrency,
  cold starts, alarms and latest logs (a figure, or a widget with a Refresh button).
- `waterfall`: an X-Ray trace, one row per segment and subsegment on a time axis.
- `traffic_shift`: a safe release's share of traffic on the new version over time, and its rollback.
- `access_matrix`: IAM's decision (allowed, denied by an explicit Deny, denied for want of an Allow) per request and policy.
"""
from __future__ import annotations

from labkit.viz.access import access_matrix
from labkit.viz.coldstart import init_by_size
from labkit.viz.cost import bill_breakdown, cost_by_requests, power_tuning, simulation
from labkit.viz.dashboard import dashboard, dashboard_figure
from labkit.viz.deadline import remaining_time
from labkit.viz.flow import event_flow
from labkit.viz.gateway import throttling
from labkit.viz.load import load_test
from labkit.viz.memory import memory_use
from labkit.viz.releases import traffic_shift
from labkit.viz.retries import retry_timeline
from labkit.viz.timeline import phase_bars, timeline
from labkit.viz.trace import waterfall

__all__ = [
    "access_matrix", "bill_breakdown", "cost_by_requests", "dashboard", "dashboard_figure", "event_flow", "init_by_size", "load_test", "memory_use", "phase_bars",
    "power_tuning", "remaining_time", "retry_timeline", "simulation", "throttling", "timeline", "traffic_shift", "waterfall",
]
