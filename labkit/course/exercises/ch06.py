"""Chapter 06, limits: read a timeout from what Lambda reports, stream a download through /tmp
instead of memory."""
from __future__ import annotations

import hashlib
import re
from typing import Any

from labkit.course.checks import exercise, expect
from labkit.course.exercises.ch01 import handler_file

STREAM_MB = 160  # more than the 128 MB the check gives the function
STREAM_MEMORY_MB = 128


def chunk(number: int) -> bytes:
    """The `number`th MB of the pretend download (the notebook's `download` yields the same)."""
    return bytes([number % 256]) * (1024 * 1024)


def expected_sha256(mb: int) -> str:
    digest = hashlib.sha256()
    for number in range(mb):
        digest.update(chunk(number))
    return digest.hexdigest()


@exercise("06.timeout", title="Trigger a timeout and read it")
def read_timeout(answer: Any) -> None:
    """`answer`: {"invocation": the timed-out Invocation, "error_type": str, "timeout_s": float, "billed_ms": int}."""
    expect(isinstance(answer, dict), 'pass a dict: {"invocation": ..., "error_type": ..., "timeout_s": ..., "billed_ms": ...}.')
    missing = {"invocation", "error_type", "timeout_s", "billed_ms"} - set(answer)
    expect(not missing, f"the dict is missing {sorted(missing)}.")
    inv = answer["invocation"]
    expect(hasattr(inv, "report") and hasattr(inv, "logs"), "'invocation' should be the Invocation that `fn.invoke(...)` returned.")
    error = inv.error or {}
    expect(error.get("errorType") == "Sandbox.Timedout", f"this invocation did not time out (error: {inv.error!r}): make the handler sleep longer than the function's timeout.")
    expect(answer["error_type"] == "Sandbox.Timedout", f"{answer['error_type']!r} is not the errorType Lambda reported: read it from `invocation.error`.")
    found = re.search(r"Task timed out after ([0-9.]+) seconds", str(error.get("errorMessage", "")))
    timeout_s = float(found.group(1)) if found else None
    expect(
        isinstance(answer["timeout_s"], (int, float)) and timeout_s is not None and abs(answer["timeout_s"] - timeout_s) < 1e-6,
        f"{answer['timeout_s']!r} is not the timeout: take the number from the errorMessage ('Task timed out after ... seconds') as a float.",
    )
    billed = re.search(r"Billed Duration: (\d+) ms", inv.logs)
    expect(billed is not None, "the logs have no REPORT line.")
    expect(
        answer["billed_ms"] == int(billed.group(1)) if billed else False,
        f"{answer['billed_ms']!r} is not the Billed Duration of the REPORT line: a timed-out invocation is billed up to the timeout.",
    )


@exercise("06.stream-tmp", title="Stream a download through /tmp")
def stream_tmp(answer: Any) -> None:
    """`answer`: the path of a handler that hashes a download of event["mb"] MB within 128 MB of memory."""
    path = handler_file(answer)
    events = [{"mb": STREAM_MB}, {"mb": 3}]
    invocations = _run(path, events)
    for inv, event in zip(invocations, events):
        error = inv.error or {}
        expect(
            error.get("errorType") != "Runtime.OutOfMemory",
            f"with {event['mb']} MB the function ran out of its {STREAM_MEMORY_MB} MB of memory: write each chunk to a file in "
            "tempfile.gettempdir() as it arrives, instead of keeping the whole download in memory.",
        )
        expect(inv.error is None, f"with the event {event!r} the handler failed: {error.get('errorType')}: {str(error.get('errorMessage'))[:300]}")
        expect(isinstance(inv.result, dict) and "sha256" in inv.result and "bytes" in inv.result,
               f"the handler returned {inv.result!r}: return {{'bytes': ..., 'sha256': ...}}.")
        expect(inv.result["bytes"] == event["mb"] * 1024 * 1024, f"with {event['mb']} MB the handler counted {inv.result['bytes']} bytes: count every chunk written.")
        expect(inv.result["sha256"] == expected_sha256(event["mb"]), "the sha256 is not the download's: hash the file's content, read back in chunks.")


def _run(path: Any, events: list[dict[str, int]]) -> list[Any]:
    from labkit.runtime.function import Function

    with Function(f"{path.stem}.handler", code=path.parent, memory_mb=STREAM_MEMORY_MB, timeout_s=60, name=f"check-{path.stem}") as fn:
        return [fn.invoke(event) for event in events]
