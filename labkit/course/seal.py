"""Sealed grading runs: each submitted notebook's run (pytest, nbval, the kernel, whatever they start)
inside a bubblewrap sandbox of its own.

The sandbox sees a fresh root holding only the host's system folders, this interpreter and its venv
and labkit's own package, all read-only at their own paths; the run's copy of the learner's folder
read-write at `WORK` (the only writable place that outlives the run); private tmpfs /tmp and HOME;
its own user, pid, IPC, UTS and network namespaces (loopback only: the kernel, nbval and the local
AWS talk over it); none of the grader's variables. pid 1 of the namespace is bwrap's reaper and
``--die-with-parent`` ties it to the grader: every process of a run, detached ones included, is
gone when the run ends or is killed. So a submission sees no other submission, no submissions
folder, no grader's home, command line or ``--out`` path.

The user namespace must not map the host's root, or the sandbox's /proc gets read-only covers and
the process backend's own bwrap (one per Lambda environment) cannot nest inside: run by root, a
first bwrap (no user namespace) builds the view and then drops to `UNPRIVILEGED_UID`, which starts
the sandbox proper on that view. Limits: memory and tasks (processes and threads) in cgroups of
the run's own where writable (root: a pids cgroup; a memory cgroup below labkit's own), else
RLIMIT_NPROC in the sandbox's user namespace and RLIMIT_AS per process; `Seal.limits_held` says
which. Where bwrap is missing or cannot build the sandbox, `find_seal` says why.
"""
from __future__ import annotations

import contextlib
import os
import resource
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import labkit
from labkit.runtime.backends import bwrap, cgroups, pids_cgroup

WORK = Path("/submission")
HOME = "/home/learner"
UNPRIVILEGED_UID = 65534  # nobody: what a root grader's sandboxes run as
_PROBE_TIMEOUT_S = 30

# Run with: <uid or -1> <nproc or -1> argv... : drop to uid, set RLIMIT_NPROC, exec argv.
_EXEC = (
    "import os, resource, sys\n"
    "uid, nproc = int(sys.argv[1]), int(sys.argv[2])\n"
    "if uid >= 0:\n"
    "    os.setgroups([]); os.setgid(uid); os.setuid(uid)\n"
    "if nproc >= 0:\n"
    "    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


@dataclass(frozen=True)
class SealLimits:
    """What one grading run may use, all its processes together."""

    memory_mb: int = 4096
    processes: int = 2048  # tasks: processes and threads


@dataclass(frozen=True)
class Seal:
    """How to seal grading runs on this machine."""

    bwrap: str
    limits: SealLimits
    run_as: int | None  # the host uid runs take (root graders), or None: the grader's own
    pids_parent: Path | None  # where each run's pids cgroup goes, or None: RLIMIT_NPROC
    memory_parent: tuple[Path, str] | None  # (where, limit file) of each run's memory cgroup, or None: RLIMIT_AS

    @property
    def limits_held(self) -> list[str]:
        """How each limit is held, one line each."""
        memory = (f"a memory cgroup per run (in {self.memory_parent[0]})" if self.memory_parent
                  else "RLIMIT_AS per process (not summed over the run's processes)")
        processes = (f"a pids cgroup per run (in {self.pids_parent})" if self.pids_parent
                     else "RLIMIT_NPROC in the run's user namespace")
        return [f"memory {self.limits.memory_mb:,} MB: {memory}", f"{self.limits.processes:,} processes and threads: {processes}"]

    def prepare(self, work: Path) -> None:
        """Make the run's copy of the learner's folder writable by the sandbox's user."""
        if self.run_as is None:
            return
        os.lchown(work, self.run_as, self.run_as)
        for folder, names, files in os.walk(work):
            for name in names + files:
                os.lchown(os.path.join(folder, name), self.run_as, self.run_as)

    def command(self, work: Path, argv: list[str], env: Mapping[str, str]) -> list[str]:
        """The command running argv sealed, with `work` (the copy) at `WORK` as its working directory
        and `env` as its whole environment."""
        nproc = -1 if self.pids_parent else self.limits.processes
        inner = [sys.executable, "-S", "-c", _EXEC, "-1", str(nproc), *argv]
        host_paths = bwrap.interpreter_paths(set(), (Path(labkit.__file__).parent,))
        host_binds = bwrap.ro_binds(host_paths)
        if self.run_as is None:
            binds = [*bwrap.system_binds(), *host_binds, "--bind", str(work), str(WORK)]
            return [*self._sandbox([], binds, env), *inner]
        view = [
            self.bwrap, "--die-with-parent", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            *bwrap.system_binds(), *_parents(host_paths), *host_binds, "--bind", str(work), str(WORK),
            "--dev", "/dev", "--bind", "/proc", "/proc", "--dir", "/tmp", "--dir", HOME, "--",
            sys.executable, "-S", "-c", _EXEC, str(self.run_as), "-1",
        ]
        return [*view, *self._sandbox(["--bind", "/", "/"], host_binds, env), *inner]

    def _sandbox(self, below: list[str], binds: list[str], env: Mapping[str, str]) -> list[str]:
        """The sandbox proper: `below` goes under its private /tmp, /proc and /dev, `binds` over them, so an
        interpreter or venv below /tmp (a fresh clone in mktemp, say) stays visible."""
        size = str(self.limits.memory_mb * 1048576)
        variables = [arg for name, value in env.items() for arg in ("--setenv", name, value)]
        return [
            self.bwrap, *bwrap.NAMESPACES, "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--new-session",
            *below, *bwrap.scratch_mounts(self.limits.memory_mb), *binds,
            "--perms", "0700", "--size", size, "--tmpfs", HOME, "--chdir", str(WORK),
            "--clearenv", "--setenv", "HOME", HOME, *variables, "--",
        ]

    @contextlib.contextmanager
    def confined(self) -> Iterator[Callable[[], None]]:
        """The function to run in the sandbox's first process before exec (joins the run's cgroups or sets
        its rlimits); the run's cgroups are removed on leaving, once its processes are gone."""
        run_id = uuid.uuid4().hex
        made: list[cgroups.Cgroup] = []
        try:
            if self.pids_parent is not None:
                made.append(pids_cgroup.PidsCgroup(self.pids_parent, run_id, self.limits.processes))
            if self.memory_parent is not None:
                parent, limit_file = self.memory_parent
                made.append(cgroups.Cgroup(parent, run_id, {limit_file: str(self.limits.memory_mb * 1048576)}))
            address_space = None if self.memory_parent else self.limits.memory_mb * 1048576

            def confine() -> None:
                for cgroup in made:
                    cgroup.join()
                if address_space is not None:
                    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

            yield confine
        finally:
            for cgroup in made:
                cgroup.remove()


def find_seal(limits: SealLimits) -> Seal | str:
    """The Seal for this machine, or why grading runs cannot be sealed here."""
    found = bwrap.find()
    if found is None:
        return "bwrap not found on PATH (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
    root = os.geteuid() == 0
    seal = Seal(
        bwrap=found,
        limits=limits,
        run_as=UNPRIVILEGED_UID if root else None,
        pids_parent=pids_cgroup.hierarchy() if root else None,
        memory_parent=cgroups.memory_parent(),
    )
    problem = _probe(seal)
    return seal if problem is None else problem


def _probe(seal: Seal) -> str | None:
    """None when `seal` can run this interpreter with labkit in a sandbox; otherwise why not."""
    with tempfile.TemporaryDirectory(prefix="labkit-seal-probe-") as folder:
        work = Path(folder) / "work"
        work.mkdir()
        seal.prepare(work)
        argv = seal.command(work, [sys.executable, "-c", "import labkit"], {})
        try:
            with seal.confined() as confine:  # its cgroups may not be creatable either
                return bwrap.trial(seal.bwrap, argv, "the grading sandbox", _PROBE_TIMEOUT_S, confine)
        except OSError as exc:
            return f"{seal.bwrap} could not run: {exc}"


def _parents(paths: tuple[Path, ...]) -> list[str]:
    """Traversable folders (0755) above each path: bwrap makes them 0700, closed to an unprivileged user."""
    parents = sorted({parent for path in paths for parent in path.parents if parent != Path("/")}, key=lambda p: len(p.parts))
    return [arg for parent in parents for arg in ("--perms", "0755", "--dir", str(parent))]
