"""The host processes of one process-backend environment: a root process and all its descendants.

Found through ``/proc/<pid>/task/<tid>/children`` (every thread's children, so a process forked
by a worker thread is found too), with their resident memory, their CPU time (the kernel's
per-process CPU clocks, in ns) and one call to signal them all. In the sandbox, processes that
detach (``setsid`` and a double fork) are re-parented to the pid namespace's init, so they stay
in the tree; without it they are re-parented outside and escape.
"""
from __future__ import annotations

import os
import signal
import time

_PAGE = os.sysconf("SC_PAGE_SIZE")
_CPUCLOCK_SCHED = 2


def children(pid: int) -> list[int]:
    """The children of every thread of pid (empty when pid is gone)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
                found += [int(child) for child in file.read().split()]
        except OSError:
            continue
    return found


def anonymous_mb(pid: int) -> float:
    """Resident memory of pid that is its own, in MB (0 when gone): resident less file-backed and shared pages.

    Shared libraries and files mapped by many processes of a tree would otherwise count once per process.
    """
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            fields = file.read().split()
    except OSError:
        return 0.0
    return (int(fields[1]) - int(fields[2])) * _PAGE / 1048576 if len(fields) > 2 else 0.0


def cpu_ns(pid: int) -> int:
    """CPU time pid's threads used so far, in ns (0 when gone): its process CPU clock."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | _CPUCLOCK_SCHED)
    except OSError:
        return 0


def voluntary_switches(pid: int) -> int:
    """How often pid's main thread has waited (voluntary context switches; -1 when gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as file:
            status = file.read()
    except OSError:
        return -1
    at = status.find(b"voluntary_ctxt_switches:")
    return int(status[at + 24 :].split(None, 1)[0]) if at >= 0 else -1


def send(pids: list[int], signum: signal.Signals) -> None:
    """Send signum to each of pids, skipping those already gone."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            continue


class ProcessTree:
    """A root pid and its descendants; the first `wrappers` levels are the sandbox's own processes.

    With bubblewrap the root is bwrap, its child the pid namespace's init (reaper), and below it
    the runtime and whatever it starts: `wrappers` is 2. Without a sandbox the root is the
    runtime itself: `wrappers` is 0.
    """

    def __init__(self, root: int, wrappers: int) -> None:
        self.root = root
        self.wrappers = wrappers
        self._runtime: int | None = root if wrappers == 0 else None

    def walk(self) -> list[tuple[int, int]]:
        """(pid, depth) of the root and every descendant, parents before children."""
        found = [(self.root, 0)]
        at = 0
        while at < len(found):
            pid, depth = found[at]
            at += 1
            found += [(child, depth + 1) for child in children(pid)]
        return found

    def pids(self) -> set[int]:
        """Every host pid of the environment, the sandbox's own processes included."""
        return {pid for pid, _ in self.walk()}

    def sandboxed(self) -> list[int]:
        """The processes inside the sandbox: the runtime, its descendants and detached ones."""
        return [pid for pid, depth in self.walk() if depth >= self.wrappers]

    def runtime_pid(self) -> int | None:
        """The runtime's host pid (the first process inside the sandbox), once it exists."""
        if self._runtime is None:
            inside = [pid for pid, depth in self.walk() if depth == self.wrappers]
            self._runtime = inside[0] if inside else None
        return self._runtime
