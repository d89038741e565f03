"""Where labkit keeps a learner's files: progress, work folders, caches (never inside the repository)."""
from __future__ import annotations

import os
from pathlib import Path


def labkit_home() -> Path:
    """`$LABKIT_HOME`, default `~/.labkit`."""
    return Path(os.environ.get("LABKIT_HOME") or Path.home() / ".labkit").expanduser()


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/labkit`, default `~/.cache/labkit`: downloads and build products."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "labkit"
