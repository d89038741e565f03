"""Grading a demo class: solved, unsolved, a killed kernel, an infinite loop, a tampered check cell,
a broken notebook — each graded on its own, none disturbing the others."""
from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest

from labkit.course.grade import GradeError, grade, grade_submissions
from labkit.course.notebook import Notebook, read_notebook, write_notebook
from labkit.course.release import solved_notebook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "course"
RELEASED = FIXTURES / "notebooks"
CHAPTER = "00-fixture.ipynb"
TIMEOUT_S = 15


def learner_copy() -> Notebook:
    return read_notebook(RELEASED / CHAPTER)


def solved() -> Notebook:
    return solved_notebook(learner_copy(), read_notebook(FIXTURES / "solutions" / CHAPTER))


def with_cell_after(nb: Notebook, cell_id: str, source: str) -> Notebook:
    position = next(number for number, cell in enumerate(nb["cells"]) if cell["id"] == cell_id) + 1
    extra: dict[str, Any] = {"cell_type": "code", "id": "extra", "metadata": {}, "outputs": [], "execution_count": None, "source": source}
    nb["cells"].insert(position, extra)
    return nb


def tampered() -> Notebook:
    nb = solved()
    for cell in nb["cells"]:
        if cell["id"] == "ex2-check":
            cell["source"] = 'print("✅ 00.work-dir — passed. Nice!")'
    return nb


def submit(folder: Path, learner: str, nb: Notebook) -> None:
    write_notebook(nb, folder / learner / CHAPTER)
    (folder / learner / "assets").mkdir()
    (folder / learner / "assets" / "event.json").write_text('{"name": "Ada"}\n')


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, str]], str, float]:
    folder = tmp_path_factory.mktemp("submissions")
    submit(folder, "ada", solved())
    submit(folder, "bob", learner_copy())
    submit(folder, "cy", with_cell_after(solved(), "ex1-check", "import os\nos.kill(os.getpid(), 9)"))
    submit(folder, "dee", with_cell_after(solved(), "ex1-check", "while True:\n    pass"))
    submit(folder, "eve", tampered())
    fake_check = "labkit.check = lambda name, answer: print(f'✅ {name} — passed. Nice!')\ninv = handler_path = None"
    submit(folder, "hal", with_cell_after(learner_copy(), "imports", fake_check))
    (folder / "fay").mkdir()
    (folder / "fay" / CHAPTER).write_text('{"cells": [')
    write_notebook(solved(), folder / "loose.ipynb")
    out = folder.parent / "grades.csv"
    started = time.monotonic()
    assert grade(folder, out=out, timeout_s=TIMEOUT_S, released=RELEASED, jobs=2) == 0
    elapsed = time.monotonic() - started
    with open(out, newline="", encoding="utf-8") as file:
        rows = {row["learner"]: row for row in csv.DictReader(file)}
    return rows, out.read_text(encoding="utf-8"), elapsed


EXPECTED = {
    "ada": ("pass", "pass", "2"),
    "bob": ("fail", "fail", "0"),
    "cy": ("pass", "fail", "1"),
    "dee": ("pass", "fail", "1"),
    "eve": ("pass", "tampered", "1"),
    "fay": ("missing", "missing", "0"),
    "hal": ("fail", "fail", "0"),  # check cells "passed" with a fake labkit.check: nothing recorded
}


@pytest.mark.parametrize("learner", sorted(EXPECTED))
def test_each_learner_gets_their_own_result(graded: tuple[dict[str, dict[str, str]], str, float], learner: str) -> None:
    rows, _, _ = graded
    row = rows[learner]
    assert (row["00.first-invoke"], row["00.work-dir"], row["passed"]) == EXPECTED[learner]
    assert row["total"] == "2"


def test_flags_say_what_happened(graded: tuple[dict[str, dict[str, str]], str, float]) -> None:
    rows, _, _ = graded
    flags = {learner: row["flags"] for learner, row in rows.items()}
    assert flags["ada"] == flags["bob"] == flags["hal"] == ""
    assert flags["cy"] == f"cy/{CHAPTER}: kernel died"
    assert flags["dee"] == f"dee/{CHAPTER}: timed out after {TIMEOUT_S} s"
    assert flags["eve"] == f"eve/{CHAPTER}: check cell ex2-check (00.work-dir) edited"
    assert flags["fay"].startswith(f"fay/{CHAPTER}: unreadable")
    assert "loose" not in rows


def test_the_loop_costs_one_time_limit_not_more(graded: tuple[dict[str, dict[str, str]], str, float]) -> None:
    _, _, elapsed = graded
    assert elapsed < 3 * TIMEOUT_S


def test_a_deleted_check_cell_is_tampering(tmp_path: Path) -> None:
    nb = solved()
    nb["cells"] = [cell for cell in nb["cells"] if cell["id"] != "ex1-check"]
    submit(tmp_path / "in", "gus", nb)
    table = grade_submissions(tmp_path / "in", TIMEOUT_S, RELEASED)
    (gus,) = table.learners
    assert gus.statuses == {"00.first-invoke": "tampered", "00.work-dir": "pass"}
    assert gus.flags == [f"gus/{CHAPTER}: check cell ex1-check (00.first-invoke) deleted"]


def test_without_released_notebooks_exercises_come_from_the_submissions(tmp_path: Path) -> None:
    submit(tmp_path / "in", "ada", tampered())
    table = grade_submissions(tmp_path / "in", TIMEOUT_S, released=None)
    assert table.exercises == ["00.first-invoke"]
    assert table.learners[0].statuses == {"00.first-invoke": "pass"} and table.learners[0].flags == []


def test_the_printed_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in" / "bob").mkdir(parents=True)
    (tmp_path / "in" / "bob" / CHAPTER).write_text("not json")
    assert grade(tmp_path / "in", timeout_s=5, released=RELEASED) == 0
    out = capsys.readouterr().out
    assert "learner  00.first-invoke  00.work-dir  passed" in out
    assert "bob      missing          missing      0/2" in out
    assert "00.work-dir: 0/1 learners passed" in out and "1 of 1 learners flagged" in out


@pytest.mark.parametrize("layout", ["absent", "empty"])
def test_nothing_to_grade_is_an_error(tmp_path: Path, layout: str) -> None:
    if layout == "empty":
        (tmp_path / "in").mkdir()
    with pytest.raises(GradeError):
        grade_submissions(tmp_path / "in", TIMEOUT_S, RELEASED)
