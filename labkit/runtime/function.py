"""`labkit.Function`: a Lambda function on this machine, its pool of execution environments and invokes."""
from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import ConfigurationError, PayloadTooLargeError
from labkit.runtime import limits
from labkit.runtime.backends import Backend, get_backend
from labkit.runtime.cleanup import REGISTRY
from labkit.runtime.config import FunctionConfig
from labkit.runtime.environment import ExecutionEnvironment
from labkit.runtime.invocation import Invocation
from labkit.security.secrets import warn_about_secrets


@dataclass(frozen=True)
class EnvironmentInfo:
    """A snapshot of one live execution environment."""

    id: str
    log_stream: str
    invocations: int
    idle_s: float
    busy: bool
    provisioned: bool


class Function:
    """A Lambda function running locally.

    >>> with Function("app.handler", code="functions/hello") as fn:   # doctest: +SKIP
    ...     fn.invoke({"name": "Ada"}).result
    """

    def __init__(
        self,
        handler: str,
        code: str | Path = ".",
        memory_mb: int = 128,
        timeout_s: float = 3,
        env: dict[str, str] | None = None,
        backend: str | Backend = "process",
        *,
        name: str | None = None,
        version: str = "$LATEST",
        platform_env: dict[str, str] | None = None,
        ephemeral_storage_mb: int = 512,
        layers: Sequence[str | Path] = (),
        idle_timeout_s: float = 300,
        log_format: str = "Text",
        region: str = limits.DEFAULT_REGION,
    ) -> None:
        code_dir = Path(code).expanduser()
        self.config = FunctionConfig(
            handler=handler,
            code_dir=code_dir.resolve(),
            name=name or default_name(code_dir, handler),
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            env=dict(env or {}),
            ephemeral_storage_mb=ephemeral_storage_mb,
            layers=tuple(Path(layer).expanduser().resolve() for layer in layers),
            region=region,
            log_format=log_format,
            version=version,
            platform_env=dict(platform_env or {}),
        ).validate()
        warn_about_secrets(self.config.env, self.config.name)
        if idle_timeout_s <= 0:
            raise ConfigurationError(f"idle_timeout_s={idle_timeout_s!r} must be positive (seconds)")
        self.idle_timeout_s = idle_timeout_s
        self.backend: Backend = get_backend(backend) if isinstance(backend, str) else backend
        self.history: deque[Invocation] = deque(maxlen=10_000)
        self._idle: list[ExecutionEnvironment] = []
        self._busy: set[ExecutionEnvironment] = set()
        self._lock = threading.Lock()
        self._closed = False
        REGISTRY.add(self)

    @property
    def name(self) -> str:
        return self.config.name

    def invoke(
        self,
        event: Any = None,
        *,
        client_context: dict[str, Any] | None = None,
        request_id: str | None = None,
        invoked_arn: str | None = None,
        trace_header: str | None = None,
    ) -> Invocation:
        """Invoke synchronously (RequestResponse): a warm environment if one is idle, else a cold start.

        `invoked_arn` is the ARN the caller used (qualified with a version or alias), as
        `context.invoked_function_arn` shows it; default: the unqualified ARN. `trace_header` is the
        X-Ray header the runtime gets (`_X_AMZN_TRACE_ID`); default: a new, unsampled one.
        """
        payload = encode_event(event)
        context = json.dumps(client_context) if client_context else None
        environment = self._acquire()
        try:
            invocation = environment.invoke(
                payload, request_id=request_id, client_context=context, invoked_arn=invoked_arn,
                trace_header=trace_header,
            )
        finally:
            self._release(environment)
        self.history.append(invocation.for_history())
        return invocation

    def invoke_many(self, events: Iterable[Any], concurrency: int = 10) -> list[Invocation]:
        """Invoke once per event, up to `concurrency` at a time; results in the order of the events."""
        events = list(events)
        if concurrency < 1:
            raise ConfigurationError(f"concurrency={concurrency!r} must be at least 1")
        if not events:
            return []
        with ThreadPoolExecutor(max_workers=min(concurrency, len(events)), thread_name_prefix="labkit-invoke") as pool:
            return list(pool.map(self.invoke, events))

    def provision(self, count: int) -> list[dict[str, Any]]:
        """Keep `count` environments initialised ahead of invokes (provisioned concurrency).

        Their INIT runs now, in parallel; invokes use them first, warm, and they are never reaped
        for being idle. `provision(0)` releases them. Returns the init errors (empty when all are ready).
        """
        if count < 0:
            raise ConfigurationError(f"count={count!r} must be 0 or more")
        with self._lock:
            have = [env for env in self._idle + list(self._busy) if env.provisioned]
            surplus = [env for env in self._idle if env.provisioned][: max(0, len(have) - count)]
            self._idle = [env for env in self._idle if env not in surplus]
        for env in surplus:
            env.shutdown()
        fresh = [ExecutionEnvironment(self.config, self.backend, provisioned=True) for _ in range(count - len(have))]
        if not fresh:
            return []
        with ThreadPoolExecutor(max_workers=min(len(fresh), 16), thread_name_prefix="labkit-provision") as pool:
            errors = list(pool.map(ExecutionEnvironment.initialize, fresh))
        with self._lock:
            ready = [env for env in fresh if env.alive]
            self._idle.extend(ready)
        for env in fresh:
            if not env.alive:
                env.shutdown()
        return [error for error in errors if error is not None]

    @property
    def environments(self) -> list[EnvironmentInfo]:
        """The live execution environments, idle and busy."""
        now = time.monotonic()
        with self._lock:
            envs = [(env, False) for env in self._idle] + [(env, True) for env in self._busy]
        return [
            EnvironmentInfo(
                env.id, env.log_stream, env.invocations, 0.0 if busy else now - env.last_used, busy, env.provisioned
            )
            for env, busy in envs
        ]

    def reap_idle(self) -> int:
        """Shut down environments idle for longer than idle_timeout_s; return how many."""
        cutoff = time.monotonic() - self.idle_timeout_s
        with self._lock:
            stale = [env for env in self._idle if env.last_used < cutoff and not env.provisioned]
            self._idle = [env for env in self._idle if env not in stale]
        for env in stale:
            env.shutdown()
        return len(stale)

    def close(self) -> None:
        """Shut every environment down (idempotent). Busy ones are ended too."""
        with self._lock:
            self._closed = True
            envs = self._idle + list(self._busy)
            self._idle = []
        for env in envs:
            env.shutdown()
        REGISTRY.discard(self)

    def __enter__(self) -> Function:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        c = self.config
        return (
            f"<Function {c.name} handler={c.handler} memory={c.memory_mb} MB timeout={c.timeout_s} s "
            f"backend={self.backend.name} environments={len(self._idle) + len(self._busy)}>"
        )

    def _acquire(self) -> ExecutionEnvironment:
        with self._lock:
            if self._closed:
                raise ConfigurationError(f"function {self.name} is closed: create a new labkit.Function")
            provisioned = [env for env in self._idle if env.provisioned]
            if provisioned:
                environment = provisioned[-1]
                self._idle.remove(environment)
            else:
                environment = self._idle.pop() if self._idle else ExecutionEnvironment(self.config, self.backend)
            self._busy.add(environment)
        return environment

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._lock:
            self._busy.discard(environment)
            keep = environment.alive and not self._closed
            if keep:
                self._idle.append(environment)
        if not keep:
            environment.shutdown()


def encode_event(event: Any) -> bytes:
    """The event as Lambda's JSON payload; bytes pass as they are. Enforces the 6 MB request limit."""
    if isinstance(event, (bytes, bytearray, memoryview)):
        payload = bytes(event)
    else:
        try:
            payload = json.dumps(event).encode()
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"the event cannot be sent to Lambda: {exc}. Events are JSON: use dicts, lists, strings, "
                "numbers, booleans and None"
            ) from None
    if len(payload) > limits.SYNC_REQUEST_MAX_BYTES:
        raise PayloadTooLargeError(
            f"Request must be smaller than {limits.SYNC_REQUEST_MAX_BYTES} bytes for the InvokeFunction operation "
            f"(this event is {len(payload):,} bytes). Put large data in S3 and pass its key in the event"
        )
    return payload


def default_name(code_dir: Path, handler: str) -> str:
    """A function name from the code folder (or the handler's module), made valid for Lambda."""
    base = code_dir.resolve().name or handler.rsplit(".", 1)[0]
    return re.sub(r"[^a-zA-Z0-9-_]", "-", base)[:64] or "function"
