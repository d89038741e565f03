"""The scratch folder of one labkit process (runtime links, TMPDIRs, staged code), removed at exit or by `labkit clean`."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path


OWNER_DIR = re.compile(r"labkit-runtime-(\d+)")


def owner_dir(owner_pid: int | None = None) -> Path:
    """`$TMPDIR/labkit-runtime-<pid>`: everything this labkit process keeps on disk for its environments."""
    return Path(tempfile.gettempdir()) / f"labkit-runtime-{owner_pid or os.getpid()}"


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (an owner of scratch folders, containers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_owner_dir() -> Path:
    """owner_dir(), created and traversable by a sandbox's unprivileged user. Its first creation also
    removes the folders this user's earlier labkit processes left when they were killed (a kernel
    stopped by the grader, say), which had no chance to remove their own at exit."""
    path = owner_dir()
    if not path.is_dir():
        remove_orphan_dirs()
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def remove_orphan_dirs() -> int:
    """Remove this user's `labkit-runtime-<pid>` folders whose labkit process is gone; return how many."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob("labkit-runtime-*"):
        match = OWNER_DIR.fullmatch(folder.name)
        try:
            mine = folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if match and mine and not pid_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def tree_fingerprint(roots: tuple[Path, ...]) -> str:
    """A hash of the file names, sizes and modification times below roots."""
    digest = hashlib.sha256()
    for root in roots:
        digest.update(str(root).encode())
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                digest.update(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def stage_readable_copy(roots: tuple[Path, ...], label: str) -> Path:
    """One folder holding the merged contents of roots, readable by every user (as a deployed package is).

    Copies are cached by fingerprint: unchanged code is staged once per labkit process.
    """
    target = ensure_owner_dir() / f"{label}-{tree_fingerprint(roots)}"
    if target.is_dir():
        return target
    partial = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=target.parent))
    for root in roots:
        shutil.copytree(root, partial, dirs_exist_ok=True, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    for folder, dirs, files in os.walk(partial):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)
    try:
        partial.rename(target)
    except OSError:  # another thread staged the same tree first
        shutil.rmtree(partial, ignore_errors=True)
    return target
