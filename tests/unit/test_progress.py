"""Progress: the local JSON file, concurrent writers, and the chapters × exercises report."""
from __future__ import annotations

import re

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

import labkit
from labkit.course.progress import ProgressStore, progress, report
from labkit.course.registry import Registry

WRITERS, RECORDS = 4, 25


@pytest.fixture()
def store(tmp_path: Path) -> ProgressStore:
    return ProgressStore(tmp_path / "progress.json")


@pytest.fixture()
def registry() -> Registry:
    registry = Registry("labkit.course.exercises")
    for name, title in [("01.greet", "Greet <someone>"), ("01.context", "Use the context"), ("02.cold", "Cold starts")]:
        registry.exercise(name, title=title)(lambda answer: None)
    return registry


def _record_many(path: str, name: str) -> None:
    store = ProgressStore(Path(path))
    for number in range(RECORDS):
        store.record(name, passed=number % 2 == 0)


def test_records_attempts_and_keeps_a_pass(store: ProgressStore) -> None:
    store.record("01.greet", passed=False)
    store.record("01.greet", passed=True)
    entry = store.record("01.greet", passed=False)
    assert (entry.attempts, entry.passed, entry.last_passed) == (3, True, False)
    assert entry.first_passed_at is not None and entry.last_attempt_at is not None
    assert store.load()["01.greet"] == entry
    data = json.loads(store.path.read_text())
    assert data["version"] == 1 and set(data["exercises"]) == {"01.greet"}


def test_missing_or_corrupt_file_is_no_progress(store: ProgressStore) -> None:
    assert store.load() == {}
    store.path.write_text("{not json")
    assert store.load() == {}
    store.record("01.greet", passed=True)
    assert store.load()["01.greet"].passed


def test_default_location_is_labkit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "custom"))
    assert ProgressStore().path == tmp_path / "custom" / "progress.json"
    monkeypatch.delenv("LABKIT_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert ProgressStore().path == tmp_path / "user" / ".labkit" / "progress.json"


def test_concurrent_writers_lose_nothing(store: ProgressStore) -> None:
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_record_many, args=(str(store.path), f"01.ex{n}")) for n in range(WRITERS)]
    writers += [context.Process(target=_record_many, args=(str(store.path), "01.shared")) for _ in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    recorded = store.load()
    assert recorded["01.shared"].attempts == WRITERS * RECORDS
    assert all(recorded[f"01.ex{n}"].attempts == RECORDS for n in range(WRITERS))
    assert sorted(path.name for path in store.path.parent.iterdir()) == ["progress.json", "progress.json.lock"]


def test_report_lists_every_exercise_by_chapter(store: ProgressStore, registry: Registry) -> None:
    store.record("01.greet", passed=True)
    store.record("02.cold", passed=False)
    store.record("09.retired", passed=True)
    shown = report(store, registry)
    assert [(row.name, row.status) for row in shown.rows] == [
        ("01.context", "· not started"),
        ("01.greet", "✅ passed"),
        ("02.cold", "❌ not yet"),
        ("09.retired", "✅ passed"),
    ]
    assert shown.passed == 2
    text = str(shown)
    assert "Chapter 01  (1/2)" in text and "Chapter 02  (0/1)" in text
    assert text.endswith(f"2 of 4 exercises passed (progress kept in {store.path})")
    html = shown._repr_html_()
    assert html.startswith("<table>") and "Greet &lt;someone&gt;" in html and "(no longer in the course)" in html
    assert html.count("white-space:nowrap") == 3 * len(shown.rows)  # names (cell and code) and statuses stay on one line


def test_progress_prints_outside_jupyter_and_returns_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    ProgressStore().record("00.first-invoke", passed=True)
    shown: Any = labkit.progress()
    assert labkit.progress is progress
    out = capsys.readouterr().out
    assert re.search(r"00\.first-invoke +✅ passed", out) and out.strip() == str(shown)
    assert shown.passed == 1
