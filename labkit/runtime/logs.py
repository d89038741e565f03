"""Lambda's platform log lines (START, END, INIT_REPORT, timeouts, exits) and the runtime's output split into lines."""
from __future__ import annotations

import time


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def init_report_line(init_ms: float, phase: str, status: str, error_type: str | None) -> str:
    fields = [f"INIT_REPORT Init Duration: {init_ms:.2f} ms", f"Phase: {phase}", f"Status: {status}"]
    if error_type:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)


def timeout_line(request_id: str, timeout_s: float, now: float | None = None) -> str:
    return f"{iso_timestamp(now)} {request_id} Task timed out after {timeout_s:.2f} seconds"


def iso_timestamp(now: float | None = None) -> str:
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def split_output(data: bytes) -> list[str]:
    """The runtime's stdout/stderr as lines; awslambdaric joins an error's lines with CR."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines
