"""One execution environment: init (cold start), invokes while warm, and shutdown.

The thread that invokes drives everything: it hands the event to the runtime over the Runtime
API, waits for the answer while watching the deadline, the memory and the process, and reads
the runtime's output, so each log line belongs to the invocation that wrote it.
"""
from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from labkit.runtime import limits, logs
from labkit.runtime.backends.base import Backend, LaunchSpec, Sandbox
from labkit.runtime.config import FunctionConfig
from labkit.runtime.invocation import Invocation, Report
from labkit.runtime.lambda_env import lambda_environment, log_stream_name
from labkit.runtime.lambda_env import trace_header as new_trace_header
from labkit.runtime.rapid import ApiRequest, DeadlineReached, RuntimeApiChannel, SandboxExited


_LOG_STREAM_LINES = 10_000
_EXACT_PEAK_AFTER_MS = 1.0
_EXACT_PEAK_EVERY = 16


class _OutOfMemory(Exception):
    """The sandbox went past its memory size."""


@dataclass
class _Outcome:
    """How an invoke (or the init before it) ended."""

    payload: bytes = b""
    error: dict[str, Any] | None = None
    status: str = "success"
    error_type: str | None = None
    extra_lines: list[str] = field(default_factory=list)


class ExecutionEnvironment:
    """A runtime in its sandbox plus the Runtime API endpoint it talks to."""

    def __init__(self, config: FunctionConfig, backend: Backend, provisioned: bool = False) -> None:
        self.config = config
        self.backend = backend
        self.provisioned = provisioned
        self.id = uuid.uuid4().hex[:12]
        self.log_stream = log_stream_name(config.version)
        # (epoch ms, line): this environment's log stream, its latest lines
        self.log_events: deque[tuple[int, str]] = deque(maxlen=_LOG_STREAM_LINES)
        self.invocations = 0
        self.created_at = time.time()
        self.last_used = time.monotonic()
        self._channel = RuntimeApiChannel(
            self._sandbox_pids, f"environment {self.id} of function {config.name}", backend.runtime_api_bind_host
        )
        self._sandbox: Sandbox | None = None
        self._pending_next: ApiRequest | None = None
        self._output = bytearray()
        self._dead = False
        self._closed = False
        self._last_sandbox: Sandbox | None = None
        self._peak_mb = 0.0

    @property
    def alive(self) -> bool:
        return not self._dead

    def invoke(
        self,
        payload: bytes,
        request_id: str | None = None,
        client_context: str | None = None,
        invoked_arn: str | None = None,
        trace_header: str | None = None,
    ) -> Invocation:
        """Run one invocation (initialising first when cold) and return what Lambda would report."""
        if self._dead:
            raise RuntimeError("this execution environment has been shut down")
        request_id = request_id or str(uuid.uuid4())
        self.invocations += 1
        started_at = time.time()
        lines: list[str] = []
        init_ms: float | None = None
        outcome: _Outcome | None = None
        if self._sandbox is None:
            init_ms, outcome = self._init(request_id)
            lines += self._take_output()
            if outcome is not None:
                lines.append(logs.init_report_line(init_ms, "init", outcome.status, outcome.error_type))
        lines.append(logs.start_line(request_id, self.config.version))
        duration_ms = 0.0
        if outcome is None:
            duration_ms, outcome = self._run(
                request_id, payload, client_context, invoked_arn or self.config.arn, trace_header or new_trace_header()
            )
        lines += self._take_output()
        lines += outcome.extra_lines
        lines.append(logs.end_line(request_id))
        memory_used = self._max_memory_used(outcome)
        duration_ms = round(duration_ms, 2)
        init_ms = None if init_ms is None else round(init_ms, 2)
        report = Report(
            request_id=request_id,
            duration_ms=duration_ms,
            billed_ms=Report.billed(duration_ms, init_ms),
            memory_mb=self.config.memory_mb,
            max_memory_mb=memory_used,
            init_ms=init_ms,
            status=outcome.status,
            error_type=outcome.error_type if outcome.status == "error" else None,
        )
        lines.append(report.line)
        self._record(lines, started_at)
        self.last_used = time.monotonic()
        return Invocation(
            request_id=request_id,
            payload=outcome.payload,
            error=outcome.error,
            logs="\n".join(lines) + "\n",
            report=report,
            environment_id=self.id,
            started_at=started_at,
            log_stream=self.log_stream,
        )

    def initialize(self) -> dict[str, Any] | None:
        """Run INIT ahead of any invoke (provisioned concurrency); return the init error, or None.

        Its output and INIT_REPORT go to the environment's log stream; the first invoke is then warm.
        """
        if self._sandbox is not None or self._dead:
            return None
        started_at = time.time()
        init_ms, outcome = self._init(str(uuid.uuid4()))
        status = "success" if outcome is None else outcome.status
        lines = self._take_output()
        lines.append(logs.init_report_line(init_ms, "init", status, outcome.error_type if outcome else None))
        self._record(lines, started_at)
        return None if outcome is None else outcome.error

    def shutdown(self) -> None:
        """End the runtime and free the endpoint (idempotent)."""
        self._dead = True
        self._stop_sandbox()
        if not self._closed:
            self._closed = True
            self._channel.close()

    # -- phases ---------------------------------------------------------------------------

    def _init(self, request_id: str) -> tuple[float, _Outcome | None]:
        """Start the runtime and wait until it asks for work: the cold start (Init Duration)."""
        spec = LaunchSpec(
            env_id=self.id,
            handler=self.config.handler,
            code_dir=self.config.code_dir,
            layers=self.config.layers,
            lambda_env=lambda_environment(
                self.config,
                self.log_stream,
                self.backend.python_version,
                "provisioned-concurrency" if self.provisioned else "on-demand",
            ),
            runtime_api_port=self._channel.port,
            memory_mb=self.config.memory_mb,
            ephemeral_storage_mb=self.config.ephemeral_storage_mb,
        )
        t0 = time.perf_counter()
        self._sandbox = self.backend.launch(spec)
        self._channel.watch(self._sandbox.output_fd, self._read_output)
        if self._sandbox.exit_fd is not None:
            self._channel.watch(self._sandbox.exit_fd, lambda: True)
        deadline = time.monotonic() + limits.INIT_MAX_S
        try:
            while True:
                request = self._channel.next_request(deadline, tick=self._watch_sandbox)
                if request.kind == "next":
                    init_ms = _elapsed_ms(t0)
                    self._pending_next = request
                    self._refresh_peak()
                    self._sandbox.init_done()
                    return init_ms, None
                if request.kind == "init-error":
                    self._channel.accept(request)
                    error = _json_or_text(request.body)
                    init_ms = _elapsed_ms(t0)
                    self._wait_exit(1.0)
                    self._discard()
                    return init_ms, _Outcome(error=error, status="error", error_type=str(error.get("errorType")))
                self._channel.reject(request, "403 Forbidden", "InvalidStateTransition", "not allowed during init")
        except DeadlineReached:
            init_ms = _elapsed_ms(t0)
            self._discard()
            return init_ms, _timeout_outcome(request_id, self.config.timeout_s)
        except SandboxExited:
            init_ms = _elapsed_ms(t0)
            return init_ms, self._exit_outcome(request_id)
        except _OutOfMemory:
            init_ms = _elapsed_ms(t0)
            return init_ms, self._exit_outcome(request_id, out_of_memory=True)

    def _run(
        self, request_id: str, payload: bytes, client_context: str | None, invoked_arn: str, trace_header: str
    ) -> tuple[float, _Outcome]:
        """Hand the event to the waiting runtime and wait for its response, error, exit or timeout."""
        timeout_s = self.config.timeout_s
        t0 = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        try:
            pending = self._pending_next or self._wait_for_next(deadline)
            self._pending_next = None
            headers = {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(int((time.time() + timeout_s) * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": invoked_arn,
                "Lambda-Runtime-Trace-Id": trace_header,
            }
            if client_context:
                headers["Lambda-Runtime-Client-Context"] = client_context
            if self._sandbox is not None:
                self._sandbox.invoke_started()
            self._channel.respond(pending, "200 OK", payload, headers)
            while True:
                request = self._channel.next_request(deadline, tick=self._watch_sandbox)
                kind = request.kind
                if kind == "next":
                    self._pending_next = request
                elif kind in ("response", "error") and request.request_id == request_id:
                    self._channel.accept(request)
                    elapsed_ms = _elapsed_ms(t0)
                    return elapsed_ms, self._answer(request_id, kind, request.body, elapsed_ms)
                elif kind in ("response", "error"):
                    self._channel.reject(request, "400 Bad Request", "InvalidRequestID", "Invalid request ID")
                else:
                    self._channel.reject(request, "404 Not Found", "NotFound", f"no such path: {request.path}")
        except DeadlineReached:
            self._discard()
            return timeout_s * 1000, _timeout_outcome(request_id, timeout_s)
        except SandboxExited:
            return _elapsed_ms(t0), self._exit_outcome(request_id)
        except _OutOfMemory:
            return _elapsed_ms(t0), self._exit_outcome(request_id, out_of_memory=True)

    def _wait_for_next(self, deadline: float) -> ApiRequest:
        while True:
            request = self._channel.next_request(deadline, tick=self._watch_sandbox)
            if request.kind == "next":
                return request
            self._channel.reject(request, "400 Bad Request", "InvalidStateTransition", "expected /invocation/next")

    def _answer(self, request_id: str, kind: str, body: bytes, elapsed_ms: float) -> _Outcome:
        self._refresh_peak(exact=elapsed_ms >= _EXACT_PEAK_AFTER_MS or self.invocations % _EXACT_PEAK_EVERY == 0)
        if kind == "error":
            error = _json_or_text(body)
            return _Outcome(payload=body, error=error, status="success", error_type=str(error.get("errorType")))
        if len(body) > limits.SYNC_RESPONSE_MAX_BYTES:
            error = {
                "errorMessage": f"Response payload size exceeded maximum allowed payload size "
                f"({limits.SYNC_RESPONSE_MAX_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            return _Outcome(payload=json.dumps(error).encode(), error=error, status="error", error_type=error["errorType"])
        if self._over_memory():
            return self._exit_outcome(request_id, out_of_memory=True)
        return _Outcome(payload=body)

    def _exit_outcome(self, request_id: str, out_of_memory: bool = False) -> _Outcome:
        """The runtime is gone: Runtime.ExitError, or Runtime.OutOfMemory when memory ran out."""
        if out_of_memory:
            self._discard(out_of_memory=True)
        self._wait_exit(1.0)
        sandbox = self._sandbox or self._last_sandbox
        out_of_memory = out_of_memory or (sandbox is not None and sandbox.oom_killed())
        status = "signal: killed" if out_of_memory else (sandbox.exit_status() if sandbox else None) or "signal: killed"
        error_type = "Runtime.OutOfMemory" if out_of_memory else "Runtime.ExitError"
        reason = "Runtime exited without providing a reason" if status == "exit status 0" else f"Runtime exited with error: {status}"
        message = f"RequestId: {request_id} Error: {reason}"
        self._discard()
        return _Outcome(
            payload=json.dumps({"errorType": error_type, "errorMessage": message}).encode(),
            error={"errorType": error_type, "errorMessage": message},
            status="error",
            error_type=error_type,
            extra_lines=[message, error_type],
        )

    # -- sandbox watching --------------------------------------------------------------------

    def _sandbox_pids(self) -> set[int]:
        """The processes whose Runtime API connections are served: the sandbox's (none before it starts)."""
        return self._sandbox.pids() if self._sandbox is not None else set()

    def _watch_sandbox(self) -> None:
        """Runs every few ms while waiting: memory over the limit, or an exit without an exit fd."""
        sandbox = self._sandbox
        if sandbox is None:
            return
        if sandbox.exit_fd is None and sandbox.exit_status() is not None:
            raise SandboxExited()
        if not self.backend.enforces_memory and sandbox.memory_now_mb() > self.config.memory_mb:
            raise _OutOfMemory()

    def _refresh_peak(self, exact: bool = True) -> None:
        """Update Max Memory Used: the kernel's peak (exact, ~20 us) or the resident size now (~1 us).

        A sub-millisecond invoke cannot touch more than a few MB beyond what is resident at its
        end, so those read the cheap figure, with the exact peak every few invokes.
        """
        sandbox = self._sandbox
        if sandbox is not None:
            self._peak_mb = max(self._peak_mb, sandbox.memory_peak_mb() if exact else sandbox.memory_now_mb())

    def _over_memory(self) -> bool:
        return not self.backend.enforces_memory and self._peak_mb > self.config.memory_mb

    def _max_memory_used(self, outcome: _Outcome) -> int:
        if outcome.error_type == "Runtime.OutOfMemory":
            return self.config.memory_mb
        return min(self.config.memory_mb, max(1, math.ceil(self._peak_mb)))

    def _read_output(self) -> bool:
        sandbox = self._sandbox
        if sandbox is None:
            return False
        fd = sandbox.output_fd
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return False
            except OSError:
                chunk = b""
            if not chunk:
                self._channel.unwatch(fd)
                return False
            self._output += chunk

    def _take_output(self) -> list[str]:
        self._read_output()
        data, self._output = bytes(self._output), bytearray()
        return logs.split_output(data)

    def _wait_exit(self, seconds: float) -> None:
        sandbox = self._sandbox or self._last_sandbox
        end = time.monotonic() + seconds
        while sandbox is not None and sandbox.exit_status() is None and time.monotonic() < end:
            time.sleep(0.002)

    def _discard(self, out_of_memory: bool = False) -> None:
        """Tear the sandbox down after a failure; the environment is dead and the next invoke is cold."""
        self._dead = True
        self._stop_sandbox(out_of_memory)

    def _stop_sandbox(self, out_of_memory: bool = False) -> None:
        sandbox = self._sandbox
        if sandbox is None:
            return
        self._read_output()
        self._channel.unwatch(sandbox.output_fd)
        if sandbox.exit_fd is not None:
            self._channel.unwatch(sandbox.exit_fd)
        if out_of_memory:
            sandbox.kill_for_memory()
        else:
            sandbox.kill()
        self._peak_mb = max(self._peak_mb, sandbox.memory_peak_mb())
        self._sandbox = None
        self._last_sandbox = sandbox

    def _record(self, lines: list[str], started_at: float) -> None:
        stamp = int(started_at * 1000)
        self.log_events.extend((stamp, line) for line in lines)


def _timeout_outcome(request_id: str, timeout_s: float) -> _Outcome:
    message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
    error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
    return _Outcome(
        payload=json.dumps(error).encode(),
        error=error,
        status="timeout",
        error_type="Sandbox.Timedout",
        extra_lines=[logs.timeout_line(request_id, timeout_s)],
    )


def _elapsed_ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _json_or_text(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {"errorMessage": body.decode("utf-8", "replace"), "errorType": "Runtime.Unknown"}
    return value if isinstance(value, dict) else {"errorMessage": str(value), "errorType": "Runtime.Unknown"}
