"""Chapter 00, setup check: the first invoke, and where a learner's files go."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from labkit.course.checks import exercise, expect
from labkit.course.workspace import course_root, work_root


@exercise("00.first-invoke", title="Run your first invoke")
def first_invoke(answer: Any) -> None:
    """`answer`: the Invocation that `fn.invoke(...)` returned."""
    expect(
        hasattr(answer, "result") and hasattr(answer, "report"),
        "pass the object that `fn.invoke(...)` returned (it has `.result` and `.report`), not the function or the event.",
    )
    error = getattr(answer, "error", None)
    expect(error is None, f"the invocation failed ({error and error.get('errorType')}): read `inv.error` and `inv.logs`.")
    expect(answer.result is not None, "the handler returned nothing (None): make it return a value.")
    expect(isinstance(getattr(answer.report, "duration_ms", None), (int, float)), "this invocation has no REPORT figures: invoke the function again.")


def _handler_function(tree: ast.Module) -> ast.FunctionDef | None:
    return next((node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "handler"), None)


@exercise("00.work-dir", title="Write a handler file into your work folder")
def handler_file(answer: Any) -> None:
    """`answer`: the path `write_handler(...)` returned."""
    expect(isinstance(answer, (str, Path)), "pass the path that `write_handler(...)` returned.")
    path = Path(answer).expanduser().resolve()
    expect(path.is_file(), f"there is no file at {path}: did the cell that writes it run?")
    expect(path.suffix == ".py", "a Python handler lives in a `.py` file.")
    root = course_root()
    expect(root is None or root not in path.parents, "the file is inside the course repository: write it to your work folder instead.")
    expect(work_root() in path.parents, "the file is not in your work folder: give `write_handler` a relative path.")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as error:
        raise AssertionError(f"the file is not valid Python (line {error.lineno}): {error.msg}.") from None
    handler = _handler_function(tree)
    expect(handler is not None, "the file has no top-level function called `handler`.")
    arguments = handler.args.args if handler else []
    expect(len(arguments) == 2, "Lambda calls `handler` with two arguments: the event and the context.")
