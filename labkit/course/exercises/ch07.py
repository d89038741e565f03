"""Chapter 07, scaling and concurrency: concurrency from rate and duration, reserved concurrency
sized to protect a database."""
from __future__ import annotations

import math
from typing import Any

from labkit.course.checks import exercise, expect

# The database of the reserved-concurrency exercise: its connection limit, and the connections
# another function already holds; each execution environment of `writer` opens one connection.
DB_CONNECTIONS = 10
OTHER_CONNECTIONS = 4


@exercise("07.rate-x-dur", title="Concurrency from rate and duration")
def rate_times_duration(answer: Any) -> None:
    """`answer`: a function (requests_per_s, duration_ms) -> the concurrency Lambda needs, an int."""
    expect(callable(answer), "pass your function itself (its name, without calling it).")
    cases = [(100, 200), (1000, 250), (50, 1500), (3, 100), (40, 25)]
    for rate, duration_ms in cases:
        got = answer(rate, duration_ms)
        exact = rate * duration_ms / 1000
        expect(isinstance(got, int) and not isinstance(got, bool), f"concurrency_needed({rate}, {duration_ms}) returned {got!r}: return a whole number of environments (an int).")
        expect(got != round(exact * 1000), f"concurrency_needed({rate}, {duration_ms}) is 1,000 times too big: the duration is in milliseconds.")
        expect(got >= exact, f"concurrency_needed({rate}, {duration_ms}) returned {got}: requests per second × seconds each is {exact:g}; round up, since part of an environment is still a whole one.")
        expect(got == math.ceil(exact), f"concurrency_needed({rate}, {duration_ms}) returned {got}: multiply requests per second by the duration in seconds, then round up.")


@exercise("07.reserved-db", title="Reserved concurrency that protects a database")
def reserved_for_database(answer: Any) -> None:
    """`answer`: {"reserved": the reserved concurrency set, "peak": peak concurrency of the burst, "throttles": throttled requests}."""
    expect(isinstance(answer, dict), 'pass a dict: {"reserved": ..., "peak": ..., "throttles": ...}.')
    missing = {"reserved", "peak", "throttles"} - set(answer)
    expect(not missing, f"the dict is missing {sorted(missing)}.")
    reserved, peak, throttles = answer["reserved"], answer["peak"], answer["throttles"]
    expect(all(isinstance(value, int) for value in (reserved, peak, throttles)), "'reserved', 'peak' and 'throttles' are counts: ints.")
    free = DB_CONNECTIONS - OTHER_CONNECTIONS
    expect(reserved <= free, f"with {reserved} environments the database would get {reserved + OTHER_CONNECTIONS} connections, more than its {DB_CONNECTIONS}: remember the other function's connections.")
    expect(reserved == free, f"{reserved} leaves database connections unused: reserve every connection the other function does not hold.")
    expect(peak <= reserved, f"the burst reached {peak} concurrent executions, above {reserved}: set it with put_function_concurrency before the burst.")
    expect(peak == reserved, f"the burst reached only {peak} concurrent executions: send more requests at once than the reserved concurrency.")
    expect(throttles > 0, "no request was throttled: send more requests at once than the reserved concurrency, and count the TooManyRequestsException errors.")
