"""Lambda's 1,024 processes and threads for root: a pids cgroup per environment.

The kernel exempts root from RLIMIT_NPROC (and counts it per user, not per sandbox, outside a user
namespace), so an environment started by root gets a cgroup of the pids controller instead, where
one is writable: cgroup v1's pids hierarchy, or cgroup v2 with pids enabled below its root.
Environments started by other users get RLIMIT_NPROC, which the kernel counts per user namespace.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from labkit.runtime.backends.cgroups import Cgroup, read_text
from labkit.runtime.scratch import pid_alive

_HIERARCHIES = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup", "/sys/fs/cgroup/unified")
_NAME = re.compile(r"labkit-(\d+)-[0-9a-f]+")


def hierarchy() -> Path | None:
    """The writable pids hierarchy root to create environments' cgroups in, or None."""
    if os.geteuid() != 0:
        return None
    for candidate in map(Path, _HIERARCHIES):
        procs = candidate / "cgroup.procs"
        if not procs.is_file() or not os.access(procs, os.W_OK):
            continue
        if candidate.name == "pids" or "pids" in read_text(candidate / "cgroup.subtree_control").split():
            return candidate
    return None


class PidsCgroup(Cgroup):
    """One environment's cgroup, limited to `maximum` tasks."""

    def __init__(self, root: Path, env_id: str, maximum: int) -> None:
        super().__init__(root, env_id, {"pids.max": str(maximum)})


def remove_orphans() -> int:
    """Remove the empty cgroups of labkit processes that are gone; return how many."""
    root = hierarchy()
    if root is None:
        return 0
    removed = 0
    for folder in root.glob("labkit-*"):
        match = _NAME.fullmatch(folder.name)
        if match and not pid_alive(int(match.group(1))):
            try:
                folder.rmdir()
                removed += 1
            except OSError:
                continue
    return removed
