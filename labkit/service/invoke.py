"""Invoking a function as the Lambda service does: qualifier and alias routing, concurrency and throttles.

* :class:`RuntimePool` keeps one :class:`labkit.Function` per version (and per alias invoking
  it), so each version's environments are reused across invokes and its code and configuration
  are the ones frozen when it was published. When $LATEST changes, its old ``Function`` is retired
  and closed once its last invoke returns.
* :class:`ConcurrencyLimiter` counts concurrent executions per function and for the account:
  a function with reserved concurrency runs at most that many at once (Reason
  ``ReservedFunctionConcurrentInvocationLimitExceeded``); the others share what is left of the
  account's limit (``ConcurrentInvocationLimitExceeded``). It records, per function, the
  concurrency over time (lesson time, executions) and counters a lesson can plot.
* :class:`Invoker` puts them together for one synchronous invoke; the async queue calls it too.
  It tells its :class:`InvokeObserver` objects (logs, metrics, traces: labkit.observe) about
  every invocation, and takes the X-Ray header of a traced function from them.
"""
from __future__ import annotations

import os
import random
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from labkit.errors import ConfigurationError
from labkit.runtime.backends import Backend
from labkit.runtime.function import Function
from labkit.runtime.invocation import Invocation
from labkit.security import sessions
from labkit.service.clock import LessonClock
from labkit.service.exceptions import (
    ACCOUNT_LIMIT,
    RESERVED_LIMIT,
    InvalidParameterValueException,
    ServiceException,
    TooManyRequestsException,
)
from labkit.service.models import Alias, LambdaModel, VersionConfig, function_arn

SERIES_MAX_SAMPLES = 100_000


# --------------------------------------------------------------------------- runtime functions


@dataclass
class _Entry:
    build: str  # VersionConfig.build_id of the configuration its environments run
    function: Function
    in_flight: int = 0
    retired: bool = False


@dataclass(frozen=True)
class Lease:
    """One invoke's hold on a runtime function (given back when the invoke returns)."""

    key: tuple[str, str, str]
    entry: _Entry

    @property
    def function(self) -> Function:
        return self.entry.function


class RuntimePool:
    """The live `labkit.Function` of each (function, version, alias)."""

    def __init__(self, backend: Backend, endpoint_url: str | None = None, idle_timeout_s: float = 300) -> None:
        self.backend = backend
        self.endpoint_url = endpoint_url
        self.idle_timeout_s = idle_timeout_s
        self.platform_env: dict[str, str] = {}  # given to every new execution environment
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._retired: list[_Entry] = []
        self._lock = threading.Lock()
        self._closed = False

    def lease(self, config: VersionConfig, alias: str | None = None) -> Lease:
        key = (config.function_name, config.version, alias or "")
        stale: _Entry | None = None
        with self._lock:
            if self._closed:
                raise ServiceException("The Lambda service is shutting down.")
            entry = self._entries.get(key)
            if entry is None or entry.build != config.build_id:
                if entry is not None:
                    stale = self._retire(entry)
                entry = _Entry(config.build_id, self._make(config))
                self._entries[key] = entry
            entry.in_flight += 1
        if stale is not None:
            stale.function.close()
        return Lease(key, entry)

    def give_back(self, lease: Lease) -> None:
        entry = lease.entry
        with self._lock:
            entry.in_flight -= 1
            close = entry.retired and entry.in_flight == 0
            if close:
                self._retired.remove(entry)
        if close:
            entry.function.close()

    def function(self, config: VersionConfig, alias: str | None = None) -> Function:
        """The runtime function of a version (created when missing), without taking a lease."""
        lease = self.lease(config, alias)
        self.give_back(lease)
        return lease.function

    def drop(self, name: str, version: str | None = None, alias: str | None = None) -> None:
        """Retire the runtime functions of a function (or of one version, or one alias)."""
        with self._lock:
            keys = [
                key for key in self._entries
                if key[0] == name and (version is None or key[1] == version) and (alias is None or key[2] == alias)
            ]
            closing = [entry for entry in (self._retire(self._entries[key]) for key in keys) if entry is not None]
        for entry in closing:
            entry.function.close()

    def functions(self) -> list[Function]:
        with self._lock:
            return [entry.function for entry in self._entries.values()]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            entries = list(self._entries.values()) + self._retired
            self._entries.clear()
            self._retired.clear()
        for entry in entries:
            entry.function.close()

    def _retire(self, entry: _Entry) -> _Entry | None:
        """Under the lock: take entry out of service; returned when it can be closed at once."""
        for key, value in list(self._entries.items()):
            if value is entry:
                del self._entries[key]
        entry.retired = True
        if entry.in_flight == 0:
            return entry
        self._retired.append(entry)
        return None

    def _platform_env(self, config: VersionConfig) -> dict[str, str]:
        """The local AWS's endpoint and, as on Lambda, the execution role's temporary credentials; the
        observers' variables; the log level of a function with JSON logs."""
        env = dict(self.platform_env)
        if self.endpoint_url:
            env.update({"AWS_ENDPOINT_URL": self.endpoint_url, **sessions.issue(config.role, config.function_name)})
        if config.log_format == "JSON" and config.application_log_level:
            env["AWS_LAMBDA_LOG_LEVEL"] = config.application_log_level
        return env

    def _make(self, config: VersionConfig) -> Function:
        try:
            function = Function(
                config.handler,
                code=config.code.folder,
                memory_mb=config.memory_size,
                timeout_s=config.timeout,
                env=config.environment,
                backend=self.backend,
                name=config.function_name,
                version=config.version,
                platform_env=self._platform_env(config),
                ephemeral_storage_mb=config.ephemeral_storage,
                idle_timeout_s=self.idle_timeout_s,
                log_format=config.log_format,
                layers=[layer.folder for layer in config.layers],
            )
        except ConfigurationError as exc:
            raise InvalidParameterValueException(str(exc)) from None
        return function


# --------------------------------------------------------------------------- concurrency


@dataclass
class _Counters:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    concurrency: int = 0
    peak: int = 0
    async_received: int = 0
    async_retries: int = 0
    async_expired: int = 0
    async_dropped: int = 0
    destination_failures: int = 0
    dead_letter_errors: int = 0
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=SERIES_MAX_SAMPLES))
    iterator_ages: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=SERIES_MAX_SAMPLES))


@dataclass(frozen=True)
class FunctionMetrics:
    """What happened to one function (or to the whole account, name ``"*"``) so far.

    ``samples`` is the concurrency over time: (lesson time, concurrent executions) at each change,
    a step series ready to plot (``plt.step(*zip(*m.samples), where="post")``).
    """

    name: str
    invocations: int
    errors: int
    throttles: int
    cold_starts: int
    concurrency: int
    peak_concurrency: int
    async_received: int
    async_retries: int
    async_expired: int
    async_dropped: int
    destination_failures: int
    dead_letter_errors: int
    samples: list[tuple[float, int]]
    iterator_ages: list[tuple[float, float]] = field(default_factory=list)
    """Stream mappings: (lesson time, IteratorAge in ms) per batch, the age of its last record when invoked."""

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.samples]

    @property
    def values(self) -> list[int]:
        return [n for _, n in self.samples]


ACCOUNT = "*"


class ConcurrencyLimiter:
    """Concurrent executions per function and for the account; throttles; counters and series."""

    def __init__(self, model: LambdaModel, clock: LessonClock) -> None:
        self.model = model
        self.clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, _Counters] = defaultdict(_Counters)
        self._account = self._counters[ACCOUNT]
        self._unreserved_in_use = 0

    def acquire(self, name: str) -> bool:
        """Take one execution slot or raise TooManyRequestsException; returns the slot's pool (True: unreserved)."""
        reserved, unreserved_limit = self.model.limits_for(name)
        now = self.clock.now()
        with self._lock:
            counters = self._counters.get(name) or self._counters[name]
            if reserved is not None:
                if counters.concurrency >= reserved:
                    counters.throttles += 1
                    self._account.throttles += 1
                    raise TooManyRequestsException(RESERVED_LIMIT)
            elif self._unreserved_in_use >= unreserved_limit:
                counters.throttles += 1
                self._account.throttles += 1
                raise TooManyRequestsException(ACCOUNT_LIMIT)
            else:
                self._unreserved_in_use += 1
            self._step(counters, +1, now)
            return reserved is None

    def release(self, name: str, unreserved: bool, error: bool = False, cold: bool = False, ran: bool = False) -> None:
        """Give the slot back; `ran`: an invocation ran (counted, with its error and cold start)."""
        now = self.clock.now()
        with self._lock:
            if unreserved:
                self._unreserved_in_use -= 1
            counters = self._counters[name]
            self._step(counters, -1, now)
            if ran:
                for target in (counters, self._account):
                    target.invocations += 1
                    target.errors += error
                    target.cold_starts += cold

    def count(self, name: str, **increments: int) -> None:
        """Add to counters (invocations, errors, cold_starts, async_...) of a function and the account."""
        with self._lock:
            for target in (self._counters[name], self._counters[ACCOUNT]):
                for key, value in increments.items():
                    setattr(target, key, getattr(target, key) + value)

    def metrics(self, name: str = ACCOUNT) -> FunctionMetrics:
        with self._lock:
            c = self._counters[name]
            return FunctionMetrics(
                name, c.invocations, c.errors, c.throttles, c.cold_starts, c.concurrency, c.peak,
                c.async_received, c.async_retries, c.async_expired, c.async_dropped, c.destination_failures,
                c.dead_letter_errors, list(c.samples), list(c.iterator_ages),
            )

    def record_iterator_age(self, name: str, age_ms: float) -> None:
        """A stream mapping invoked `name` with a batch whose last record was `age_ms` old."""
        sample = (self.clock.now(), age_ms)
        with self._lock:
            self._counters[name].iterator_ages.append(sample)
            self._account.iterator_ages.append(sample)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(name for name in self._counters if name != ACCOUNT)

    def _step(self, counters: _Counters, delta: int, now: float) -> None:
        for target in (counters, self._account):
            concurrency = target.concurrency + delta
            target.concurrency = concurrency
            target.peak = max(target.peak, concurrency)
            target.samples.append((now, concurrency))


# --------------------------------------------------------------------------- one invoke


def request_id4() -> str:
    """A random (version 4) UUID as text, like str(uuid.uuid4()) in a third of the time."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@dataclass(frozen=True)
class InvokeRecord:
    """One invocation as the service ran it, for observers."""

    config: VersionConfig
    invoked_arn: str  # as the caller named it: unqualified, or with a version or alias
    qualifier: str | None
    invocation: Invocation
    trace_header: str | None
    async_received_at: float | None = None  # lesson time an asynchronous event was accepted


class InvokeObserver(Protocol):
    """Watches the service's invokes (labkit.observe implements it; the service never imports it)."""

    def platform_env(self) -> dict[str, str]:
        """Variables every execution environment gets (e.g. AWS_XRAY_DAEMON_ADDRESS)."""
        ...

    def trace_header(self, config: VersionConfig) -> str | None:
        """The X-Ray header for the next invoke of `config`, or None for an unsampled one."""
        ...

    def invoked(self, record: InvokeRecord) -> None:
        """Called after each invocation, before its caller gets the answer: keep it quick (queue, don't ship)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class InvokeResult:
    invocation: Invocation
    executed_version: str
    function_arn: str  # qualified with what was invoked ($LATEST, version or alias)


class Invoker:
    """Resolves a qualifier (alias weights included), takes a concurrency slot and invokes."""

    def __init__(self, model: LambdaModel, pool: RuntimePool, limiter: ConcurrencyLimiter) -> None:
        self.model = model
        self.pool = pool
        self.limiter = limiter
        self.observers: list[InvokeObserver] = []
        self._random = random.Random()

    def resolve(self, name: str, qualifier: str | None) -> tuple[VersionConfig, Alias | None]:
        state, config, alias = self.model.resolve_invocable(name, qualifier)
        if alias is not None and alias.weights:
            (extra, weight), = alias.weights.items()
            if self._random.random() < weight:
                config = state.version(extra)
        return config, alias

    def invoke(
        self,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        client_context: dict[str, Any] | None = None,
        request_id: str | None = None,
        received_at: float | None = None,
    ) -> InvokeResult:
        """`received_at`: when an asynchronous event was accepted (lesson time), for observers' AsyncEventAge."""
        config, alias = self.resolve(name, qualifier)
        invoked_arn = function_arn(name, qualifier) if qualifier else function_arn(name)
        unreserved = self.limiter.acquire(name)
        header = next((h for h in (o.trace_header(config) for o in self.observers) if h), None)
        invocation: Invocation | None = None
        try:
            lease = self.pool.lease(config, alias.name if alias else None)
            try:
                invocation = lease.function.invoke(
                    payload,
                    client_context=client_context,
                    request_id=request_id or request_id4(),
                    invoked_arn=invoked_arn,
                    trace_header=header,
                )
            except ConfigurationError as exc:  # the runtime function was closed under us (deleted, shut down)
                raise ServiceException(f"The function could not run: {exc}") from None
            finally:
                self.pool.give_back(lease)
        finally:
            if invocation is None:
                self.limiter.release(name, unreserved)
            else:
                self.limiter.release(
                    name, unreserved, error=invocation.error is not None, cold=invocation.report.init_ms is not None, ran=True
                )
        for observer in self.observers:
            observer.invoked(InvokeRecord(config, invoked_arn, qualifier, invocation, header, received_at))
        invoked = alias.name if alias else config.version
        return InvokeResult(invocation, config.version, function_arn(name, invoked))
