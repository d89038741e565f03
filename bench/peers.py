"""Benchmark peers: the official AWS Lambda Runtime Interface Emulator (RIE), on the host
(:class:`RiePeer`) or inside labkit's sandbox image (:class:`RieContainerPeer`).

labkit's benchmarks report ratios against the RIE measured in the same run, with the same
awslambdaric, Python and handler. Both peers share one interface (:class:`EmulatorPeer`):
``start()``, ``invoke(event) -> (body, seconds)``, ``cold_start()``, ``cold_start_seconds()``,
``log_text()``, ``close()`` and use as a context manager. The container peer runs the image's
``/usr/local/bin/aws-lambda-rie`` with the same user, mounts and limits as labkit's docker
backend, so the two are compared like for like (``bench/docker_backend.py``); its cold start is the
wall time from creating a fresh container to the first invoke's response.

For the host peer, the RIE binaries ship inside the aws-sam-cli wheel on PyPI
(``samcli/local/rapid/aws-lambda-rie-<arch>``); :func:`rie_binary` fetches the wheel with
``pip download --no-deps`` once and keeps only the binary in ``~/.cache/labkit/rie/``.

How the RIE behaves (aws-sam-cli 1.170.0), which decides how it is measured:

* It accepts connections at once but starts the runtime lazily: the runtime process is spawned,
  and the handler's module imported, inside the first ``POST .../invocations``. A cold start is
  therefore measured as the wall time from spawning a fresh emulator process to the first
  invoke's response (:meth:`RiePeer.cold_start_seconds`), which covers the same work as a
  labkit function's first invoke: process start, runtime start, init and invoke.
* It logs ``INIT REPORT(durationMs: 29.853000)`` for the init phase. Its cold ``REPORT`` line
  also carries ``Init Duration``, but that figure is not the init time (``0.03 ms`` after 29.9 ms
  of init, ``0.01 ms`` after 531 ms), and that ``REPORT``'s ``Duration`` includes the init. Both
  are parsed (:class:`ColdStart`); only the ``INIT REPORT`` one measures the init.
* Its Runtime API listens on 127.0.0.1:9001 unless told otherwise, so each peer picks free
  loopback ports for both the emulator and the Runtime API, and peers can run side by side.
* It has no ``--help``: every argument after its flags is the runtime command, so
  ``aws-lambda-rie --help`` waits for invokes with ``--help`` as the runtime to exec.

Run ``.venv/bin/python bench/peers.py`` to print the RIE's warm p50/p99 and cold start here.
"""
from __future__ import annotations

import atexit
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import weakref
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = [
    "INVOKE_PATH",
    "SAM_CLI_SPEC",
    "ColdStart",
    "EmulatorPeer",
    "RieContainerPeer",
    "RieError",
    "RiePeer",
    "RieUnavailableError",
    "alternating_latencies",
    "percentile",
    "rie_arch",
    "rie_binary",
    "warm_latencies",
]

#: The aws-sam-cli release whose RIE the figures and log shapes were taken from.
SAM_CLI_SPEC = "aws-sam-cli==1.170.0"
#: Where the RIE serves invokes (the function name part is ignored by the RIE).
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
#: Set to an existing RIE binary to skip the download altogether.
BINARY_ENV = "LABKIT_RIE_BINARY"

_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_INIT_REPORT_RE = re.compile(r"INIT REPORT\(durationMs: ([0-9.]+)\)")
_REPORT_INIT_RE = re.compile(r"^REPORT RequestId: \S+\tInit Duration: ([0-9.]+) ms", re.MULTILINE)


class RieError(RuntimeError):
    """The emulator could not be started or did not answer as expected."""


class RieUnavailableError(RieError):
    """The emulator binary could not be fetched or found."""


# --------------------------------------------------------------------------- the binary


def default_cache_dir() -> Path:
    """``~/.cache/labkit/rie/`` (``$XDG_CACHE_HOME/labkit/rie`` when that is set)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labkit" / "rie"


def rie_arch(machine: str | None = None) -> str:
    """The RIE's name for this host's architecture: ``x86_64`` or ``arm64``."""
    machine = (machine or platform.machine()).lower()
    try:
        return _ARCHES[machine]
    except KeyError:
        raise RieUnavailableError(
            f"the RIE ships for x86_64 and arm64 only, this host is {machine!r}; "
            f"point {BINARY_ENV} at an emulator binary built for it"
        ) from None


def rie_binary(cache_dir: Path | None = None, spec: str = SAM_CLI_SPEC) -> Path:
    """The emulator binary for this host, fetched from the aws-sam-cli wheel on first use.

    ``$LABKIT_RIE_BINARY`` wins when set. Otherwise the binary is cached under
    ``cache_dir/<version>/aws-lambda-rie-<arch>``; a later call returns it without any download.
    Raises :class:`RieUnavailableError` (a ``RuntimeError``) saying how to fix it when pip
    cannot fetch the wheel or the wheel has no binary for this architecture.
    """
    override = os.environ.get(BINARY_ENV)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RieUnavailableError(f"{BINARY_ENV}={override} is not an executable file")
        return path
    name = f"aws-lambda-rie-{rie_arch()}"
    folder = (cache_dir or default_cache_dir()) / re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.split("==")[-1] if "==" in spec else "latest")
    target = folder / name
    if target.is_file() and os.access(target, os.X_OK):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="labkit-rie-") as tmp:
        wheel = _download_wheel(spec, Path(tmp))
        partial = folder / f".{name}.{os.getpid()}.part"
        try:
            with zipfile.ZipFile(wheel) as zf:
                members = [m for m in zf.namelist() if m.rsplit("/", 1)[-1] == name]
                if not members:
                    raise RieUnavailableError(f"{wheel.name} holds no {name}; try another {spec.split('==')[0]} version")
                with zf.open(members[0]) as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            partial.chmod(0o755)
            os.replace(partial, target)  # atomic: a concurrent caller sees no half-written binary
        finally:
            partial.unlink(missing_ok=True)
    return target


def _download_wheel(spec: str, dest: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "-d", str(dest), spec]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RieUnavailableError(_fetch_fix(spec, str(exc))) from exc
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RieUnavailableError(_fetch_fix(spec, " | ".join(detail) or f"pip exited {done.returncode}"))
    return wheels[0]


def _fetch_fix(spec: str, detail: str) -> str:
    return (
        f"could not fetch the Runtime Interface Emulator ({sys.executable} -m pip download --no-deps {spec}): {detail}. "
        f"Fix: make PyPI reachable for pip (proxy/index settings) and retry, or unzip "
        f"samcli/local/rapid/aws-lambda-rie-{rie_arch()} from an aws-sam-cli wheel, chmod +x it and set {BINARY_ENV} to its path."
    )


# --------------------------------------------------------------------------- measuring helpers


def warm_latencies(invoke: Callable[[], object], n: int, warmup: int) -> list[float]:
    """Call ``invoke`` ``warmup`` times untimed, then ``n`` times, each timed with perf_counter (seconds)."""
    if n < 0 or warmup < 0:
        raise ValueError("n and warmup must be >= 0")
    for _ in range(warmup):
        invoke()
    clock = time.perf_counter
    samples: list[float] = []
    append = samples.append
    for _ in range(n):
        start = clock()
        invoke()
        append(clock() - start)
    return samples


def alternating_latencies(
    invokers: Mapping[str, Callable[[], object]], n: int, rounds: int = 10, warmup: int = 50, settle_s: float = 0.0
) -> dict[str, list[float]]:
    """``n`` warm latencies per invoker, measured in ``rounds`` turns that alternate between them.

    A machine whose speed drifts during the run (other load, CPU frequency) then weighs on every
    peer alike instead of on whichever ran last. Each turn starts with ``warmup`` untimed invokes,
    after a rest of ``settle_s`` (so that work a peer does after its turn, such as shipping logs,
    does not land in the next peer's turn).
    """
    samples: dict[str, list[float]] = {name: [] for name in invokers}
    names = list(invokers)
    per_round = max(1, n // max(1, rounds))
    for turn in range(max(1, rounds)):
        for name in names if turn % 2 == 0 else names[::-1]:
            if settle_s:
                time.sleep(settle_s)
            samples[name] += warm_latencies(invokers[name], n=per_round, warmup=warmup)
    return samples


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100 or math.isnan(p):
        raise ValueError(f"percentile must be within 0..100, got {p}")
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --------------------------------------------------------------------------- the peer


@dataclass(frozen=True)
class ColdStart:
    """One cold start of the RIE: wall times (seconds) and the init figures it logged (ms)."""

    total_seconds: float  # process spawn -> first invoke's response
    ready_seconds: float  # process spawn -> emulator accepting connections
    first_invoke_seconds: float  # first invoke's round trip (runtime start, init, invoke)
    init_report_ms: float | None  # from "INIT REPORT(durationMs: ...)"
    report_init_duration_ms: float | None  # "Init Duration" of the REPORT line, as printed


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (read from /proc; empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _terminate(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """Stop the emulator, its process group and anything it spawned elsewhere, then reap it."""
    if proc.poll() is None:
        stragglers = _descendants(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the RIE SIGKILLs its runtime on SIGTERM
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        for pid in stragglers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


_LIVE: weakref.WeakSet[EmulatorPeer] = weakref.WeakSet()


def _close_all() -> None:
    for peer in list(_LIVE):
        peer.close()


atexit.register(_close_all)


class EmulatorPeer:
    """What every RIE peer shares: free ports, readiness, a kept-alive invoke connection, cold starts.

    A subclass says where the emulator runs by implementing :meth:`_prepare` (untimed set-up
    before a cold start), :meth:`_spawn` (launch it on ``self.port`` and
    ``self.runtime_api_port``), :meth:`_exit_detail`, :meth:`_stop`, :attr:`running` and
    :meth:`log_text`. Invoking and timing are the same code for all of them.
    """

    def __init__(self, handler: str, *, invoke_timeout: float = 900.0) -> None:
        self.handler = handler
        self.invoke_timeout = invoke_timeout
        self.port: int | None = None
        self.runtime_api_port: int | None = None
        self.last_status: int | None = None
        self.last_headers: dict[str, str] = {}
        self.last_cold_start: ColdStart | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._closed_log = ""
        self._lock = threading.Lock()

    # -- what a subclass provides

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Work that must not count in a cold start (downloads, staging); called before each start."""

    def _spawn(self) -> None:
        raise NotImplementedError

    def _exit_detail(self) -> str | None:
        """Why the emulator is gone (exit status and log tail), or None while it runs."""
        raise NotImplementedError

    def _stop(self) -> None:
        """End the emulator and everything it started; keep its log text in ``self._closed_log``."""
        raise NotImplementedError

    def log_text(self) -> str:
        """Everything the emulator and the runtime printed so far (kept after close)."""
        raise NotImplementedError

    # -- lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self, timeout: float = 10.0) -> Self:
        """Launch the emulator and wait until it accepts connections. Idempotent."""
        if self.running:
            return self
        self.close()
        self._prepare()
        return self._launch(timeout)

    def _launch(self, timeout: float = 10.0) -> Self:
        last_error: Exception | None = None
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port, self.runtime_api_port = _free_port(), _free_port()
            _LIVE.add(self)
            try:
                self._spawn()
                self._wait_ready(timeout)
                return self
            except RieError as exc:
                last_error = exc
                self.close()
        raise RieError(f"the RIE did not start: {last_error}")

    def _wait_ready(self, timeout: float) -> None:
        assert self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            detail = self._exit_detail()
            if detail is not None:
                raise RieError(detail)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RieError(f"emulator not accepting connections on 127.0.0.1:{self.port} after {timeout}s") from None
                time.sleep(0.002)

    def close(self) -> None:
        """End the emulator and its runtime, drop the connection. Safe to call twice."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._stop()
            _LIVE.discard(self)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- invoking

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            assert self.port is not None
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.invoke_timeout)
            conn.connect()
            assert conn.sock is not None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    def invoke(self, event: object) -> tuple[bytes, float]:
        """POST ``event`` as JSON over the kept-alive connection; returns (response body, seconds)."""
        if not self.running:
            self.start()
        payload = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        start = time.perf_counter()
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", INVOKE_PATH, body=payload, headers=headers)
                response = conn.getresponse()
                body = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the emulator dropped an idle keep-alive connection: reconnect once
                conn.close()
                self._conn = None
                if attempt == 2 or not self.running:
                    raise
        elapsed = time.perf_counter() - start
        self.last_status = response.status
        self.last_headers = dict(response.getheaders())
        if response.will_close and self._conn is not None:
            self._conn.close()
            self._conn = None
        return body, elapsed

    # -- cold start

    def cold_start(self, event: object | None = None) -> ColdStart:
        """Start a fresh emulator, invoke once, close it; see the module docstring for why so."""
        self.close()
        self._prepare()  # any download or staging happens outside the measurement
        start = time.perf_counter()
        self._launch()
        ready = time.perf_counter()
        try:
            self.invoke({} if event is None else event)
            done = time.perf_counter()
            log = self._wait_for_report()
        finally:
            self.close()
        init_report = _INIT_REPORT_RE.search(log)
        report_init = _REPORT_INIT_RE.search(log)
        self.last_cold_start = ColdStart(
            total_seconds=done - start,
            ready_seconds=ready - start,
            first_invoke_seconds=done - ready,
            init_report_ms=float(init_report.group(1)) if init_report else None,
            report_init_duration_ms=float(report_init.group(1)) if report_init else None,
        )
        return self.last_cold_start

    def cold_start_seconds(self, event: object | None = None) -> float:
        """Wall time from starting a fresh emulator to its first invoke's response."""
        return self.cold_start(event).total_seconds

    def _wait_for_report(self, timeout: float = 1.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            if "\nREPORT RequestId:" in text or time.monotonic() > deadline:
                return text
            time.sleep(0.005)


class RiePeer(EmulatorPeer):
    """The RIE on a free loopback port running ``python -m awslambdaric <handler>`` from ``code_dir``.

    ``env`` is added to a minimal environment (PATH, HOME, locale, TMPDIR and
    ``PYTHONPATH=code_dir``); the RIE passes it to the runtime and adds its own AWS_* variables.
    The emulator's output (START/END/REPORT and its own log) goes to a file: :meth:`log_text`.
    """

    def __init__(
        self,
        handler: str = "app.handler",
        code_dir: Path | str = ".",
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        *,
        binary: Path | None = None,
        log_level: str | None = None,
        invoke_timeout: float = 900.0,
    ) -> None:
        super().__init__(handler, invoke_timeout=invoke_timeout)
        self.code_dir = Path(code_dir).resolve()
        self.env = dict(env or {})
        self.python = python
        self.binary = binary
        self.log_level = log_level
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def command(self) -> list[str]:
        assert self.port is not None and self.runtime_api_port is not None
        binary = self.binary or rie_binary()
        flags = _emulator_flags(self.port, self.runtime_api_port, self.log_level)
        return [str(binary), *flags, self.python, "-m", "awslambdaric", self.handler]

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")}
        base["PYTHONPATH"] = str(self.code_dir)
        base.update(self.env)
        return base

    def _prepare(self) -> None:
        self.binary = self.binary or rie_binary()  # fetch before the clock of any caller's measurement matters

    def _spawn(self) -> None:
        fd, log = tempfile.mkstemp(prefix="labkit-rie-", suffix=".log")
        self._log = Path(log)
        with os.fdopen(fd, "wb") as sink:
            self._proc = subprocess.Popen(
                self.command(),
                cwd=self.code_dir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _exit_detail(self) -> str | None:
        if self._proc is None or self._proc.poll() is None:
            return None
        return f"emulator exited with {self._proc.returncode}: {self.log_text()[-2000:]}"

    def _stop(self) -> None:
        if self._proc is not None:
            _terminate(self._proc)
            self._proc = None
        if self._log is not None:  # keep the text, drop the file
            self._closed_log = self.log_text()
            self._log.unlink(missing_ok=True)
            self._log = None

    def log_text(self) -> str:
        if self._log is None:
            return self._closed_log
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    def log_path(self) -> Path | None:
        """The file the running emulator writes to (removed on close, its text kept)."""
        return self._log


def _emulator_flags(port: int, runtime_api_port: int, log_level: str | None) -> list[str]:
    flags = [
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{port}",
        "--runtime-api-address",
        f"127.0.0.1:{runtime_api_port}",
    ]
    return flags + (["--log-level", log_level] if log_level else [])


class RieContainerPeer(EmulatorPeer):
    """The RIE inside labkit's sandbox image, in a container shaped like labkit's docker backend's.

    Entrypoint ``/usr/local/bin/aws-lambda-rie`` running the image's ``/var/runtime/bootstrap``
    (Lambda's sys.path, then awslambdaric) with ``_HANDLER=<handler>``, as the image's
    ``/lambda-entrypoint.sh`` does when no Runtime API is given; ``code_dir`` staged
    world-readable and bind-mounted read-only at /var/task. The container options are the ones
    labkit's docker backend applies: ``sandbox/limits.json``'s ``docker_run`` profile (sandbox
    user, read-only root, pids and open-files limits, dropped capabilities ...), its /tmp tmpfs,
    the memory limit (memory + /tmp size, as the tmpfs is charged to it) without swap, and ``memory_mb / 1769`` vCPUs capped at the host's cores.
    Host networking, with the emulator and its Runtime API on free loopback ports. The container
    is labelled ``labkit=1`` and with this process as owner (so ``labkit clean`` removes it if
    this process is killed), and is removed on :meth:`close` and at interpreter exit. A cold
    start is container create + start + emulator ready + the first invoke's response.
    """

    EMULATOR = "/usr/local/bin/aws-lambda-rie"
    RUNTIME = "/var/runtime/bootstrap"
    PEER_LABEL = "labkit.peer"

    def __init__(
        self,
        handler: str = "app.handler",
        code_dir: Path | str = ".",
        memory_mb: int = 1769,
        env: Mapping[str, str] | None = None,
        *,
        image: str | None = None,
        ephemeral_storage_mb: int = 512,
        log_level: str | None = None,
        invoke_timeout: float = 900.0,
    ) -> None:
        super().__init__(handler, invoke_timeout=invoke_timeout)
        self.code_dir = Path(code_dir).resolve()
        self.memory_mb = memory_mb
        self.env = dict(env or {})
        self.image = image
        self.ephemeral_storage_mb = ephemeral_storage_mb
        self.log_level = log_level
        self._staged: Path | None = None
        self._profile: dict[str, Any] = {}
        self._client: Any = None
        self._container: Any = None
        self._exit_checked = 0.0

    @property
    def running(self) -> bool:
        return self._container is not None

    @property
    def container_id(self) -> str | None:
        return None if self._container is None else str(self._container.id)

    def _prepare(self) -> None:
        from labkit.errors import BackendUnavailableError
        from labkit.runtime.backends.docker import DOCKER
        from labkit.runtime.image import image_tag, sandbox_dir
        from labkit.runtime.scratch import stage_readable_copy

        try:
            self._client = DOCKER.get()
            self._client.ping()
        except Exception as exc:
            raise RieUnavailableError(f"Docker is not reachable ({exc}); start the Docker daemon") from exc
        try:
            self._profile = json.loads((sandbox_dir() / "limits.json").read_text())
            self.image = self.image or image_tag()
        except (BackendUnavailableError, OSError, ValueError) as exc:
            raise RieUnavailableError(f"the sandbox recipes are not readable: {exc}") from exc
        try:
            self._client.images.get(self.image)
        except Exception as exc:
            raise RieUnavailableError(f"the sandbox image {self.image} is not there ({exc}); build it: labkit image build") from exc
        self._staged = stage_readable_copy((self.code_dir,), "task")

    def run_kwargs(self) -> dict[str, Any]:
        """The ``containers.run`` arguments: the options labkit's docker backend gives a function of ``memory_mb``."""
        from docker.types import Ulimit

        from labkit.runtime.backends.docker import LABEL, OWNER_LABEL, cpu_share

        assert self.port is not None and self.runtime_api_port is not None and self._staged is not None
        profile = {**self._profile["docker_run"]}
        profile["ulimits"] = [Ulimit(**limit) for limit in profile.get("ulimits", [])]
        env = {"_HANDLER": self.handler, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb), **self.env}
        return {
            "entrypoint": [self.EMULATOR],
            "command": [*_emulator_flags(self.port, self.runtime_api_port, self.log_level), self.RUNTIME, self.handler],
            "detach": True,
            "environment": env,
            "tmpfs": {"/tmp": f"{self._profile['tmp']['tmpfs_options']},size={self.ephemeral_storage_mb}m"},
            "volumes": {str(self._staged): {"bind": "/var/task", "mode": "ro"}},
            "mem_limit": f"{self.memory_mb + self.ephemeral_storage_mb}m",  # the tmpfs is charged to it
            "memswap_limit": f"{self.memory_mb + self.ephemeral_storage_mb}m",
            "nano_cpus": int(cpu_share(self.memory_mb) * 1e9),
            "network_mode": "host",
            **profile,
            "labels": {LABEL: "1", OWNER_LABEL: str(os.getpid()), self.PEER_LABEL: "rie"},
            "name": f"labkit-rie-{os.getpid()}-{self.port}",
        }

    def _spawn(self) -> None:
        assert self._client is not None, "_prepare() comes first"
        try:
            self._container = self._client.containers.run(self.image, **self.run_kwargs())
        except Exception as exc:  # name or port clash, daemon error: start() retries on RieError
            raise RieError(f"could not start the emulator's container: {exc}") from exc
        self._exit_checked = time.monotonic()

    def _exit_detail(self) -> str | None:
        if self._container is None:
            return None
        now = time.monotonic()
        if now - self._exit_checked < 0.05:  # one status query per 50 ms while waiting
            return None
        self._exit_checked = now
        try:
            self._container.reload()
        except Exception as exc:
            return f"the emulator's container is gone: {exc}"
        state = self._container.attrs.get("State", {})
        if state.get("Running", True):
            return None
        return f"the emulator's container exited with {state.get('ExitCode')}: {self.log_text()[-2000:]}"

    def _stop(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:  # stop first: the log driver has every line once the container's output is closed
            container.stop(timeout=2)
            container.wait(timeout=10)
            self._closed_log = container.logs().decode(errors="replace")
        except Exception:
            pass
        try:
            container.remove(force=True)
        except Exception:  # already gone
            pass

    def log_text(self) -> str:
        if self._container is None:
            return self._closed_log
        try:
            return str(self._container.logs().decode(errors="replace"))
        except Exception:
            return self._closed_log


# --------------------------------------------------------------------------- report

_DEMO_HANDLER = "def handler(event, context):\n    return {'ok': True, 'echo': event}\n"
_DEMO_EVENT = {"name": "Ada", "n": 1}


def main(n: int = 2000, cold: int = 5) -> int:
    binary = rie_binary()
    with tempfile.TemporaryDirectory(prefix="labkit-rie-bench-") as tmp:
        code = Path(tmp)
        (code / "app.py").write_text(_DEMO_HANDLER)
        with RiePeer(handler="app.handler", code_dir=code) as rie:
            rie.start()
            samples = warm_latencies(lambda: rie.invoke(_DEMO_EVENT), n=n, warmup=200)
        colds = [RiePeer(handler="app.handler", code_dir=code).cold_start() for _ in range(cold)]
    totals = [c.total_seconds for c in colds]
    inits = [c.init_report_ms for c in colds if c.init_report_ms is not None]
    print(f"RIE: {binary}")
    print(f"warm p50     {percentile(samples, 50) * 1000:8.3f} ms   ({n} invokes, 200 warm-up)")
    print(f"warm p99     {percentile(samples, 99) * 1000:8.3f} ms")
    print(f"cold start   {statistics.median(totals) * 1000:8.3f} ms   (median of {cold}: spawn -> first response)")
    print(f"  ready      {statistics.median(c.ready_seconds for c in colds) * 1000:8.3f} ms   (spawn -> accepting connections)")
    if inits:
        print(f"  INIT REPORT {statistics.median(inits):7.3f} ms   (the RIE's own init duration)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
