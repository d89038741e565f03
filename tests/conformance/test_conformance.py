"""labkit's Lambda API against AWS's recorded answers: one test per case of `cases/*.json`.

A case that matches passes. A case listed in `known_differences.json` is an expected failure
(xfail, with the listed reason) while it differs, and fails once it matches: take it off the list.
Any other case that differs fails, printing how. Every case runs on one local AWS for the module.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.runner import HERE, Session, load_cases, session

CASES = load_cases()
KNOWN: dict[str, str] = json.loads((HERE / "known_differences.json").read_text())


@pytest.fixture(scope="module")
def local() -> Iterator[Session]:
    with session() as running:
        yield running


def test_known_differences_name_existing_cases() -> None:
    unknown = sorted(set(KNOWN) - {case["id"] for case in CASES})
    assert not unknown, f"known_differences.json lists cases that do not exist: {unknown}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(local: Session, case: dict[str, Any]) -> None:
    outcome = local.run(case)
    known = KNOWN.get(case["id"])
    if outcome.matched:
        assert known is None, f"{case['id']} now matches AWS: remove it from known_differences.json ({known})"
        return
    if known is not None:
        pytest.xfail(known)
    pytest.fail(outcome.summary(), pytrace=False)
