"""The embedded `process` backend: the runtime (awslambdaric) in a child process of its own.

Isolation is what a process gives: its own session and process group, Lambda's environment only
(the parent's variables do not leak in), `python -S` with just the task root, layers and the
runtime on sys.path (as on Lambda: no packages of the host's venv), `-B` (no bytecode written
into the code folder: Lambda's /var/task is read-only), a private TMPDIR, the open-files limit,
and a memory limit watched by the environment. `/tmp` itself is shared: the docker backend
gives each environment its own.
"""
from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from labkit.runtime import limits
from labkit.runtime.backends.base import LaunchSpec
from labkit.runtime.distributions import top_level_paths
from labkit.runtime.scratch import ensure_owner_dir
from labkit.runtime.spawner import SPAWNER

# What Lambda's Python runtime ships: the runtime client and the AWS SDK, with what they need.
_RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
_PR_SET_PDEATHSIG = 1
_PAGE = os.sysconf("SC_PAGE_SIZE")


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class _RuntimeDir:
    """LAMBDA_RUNTIME_DIR for the process backend: links to awslambdaric and the AWS SDK only."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._lock = threading.Lock()

    def path(self) -> Path:
        with self._lock:
            if self._path is None or not self._path.is_dir():
                self._path = self._build()
            return self._path

    @staticmethod
    def _build() -> Path:
        target = ensure_owner_dir() / "runtime"
        target.mkdir(exist_ok=True)
        for entry in top_level_paths(_RUNTIME_DISTRIBUTIONS):
            link = target / entry.name
            if not link.exists():
                link.symlink_to(entry)
        return target


class ProcessSandbox:
    """One runtime process: output pipe, pidfd, memory from /proc."""

    def __init__(self, process: subprocess.Popen[bytes], output_fd: int, tmp_dir: Path) -> None:
        self._process = process
        self._output_fd = output_fd
        self._tmp_dir = tmp_dir
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        self._killed_for_memory = False
        self._peak_mb = 0.0
        self._proc_fds: dict[str, int] = {}
        self._closed = False

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def output_fd(self) -> int:
        return self._output_fd

    @property
    def exit_fd(self) -> int | None:
        return self._pidfd

    def exit_status(self) -> str | None:
        code = self._process.poll()
        if code is None:
            return None
        return f"signal: {signal_word(-code)}" if code < 0 else f"exit status {code}"

    def init_done(self) -> None:
        """Nothing to change: the process backend does not scale CPU with memory."""

    def memory_now_mb(self) -> float:
        now = _proc_number(self._proc_fd("statm"), None) * _PAGE / 1048576
        self._peak_mb = max(self._peak_mb, now)
        return now

    def memory_peak_mb(self) -> float:
        self._peak_mb = max(self._peak_mb, _proc_number(self._proc_fd("status"), b"VmHWM:") / 1024)
        return self._peak_mb

    def _proc_fd(self, name: str) -> int | None:
        """A kept-open /proc file of the runtime, re-read with pread (no open per invoke)."""
        fd = self._proc_fds.get(name)
        if fd is None and not self._closed:
            try:
                fd = self._proc_fds[name] = os.open(f"/proc/{self.pid}/{name}", os.O_RDONLY)
            except OSError:
                return None
        return fd

    def oom_killed(self) -> bool:
        return self._killed_for_memory

    def kill_for_memory(self) -> None:
        self._killed_for_memory = True
        self.kill()

    def kill(self) -> None:
        if self._closed:
            return
        self.memory_peak_mb()
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._closed = True
        for fd in (self._output_fd, self._pidfd, *self._proc_fds.values()):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        shutil.rmtree(self._tmp_dir, ignore_errors=True)


class ProcessBackend:
    """Runs each execution environment as a child process of labkit's."""

    name = "process"
    runtime_api_bind_host = "127.0.0.1"
    enforces_memory = False
    python_version = python_version()
    _runtime_dir = _RuntimeDir()

    def launch(self, spec: LaunchSpec) -> ProcessSandbox:
        runtime_dir = self._runtime_dir.path()
        tmp_dir = ensure_owner_dir() / spec.env_id
        tmp_dir.mkdir(mode=0o700)
        task_root = spec.code_dir.resolve()
        layer_paths: list[str] = []
        for layer in spec.layers:
            python_dir = layer.resolve() / "python"
            layer_paths += [str(python_dir / "lib" / f"python{python_version()}" / "site-packages"), str(python_dir)]
        env = {
            **spec.lambda_env,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{spec.runtime_api_port}",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(runtime_dir),
            "PYTHONPATH": os.pathsep.join([*layer_paths, str(runtime_dir)]),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "TMPDIR": str(tmp_dir),
        }
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        address_space = max(4 * spec.memory_mb, spec.memory_mb + 2048) * 1048576

        def limit_child() -> None:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.FILE_DESCRIPTORS_MAX, limits.FILE_DESCRIPTORS_MAX))
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-S", "-B", "-m", "awslambdaric", spec.handler],
                cwd=task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
                preexec_fn=limit_child,
                close_fds=True,
            )

        try:
            process = SPAWNER.run(start)
        finally:
            os.close(write_fd)
        return ProcessSandbox(process, read_fd, tmp_dir)


def _proc_number(fd: int | None, key: bytes | None) -> float:
    """The number after key in a /proc file (status: kB), or with key None statm's resident pages."""
    if fd is None:
        return 0.0
    try:
        data = os.pread(fd, 4096, 0)
    except OSError:
        return 0.0
    if key is None:
        fields = data.split()
        return float(fields[1]) if len(fields) > 1 else 0.0
    at = data.find(key)
    return float(data[at + len(key) :].split(None, 1)[0]) if at >= 0 else 0.0


def signal_word(number: int) -> str:
    """Go's wording of a signal, as Lambda prints it ('signal: killed')."""
    words: dict[int, str] = {
        signal.SIGKILL: "killed",
        signal.SIGSEGV: "segmentation fault",
        signal.SIGABRT: "aborted",
        signal.SIGTERM: "terminated",
        signal.SIGINT: "interrupt",
        signal.SIGBUS: "bus error",
        signal.SIGFPE: "floating point exception",
    }
    return words.get(number, f"signal {number}")
