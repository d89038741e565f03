"""The bubblewrap (`bwrap`) command line that gives a process-backend environment Lambda's sandbox.

Namespaces of its own for users, processes (pid 1 is bwrap's reaper: whatever the handler
detaches stays inside and ends with it) and IPC; the network is the host's, since the Runtime API
and the local AWS listen on its loopback. A fresh root holding only: the host's system folders
and this interpreter read-only at their own paths (so its venv and awslambdaric work unchanged),
the code read-only at /var/task, the layers at /opt, the runtime at /var/runtime, a private
tmpfs /tmp of the ephemeral size, the pid namespace's /proc and a minimal /dev. Folders named in
``$LABKIT_SANDBOX_SHARE`` (separated by ``os.pathsep``) are bound read-write at their own paths:
a way for a test harness to collect what handlers wrote, never set for learners.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TASK_ROOT = "/var/task"
OPT = "/opt"
RUNTIME_DIR = "/var/runtime"
SHARE_VARIABLE = "LABKIT_SANDBOX_SHARE"
MARKER_VARIABLE = "TMPDIR"
"""Set on bwrap only (unset inside): `labkit clean` finds a dead labkit's environments by it."""

_SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
NAMESPACES = ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--die-with-parent")


@dataclass(frozen=True)
class Layout:
    """What goes where inside the sandbox."""

    code: Path
    layers: Path | None  # one folder, the layers merged in order
    runtime_dir: Path
    tmp_mb: int
    host_paths: tuple[Path, ...]  # bound read-only at their own paths: the interpreter, its venv, the runtime's packages
    shared_paths: tuple[Path, ...] = ()  # bound read-write at their own paths ($LABKIT_SANDBOX_SHARE)


def find() -> str | None:
    """The bwrap executable on PATH, or None."""
    return shutil.which("bwrap")


def command(bwrap: str, layout: Layout, argv: list[str]) -> list[str]:
    """bwrap's arguments to run argv (with cwd /var/task) in a sandbox laid out as `layout` says."""
    args = [bwrap, *NAMESPACES, *system_binds()]
    args += scratch_mounts(layout.tmp_mb)  # first: host paths below /tmp (a venv, say) are bound into it
    args += ro_binds(layout.host_paths)
    args += ["--ro-bind", str(layout.code), TASK_ROOT, "--ro-bind", str(layout.runtime_dir), RUNTIME_DIR]
    if layout.layers is not None:
        args += ["--ro-bind", str(layout.layers), OPT]
    for path in layout.shared_paths:
        args += ["--bind", str(path), str(path)]
    return [*args, "--chdir", TASK_ROOT, "--unsetenv", MARKER_VARIABLE, "--", *argv]


def shared_paths() -> tuple[Path, ...]:
    """The existing folders $LABKIT_SANDBOX_SHARE names."""
    named = os.environ.get(SHARE_VARIABLE, "")
    return tuple(Path(item).resolve() for item in named.split(os.pathsep) if item and Path(item).is_dir())


def probe(bwrap: str) -> str | None:
    """None when bwrap can build the sandbox here; otherwise why not."""
    return trial(bwrap, [bwrap, *NAMESPACES, *system_binds(), *scratch_mounts(1), "--", "true"], "a sandbox", 10)


def trial(bwrap: str, argv: list[str], what: str, timeout_s: float, preexec_fn: Callable[[], None] | None = None) -> str | None:
    """Run `argv` (a bwrap command building `what`) once: None when it succeeds, else why not, from bwrap's last line."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, preexec_fn=preexec_fn)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{bwrap} could not run: {exc}"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"{bwrap} cannot build {what} here ({reason}); user namespaces may be disabled by the kernel"
    return None


def interpreter_paths(packages: set[Path], folders: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """The folders the runtime needs at their own paths: this interpreter's prefixes, the runtime's packages'
    folders and `folders` themselves, each left out when a system folder or another of them holds it."""
    candidates = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    candidates |= {package.parent.resolve() for package in packages} | {folder.resolve() for folder in folders}
    covered = [Path(p) for p in _SYSTEM_PATHS]
    kept: list[Path] = []
    for path in sorted(candidates, key=lambda p: len(p.parts)):
        if not any(path == root or root in path.parents for root in covered + kept):
            kept.append(path)
    return tuple(kept)


def ro_binds(paths: tuple[Path, ...]) -> list[str]:
    """Each of `paths` read-only at its own path."""
    return [arg for path in paths for arg in ("--ro-bind", str(path), str(path))]


def system_binds() -> list[str]:
    """The host's system folders, read-only at their own paths (symbolic links, such as /bin on merged-/usr systems, as links)."""
    args: list[str] = []
    for path in _SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def scratch_mounts(tmp_mb: int) -> list[str]:
    """A private tmpfs /tmp of `tmp_mb`, the pid namespace's /proc and a minimal /dev."""
    return ["--perms", "1777", "--size", str(tmp_mb * 1048576), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
