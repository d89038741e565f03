"""Nothing leaks: live functions are tracked, idle environments reaped, all ended at exit;
`labkit clean` removes what a killed labkit process left behind."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import threading
import time
import weakref
from pathlib import Path
from typing import Protocol

from labkit.runtime.backends.pids_cgroup import remove_orphans
from labkit.runtime.scratch import OWNER_DIR, owner_dir, pid_alive, remove_orphan_dirs


class _Reapable(Protocol):
    def reap_idle(self) -> int: ...

    def close(self) -> None: ...


class Registry:
    """The live functions of this process; a daemon thread reaps their idle environments."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self._functions: weakref.WeakSet[_Reapable] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._interval_s = interval_s
        self._reaper: threading.Thread | None = None
        self._closing = False
        atexit.register(self.close_all)

    def add(self, function: _Reapable) -> None:
        with self._lock:
            self._functions.add(function)
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_forever, name="labkit-reaper", daemon=True)
                self._reaper.start()

    def discard(self, function: _Reapable) -> None:
        with self._lock:
            self._functions.discard(function)

    def close_all(self) -> None:
        self._closing = True
        with self._lock:
            functions = list(self._functions)
        for function in functions:
            function.close()
        shutil.rmtree(owner_dir(), ignore_errors=True)

    def _reap_forever(self) -> None:
        while not self._closing:
            time.sleep(self._interval_s)
            with self._lock:
                functions = list(self._functions)
            for function in functions:
                try:
                    function.reap_idle()
                except Exception:  # a reaping failure must never kill the reaper
                    pass


REGISTRY = Registry()



def leftover_processes() -> list[tuple[int, int]]:
    """(pid, owner pid) of this user's runtime processes whose labkit process is gone."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != os.getuid():  # another user's: not ours to end
                continue
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(b"TMPDIR="):
                match = OWNER_DIR.search(item.decode("utf-8", "replace"))
                if match and not pid_alive(int(match.group(1))):
                    found.append((int(entry.name), int(match.group(1))))
                break
    return found


def clean_all(verbose: bool = False) -> int:
    """Kill orphaned runtime processes, remove their folders and labelled containers."""
    killed = 0
    for pid, _owner in leftover_processes():
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
        killed += 1
    removed_dirs = remove_orphan_dirs()
    containers = _clean_containers()
    cgroups = remove_orphans()
    if verbose:
        print(f"labkit clean: {killed} runtime process(es) ended, {removed_dirs} folder(s), {containers} container(s) "
              f"and {cgroups} cgroup(s) removed")
    return 0


def _clean_containers() -> int:
    try:
        from labkit.runtime.backends.docker import remove_orphan_containers
    except ImportError:
        return 0
    return remove_orphan_containers()
