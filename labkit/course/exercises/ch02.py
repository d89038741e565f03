"""Chapter 02, lifecycle and cold starts: count the environments of a burst, move work to INIT,
price provisioned concurrency."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from labkit.course.checks import exercise, expect
from labkit.course.exercises.ch01 import expect_ok, handler_file, run_handler

# Provisioned concurrency, x86_64, us-east-1: per GB-s configured, billed in whole 5-minute blocks
# (shared/FACTS.md, checked 2026-11-23).
PROVISIONED_PER_GB_S = 0.0000041667
PROVISIONED_BLOCK_S = 5 * 60

SLOW_SETUP_MS = 500
STOPWORDS = {"the", "a", "an", "and", "of", "to", "in", "is", "it"}


def _invocations(value: Any) -> list[Any]:
    expect(isinstance(value, (list, tuple)) and value, "'invocations' should be the list that `fn.invoke_many(...)` returned.")
    expect(all(hasattr(inv, "report") and hasattr(inv, "environment_id") for inv in value), "'invocations' should hold Invocation objects.")
    return list(value)


@exercise("02.count-envs", title="Count the execution environments of a burst")
def count_environments(answer: Any) -> None:
    """`answer`: {"invocations": the burst's Invocations, "environments": int, "cold_starts": int}."""
    expect(isinstance(answer, dict), 'pass a dict: {"invocations": burst, "environments": ..., "cold_starts": ...}.')
    missing = {"invocations", "environments", "cold_starts"} - set(answer)
    expect(not missing, f"the dict is missing {sorted(missing)}.")
    burst = _invocations(answer["invocations"])
    environments = len({inv.environment_id for inv in burst})
    cold_starts = sum(1 for inv in burst if inv.report.init_ms is not None)
    expect(environments > 1, "this burst ran in a single environment: invoke with a concurrency above 1, so requests overlap.")
    expect(isinstance(answer["environments"], int), "'environments' is a count: an int.")
    expect(isinstance(answer["cold_starts"], int), "'cold_starts' is a count: an int.")
    expect(
        answer["environments"] == environments,
        f"{answer['environments']} environments is not what the burst used: each environment writes to a log stream of its own.",
    )
    expect(
        answer["cold_starts"] == cold_starts,
        f"{answer['cold_starts']} cold starts is not right: a cold start is the invocation whose REPORT has an Init Duration.",
    )


@exercise("02.move-to-init", title="Move slow setup out of the handler, into INIT")
def move_to_init(answer: Any) -> None:
    """`answer`: the path of the word-count handler with its slow setup done once per environment."""
    path = handler_file(answer)
    events = [{"text": "The cat and the hat"}, {"text": "A tale of two cities"}, {"text": "It is what it is"}, {"text": "Lambda in a nutshell"}]
    invocations = run_handler(path, events)
    for inv, event in zip(invocations, events):
        expect_ok(inv, event)
        words = [word for word in event["text"].lower().split() if word not in STOPWORDS]
        expect(
            inv.result == {"words": len(words)},
            f"with the text {event['text']!r} the handler returned {inv.result!r}, but there are {len(words)} words that are "
            "not stopwords: the result must still depend on each event.",
        )
    first, warm = invocations[0], invocations[1:]
    init_ms = first.report.init_ms or 0.0
    slowest = max(inv.report.duration_ms for inv in warm)
    expect(
        slowest < SLOW_SETUP_MS / 2,
        f"a warm invoke still took {slowest:.0f} ms: the slow loading still happens inside the handler, on every call.",
    )
    expect(init_ms >= SLOW_SETUP_MS * 0.8, f"INIT took only {init_ms:.0f} ms: the stopwords should be loaded once, when the module is imported.")


@exercise("02.provisioned", title="Price provisioned concurrency")
def provisioned_cost(answer: Any) -> None:
    """`answer`: a function (environments, memory_mb, hours) -> dollars for keeping them provisioned."""
    expect(callable(answer), "pass your function itself (its name, without calling it).")
    function: Callable[[int, int, float], Any] = answer

    def expected(environments: int, memory_mb: int, hours: float) -> float:
        seconds = math.ceil(hours * 3600 / PROVISIONED_BLOCK_S) * PROVISIONED_BLOCK_S
        return environments * memory_mb / 1024 * seconds * PROVISIONED_PER_GB_S

    cases = [(1, 1024, 1.0), (2, 1024, 720.0), (10, 512, 24.0), (5, 2048, 0.5)]
    for args in cases:
        got = function(*args)
        expect(isinstance(got, (int, float)) and not isinstance(got, bool), f"provisioned_cost{args} returned {got!r}: return a number of dollars.")
        wanted = expected(*args)
        if math.isclose(got, wanted * 1024, rel_tol=1e-3):
            raise AssertionError(f"provisioned_cost{args} is 1,024 times too big: the price is per GB-second, and 1 GB is 1,024 MB.")
        if math.isclose(got, wanted * 1.024, rel_tol=1e-4):
            raise AssertionError(f"provisioned_cost{args} is 2.4 % off: Lambda counts 1 GB as 1,024 MB, not 1,000.")
        expect(
            math.isclose(got, wanted, rel_tol=1e-3),
            f"provisioned_cost{args} returned {got:.4f}: multiply environments × memory in GB × seconds × the price per GB-s.",
        )
    short = (1, 128, 0.01)  # 36 seconds: billed as one 5-minute block
    got = function(*short)
    expect(
        math.isclose(got, expected(*short), rel_tol=1e-3),
        f"provisioned_cost{short} returned {got:.8f}: provisioned time is billed in whole 5-minute blocks, even for 36 seconds.",
    )
