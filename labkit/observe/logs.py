"""Log events of one invocation as CloudWatch Logs stores them, in Lambda's Text or JSON format.

With ``LoggingConfig.LogFormat = JSON`` Lambda writes its platform lines as JSON records
(``{"time", "type": "platform.start" | "platform.report" | "platform.initReport", "record"}``)
and drops the END line; the function's own output stays as the runtime wrote it (awslambdaric
writes JSON for the ``logging`` module when ``AWS_LAMBDA_LOG_FORMAT=JSON``). ``SystemLogLevel``
WARN drops the INFO platform records, as on AWS. Empty lines are left out: CloudWatch Logs takes
no empty message (on AWS the line would keep its newline).
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from labkit.runtime.invocation import Invocation, Report
from labkit.runtime.logs import iso_timestamp

MAX_BATCH_EVENTS = 10_000  # PutLogEvents: events per call
MAX_BATCH_BYTES = 1_048_576  # PutLogEvents: bytes per call (each event counts 26 bytes more)
_SYSTEM_LEVELS = {"DEBUG": 0, "INFO": 1, "WARN": 2}


def invocation_events(
    invocation: Invocation, log_format: str = "Text", system_log_level: str | None = None
) -> list[dict[str, Any]]:
    """The invocation's lines as events of its environment's stream (``invocation.log_stream``), in
    PutLogEvents' shape: ``{"timestamp": epoch milliseconds, "message"}``, REPORT stamped at its end."""
    start_ms = int(invocation.started_at * 1000)
    report = invocation.report
    end_ms = start_ms + int((report.init_ms or 0) + report.duration_ms)
    lines = [line for line in invocation.logs.splitlines() if line]
    if log_format != "JSON":
        return [{"timestamp": end_ms if line.startswith("REPORT RequestId:") else start_ms, "message": line}
                for line in lines]
    keep_info = _SYSTEM_LEVELS.get(system_log_level or "INFO", 1) <= _SYSTEM_LEVELS["INFO"]
    events = []
    for line in lines:
        stamp = end_ms if line.startswith("REPORT RequestId:") else start_ms
        record = platform_record(line, invocation, stamp)
        if record is not None:
            if not keep_info or record == {}:
                continue
            line = json.dumps(record, separators=(",", ":"))
        events.append({"timestamp": stamp, "message": line})
    return events


def platform_record(line: str, invocation: Invocation, stamp_ms: int) -> dict[str, Any] | None:
    """Lambda's JSON record for a platform line; {} for a line JSON logs leave out (END); None for others."""
    if not line.startswith(("START RequestId: ", "END RequestId: ", "REPORT RequestId: ", "INIT_REPORT ")):
        return None
    time_text = iso_timestamp(stamp_ms / 1000)
    if line.startswith("START RequestId: "):
        request_id, _, version = line[len("START RequestId: "):].partition(" Version: ")
        return {"time": time_text, "type": "platform.start", "record": {"requestId": request_id, "version": version}}
    if line.startswith("END RequestId: "):
        return {}
    if line.startswith("REPORT RequestId: "):
        report = as_shown(invocation.report) if line == invocation.report.line else Report.parse(line)
        return {"time": time_text, "type": "platform.report", "record": report_record(report)}
    fields = dict(part.split(": ", 1) for part in line[len("INIT_REPORT "):].split("\t") if ": " in part)
    record: dict[str, Any] = {
        "initializationType": "on-demand",
        "phase": fields.get("Phase", "init"),
        "status": fields.get("Status", "success"),
        "metrics": {"durationMs": float(fields.get("Init Duration", "0 ms").split()[0])},
    }
    if "Error Type" in fields:
        record["errorType"] = fields["Error Type"]
    return {"time": time_text, "type": "platform.initReport", "record": record}


def as_shown(report: Report) -> Report:
    """`report` with the figures its REPORT line shows (what ``Report.parse(report.line)`` reads back)."""
    return dataclasses.replace(
        report,
        duration_ms=round(report.duration_ms, 2),
        init_ms=None if report.init_ms is None else round(report.init_ms, 2),
        error_type=report.error_type if report.status == "error" else None,
    )


def report_record(report: Report) -> dict[str, Any]:
    """The ``record`` of a ``platform.report``: the REPORT line's figures under Lambda's JSON names."""
    metrics: dict[str, Any] = {
        "durationMs": report.duration_ms,
        "billedDurationMs": report.billed_ms,
        "memorySizeMB": report.memory_mb,
        "maxMemoryUsedMB": report.max_memory_mb,
    }
    if report.init_ms is not None:
        metrics["initDurationMs"] = report.init_ms
    record: dict[str, Any] = {"requestId": report.request_id, "metrics": metrics, "status": report.status}
    if report.error_type:
        record["errorType"] = report.error_type
    return record


def batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """PutLogEvents calls for one stream's `events` (in time order), within the call's limits."""
    calls = []
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + 26
        if batch and (len(batch) >= MAX_BATCH_EVENTS or size + event_size > MAX_BATCH_BYTES):
            calls.append(batch)
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        calls.append(batch)
    return calls
