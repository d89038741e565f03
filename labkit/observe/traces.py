"""X-Ray traces: a local daemon the X-Ray SDK sends to, Lambda's own segments, and traces as span trees.

* :class:`TraceDaemon` listens on a loopback UDP port, as the X-Ray daemon does on Lambda
  (``AWS_XRAY_DAEMON_ADDRESS``): the SDK (alone or under Powertools' ``Tracer``) sends each
  segment or subsegment as ``{"format":"json","version":1}\\n{document}``.
* :func:`lambda_documents` writes the segments Lambda itself sends for a traced invoke: the
  ``AWS::Lambda`` service segment and the ``AWS::Lambda::Function`` segment with its
  ``Initialization`` (cold starts) and ``Invocation`` subsegments. The function's own
  subsegments (``## handler``, boto3 calls) hang under the function segment, whose id is the
  ``Parent`` of the trace header the function gets.
* :class:`Trace` is one trace as a list of :class:`Span` in tree order, ready for a waterfall.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from labkit.runtime.invocation import Invocation

MAX_DOCUMENTS = 100_000
_MARK = b"labkit-daemon-sync "


def new_id() -> str:
    """A segment id: 16 hex digits."""
    return os.urandom(8).hex()


def new_trace_id(now: float | None = None) -> str:
    """An X-Ray trace id: ``1-<epoch seconds in hex>-<24 hex digits>``."""
    return f"1-{int(now if now is not None else time.time()):08x}-{os.urandom(12).hex()}"


def sampled_header(trace_id: str, parent_id: str) -> str:
    """The ``_X_AMZN_TRACE_ID`` of a sampled invoke (Lambda with TracingConfig Active)."""
    return f"Root={trace_id};Parent={parent_id};Sampled=1;Lineage=1:{os.urandom(4).hex()}:0"


def parse_header(header: str) -> dict[str, str]:
    """``Root=...;Parent=...;Sampled=1`` as a dict."""
    return dict(part.split("=", 1) for part in header.split(";") if "=" in part)


@dataclass(frozen=True)
class Span:
    """One segment or subsegment of a trace, flattened (times in epoch seconds)."""

    id: str
    parent_id: str | None
    name: str
    start: float
    end: float
    kind: str  # "segment" or "subsegment"
    origin: str  # AWS::Lambda, AWS::Lambda::Function, or a subsegment's namespace ("aws", "remote", "local")
    depth: int
    error: bool = False
    fault: bool = False
    throttle: bool = False
    annotations: tuple[tuple[str, Any], ...] = ()

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000


@dataclass(frozen=True)
class Trace:
    """One trace: its spans in tree order (a parent before its children, siblings by start time)."""

    id: str
    spans: tuple[Span, ...]

    @property
    def start(self) -> float:
        return min(span.start for span in self.spans)

    @property
    def duration_ms(self) -> float:
        return (max(span.end for span in self.spans) - self.start) * 1000

    def find(self, name: str) -> list[Span]:
        return [span for span in self.spans if span.name == name]

    def slowest(self, origin: str | None = None) -> Span:
        """The longest subsegment (of that origin/namespace, e.g. ``"aws"`` for AWS calls)."""
        candidates = [s for s in self.spans if s.kind == "subsegment" and (origin is None or s.origin == origin)]
        if not candidates:
            raise LookupError(f"trace {self.id} has no subsegment{' of namespace ' + origin if origin else ''}")
        return max(candidates, key=lambda s: s.duration_ms)


class TraceDaemon:
    """A UDP listener on 127.0.0.1 keeping every segment document it receives, by trace id."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((host, 0))
        self._socket.settimeout(0.2)
        self.address = f"{host}:{self._socket.getsockname()[1]}"
        self._documents: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._count = 0
        self._lock = threading.Lock()
        self._synced = threading.Condition(self._lock)
        self._marks = 0
        self._seen_mark = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="labkit-xray-daemon", daemon=True)
        self._thread.start()

    def add(self, document: dict[str, Any]) -> None:
        trace_id = document.get("trace_id")
        if not isinstance(trace_id, str):
            return
        with self._lock:
            if self._count < MAX_DOCUMENTS:
                self._documents[trace_id].append(document)
                self._count += 1

    def documents(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._documents.get(trace_id, ()))

    def trace_ids(self) -> list[str]:
        with self._lock:
            return list(self._documents)

    def sync(self, timeout: float = 5) -> bool:
        """Wait until every datagram sent to the daemon before this call has been read.

        A marker datagram goes to the daemon's own port; the loopback delivers datagrams to one
        socket in order, so once the listener reads the marker it has read everything before it.
        """
        with self._lock:
            self._marks += 1
            mark = self._marks
        host, port = self.address.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(_MARK + str(mark).encode(), (host, int(port)))
        with self._synced:
            return self._synced.wait_for(lambda: self._seen_mark >= mark, timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._socket.recv(65_535)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            if data.startswith(_MARK):
                with self._synced:
                    self._seen_mark = max(self._seen_mark, int(data[len(_MARK):] or 0))
                    self._synced.notify_all()
                continue
            _header, _, body = data.partition(b"\n")
            try:
                document = json.loads(body)
            except ValueError:
                continue
            if isinstance(document, dict):
                self.add(document)


def lambda_documents(
    invocation: Invocation, header: str, function_name: str, function_arn: str, region: str
) -> list[dict[str, Any]]:
    """The ``AWS::Lambda`` and ``AWS::Lambda::Function`` segments Lambda sends for one traced invoke."""
    ids = parse_header(header)
    trace_id, function_id = ids["Root"], ids["Parent"]
    report = invocation.report
    start = invocation.started_at
    init_s = (report.init_ms or 0) / 1000
    end = start + init_s + report.duration_ms / 1000
    failed = invocation.error is not None
    service = {
        "trace_id": trace_id, "id": new_id(), "name": function_name, "origin": "AWS::Lambda",
        "start_time": start, "end_time": end,
        "aws": {"request_id": invocation.request_id},
        "http": {"response": {"status": 200}},
        "resource_arn": function_arn,
    }
    subsegments = []
    if report.init_ms is not None:
        subsegments.append(
            {"id": new_id(), "name": "Initialization", "start_time": start, "end_time": start + init_s,
             "aws": {"function_arn": function_arn}}
        )
    subsegments.append(
        {"id": new_id(), "name": "Invocation", "start_time": start + init_s, "end_time": end, "fault": failed,
         "aws": {"function_arn": function_arn}}
    )
    function = {
        "trace_id": trace_id, "id": function_id, "parent_id": service["id"], "name": function_name,
        "origin": "AWS::Lambda::Function", "start_time": start, "end_time": end, "fault": failed,
        "aws": {"function_arn": function_arn, "resource_names": [function_name], "region": region},
        "subsegments": subsegments,
    }
    return [service, function]


def build_trace(trace_id: str, documents: list[dict[str, Any]]) -> Trace:
    """Flatten segments and subsegments (nested or streamed apart) into one tree-ordered Trace."""
    flat: dict[str, tuple[dict[str, Any], str | None, str]] = {}

    def visit(doc: dict[str, Any], parent: str | None, kind: str) -> None:
        if "id" not in doc or doc.get("in_progress"):
            return
        flat[doc["id"]] = (doc, parent, kind)
        for child in doc.get("subsegments") or []:
            visit(child, doc["id"], "subsegment")

    for doc in documents:
        kind = "subsegment" if doc.get("type") == "subsegment" else "segment"
        visit(doc, doc.get("parent_id"), kind)
    children: dict[str | None, list[str]] = defaultdict(list)
    for span_id, (doc, parent, _kind) in flat.items():
        children[parent if parent in flat else None].append(span_id)
    spans: list[Span] = []

    def walk(parent: str | None, depth: int) -> None:
        for span_id in sorted(children.get(parent, []), key=lambda i: flat[i][0].get("start_time", 0)):
            doc, parent_id, kind = flat[span_id]
            spans.append(
                Span(
                    id=span_id, parent_id=parent_id, name=str(doc.get("name", "?")),
                    start=float(doc.get("start_time", 0)), end=float(doc.get("end_time", doc.get("start_time", 0))),
                    kind=kind, origin=str(doc.get("origin") or doc.get("namespace") or "local"), depth=depth,
                    error=bool(doc.get("error")), fault=bool(doc.get("fault")), throttle=bool(doc.get("throttle")),
                    annotations=tuple(sorted((doc.get("annotations") or {}).items())),
                )
            )
            walk(span_id, depth + 1)

    walk(None, 0)
    return Trace(trace_id, tuple(spans))
