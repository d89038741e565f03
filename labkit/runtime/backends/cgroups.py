"""A cgroup of labkit's own: created with its limits, joined by a child before exec, removed when empty.

Used for the pids limit of each process-backend environment run by root (`pids_cgroup.py`) and
for the memory and pids limits of each sealed grading run (`labkit.course.seal`). Names are
``labkit-<pid of the labkit process>-<hex id>`` so that those a killed labkit left behind can be
told apart and removed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_HIERARCHIES_V2 = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")


class Cgroup:
    """One cgroup below `parent`, with `settings` (file name → value) written at creation."""

    def __init__(self, parent: Path, env_id: str, settings: Mapping[str, str]) -> None:
        self.path = parent / f"labkit-{os.getpid()}-{env_id}"
        self.path.mkdir()
        for name, value in settings.items():
            (self.path / name).write_text(value)
        self._procs = str(self.path / "cgroup.procs")

    def join(self) -> None:
        """Move the calling process into the cgroup (run in the child, before exec)."""
        fd = os.open(self._procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (idempotent)."""
        try:
            self.path.rmdir()
        except OSError:
            pass


def memory_parent() -> tuple[Path, str] | None:
    """Where this process may create a memory-limited cgroup (below its own memory cgroup), and the
    name of the limit file there (cgroup v1 ``memory.limit_in_bytes``, v2 ``memory.max``); None when
    no such place is writable."""
    for line in read_text(Path("/proc/self/cgroup")).splitlines():
        _, controllers, own = line.split(":", 2)
        relative = own.lstrip("/")
        if "memory" in controllers.split(","):
            candidates = [(Path("/sys/fs/cgroup/memory") / relative, "memory.limit_in_bytes")]
        elif controllers == "":
            candidates = [(Path(root) / relative, "memory.max") for root in _HIERARCHIES_V2]
            candidates = [(path, name) for path, name in candidates if "memory" in read_text(path / "cgroup.subtree_control").split()]
        else:
            continue
        for path, limit_file in candidates:
            if (path / "cgroup.procs").is_file() and os.access(path, os.W_OK):
                return path, limit_file
    return None


def read_text(path: Path) -> str:
    """The file's text, or "" when it cannot be read."""
    try:
        return path.read_text()
    except OSError:
        return ""
