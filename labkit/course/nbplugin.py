"""A pytest plugin for notebook runs (`pytest -p labkit.course.nbplugin --nbval-lax ...`).

- `--labkit-results FILE` appends one JSON line per code cell as soon as nbval is done with it
  (code-cell index, cell id, outcome, whether the kernel is still alive, the failure text), so
  the results of the cells that ran survive a run killed for exceeding its time limit.
- A kernel that dies in a cell (killed, crashed) is noticed within a second: nbval alone would
  wait for its cell timeout.
"""
from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Generator
from queue import Empty
from typing import Any

import pytest

POLL_S = 0.5
MESSAGE_CHARS = 2000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class KernelDied(RuntimeError):
    """The notebook's kernel stopped while a cell was running."""


def _watching(await_reply: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap nbval's `RunningKernel.await_reply` to poll in short steps and check the kernel is alive."""

    @functools.wraps(await_reply)
    def wait(kernel: Any, msg_id: str, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
            try:
                return await_reply(kernel, msg_id, timeout=step)
            except Empty:
                if not kernel.is_alive():
                    raise KernelDied("the kernel died while running this cell (killed, or it crashed)") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return wait


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("labkit").addoption(
        "--labkit-results", default=None, metavar="FILE", help="append each notebook cell's result to FILE as a JSON line"
    )


def pytest_configure(config: pytest.Config) -> None:
    from nbval.kernel import RunningKernel

    RunningKernel.await_reply = _watching(RunningKernel.await_reply)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    results = item.config.getoption("labkit_results")
    cell, index = getattr(item, "cell", None), getattr(item, "cell_num", None)
    if results and cell is not None and index is not None and (report.when == "call" or (report.when == "setup" and not report.passed)):
        kernel = getattr(item.parent, "kernel", None)
        record = {
            "index": index,
            "id": cell.get("id"),
            "phase": report.when,
            "outcome": report.outcome,
            "kernel_alive": bool(kernel is not None and kernel.is_alive()),
            "message": _ANSI.sub("", report.longreprtext)[-MESSAGE_CHARS:],
        }
        with open(results, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
    return report
