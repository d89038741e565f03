"""Every chapter, validated: solution notebooks run clean under nbval, notebooks/ is released from
solutions/, and each learner notebook fails at its check cells until its solutions are put back.

Runs on the course (solutions/, notebooks/) and on the fixture course under tests/fixtures/course.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cli import main
from labkit.course.nbrun import NotebookRun, run_notebook
from labkit.course.notebook import check_cells, check_names, read_notebook
from labkit.course.release import solved_notebook

ROOT = Path(__file__).resolve().parents[2]
SANITIZE = Path(__file__).with_name("sanitize.cfg")
TIMEOUT_S = 600
COURSES = {
    "course": (ROOT / "solutions", ROOT / "notebooks"),
    "fixtures": (ROOT / "tests" / "fixtures" / "course" / "solutions", ROOT / "tests" / "fixtures" / "course" / "notebooks"),
}


def _chapters() -> list[object]:
    params: list[object] = []
    for course, (solutions, _) in COURSES.items():
        found = sorted(solutions.glob("*.ipynb"))
        params += [pytest.param(course, path.name, id=f"{course}/{path.name}") for path in found]
        if not found:
            skip = pytest.mark.skip(reason=f"no notebooks in {solutions.relative_to(ROOT)}/ yet")
            params.append(pytest.param(course, None, marks=skip, id=f"{course}/none"))
    return params


def _describe(run: NotebookRun) -> str:
    return f"exit code {run.returncode}{' (timed out)' if run.timed_out else ''}; nbval said:\n{run.output}"


@pytest.mark.parametrize("course, name", _chapters())
def test_solution_notebook_runs_clean(course: str, name: str) -> None:
    path = COURSES[course][0] / name
    strict = read_notebook(path)["metadata"].get("labkit", {}).get("nbval") == "strict"
    run = run_notebook(path, timeout_s=TIMEOUT_S, strict=strict, sanitize=SANITIZE if strict else None)
    assert run.returncode == 0, _describe(run)


@pytest.mark.parametrize("course", list(COURSES))
def test_learner_notebooks_are_released_from_solutions(course: str, capsys: pytest.CaptureFixture[str]) -> None:
    solutions, notebooks = COURSES[course]
    if not solutions.is_dir():
        pytest.skip(f"no {solutions.relative_to(ROOT)}/ folder yet")
    code = main(["release", "--check", "--solutions", str(solutions), "--notebooks", str(notebooks)])
    assert code == 0, capsys.readouterr().out


@pytest.mark.parametrize("course, name", _chapters())
def test_learner_notebook_fails_at_its_checks_until_solved(course: str, name: str) -> None:
    solutions, notebooks = COURSES[course]
    learner = read_notebook(notebooks / name)
    checks = {index: check_names(cell["source"]) for index, cell in check_cells(learner).items()}
    if not checks:
        pytest.skip(f"{name} has no check cells")

    unsolved = run_notebook(notebooks / name, timeout_s=TIMEOUT_S)
    passing = [names for index, names in checks.items() if unsolved.passed(index)]
    assert not passing, f"check cells pass before the exercise is solved: {passing}\n{_describe(unsolved)}"

    solved = run_notebook(notebooks / name, timeout_s=TIMEOUT_S, content=solved_notebook(learner, read_notebook(solutions / name)))
    failing = [names for index, names in checks.items() if not solved.passed(index)]
    assert not failing and solved.returncode == 0, f"check cells fail once solved: {failing}\n{_describe(solved)}"
    assert solved.passed_exercises == {name for names in checks.values() for name in names}
