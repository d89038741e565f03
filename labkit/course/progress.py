"""A learner's progress: which exercises were tried and passed, kept in `$LABKIT_HOME/progress.json`.

The file is small JSON, rewritten whole under a lock (temporary file + `os.replace`), so two
kernels checking at the same time neither corrupt it nor lose each other's results.
`labkit.progress()` shows it as chapters × exercises.
"""
from __future__ import annotations

import contextlib
import html
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

from labkit.course.registry import REGISTRY, Registry
from labkit.course.workspace import learner_home

try:
    import fcntl
except ImportError:  # Windows: os.replace alone still keeps the file whole
    fcntl = None  # type: ignore[assignment]

FORMAT_VERSION = 1


@dataclass
class ExerciseProgress:
    """What happened with one exercise so far."""

    attempts: int = 0
    passed: bool = False  # passed at least once
    last_passed: bool = False
    first_passed_at: str | None = None
    last_attempt_at: str | None = None


class ProgressStore:
    """The progress file: read it, record a check's result."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else learner_home() / "progress.json"

    def load(self) -> dict[str, ExerciseProgress]:
        """Progress by exercise name; an absent or unreadable file counts as no progress."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {name: ExerciseProgress(**entry) for name, entry in data["exercises"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def record(self, name: str, passed: bool) -> ExerciseProgress:
        """Add one attempt at `name` and return the exercise's progress after it."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._locked():
            exercises = self.load()
            entry = exercises.setdefault(name, ExerciseProgress())
            entry.attempts += 1
            entry.last_passed = passed
            entry.last_attempt_at = now
            if passed and not entry.passed:
                entry.passed, entry.first_passed_at = True, now
            self._write(exercises)
        return entry

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, exercises: dict[str, ExerciseProgress]) -> None:
        data = {"version": FORMAT_VERSION, "exercises": {name: asdict(entry) for name, entry in sorted(exercises.items())}}
        fd, temporary = tempfile.mkstemp(prefix=".progress-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise


_KEEP_WHOLE = "text-align:left; white-space:nowrap"
"""Style of the name and status cells: "08.cheapest-mem" and "· not started" never break across lines."""


@dataclass(frozen=True)
class ProgressRow:
    chapter: str
    name: str
    title: str
    progress: ExerciseProgress

    @property
    def status(self) -> str:
        if self.progress.passed:
            return "✅ passed"
        return "❌ not yet" if self.progress.attempts else "· not started"


@dataclass(frozen=True)
class ProgressReport:
    """Chapters × exercises with their status; shown as an HTML table in Jupyter, as text elsewhere."""

    rows: tuple[ProgressRow, ...]
    path: Path

    @property
    def passed(self) -> int:
        return sum(row.progress.passed for row in self.rows)

    def summary(self) -> str:
        return f"{self.passed} of {len(self.rows)} exercises passed (progress kept in {self.path})"

    def _chapters(self) -> Iterator[tuple[str, list[ProgressRow]]]:
        for chapter, rows in groupby(self.rows, key=lambda row: row.chapter):
            yield chapter, list(rows)

    def __str__(self) -> str:
        width = max((len(row.name) for row in self.rows), default=0)
        lines = []
        for chapter, rows in self._chapters():
            done = sum(row.progress.passed for row in rows)
            lines.append(f"Chapter {chapter}  ({done}/{len(rows)})")
            lines += [f"  {row.name:<{width}}  {row.status:<14} {row.title}" for row in rows]
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = []
        for chapter, rows in self._chapters():
            done = sum(row.progress.passed for row in rows)
            body.append(f'<tr><th colspan="4" style="text-align:left">Chapter {chapter} ({done}/{len(rows)})</th></tr>')
            body += [
                f'<tr><td style="{_KEEP_WHOLE}"><code style="white-space:nowrap">{html.escape(row.name)}</code></td>'
                f'<td style="text-align:left">{html.escape(row.title)}</td>'
                f'<td style="{_KEEP_WHOLE}">{row.status}</td><td>{row.progress.attempts}</td></tr>'
                for row in rows
            ]
        head = (
            '<tr><th style="text-align:left">exercise</th><th style="text-align:left">title</th>'
            '<th style="text-align:left">status</th><th>attempts</th></tr>'
        )
        return f"<table>{head}{''.join(body)}</table><p>{html.escape(self.summary())}</p>"


def report(store: ProgressStore | None = None, registry: Registry = REGISTRY) -> ProgressReport:
    """Every declared exercise (and any recorded one no chapter declares any more) with its progress."""
    store = store or ProgressStore()
    recorded = store.load()
    titles = {exercise.name: exercise.title for exercise in registry.all()}
    names = sorted(set(titles) | set(recorded))
    rows = tuple(
        ProgressRow(name.split(".", 1)[0], name, titles.get(name, "(no longer in the course)"), recorded.get(name, ExerciseProgress()))
        for name in names
    )
    return ProgressReport(rows=rows, path=store.path)


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def progress() -> ProgressReport:
    """Show the learner's progress and return it.

    In Jupyter the returned report renders itself as a table (make it the cell's last
    expression); anywhere else it is printed.
    """
    current = report()
    if not _in_ipython():
        print(current)
    return current
