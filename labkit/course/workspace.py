"""Where the course lives on disk: the course repository, the learner's home and work folders.

Learners write handler code from notebooks; it goes to a work folder outside the repository
(`$LABKIT_WORK`, default `$LABKIT_HOME/work`), one sub-folder per chapter, so the course's
own files stay as released.
"""
from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import labkit
from labkit import paths
from labkit.errors import ConfigurationError

_CHAPTER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _is_course_root(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "labkit" / "__init__.py").is_file()


def course_root() -> Path | None:
    """The course repository: the working directory or one of its parents, else the one labkit runs from."""
    cwd = Path.cwd().resolve()
    package_parent = Path(labkit.__file__).resolve().parent.parent
    return next((folder for folder in (cwd, *cwd.parents, package_parent) if _is_course_root(folder)), None)


def notebooks_dir() -> Path:
    """The learner notebooks of the course repository (`notebooks/`)."""
    root = course_root()
    if root is None or not (root / "notebooks").is_dir():
        raise ConfigurationError("cannot find the course's notebooks/ folder: run this inside the course repository")
    return root / "notebooks"


def _outside_course(path: Path, variable: str) -> Path:
    root = course_root()
    resolved = path.expanduser().resolve()
    if root is not None and (resolved == root or root in resolved.parents):
        raise ConfigurationError(f"{variable}={path} is inside the course repository {root}: point it at a folder outside it")
    return resolved


def learner_home() -> Path:
    """`$LABKIT_HOME` (default `~/.labkit`): the learner's progress and work; never inside the repository."""
    return _outside_course(paths.labkit_home(), "LABKIT_HOME")


def work_root() -> Path:
    """`$LABKIT_WORK` (default `$LABKIT_HOME/work`), created if needed."""
    configured = os.environ.get("LABKIT_WORK")
    root = _outside_course(Path(configured), "LABKIT_WORK") if configured else learner_home() / "work"
    root.mkdir(parents=True, exist_ok=True)
    return root


def work_dir(chapter: str) -> Path:
    """The learner's folder for one chapter's files (e.g. `work_dir("02")`), created if needed."""
    if not _CHAPTER.match(chapter):
        raise ConfigurationError(f"{chapter!r} is not a chapter name: use something like '02' or '02-lifecycle'")
    folder = work_root() / chapter
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_handler(path_or_name: str | Path, source: str) -> Path:
    """Write handler code to a file and return its path.

    A relative path (`"02/app.py"`) or bare module name (`"app"` → `app.py`) lands in the work
    folder; an absolute path is used as it is. The source is dedented, so an indented
    triple-quoted string in a notebook cell gives a clean file.
    """
    target = Path(path_or_name).expanduser()
    if not target.suffix:
        target = target.with_suffix(".py")
    if not target.is_absolute():
        target = work_root() / target
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(source).strip("\n") + "\n", encoding="utf-8")
    return target
