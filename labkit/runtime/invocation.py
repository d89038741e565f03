"""What one invocation yields: its result or error, its log lines and its REPORT."""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Report:
    """The figures of Lambda's REPORT line."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None = None
    status: str = "success"  # success | error | timeout
    error_type: str | None = None

    @property
    def cold(self) -> bool:
        """True when this invocation started a new execution environment."""
        return self.init_ms is not None

    @staticmethod
    def billed(duration_ms: float, init_ms: float | None) -> int:
        """1 ms rounding up; INIT billed too (since 1 August 2025, shared/FACTS.md)."""
        return math.ceil(round(duration_ms + (init_ms or 0.0), 6))

    @property
    def line(self) -> str:
        """The REPORT line exactly as Lambda writes it (tab-separated)."""
        fields = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {self.duration_ms:.2f} ms",
            f"Billed Duration: {self.billed_ms} ms",
            f"Memory Size: {self.memory_mb} MB",
            f"Max Memory Used: {self.max_memory_mb} MB",
        ]
        if self.init_ms is not None:
            fields.append(f"Init Duration: {self.init_ms:.2f} ms")
        if self.status != "success":
            fields.append(f"Status: {self.status}")
        if self.error_type and self.status == "error":
            fields.append(f"Error Type: {self.error_type}")
        return "\t".join(fields) + "\t"

    @classmethod
    def parse(cls, line: str) -> Report:
        """Read a REPORT line (Lambda's or labkit's) back into a Report."""
        fields = dict(_REPORT_FIELD.findall(line))
        if "RequestId" not in fields or "Duration" not in fields:
            raise ValueError(f"not a REPORT line: {line[:80]!r}")

        def number(key: str) -> float:
            return float(fields[key].split()[0])

        return cls(
            request_id=fields["RequestId"].strip(),
            duration_ms=number("Duration"),
            billed_ms=int(number("Billed Duration")),
            memory_mb=int(number("Memory Size")),
            max_memory_mb=int(number("Max Memory Used")),
            init_ms=number("Init Duration") if "Init Duration" in fields else None,
            status=fields.get("Status", "success").strip(),
            error_type=fields["Error Type"].strip() if "Error Type" in fields else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cold": self.cold}


HISTORY_LOG_CHARS = 16 * 1024
HISTORY_LOG_HEAD_CHARS = 2 * 1024
_REPORT_FIELD = re.compile(r"(RequestId|Duration|Billed Duration|Memory Size|Max Memory Used|Init Duration|Status|Error Type): ([^\t]+)")


@dataclass(frozen=True)
class Invocation:
    """One invocation: `result` (the handler's return value) or `error` (Lambda's error dict)."""

    request_id: str
    payload: bytes
    error: dict[str, Any] | None
    logs: str
    report: Report
    environment_id: str
    started_at: float  # epoch seconds when the invoke was handed to the runtime
    log_stream: str

    @property
    def ok(self) -> bool:
        return self.error is None

    def for_history(self) -> Invocation:
        """This invocation as `Function.history` keeps it: logs beyond HISTORY_LOG_CHARS cut in the middle
        (START and REPORT lines kept), so that a long series of chatty invokes does not fill the notebook's memory."""
        if len(self.logs) <= HISTORY_LOG_CHARS:
            return self
        head, tail = self.logs[:HISTORY_LOG_HEAD_CHARS], self.logs[-(HISTORY_LOG_CHARS - HISTORY_LOG_HEAD_CHARS):]
        dropped = len(self.logs) - len(head) - len(tail)
        note = f"\n[labkit: {dropped:,} characters of this log are not kept in history; the Invocation invoke() returned has them]\n"
        return replace(self, logs=head + note + tail)

    @property
    def result(self) -> Any:
        """The handler's return value as the caller receives it (decoded JSON); None on error."""
        if self.error is not None or not self.payload:
            return None
        try:
            return json.loads(self.payload)
        except ValueError:
            return self.payload.decode("utf-8", "replace")

    def to_dict(self) -> dict[str, Any]:
        """The keys of `labkit invoke --json`."""
        return {
            "request_id": self.request_id,
            "result": self.result,
            "error": self.error,
            "logs": self.logs,
            "report": self.report.to_dict(),
        }

    def __repr__(self) -> str:
        outcome = f"error={self.error.get('errorType')!r}" if self.error else f"result={self.result!r}"
        if len(outcome) > 120:
            outcome = outcome[:117] + "..."
        temperature = "cold" if self.report.cold else "warm"
        return f"<Invocation {self.request_id[:8]} {temperature} {outcome} {self.report.duration_ms:.2f} ms>"
