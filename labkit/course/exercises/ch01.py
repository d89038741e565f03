"""Chapter 01, your first handler: a greeting, the REPORT line, environment variables, the deadline.

Handler exercises take the path of the learner's handler file and run it here, on labkit's own
events, so a check sees what the handler does rather than what one run printed.
"""
from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labkit.course.checks import exercise, expect
from labkit.runtime.function import Function
from labkit.runtime.invocation import Invocation

ERROR_HINT_CHARS = 300


def handler_file(answer: Any) -> Path:
    """The learner's handler file, checked to be a Python file with `handler(event, context)`."""
    expect(isinstance(answer, (str, Path)), "pass the path of your handler file (the value `write_handler(...)` returned).")
    path = Path(answer).expanduser().resolve()
    expect(path.is_file(), f"there is no file at {path}: did the cell that writes it run?")
    expect(path.suffix == ".py" and path.stem.isidentifier(), "a handler lives in a `.py` file whose name is a Python module name.")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as error:
        raise AssertionError(f"the file is not valid Python (line {error.lineno}): {error.msg}.") from None
    handler = next((node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "handler"), None)
    expect(handler is not None, "the file has no top-level function called `handler`.")
    expect(handler is not None and len(handler.args.args) == 2, "Lambda calls `handler` with two arguments: the event and the context.")
    return path


def run_handler(
    path: Path, events: Sequence[Any], *, env: dict[str, str] | None = None, timeout_s: float = 3,
    layers: Sequence[Path] = (),
) -> list[Invocation]:
    """Invoke the handler in `path` once per event, one after the other, in a fresh function."""
    with Function(
        f"{path.stem}.handler", code=path.parent, env=env, timeout_s=timeout_s, name=f"check-{path.stem}", layers=layers,
    ) as fn:
        return [fn.invoke(event) for event in events]


def expect_ok(inv: Invocation, event: Any) -> None:
    """Fail with Lambda's own error (type and message) when the invocation did not succeed."""
    error = inv.error or {}
    message = str(error.get("errorMessage", ""))[:ERROR_HINT_CHARS]
    expect(inv.error is None, f"with the event {event!r} the handler failed: {error.get('errorType')}: {message}")


# -- 01.greet ------------------------------------------------------------------------------


@exercise("01.greet", title="Write a greeting handler")
def greet(answer: Any) -> None:
    """`answer`: the path of a handler returning {"message": "Hello, <name>!"}, "world" when no name is given."""
    path = handler_file(answer)
    cases = [({"name": "Ada"}, "Hello, Ada!"), ({"name": "Grace"}, "Hello, Grace!"), ({}, "Hello, world!")]
    for (event, wanted), inv in zip(cases, run_handler(path, [event for event, _ in cases])):
        expect_ok(inv, event)
        expect(isinstance(inv.result, dict), f"with the event {event!r} the handler returned {inv.result!r}: return a dict.")
        expect("message" in inv.result, f"the dict has no 'message' key (it has {sorted(inv.result)}).")
        got = inv.result["message"]
        if event:
            expect(got == wanted, f"with the event {event!r} the message is {got!r}: use the name from the event.")
        else:
            expect(got == wanted, f"with an empty event the message is {got!r}: when there is no name, greet the world.")


# -- 01.billed-ms -------------------------------------------------------------------

_SAMPLE_IDS = ("3f2b1c9e-5d1a-4a6e-9c2b-7e8f0a1b2c3d", "b7c8d9e0-1f2a-4b3c-8d4e-5f6a7b8c9d0e")


def _sample_logs(request_id: str, printed: str, duration: str, billed: int, init: str | None) -> str:
    report = f"REPORT RequestId: {request_id}\tDuration: {duration} ms\tBilled Duration: {billed} ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\t"
    if init is not None:
        report += f"Init Duration: {init} ms\t"
    return f"START RequestId: {request_id} Version: $LATEST\n{printed}\nEND RequestId: {request_id}\n{report}\n"


@exercise("01.billed-ms", title="Read Billed Duration from the REPORT line")
def billed_from_logs(answer: Any) -> None:
    """`answer`: a function taking an invocation's log text and returning its Billed Duration (int, ms)."""
    expect(callable(answer), "pass your function itself (its name, without calling it).")
    function: Callable[[str], Any] = answer
    cases = [
        (_sample_logs(_SAMPLE_IDS[0], "processing order 17", "15.74", 147, "130.49"), 147, "a cold start (with Init Duration)"),
        (_sample_logs(_SAMPLE_IDS[1], "processing order 18", "27.40", 28, None), 28, "a warm invoke"),
        (_sample_logs(_SAMPLE_IDS[1], "my own line: Billed Duration: 999 ms", "3.02", 4, None), 4, "logs where the handler printed a look-alike line"),
    ]
    for logs, wanted, what in cases:
        got = function(logs)
        expect(not isinstance(got, str), f"for {what} your function returned the text {got!r}: return a number (int).")
        expect(isinstance(got, int) and not isinstance(got, bool), f"for {what} your function returned {got!r}: return an int (ms).")
        expect(got == wanted, f"for {what} your function returned {got}, but the REPORT line says otherwise: read the line that starts with REPORT.")


# -- 01.env-greeting -----------------------------------------------------------------------


@exercise("01.env-greeting", title="Configure the greeting with an environment variable")
def env_greeting(answer: Any) -> None:
    """`answer`: the path of a handler whose greeting word comes from $GREETING (default "Hello")."""
    path = handler_file(answer)
    event = {"name": "Ada"}
    for env, wanted in (({"GREETING": "Hallo"}, "Hallo, Ada!"), ({"GREETING": "Bonjour"}, "Bonjour, Ada!"), ({}, "Hello, Ada!")):
        (inv,) = run_handler(path, [event], env=env)
        expect_ok(inv, event)
        got = inv.result.get("message") if isinstance(inv.result, dict) else inv.result
        if env:
            expect(got == wanted, f"with GREETING={env['GREETING']!r} the handler returned {got!r}: read the greeting word from the environment.")
        else:
            expect(got == wanted, f"without GREETING the handler returned {got!r}: fall back to 'Hello' when the variable is not set.")


# -- 01.deadline ---------------------------------------------------------------------

DEADLINE_TIMEOUT_S = 1
DEADLINE_ITEMS = 20


@exercise("01.deadline", title="Stop before the deadline with get_remaining_time_in_millis")
def remaining_time(answer: Any) -> None:
    """`answer`: the path of a handler that processes event["items"] (100 ms each) while time remains.

    It returns {"done": [results], "left": [items not processed]} and never times out.
    """
    path = handler_file(answer)
    source = path.read_text(encoding="utf-8")
    expect("get_remaining_time_in_millis" in source, "the handler never asks the context how much time is left.")
    few, many = {"items": [1, 2, 3]}, {"items": list(range(DEADLINE_ITEMS))}
    small, large = run_handler(path, [few, many], timeout_s=DEADLINE_TIMEOUT_S)
    for inv, event in ((small, few), (large, many)):
        if inv.error is not None and inv.error.get("errorType") == "Sandbox.Timedout":
            raise AssertionError(
                f"with {len(event['items'])} items the invocation timed out: check the time left before each item "
                "and stop while there is still room for one more step."
            )
        expect_ok(inv, event)
        expect(isinstance(inv.result, dict) and {"done", "left"} <= set(inv.result), f"return a dict with the keys 'done' and 'left' (got {inv.result!r}).")
    expect(small.result["left"] == [] and len(small.result["done"]) == 3, "with only 3 items there is time for all of them: 'left' should be empty.")
    done, left = large.result["done"], large.result["left"]
    expect(isinstance(done, list) and isinstance(left, list), "'done' and 'left' are lists.")
    expect(0 < len(done) < DEADLINE_ITEMS, f"with a {DEADLINE_TIMEOUT_S} s timeout and {DEADLINE_ITEMS} items of 100 ms, some get done and some are left (done: {len(done)}).")
    expect(left == list(range(len(done), DEADLINE_ITEMS)), "'left' should hold exactly the items not processed, in order, so a next invocation can carry on.")
