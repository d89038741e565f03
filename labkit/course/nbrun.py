"""Runs one notebook under nbval, isolated: a subprocess of its own, in a copy of the notebook's
folder, with a fresh `LABKIT_HOME` and a time limit after which everything it started is killed.

One run's infinite loop, killed kernel or broken notebook therefore never reaches another run.
With a `Seal` (`labkit.course.seal`), the whole run is sealed in a sandbox of its own, so what the
notebook does cannot reach anything else either. The run's own files (pytest's ini, the per-cell
results of `labkit.course.nbplugin`, `LABKIT_HOME` and its progress file) live in `CONTROL` inside
the copy, and are read once the run and all its processes are gone; a file there that is not a
regular file, or a line that is not a result, counts as absent.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from labkit.course.notebook import Notebook, write_notebook
from labkit.course.progress import ProgressStore
from labkit.course.seal import WORK, Seal

KILL_WAIT_S = 5.0
CONTROL = ".labkit-grading"


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


def _own_file(path: Path, folder: Path) -> bool:
    """True when `path` is a regular file, itself no link, that resolves inside `folder` (the run's copy)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode) and folder.resolve() in path.resolve().parents
    except OSError:
        return False


def _read_cells(results: Path, folder: Path) -> dict[int, CellResult]:
    if not _own_file(results, folder):
        return {}
    cells = {}
    for line in results.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            cells[record["index"]] = CellResult(
                index=int(record["index"]),
                cell_id=record["id"],
                phase=str(record["phase"]),
                outcome=str(record["outcome"]),
                kernel_alive=bool(record["kernel_alive"]),
                message=str(record["message"]),
            )
        except (ValueError, KeyError, TypeError):
            continue
    return cells


def _command(folder: Path, notebook: str, timeout_s: float, strict: bool, sanitize: bool) -> list[str]:
    """pytest's command line for the copy at `folder` (as the run sees it)."""
    control = folder / CONTROL
    mode = ["--nbval"] if strict else ["--nbval-lax"]
    if sanitize:
        mode += ["--nbval-sanitize-with", str(control / "sanitize.cfg")]
    return [
        sys.executable, "-m", "pytest", "-p", "labkit.course.nbplugin", "--labkit-results", str(control / "cells.jsonl"),
        *mode, "--nbval-current-env",
        # nbval's own cell timeout stays above the run's limit: the limit is ours to enforce.
        f"--nbval-cell-timeout={timeout_s + 60:g}",
        "-c", str(control / "pytest.ini"), "--rootdir", str(folder), "--noconftest", "-p", "no:cacheprovider",
        "-q", "--color=no", notebook,
    ]


def _environment(folder: Path, sealed: bool) -> dict[str, str]:
    """The run's variables: sealed, only labkit's and the basics; else the grader's, without pytest's."""
    home = folder / CONTROL / "home"
    own = {"LABKIT_HOME": str(home), "LABKIT_WORK": str(home / "work"), "PYTHONDONTWRITEBYTECODE": "1"}
    if sealed:
        path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
        return {"PATH": path, "LANG": "C.UTF-8", **own}
    return {**{key: value for key, value in os.environ.items() if key not in {"PYTEST_ADDOPTS", "PYTEST_PLUGINS"}}, **own}


def run_notebook(
    path: Path,
    *,
    timeout_s: float,
    content: Notebook | None = None,
    strict: bool = False,
    sanitize: Path | None = None,
    seal: Seal | None = None,
) -> NotebookRun:
    """Run the notebook at `path` (or `content` in its place) with nbval; never raises for what the notebook does.

    `strict` compares outputs with the stored ones (`--nbval`, with the `sanitize` file);
    otherwise only errors fail a cell (`--nbval-lax`). With `seal`, the run is sealed.
    """
    with tempfile.TemporaryDirectory(prefix="labkit-run-") as scratch_name:
        scratch = Path(scratch_name)
        folder = scratch / "work"
        shutil.copytree(path.parent, folder, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", CONTROL))
        control = folder / CONTROL
        control.mkdir()
        if content is not None:
            write_notebook(content, folder / path.name)
        (control / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        if sanitize is not None:
            shutil.copyfile(sanitize, control / "sanitize.cfg")
        seen = WORK if seal is not None else folder  # the copy, where the run sees it
        argv = _command(seen, path.name, timeout_s, strict, sanitize is not None)
        env = _environment(seen, seal is not None)
        log = scratch / "output.txt"
        if seal is not None:
            seal.prepare(folder)
            argv, env = seal.command(folder, argv, env), {}
        started = time.monotonic()
        with open(log, "wb") as output, seal.confined() if seal is not None else contextlib.nullcontext(None) as confine:
            process = subprocess.Popen(
                argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=confine,
            )
            try:
                returncode: int | None = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                returncode = None
            finally:
                _kill_everything(process)
        progress_file = control / "home" / "progress.json"
        progress = ProgressStore(progress_file).load() if _own_file(progress_file, folder) else {}
        return NotebookRun(
            notebook=path,
            cells=_read_cells(control / "cells.jsonl", folder),
            returncode=returncode,
            timed_out=returncode is None,
            duration_s=time.monotonic() - started,
            output=log.read_text(encoding="utf-8", errors="replace"),
            passed_exercises=frozenset(name for name, entry in progress.items() if entry.passed),
        )
