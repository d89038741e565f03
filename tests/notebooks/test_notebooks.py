"""Every chapter, validated: solution notebooks run clean under nbval, notebooks/ is released from
solutions/, and each learner notebook fails at its check cells until its solutions are put back.

Runs on the course (solutions/, notebooks/) and on the fixture course under tests/fixtures/course.
The notebook runs the collected tests need start together, `PARALLEL_RUNS` at a time (a notebook
waits on its lesson clock about half of its time), and each test waits for its own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.course.nbrun import NotebookRun, run_notebook
from labkit.course.notebook import check_cells, check_names, read_notebook
from labkit.course.release import solved_notebook

ROOT = Path(__file__).resolve().parents[2]
SANITIZE = Path(__file__).with_name("sanitize.cfg")
TIMEOUT_S = 600
PARALLEL_RUNS = 2
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


Runs = dict[tuple[str, str, str], "Future[NotebookRun]"]


def _solution_run(course: str, name: str) -> NotebookRun:
    path = COURSES[course][0] / name
    strict = read_notebook(path)["metadata"].get("labkit", {}).get("nbval") == "strict"
    return run_notebook(path, timeout_s=TIMEOUT_S, strict=strict, sanitize=SANITIZE if strict else None)


def _unsolved_run(course: str, name: str) -> NotebookRun:
    return run_notebook(COURSES[course][1] / name, timeout_s=TIMEOUT_S)


def _solved_run(course: str, name: str) -> NotebookRun:
    solutions, notebooks = COURSES[course]
    solved = solved_notebook(read_notebook(notebooks / name), read_notebook(solutions / name))
    return run_notebook(notebooks / name, timeout_s=TIMEOUT_S, content=solved)


def _has_checks(course: str, name: str) -> bool:
    return bool(check_cells(read_notebook(COURSES[course][1] / name)))


RUNS_OF_TEST: dict[str, list[tuple[str, Callable[[str, str], NotebookRun]]]] = {
    "test_solution_notebook_runs_clean": [("solution", _solution_run)],
    "test_learner_notebook_fails_at_its_checks_until_solved": [("unsolved", _unsolved_run), ("solved", _solved_run)],
}


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Iterator[Runs]:
    """Every notebook run of this module's collected tests, started at once, PARALLEL_RUNS at a time."""
    wanted: list[tuple[str, str, str, Callable[[str, str], NotebookRun]]] = []
    for item in request.session.items:
        kinds = RUNS_OF_TEST.get(getattr(item, "originalname", ""), [])
        params = getattr(item, "callspec", None)
        if not kinds or params is None or params.params.get("name") is None:
            continue
        course, name = params.params["course"], params.params["name"]
        if kinds[0][0] == "unsolved" and not _has_checks(course, name):
            continue
        wanted += [(kind, course, name, run) for kind, run in kinds]
    with ThreadPoolExecutor(PARALLEL_RUNS, thread_name_prefix="notebook-run") as pool:
        started = {(kind, course, name): pool.submit(run, course, name) for kind, course, name, run in wanted}
        try:
            yield started
        finally:
            for future in started.values():
                future.cancel()


def _describe(run: NotebookRun) -> str:
    return f"exit code {run.returncode}{' (timed out)' if run.timed_out else ''}; nbval said:\n{run.output}"


@pytest.mark.parametrize("course, name", _chapters())
def test_solution_notebook_runs_clean(runs: Runs, course: str, name: str) -> None:
    run = runs["solution", course, name].result()
    assert run.returncode == 0, _describe(run)


@pytest.mark.parametrize("course", list(COURSES))
def test_learner_notebooks_are_released_from_solutions(course: str, capsys: pytest.CaptureFixture[str]) -> None:
    solutions, notebooks = COURSES[course]
    if not solutions.is_dir():
        pytest.skip(f"no {solutions.relative_to(ROOT)}/ folder yet")
    code = main(["release", "--check", "--solutions", str(solutions), "--notebooks", str(notebooks)])
    assert code == 0, capsys.readouterr().out


@pytest.mark.parametrize("course, name", _chapters())
def test_learner_notebook_fails_at_its_checks_until_solved(runs: Runs, course: str, name: str) -> None:
    learner = read_notebook(COURSES[course][1] / name)
    checks = {index: check_names(cell["source"]) for index, cell in check_cells(learner).items()}
    if not checks:
        pytest.skip(f"{name} has no check cells")

    unsolved = runs["unsolved", course, name].result()
    passing = [names for index, names in checks.items() if unsolved.passed(index)]
    assert not passing, f"check cells pass before the exercise is solved: {passing}\n{_describe(unsolved)}"

    solved = runs["solved", course, name].result()
    failing = [names for index, names in checks.items() if not solved.passed(index)]
    assert not failing and solved.returncode == 0, f"check cells fail once solved: {failing}\n{_describe(solved)}"
    assert solved.passed_exercises == {name for names in checks.values() for name in names}
