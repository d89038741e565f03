"""`labkit release`: writes the learner notebooks (notebooks/) from the instructor notebooks (solutions/).

solutions/ is the single source of every chapter. Release mirrors it into notebooks/:

- in code cells, lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become a prompt
  and ``raise NotImplementedError()`` at the marker's indentation;
- lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed (a cell with
  nothing else is dropped), and so are cells tagged ``instructor``;
- outputs and execution counts are cleared, metadata is trimmed, cell ids are kept, and check
  cells (those calling ``labkit.check``) are marked read-only for the learner;
- every other file (``assets/`` …) is copied as is.

The output bytes depend on nothing but solutions/, so ``release --check`` compares text.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit.course.notebook import (
    Cell,
    Notebook,
    check_names,
    dumps_notebook,
    read_notebook,
)
from labkit.errors import LabkitError

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
PROMPT = "# YOUR CODE HERE"
INSTRUCTOR_TAG = "instructor"
LEARNER_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class ReleaseError(LabkitError, ValueError):
    """A solution notebook cannot be released as it is (unbalanced markers, missing cell ids …)."""


@dataclass(frozen=True)
class Difference:
    """One file of notebooks/ that does not match what release would write."""

    path: Path
    kind: str  # "missing", "stale" or "extra"


def _replace_blocks(source: str, markers: tuple[str, str], replacement: Callable[[str], list[str]], where: str) -> str:
    """Replace each marked block (markers included) by `replacement(indentation of the begin marker)`."""
    begin, end = markers
    out: list[str] = []
    indent: str | None = None
    for line in source.splitlines(keepends=True):
        marker = line.strip()
        if marker == begin:
            if indent is not None:
                raise ReleaseError(f"{where}: {begin!r} inside another {begin!r} block")
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(replacement(indent))
        elif marker == end:
            if indent is None:
                raise ReleaseError(f"{where}: {end!r} without a {begin!r} before it")
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise ReleaseError(f"{where}: {begin!r} is never closed by {end!r}")
    text = "".join(out)
    return text if source.endswith("\n") else text.removesuffix("\n")


def strip_solutions(source: str, where: str = "cell") -> str:
    """The learner's version of a code cell: each solution block replaced by a prompt."""
    return _replace_blocks(source, SOLUTION, lambda indent: [f"{indent}{PROMPT}\n", f"{indent}raise NotImplementedError()\n"], where)


def strip_hidden_tests(source: str, where: str = "cell") -> str:
    """A code cell without its hidden-test blocks."""
    return _replace_blocks(source, HIDDEN_TESTS, lambda indent: [], where)


def _learner_cell(cell: Cell, where: str) -> Cell | None:
    """The learner's copy of one solution cell, or None when it has nothing for the learner."""
    kind = cell.get("cell_type")
    tags = list(cell.get("metadata", {}).get("tags", []))
    if INSTRUCTOR_TAG in tags:
        return None
    source = cell["source"]
    metadata: dict[str, object] = {"tags": tags} if tags else {}
    learner: Cell = {"cell_type": kind, "id": cell["id"], "metadata": metadata}
    if kind == "code":
        visible = strip_hidden_tests(source, where)
        if visible != source and not visible.strip():
            return None
        source = strip_solutions(visible, where)
        if check_names(source):
            metadata.update(editable=False, deletable=False)
        learner.update(execution_count=None, outputs=[])
    elif "attachments" in cell:
        learner["attachments"] = cell["attachments"]
    learner["source"] = source
    return learner


def learner_notebook(solution: Notebook, name: str) -> Notebook:
    """The learner notebook released from a solution notebook (`name` is used in error messages)."""
    cells: list[Cell] = []
    seen: set[str] = set()
    for number, cell in enumerate(solution["cells"]):
        cell_id = cell.get("id")
        where = f"{name}, cell {number}"
        if not isinstance(cell_id, str) or not _CELL_ID.match(cell_id):
            raise ReleaseError(f"{where} has no valid cell id: save the notebook with JupyterLab 4 (nbformat 4.5)")
        if cell_id in seen:
            raise ReleaseError(f"{where} repeats the cell id {cell_id!r}: ids must be unique")
        seen.add(cell_id)
        learner = _learner_cell(cell, f"{where} ({cell_id})")
        if learner is not None:
            cells.append(learner)
    return {"cells": cells, "metadata": LEARNER_METADATA, "nbformat": 4, "nbformat_minor": 5}


def solved_notebook(learner: Notebook, solution: Notebook) -> Notebook:
    """The learner notebook with each solution cell put back by cell id, hidden tests left out.

    This is what a learner who solved everything would hand in; the notebook tests and the
    grading tests run it.
    """
    solved = {cell["id"]: strip_hidden_tests(cell["source"]) for cell in solution["cells"] if "id" in cell}
    cells = [dict(cell, source=solved.get(cell.get("id"), cell["source"])) for cell in learner["cells"]]
    return dict(learner, cells=cells)


def _ignored(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts)


def _files(folder: Path) -> list[Path]:
    """Files under `folder` that release manages, relative to it, sorted."""
    if not folder.is_dir():
        return []
    relative = (path.relative_to(folder) for path in folder.rglob("*") if path.is_file())
    return sorted(path for path in relative if not _ignored(path))


def learner_files(solutions: Path) -> dict[Path, bytes]:
    """What notebooks/ should hold: relative path → bytes."""
    wanted: dict[Path, bytes] = {}
    for relative in _files(solutions):
        source = solutions / relative
        if relative.suffix == ".ipynb":
            wanted[relative] = dumps_notebook(learner_notebook(read_notebook(source), str(relative))).encode("utf-8")
        else:
            wanted[relative] = source.read_bytes()
    return wanted


def differences(wanted: dict[Path, bytes], notebooks: Path) -> list[Difference]:
    """How notebooks/ differs from `wanted`, sorted by path."""
    present = set(_files(notebooks))
    found = [Difference(path, "missing") for path in wanted if path not in present]
    found += [Difference(path, "stale") for path in wanted if path in present and (notebooks / path).read_bytes() != wanted[path]]
    found += [Difference(path, "extra") for path in present if path not in wanted]
    return sorted(found, key=lambda difference: difference.path)


def _refuse_unsafe(solutions: Path, notebooks: Path) -> None:
    """notebooks/ is rewritten wholesale: refuse a target that holds more than learner notebooks."""
    src, dst = solutions.resolve(), notebooks.resolve()
    if src == dst or src in dst.parents or dst in src.parents:
        raise ReleaseError(f"the notebooks folder {notebooks} and the solutions folder {solutions} overlap")
    if (dst / "pyproject.toml").exists() or (dst / ".git").exists():
        raise ReleaseError(f"{notebooks} looks like a project folder, not the learner notebooks folder")


def _apply(wanted: dict[Path, bytes], notebooks: Path, found: list[Difference]) -> None:
    for difference in found:
        target = notebooks / difference.path
        if difference.kind == "extra":
            target.unlink()
            for parent in target.parents:
                if parent == notebooks or any(parent.iterdir()):
                    break
                parent.rmdir()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wanted[difference.path])
        print(f"{difference.kind:>7}  {target}")


def release(solutions: str | Path, notebooks: str | Path, check: bool = False) -> int:
    """Write notebooks/ from solutions/ (or, with `check`, only report where it is out of date).

    Returns the exit code: 0 when notebooks/ is (now) up to date, 1 when `check` found differences.
    """
    src, dst = Path(solutions), Path(notebooks)
    if not src.is_dir():
        raise ReleaseError(f"no solutions folder at {src}: run this in the course repository or pass --solutions")
    _refuse_unsafe(src, dst)
    wanted = learner_files(src)
    found = differences(wanted, dst)
    if check:
        for difference in found:
            print(f"{dst / difference.path}: {difference.kind}")
        if found:
            print(f"{dst} is out of date with {src} ({len(found)} file(s)): run `labkit release`")
            return 1
        print(f"{dst} is up to date with {src} ({len(wanted)} file(s))")
        return 0
    _apply(wanted, dst, found)
    print(f"released {len(wanted)} file(s) from {src} to {dst} ({len(found)} changed)")
    return 0
