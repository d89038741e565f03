"""`labkit grade`: runs every submitted notebook and tabulates learner × exercise → pass/fail.

Submissions folder layout: one folder per learner, named after the learner,
``SUBMISSIONS/<learner>/**/*.ipynb``. Notebooks loose in SUBMISSIONS itself are ignored (with a
note). Each notebook runs on its own (see `labkit.course.nbrun`).

An exercise is a check cell: a code cell calling ``labkit.check("NAME", ...)``. It passes when
every check cell naming it ran without error *and* the run's own progress file recorded the
pass. Each submitted notebook is matched with its released notebook (same file name, else the
one sharing most check-cell ids); a released check cell whose id is missing from the
submission, or whose source differs, marks the exercise ``tampered`` and flags the learner.
The table's columns are the released notebooks' exercises plus any other a submission checks;
``missing`` means the learner handed in no check cell for it.

Every run is sealed where bubblewrap can do it (`labkit.course.seal`): it sees only its copy of
its learner's folder, so no submission can read or change another, the grader, or the table; what
the grader reads (per-cell results, progress) is collected from that copy once the run and all its
processes are gone. Elsewhere runs are not sealed, with a warning (or, with `require_sealed`, an
error). The CSV is written once, at the end, atomically (a temporary file beside it, then
`os.replace`).
"""
from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from labkit.course.nbrun import run_notebook
from labkit.course.notebook import (
    Notebook,
    NotebookError,
    check_cells,
    check_names,
    read_notebook,
    same_source,
)
from labkit.course.seal import Seal, SealLimits, find_seal
from labkit.course.workspace import course_root
from labkit.errors import LabkitError

PASS, FAIL, TAMPERED, MISSING = "pass", "fail", "tampered", "missing"
_RANK = {PASS: 3, TAMPERED: 2, FAIL: 1, MISSING: 0}  # a learner's best result over their notebooks


class GradeError(LabkitError, ValueError):
    """The submissions (or released notebooks) folder cannot be graded as given."""


@dataclass(frozen=True)
class ReleasedCheck:
    """A check cell as released to learners."""

    cell_id: str
    names: tuple[str, ...]
    source: str


ReleasedNotebooks = dict[str, dict[str, ReleasedCheck]]  # file name → cell id → check cell


@dataclass
class NotebookGrade:
    statuses: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


@dataclass
class LearnerGrade:
    learner: str
    statuses: dict[str, str]
    flags: list[str]


@dataclass
class GradeTable:
    """The result of grading: one row per learner, one column per exercise."""

    exercises: list[str]
    learners: list[LearnerGrade]

    def _statuses(self, grade: LearnerGrade) -> list[str]:
        return [grade.statuses.get(name, MISSING) for name in self.exercises]

    def passed(self, grade: LearnerGrade) -> int:
        return self._statuses(grade).count(PASS)

    def rows(self) -> list[list[str]]:
        """The table as CSV rows: header, then one row per learner."""
        header = ["learner", *self.exercises, "passed", "total", "flags"]
        body = [
            [grade.learner, *self._statuses(grade), str(self.passed(grade)), str(len(self.exercises)), "; ".join(grade.flags)]
            for grade in self.learners
        ]
        return [header, *body]

    def write_csv(self, path: Path) -> None:
        """Write the table to `path` in one step: a temporary file in its folder, then `os.replace`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as file:
                csv.writer(file).writerows(self.rows())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise

    def __str__(self) -> str:
        rows = [["learner", *self.exercises, "passed"]]
        rows += [[grade.learner, *self._statuses(grade), f"{self.passed(grade)}/{len(self.exercises)}"] for grade in self.learners]
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in rows]
        lines.append("")
        for name in self.exercises:
            count = sum(grade.statuses.get(name) == PASS for grade in self.learners)
            lines.append(f"{name}: {count}/{len(self.learners)} learners passed")
        flagged = [grade for grade in self.learners if grade.flags]
        lines.append(f"{len(flagged)} of {len(self.learners)} learners flagged")
        lines += [f"  {grade.learner}: {flag}" for grade in flagged for flag in grade.flags]
        return "\n".join(lines)


def _notebooks(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*.ipynb")
        if not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def released_checks(folder: Path) -> ReleasedNotebooks:
    """The check cells of every released notebook under `folder`."""
    released: ReleasedNotebooks = {}
    for path in _notebooks(folder):
        cells = check_cells(read_notebook(path)).values()
        released[path.name] = {
            cell["id"]: ReleasedCheck(cell["id"], tuple(check_names(cell["source"])), cell["source"]) for cell in cells
        }
    return released


def _counterpart(path: Path, nb: Notebook, released: ReleasedNotebooks) -> dict[str, ReleasedCheck] | None:
    """The released check cells this submission started from: same file name, else most shared cell ids."""
    if path.name in released:
        return released[path.name]
    ids = {cell.get("id") for cell in nb["cells"]}
    shared, best = max(((len(ids & checks.keys()), checks) for checks in released.values()), default=(0, None), key=lambda pair: pair[0])
    return best if shared else None


def _tampering(nb: Notebook, checks: dict[str, ReleasedCheck]) -> dict[str, str]:
    """Exercise name → what happened to its released check cell, for check cells not as released."""
    cells = {cell.get("id"): cell for cell in nb["cells"]}
    found: dict[str, str] = {}
    for cell_id, check in checks.items():
        cell = cells.get(cell_id)
        if cell is None:
            what = "deleted"
        elif cell.get("cell_type") != "code" or not same_source(cell["source"], check.source):
            what = "edited"
        else:
            continue
        found.update((name, f"check cell {cell_id} ({name}) {what}") for name in check.names)
    return found


def grade_notebook(
    path: Path, label: str, released: ReleasedNotebooks | None, timeout_s: float, seal: Seal | None = None
) -> NotebookGrade:
    """Run one submitted notebook (sealed with `seal`) and grade its exercises; `label` names it in flags."""
    result = NotebookGrade()
    try:
        nb = read_notebook(path)
    except NotebookError as error:
        result.flags.append(f"{label}: unreadable ({error})")
        return result
    checks = check_cells(nb)
    counterpart = _counterpart(path, nb, released) if released is not None else None
    if not checks and counterpart is None:
        return result
    cleared = dict(nb, cells=[dict(cell, outputs=[], execution_count=None) if cell.get("cell_type") == "code" else cell for cell in nb["cells"]])
    run = run_notebook(path, timeout_s=timeout_s, content=cleared, seal=seal)
    for index, cell in checks.items():
        for name in check_names(cell["source"]):
            ok = run.passed(index) and name in run.passed_exercises
            result.statuses[name] = PASS if ok and result.statuses.get(name, PASS) == PASS else FAIL
    for name, what in _tampering(nb, counterpart or {}).items():
        result.statuses[name] = TAMPERED
        result.flags.append(f"{label}: {what}")
    if run.timed_out:
        result.flags.append(f"{label}: timed out after {timeout_s:g} s")
    if run.kernel_died:
        result.flags.append(f"{label}: kernel died")
    if run.kernel_failed_to_start:
        result.flags.append(f"{label}: kernel did not start")
    return result


def _learner_grade(learner: str, notebooks: Iterable[NotebookGrade]) -> LearnerGrade:
    statuses: dict[str, str] = {}
    flags: list[str] = []
    for notebook in notebooks:
        for name, status in notebook.statuses.items():
            if _RANK[status] > _RANK[statuses.get(name, MISSING)]:
                statuses[name] = status
        flags += notebook.flags
    return LearnerGrade(learner, statuses, flags)


def _released_folder(released: str | Path | None) -> Path | None:
    if released is not None:
        folder = Path(released)
        if not folder.is_dir():
            raise GradeError(f"no released notebooks folder at {folder}")
        return folder
    root = course_root()
    return root / "notebooks" if root is not None and (root / "notebooks").is_dir() else None


def grade_submissions(
    submissions: Path, timeout_s: float, released: Path | None, jobs: int | None = None, seal: Seal | None = None
) -> GradeTable:
    """Grade every learner folder in `submissions` (see the module docstring for the layout), each run sealed with `seal`."""
    if not submissions.is_dir():
        raise GradeError(f"no submissions folder at {submissions}: expected one folder per learner holding their notebooks")
    for loose in sorted(submissions.glob("*.ipynb")):
        print(f"note: {loose} ignored: put each learner's notebooks in a folder named after the learner")
    learners = sorted(path.name for path in submissions.iterdir() if path.is_dir() and not path.name.startswith("."))
    if not learners:
        raise GradeError(f"nothing to grade in {submissions}: expected one folder per learner holding their notebooks")
    checks = released_checks(released) if released is not None else None
    if checks is None:
        print("note: no released notebooks found, so edited or deleted check cells cannot be spotted")
    work = [(learner, path) for learner in learners for path in _notebooks(submissions / learner)]

    def run(item: tuple[str, Path]) -> NotebookGrade:
        learner, path = item
        label = f"{learner}/{path.relative_to(submissions / learner)}"
        result = grade_notebook(path, label, checks, timeout_s, seal)
        passed = sum(status == PASS for status in result.statuses.values())
        print(f"graded {label}: {passed}/{len(result.statuses)} passed{' (flagged)' if result.flags else ''}", flush=True)
        return result

    with ThreadPoolExecutor(max_workers=jobs or min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(run, work))
    by_learner: dict[str, list[NotebookGrade]] = {learner: [] for learner in learners}
    for (learner, _), result in zip(work, results):
        by_learner[learner].append(result)
    released_names = {name for cells in (checks or {}).values() for check in cells.values() for name in check.names}
    exercises = sorted(released_names | {name for result in results for name in result.statuses})
    return GradeTable(exercises, [_learner_grade(learner, grades) for learner, grades in by_learner.items()])


def _seal(limits: SealLimits, require_sealed: bool) -> Seal | None:
    """The Seal for this machine, saying how its limits hold; None (with a warning) when there is none."""
    found = find_seal(limits)
    if isinstance(found, str):
        if require_sealed:
            raise GradeError(f"submissions cannot be sealed here: {found}")
        print(f"warning: submissions are NOT sealed ({found}): each notebook can read and change whatever the grader can, "
              "other submissions and the grades included; use --require-sealed to refuse this")
        return None
    print("submissions sealed: each notebook runs in a sandbox of its own, "
          "seeing nothing but a copy of its learner's folder; " + "; ".join(found.limits_held))
    return found


def grade(
    submissions: str | Path,
    out: str | Path | None = None,
    timeout_s: float = 600,
    *,
    released: str | Path | None = None,
    jobs: int | None = None,
    limits: SealLimits = SealLimits(),
    require_sealed: bool = False,
) -> int:
    """Grade every learner folder in `submissions`; print the table, write it as CSV to `out` if given.

    `released` is the folder of released notebooks used to spot tampered check cells (default:
    the course's notebooks/); `jobs` notebooks run at a time (default: one per CPU, at most 4);
    `limits` bound each sealed run; `require_sealed` raises GradeError where runs cannot be sealed.
    Returns the exit code, 0.
    """
    seal = _seal(limits, require_sealed)
    table = grade_submissions(Path(submissions), timeout_s, _released_folder(released), jobs, seal)
    print()
    print(table)
    if out is not None:
        table.write_csv(Path(out))
        print(f"\nwrote {out}")
    return 0
