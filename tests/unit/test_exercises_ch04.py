"""Chapter 04's checks: schedule expressions and partial batch failures pass good answers and hint at wrong ones."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from labkit.course.checks import CheckFailed, check
from labkit.course.registry import REGISTRY
from labkit.course.workspace import write_handler

GOOD_SCHEDULES = {
    "weekday_mornings": "cron(30 8 ? * MON-FRI *)",
    "every_15_minutes": "cron(0/15 * * * ? *)",
    "month_end": "cron(0 23 L * ? *)",
}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LABKIT_WORK", raising=False)
    return tmp_path / "home"


def fails(name: str, answer: Any, hint: str) -> None:
    with pytest.raises(CheckFailed, match=hint):
        check(name, answer)


def test_chapter_04_declares_its_exercises() -> None:
    assert {"04.thumbnail", "04.batch-fail", "04.schedules"} <= {exercise.name for exercise in REGISTRY.all()}


def test_schedule_expressions_are_compared_by_their_firings() -> None:
    check("04.schedules", GOOD_SCHEDULES)  # a cron every 15 minutes fires as rate(15 minutes) does
    fails("04.schedules", {**GOOD_SCHEDULES, "weekday_mornings": "cron(30 8 ? * 1-5 *)"}, "1 = SUN")
    fails("04.schedules", {**GOOD_SCHEDULES, "weekday_mornings": "cron(30 8 * * MON-FRI *)"}, "exactly one of")
    fails("04.schedules", {**GOOD_SCHEDULES, "month_end": "cron(0 23 28 * ? *)"}, "month_end should fire")
    fails("04.schedules", {**GOOD_SCHEDULES, "every_15_minutes": "rate(15 minute)"}, "plural")
    fails("04.schedules", {"weekday_mornings": "cron(30 8 ? * MON-FRI *)"}, "missing")


BATCH_GOOD = """
import json

def handler(event, context):
    failures = []
    for record in event["Records"]:
        quantity = json.loads(record["body"])["quantity"]
        if not isinstance(quantity, int) or quantity < 1:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""

BATCH_RAISES = """
import json

def handler(event, context):
    for record in event["Records"]:
        if not isinstance(json.loads(record["body"])["quantity"], int):
            raise ValueError("bad quantity")
"""

BATCH_MISSES_ZERO = BATCH_GOOD.replace(" or quantity < 1", "")


def test_partial_batch_failures_name_exactly_the_poison_messages() -> None:
    check("04.batch-fail", write_handler("tests/batch_good.py", textwrap.dedent(BATCH_GOOD)))
    fails("04.batch-fail", write_handler("tests/batch_raises.py", textwrap.dedent(BATCH_RAISES)), "fails the whole batch")
    fails("04.batch-fail", write_handler("tests/batch_zero.py", textwrap.dedent(BATCH_MISSES_ZERO)), r"orders \[4\]")
