"""Which files on disk make up installed Python distributions (for runtime folders and layers)."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path


def top_level_paths(roots: tuple[str, ...]) -> set[Path]:
    """The top-level modules and packages of the distributions roots and their dependencies."""
    seen: set[str] = set()
    paths: set[Path] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                pending.append(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
        for file in dist.files or []:
            top = file.parts[0]
            if top.endswith((".dist-info", ".egg-info")) or top == ".." or top.startswith("__"):
                continue
            location = Path(str(dist.locate_file(top)))
            if location.exists():
                paths.add(location)
    return paths
