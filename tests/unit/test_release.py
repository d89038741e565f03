"""Release: solutions/ → notebooks/ (prompts, hidden tests, instructor cells, metadata, bytes, --check)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from labkit.cli import main
from labkit.course.notebook import read_notebook
from labkit.course.release import (
    ReleaseError,
    learner_notebook,
    release,
    solved_notebook,
    strip_hidden_tests,
    strip_solutions,
)


def code(cell_id: str, source: str, **metadata: Any) -> dict[str, Any]:
    return {
        "cell_type": "code", "id": cell_id, "source": source, "metadata": metadata,
        "execution_count": 7, "outputs": [{"output_type": "stream", "name": "stdout", "text": "old output\n"}],
    }


def markdown(cell_id: str, source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "source": source, "metadata": {"collapsed": True}}


def notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    return {
        "cells": list(cells), "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python", "version": "3.11.4"}, "labkit": {"nbval": "strict"}},
    }


CHAPTER = notebook(
    markdown("intro", "# 01 · Handlers"),
    code("solve", "def greet(name):\n    ### BEGIN SOLUTION\n    return f'Hello, {name}!'\n    ### END SOLUTION\n", scrolled=True),
    code("check", 'labkit.check("01.greet", greet)'),
    code("mixed", "print(greet('Ada'))\n### BEGIN HIDDEN TESTS\nassert greet('Ada') == 'Hello, Ada!'\n### END HIDDEN TESTS"),
    code("hidden", "### BEGIN HIDDEN TESTS\nassert greet('Bo') == 'Hello, Bo!'\n### END HIDDEN TESTS"),
    code("notes", "print('answers')", tags=["instructor"]),
    code("empty", ""),
)


def write(path: Path, nb: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture()
def course(tmp_path: Path) -> tuple[Path, Path]:
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    write(solutions / "01-handlers.ipynb", CHAPTER)
    (solutions / "assets").mkdir()
    (solutions / "assets" / "event.json").write_text('{"name": "Ada"}\n')
    (solutions / ".ipynb_checkpoints").mkdir()
    (solutions / ".ipynb_checkpoints" / "01-handlers-checkpoint.ipynb").write_text("{}")
    return solutions, notebooks


def test_solution_block_becomes_prompt_at_the_marker_indentation() -> None:
    source = "def f():\n    x = 1\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\ny = f()"
    assert strip_solutions(source) == "def f():\n    x = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\ny = f()"


def test_solution_block_at_the_end_keeps_the_cell_without_trailing_newline() -> None:
    assert strip_solutions("### BEGIN SOLUTION\nx = 1\n### END SOLUTION") == "# YOUR CODE HERE\nraise NotImplementedError()"


@pytest.mark.parametrize(
    "source, problem",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ],
)
def test_unbalanced_markers_are_refused_naming_the_cell(source: str, problem: str) -> None:
    with pytest.raises(ReleaseError, match=problem) as error:
        learner_notebook(notebook(code("broken", source)), "09-broken.ipynb")
    assert "09-broken.ipynb, cell 0 (broken)" in str(error.value)


def test_hidden_tests_are_removed() -> None:
    assert strip_hidden_tests("a = 1\n  ### BEGIN HIDDEN TESTS\n  assert a\n  ### END HIDDEN TESTS\nb = 2") == "a = 1\nb = 2"


def test_learner_notebook_cells() -> None:
    learner = learner_notebook(CHAPTER, "01-handlers.ipynb")
    cells = {cell["id"]: cell for cell in learner["cells"]}
    assert list(cells) == ["intro", "solve", "check", "mixed", "empty"]  # hidden-only and instructor cells dropped
    assert "Hello" not in cells["solve"]["source"] and "raise NotImplementedError()" in cells["solve"]["source"]
    assert cells["mixed"]["source"] == "print(greet('Ada'))"
    assert cells["empty"]["source"] == ""
    assert cells["check"]["metadata"] == {"editable": False, "deletable": False}
    assert cells["solve"]["metadata"] == {} and cells["intro"]["metadata"] == {}
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in cells.values() if cell["cell_type"] == "code")
    assert learner["metadata"] == {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }


def test_tags_other_than_instructor_are_kept() -> None:
    learner = learner_notebook(notebook(code("c", "1/0", tags=["raises-exception"])), "x.ipynb")
    assert learner["cells"][0]["metadata"] == {"tags": ["raises-exception"]}


@pytest.mark.parametrize("cell_id", [None, "has space", ""])
def test_cells_need_valid_ids(cell_id: str | None) -> None:
    cell = code("x", "1")
    cell["id"] = cell_id
    with pytest.raises(ReleaseError, match="no valid cell id"):
        learner_notebook(notebook(cell), "x.ipynb")


def test_cell_ids_must_be_unique() -> None:
    with pytest.raises(ReleaseError, match="repeats the cell id 'same'"):
        learner_notebook(notebook(code("same", "1"), code("same", "2")), "x.ipynb")


def test_release_writes_valid_deterministic_notebooks_and_assets(course: tuple[Path, Path]) -> None:
    solutions, notebooks = course
    assert release(solutions, notebooks) == 0
    written = notebooks / "01-handlers.ipynb"
    text = written.read_text(encoding="utf-8")
    nbformat.validate(nbformat.reads(text, as_version=4))
    assert json.loads(text)["nbformat_minor"] == 5
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    assert (notebooks / "assets" / "event.json").read_text() == '{"name": "Ada"}\n'
    assert not (notebooks / ".ipynb_checkpoints").exists()
    first = written.read_bytes()
    assert release(solutions, notebooks) == 0
    assert written.read_bytes() == first


def test_check_names_missing_stale_and_extra_files_and_writes_nothing(course: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    solutions, notebooks = course
    assert release(solutions, notebooks, check=True) == 1
    assert not notebooks.exists()
    assert "01-handlers.ipynb: missing" in capsys.readouterr().out

    release(solutions, notebooks)
    assert release(solutions, notebooks, check=True) == 0
    write(solutions / "01-handlers.ipynb", notebook(*CHAPTER["cells"], markdown("more", "More.")))
    write(notebooks / "99-old.ipynb", notebook())
    capsys.readouterr()
    assert release(solutions, notebooks, check=True) == 1
    out = capsys.readouterr().out
    assert "01-handlers.ipynb: stale" in out and "99-old.ipynb: extra" in out

    release(solutions, notebooks)
    assert not (notebooks / "99-old.ipynb").exists()
    assert release(solutions, notebooks, check=True) == 0


def test_release_removes_assets_gone_from_solutions(course: tuple[Path, Path]) -> None:
    solutions, notebooks = course
    release(solutions, notebooks)
    (solutions / "assets" / "event.json").unlink()
    release(solutions, notebooks)
    assert not (notebooks / "assets").exists()


def test_zero_solution_notebooks_is_up_to_date(tmp_path: Path) -> None:
    (tmp_path / "solutions").mkdir()
    assert release(tmp_path / "solutions", tmp_path / "notebooks", check=True) == 0


def test_cli_reports_a_missing_solutions_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "--check", "--solutions", str(tmp_path / "nope"), "--notebooks", str(tmp_path / "nb")]) == 2
    assert "no solutions folder" in capsys.readouterr().err


@pytest.mark.parametrize("target", [".", "solutions/sub"])
def test_release_refuses_a_target_overlapping_the_solutions(course: tuple[Path, Path], target: str) -> None:
    solutions, _ = course
    with pytest.raises(ReleaseError, match="overlap"):
        release(solutions, solutions.parent / target)


def test_release_refuses_a_project_folder_as_target(course: tuple[Path, Path]) -> None:
    solutions, _ = course
    project = solutions.parent / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    with pytest.raises(ReleaseError, match="project folder"):
        release(solutions, project)
    assert list(project.iterdir()) == [project / "pyproject.toml"]


def test_solved_notebook_puts_solutions_back_by_id_without_hidden_tests(course: tuple[Path, Path]) -> None:
    solutions, notebooks = course
    release(solutions, notebooks)
    learner = read_notebook(notebooks / "01-handlers.ipynb")
    solved = {cell["id"]: cell["source"] for cell in solved_notebook(learner, read_notebook(solutions / "01-handlers.ipynb"))["cells"]}
    assert "return f'Hello, {name}!'" in solved["solve"]
    assert solved["mixed"] == "print(greet('Ada'))"
    assert "instructor" not in solved and "notes" not in solved
