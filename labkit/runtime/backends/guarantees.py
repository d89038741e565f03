"""Which parts of Lambda's sandbox the process backend holds on this machine, and how.

Decided once per labkit process (and again when PATH changes which bwrap is found): bubblewrap
present and able to build the sandbox, and how Lambda's processes limit is held. `labkit doctor`
lists every guarantee; the first cold start prints those that do not hold, with what to do.
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from labkit.runtime import limits
from labkit.runtime.backends import bwrap, pids_cgroup

HOST_PROCESSES_HIDDEN = "the host's processes hidden"
INSTALL_BWRAP = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"


@dataclass(frozen=True)
class Guarantee:
    """One property of Lambda's execution environment, held or not, and how (or what to do)."""

    what: str
    held: bool
    how: str


@dataclass(frozen=True)
class Sandboxing:
    """How the process backend sandboxes its environments here."""

    bwrap: str | None  # the bwrap to run, or None: no sandbox
    problem: str | None  # why there is no sandbox
    pids_cgroups: Path | None  # root: where each environment's pids cgroup goes
    nproc_rlimit: bool  # not root, in a user namespace: RLIMIT_NPROC counts the environment's tasks only

    @property
    def processes_limit(self) -> str | None:
        """How the 1,024 processes and threads are held, or None."""
        if self.pids_cgroups is not None:
            return f"a pids cgroup per environment (in {self.pids_cgroups})"
        if self.nproc_rlimit:
            return "RLIMIT_NPROC in the environment's user namespace"
        return None

    def guarantees(self) -> list[Guarantee]:
        sandboxed = self.bwrap is not None
        missing = f"no sandbox: {self.problem}"
        processes = self.processes_limit
        return [
            Guarantee("private /tmp of the ephemeral size", sandboxed,
                      "a tmpfs per environment (No space left on device past its size)" if sandboxed
                      else f"{missing}; /tmp is the host's (TMPDIR is private, without a size)"),
            Guarantee("code read-only at /var/task, layers at /opt", sandboxed,
                      "read-only binds, runtime at /var/runtime" if sandboxed
                      else f"{missing}; the code runs in place and can be changed"),
            Guarantee(f"{limits.PROCESSES_MAX:,} processes and threads", processes is not None,
                      processes or (f"{missing}" if not sandboxed else
                                    "root is exempt from RLIMIT_NPROC and no pids cgroup is writable: run labkit as a user")),
            Guarantee(f"{limits.FILE_DESCRIPTORS_MAX:,} open files", True, "RLIMIT_NOFILE"),
            Guarantee("memory counted over the process tree", True,
                      "sampled every 20 ms; past the memory size: Runtime.OutOfMemory" if sandboxed
                      else "sampled every 20 ms, but processes that detach escape it"),
            Guarantee("CPU share proportional to memory", True,
                      f"duty-cycled with SIGSTOP/SIGCONT ({limits.MB_PER_VCPU:,} MB = one vCPU)"),
            Guarantee(HOST_PROCESSES_HIDDEN, sandboxed,
                      "a pid namespace with its own /proc: the handler sees its environment's processes only" if sandboxed
                      else f"{missing}; a handler can read the variables of every process of this user "
                           "(/proc/<pid>/environ: labkit's and the notebook's, credentials included)"),
            Guarantee("every process ends with its environment", sandboxed,
                      "a pid namespace per environment" if sandboxed
                      else f"{missing}; a process that detaches (setsid) outlives it"),
        ]


class _Probe:
    """The Sandboxing of this machine, probed on first use and kept per bwrap path."""

    def __init__(self) -> None:
        self._known: dict[str | None, Sandboxing] = {}
        self._announced = False
        self._lock = threading.Lock()

    def current(self) -> Sandboxing:
        found = bwrap.find()
        with self._lock:
            if found not in self._known:
                self._known[found] = _decide(found)
            return self._known[found]

    def announce_once(self) -> None:
        """On the first cold start of this process: print the guarantees that do not hold, if any, and
        remove the cgroups that labkit processes killed before they could clean up left behind."""
        with self._lock:
            if self._announced:
                return
            self._announced = True
        if self.current().pids_cgroups is not None:
            pids_cgroup.remove_orphans()
        gaps = [g for g in self.current().guarantees() if not g.held]
        if gaps:
            lines = "".join(f"\n  - {g.what}: {g.how}" for g in gaps)
            print(f"labkit: the process backend does not hold all of Lambda's sandbox here (labkit doctor lists it):{lines}",
                  file=sys.stderr)


def _decide(found: str | None) -> Sandboxing:
    problem = f"bwrap not found on PATH: {INSTALL_BWRAP}" if found is None else bwrap.probe(found)
    usable = found if problem is None else None
    root = os.geteuid() == 0
    return Sandboxing(
        bwrap=usable,
        problem=problem,
        pids_cgroups=pids_cgroup.hierarchy() if root else None,
        nproc_rlimit=usable is not None and not root,
    )


SANDBOXING = _Probe()
