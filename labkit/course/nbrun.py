"""Runs one notebook under nbval, isolated: a subprocess of its own, in a copy of the notebook's
folder, with a fresh `LABKIT_HOME` and a time limit after which everything it started is killed.

One run's infinite loop, killed kernel or broken notebook therefore never reaches another run.
Per-cell results come from `labkit.course.nbplugin`.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from labkit.course.notebook import Notebook, write_notebook
from labkit.course.progress import ProgressStore

KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class CellResult:
    """nbval's verdict on one code cell."""

    index: int  # among code cells, as nbval counts ("Cell N")
    cell_id: str | None
    phase: str  # "call", or "setup" when the kernel could not start
    outcome: str  # "passed", "failed" or "skipped"
    kernel_alive: bool  # after the cell
    message: str


@dataclass(frozen=True)
class NotebookRun:
    """What running one notebook gave."""

    notebook: Path
    cells: dict[int, CellResult]
    returncode: int | None  # None when the run was killed at its time limit
    timed_out: bool
    duration_s: float
    output: str  # pytest's output
    passed_exercises: frozenset[str]  # checks that passed, as recorded in the run's own progress file

    def passed(self, index: int) -> bool:
        """True when code cell `index` ran and passed (a cell never reached did not)."""
        result = self.cells.get(index)
        return result is not None and result.outcome == "passed"

    @property
    def kernel_died(self) -> bool:
        return any(cell.phase == "call" and not cell.kernel_alive for cell in self.cells.values())

    @property
    def kernel_failed_to_start(self) -> bool:
        return any(cell.phase == "setup" and cell.outcome == "failed" for cell in self.cells.values())


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _kill_everything(process: subprocess.Popen[bytes]) -> None:
    """Kill the run's process, its descendants and every process left in its session (the kernel is one)."""
    victims: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(process.pid)
        victims += [root, *root.children(recursive=True)]
    victims += [other for other in psutil.process_iter() if other.pid != process.pid and _session_of(other.pid) == process.pid]
    for victim in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
    psutil.wait_procs(victims, timeout=KILL_WAIT_S)
    process.wait()


def _read_cells(results: Path) -> dict[int, CellResult]:
    if not results.exists():
        return {}
    cells = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        cells[record["index"]] = CellResult(
            index=record["index"],
            cell_id=record["id"],
            phase=record["phase"],
            outcome=record["outcome"],
            kernel_alive=record["kernel_alive"],
            message=record["message"],
        )
    return cells


def _command(notebook: Path, results: Path, ini: Path, timeout_s: float, strict: bool, sanitize: Path | None) -> list[str]:
    mode = ["--nbval"] if strict else ["--nbval-lax"]
    if sanitize is not None:
        mode += ["--nbval-sanitize-with", str(sanitize.resolve())]
    return [
        sys.executable, "-m", "pytest", "-p", "labkit.course.nbplugin", "--labkit-results", str(results),
        *mode, "--nbval-current-env",
        # nbval's own cell timeout stays above the run's limit: the limit is ours to enforce.
        f"--nbval-cell-timeout={timeout_s + 60:g}",
        "-c", str(ini), "--rootdir", str(notebook.parent), "--noconftest", "-p", "no:cacheprovider",
        "-q", "--color=no", notebook.name,
    ]


def run_notebook(
    path: Path,
    *,
    timeout_s: float,
    content: Notebook | None = None,
    strict: bool = False,
    sanitize: Path | None = None,
) -> NotebookRun:
    """Run the notebook at `path` (or `content` in its place) with nbval; never raises for what the notebook does.

    `strict` compares outputs with the stored ones (`--nbval`, with the `sanitize` file);
    otherwise only errors fail a cell (`--nbval-lax`).
    """
    with tempfile.TemporaryDirectory(prefix="labkit-run-") as scratch_name:
        scratch = Path(scratch_name)
        folder = scratch / "work"
        shutil.copytree(path.parent, folder, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        notebook = folder / path.name
        if content is not None:
            write_notebook(content, notebook)
        home, results, ini, log = scratch / "home", scratch / "cells.jsonl", scratch / "pytest.ini", scratch / "output.txt"
        ini.write_text("[pytest]\n", encoding="utf-8")
        env = {key: value for key, value in os.environ.items() if key not in {"PYTEST_ADDOPTS", "PYTEST_PLUGINS"}}
        env.update(LABKIT_HOME=str(home), LABKIT_WORK=str(home / "work"), PYTHONDONTWRITEBYTECODE="1")
        started = time.monotonic()
        with open(log, "wb") as output:
            process = subprocess.Popen(
                _command(notebook, results, ini, timeout_s, strict, sanitize),
                cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                returncode: int | None = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                _kill_everything(process)
        progress = ProgressStore(home / "progress.json").load()
        return NotebookRun(
            notebook=path,
            cells=_read_cells(results),
            returncode=returncode,
            timed_out=returncode is None,
            duration_s=time.monotonic() - started,
            output=log.read_text(encoding="utf-8", errors="replace"),
            passed_exercises=frozenset(name for name, entry in progress.items() if entry.passed),
        )
