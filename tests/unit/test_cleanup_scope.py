"""What `labkit clean` and a new labkit process remove: only this user's leftovers of labkit processes that are gone."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from labkit.runtime.cleanup import leftover_processes
from labkit.runtime.scratch import owner_dir

NOBODY = 65534


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_a_new_labkit_process_removes_the_folders_of_killed_ones_of_its_user_only() -> None:
    mine, theirs = owner_dir(dead_pid()), owner_dir(dead_pid())
    for folder in (mine, theirs):
        (folder / "env").mkdir(parents=True)
    if os.getuid() == 0:
        os.chown(theirs, NOBODY, NOBODY)
    try:
        script = "from labkit.runtime.scratch import ensure_owner_dir; ensure_owner_dir()"
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        assert not mine.exists()
        assert theirs.exists() == (os.getuid() == 0), "another user's folder must be left alone"
    finally:
        for folder in (mine, theirs):
            subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to start a process as another user")
def test_clean_does_not_count_another_users_orphans() -> None:
    scratch = f"{tempfile.gettempdir()}/labkit-runtime-{dead_pid()}/env"  # as an orphaned runtime's TMPDIR says
    other = subprocess.Popen(["sleep", "30"], env={"TMPDIR": scratch}, user=NOBODY, group=NOBODY)
    mine = subprocess.Popen(["sleep", "30"], env={"TMPDIR": scratch})
    try:
        time.sleep(0.1)
        found = {pid for pid, _owner in leftover_processes()}
        assert mine.pid in found and other.pid not in found
    finally:
        for process in (other, mine):
            process.kill()
            process.wait()
