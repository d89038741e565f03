"""Notebook files as the course pipeline sees them: reading, deterministic writing, check cells.

A notebook is handled as its plain JSON dictionary (nbformat 4), so that what `release`
writes is byte-for-byte predictable and `release --check` can compare text.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError

Notebook = dict[str, Any]
Cell = dict[str, Any]

_CHECK_CALL = re.compile(r"""(?:\blabkit\.|(?<![\w.]))check\(\s*(?P<quote>["'])(?P<name>[^"'\n]+)(?P=quote)""")


class NotebookError(LabkitError, ValueError):
    """A notebook file cannot be read or does not have the shape the course needs."""


def read_notebook(path: Path) -> Notebook:
    """Load a notebook file as its JSON dictionary, with every cell's source as one string."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{path} is not a readable notebook: {exc}") from exc
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path} is not an nbformat 4 notebook: open and save it with JupyterLab")
    for cell in nb["cells"]:
        cell["source"] = source_text(cell)
    return nb


def source_text(cell: Cell) -> str:
    """A cell's source as one string (files may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def dumps_notebook(nb: Notebook) -> str:
    """The notebook as Jupyter writes it: sorted keys, 1-space indent, sources as lines, final newline."""
    stored = dict(nb, cells=[dict(cell, source=cell["source"].splitlines(keepends=True)) for cell in nb["cells"]])
    return json.dumps(stored, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_notebook(nb: Notebook, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_notebook(nb), encoding="utf-8")


def code_cells(nb: Notebook) -> Iterator[tuple[int, Cell]]:
    """Code cells with their index among code cells: the number nbval gives them (`Cell N`)."""
    return enumerate(cell for cell in nb["cells"] if cell.get("cell_type") == "code")


def check_names(source: str) -> list[str]:
    """Exercise names of the `labkit.check("NAME", ...)` calls in a cell's source, in order."""
    return [match["name"] for match in _CHECK_CALL.finditer(source)]


def check_cells(nb: Notebook) -> dict[int, Cell]:
    """Code cells that call `labkit.check`, by code-cell index."""
    return {index: cell for index, cell in code_cells(nb) if check_names(cell["source"])}


def same_source(a: str, b: str) -> bool:
    """True when two sources differ at most in trailing whitespace and line endings."""
    def normal(text: str) -> list[str]:
        return [line.rstrip() for line in text.strip("\n").splitlines()]

    return normal(a) == normal(b)
