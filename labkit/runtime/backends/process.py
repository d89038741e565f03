"""The embedded `process` backend: the runtime (awslambdaric) in a child process, sandboxed without root.

Where bubblewrap can build it (`bwrap.py`), each environment gets Lambda's sandbox: its own user,
pid and IPC namespaces, the code read-only at /var/task (LAMBDA_TASK_ROOT, stack traces), layers
at /opt, the runtime at /var/runtime, a private tmpfs /tmp of the ephemeral size, Lambda's 1,024
processes and threads (RLIMIT_NPROC in its user namespace, or for root a pids cgroup:
`pids_cgroup.py`), and every process of it gone when it shuts down. Everywhere: Lambda's
environment only (the parent's variables do not leak in), `python -S` with just the task root,
layers and the runtime on sys.path (no packages of the host's venv), `-B` (no bytecode written),
1,024 open files, memory counted over the whole process tree and the CPU share of the memory
size (`governor.py`). Where bwrap is missing or cannot run (macOS, kernels without unprivileged
user namespaces) the runtime runs in place with a private TMPDIR; `labkit doctor` and the first
cold start say what then does not hold (`guarantees.py`).
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
from labkit.runtime.backends import bwrap
from labkit.runtime.backends.base import LaunchSpec
from labkit.runtime.backends.docker import cpu_share
from labkit.runtime.backends.governor import Governor
from labkit.runtime.backends.guarantees import SANDBOXING, Sandboxing
from labkit.runtime.backends.pids_cgroup import PidsCgroup
from labkit.runtime.backends.proctree import ProcessTree, send
from labkit.runtime.distributions import top_level_paths
from labkit.runtime.scratch import ensure_owner_dir, stage_readable_copy
from labkit.runtime.spawner import SPAWNER

# What Lambda's Python runtime ships: the runtime client and the AWS SDK, with what they need.
_RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
_PR_SET_PDEATHSIG = 1
EXEC_WRAPPER = "AWS_LAMBDA_EXEC_WRAPPER"
_PAGE = os.sysconf("SC_PAGE_SIZE")
_SANDBOX_WRAPPERS = 2  # bwrap, then its reaper (pid 1 of the environment), above the runtime


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class _RuntimeDir:
    """LAMBDA_RUNTIME_DIR for the process backend: links to awslambdaric and the AWS SDK only."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._host_paths: tuple[Path, ...] = ()
        self._lock = threading.Lock()

    def path(self) -> Path:
        with self._lock:
            if self._path is None or not self._path.is_dir():
                self._path = self._build()
            return self._path

    def host_paths(self) -> tuple[Path, ...]:
        """What the sandbox binds at its own path for the runtime: the interpreter, its venv, the links' targets."""
        with self._lock:
            if not self._host_paths:
                self._host_paths = bwrap.interpreter_paths(top_level_paths(_RUNTIME_DISTRIBUTIONS))
            return self._host_paths

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
    """One environment's processes: output pipe, pidfd, memory and CPU share over its whole tree."""

    def __init__(
        self, process: subprocess.Popen[bytes], output_fd: int, scratch: Path, tree: ProcessTree,
        vcpus: float, cgroup: PidsCgroup | None,
    ) -> None:
        self._process = process
        self._output_fd = output_fd
        self._scratch = scratch
        self._tree = tree
        self._vcpus = vcpus
        self._cgroup = cgroup
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        self._governor = Governor(tree)
        self._killed_for_memory = False
        self._peak_mb = 0.0
        self._proc_fds: dict[str, int] = {}
        self._closed = False

    @property
    def pid(self) -> int:
        """The host pid labkit started: bwrap in the sandbox, else the runtime itself."""
        return self._process.pid

    @property
    def sandboxed(self) -> bool:
        return self._tree.wrappers > 0

    @property
    def output_fd(self) -> int:
        return self._output_fd

    @property
    def exit_fd(self) -> int | None:
        return self._pidfd

    def pids(self) -> set[int]:
        """Every host pid of the environment's processes (bwrap's and detached ones included); empty once ended."""
        return set() if self._closed else self._tree.pids()

    def exit_status(self) -> str | None:
        code = self._process.poll()
        if code is None:
            return None
        if code < 0:
            return f"signal: {signal_word(-code)}"
        if self.sandboxed and code > 128:  # bwrap exits with 128 + the signal that ended the runtime
            return f"signal: {signal_word(code - 128)}"
        return f"exit status {code}"

    def invoke_started(self) -> None:
        self._governor.invoke_started()

    def init_done(self) -> None:
        """Hold the CPU share from the first invoke on (INIT is not held to it, as on Lambda)."""
        self._governor.hold(self._vcpus)

    def memory_now_mb(self) -> float:
        """The runtime's resident size now (one pread) plus its tree's other processes (sampled by the governor)."""
        now = _proc_number(self._proc_fd("statm"), None) * _PAGE / 1048576 + self._governor.others_mb
        self._peak_mb = max(self._peak_mb, now)
        return now

    def memory_peak_mb(self) -> float:
        runtime_peak = _proc_number(self._proc_fd("status"), b"VmHWM:") / 1024
        self._peak_mb = max(self._peak_mb, runtime_peak + self._governor.others_peak_mb)
        return self._peak_mb

    def _proc_fd(self, name: str) -> int | None:
        """A kept-open /proc file of the runtime, re-read with pread (no open per invoke)."""
        fd = self._proc_fds.get(name)
        if fd is None and not self._closed:
            runtime = self._tree.runtime_pid()
            if runtime is None:
                return None
            try:
                fd = self._proc_fds[name] = os.open(f"/proc/{runtime}/{name}", os.O_RDONLY)
            except OSError:
                return None
        return fd

    def oom_killed(self) -> bool:
        return self._killed_for_memory

    def kill_for_memory(self) -> None:
        self._killed_for_memory = True
        self.kill()

    def kill(self) -> None:
        """End every process of the environment, then wait for the one labkit started."""
        if self._closed:
            return
        self._governor.stop()
        self.memory_peak_mb()
        inner = [pid for pid, depth in self._tree.walk() if depth > 0]
        send(inner, signal.SIGKILL)  # in the sandbox: its pid 1 among them, which takes the namespace along
        if not self.sandboxed or not inner:
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
        if self._cgroup is not None:
            self._cgroup.remove()
        shutil.rmtree(self._scratch, ignore_errors=True)


class ProcessBackend:
    """Runs each execution environment as a child process of labkit's, in bubblewrap's sandbox where it can."""

    name = "process"
    runtime_api_bind_host = "127.0.0.1"
    enforces_memory = False
    python_version = python_version()
    _runtime_dir = _RuntimeDir()

    def launch(self, spec: LaunchSpec) -> ProcessSandbox:
        sandboxing = SANDBOXING.current()
        SANDBOXING.announce_once()
        scratch = ensure_owner_dir() / spec.env_id
        scratch.mkdir(mode=0o700)
        if sandboxing.bwrap is not None:
            argv, env, cwd = self._sandboxed(spec, sandboxing.bwrap, sandboxing, scratch)
        else:
            argv, env, cwd = self._in_place(spec, scratch)
        cgroup = PidsCgroup(sandboxing.pids_cgroups, spec.env_id, limits.PROCESSES_MAX) if sandboxing.pids_cgroups else None
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        address_space = max(4 * spec.memory_mb, spec.memory_mb + 2048) * 1048576

        def limit_child() -> None:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.FILE_DESCRIPTORS_MAX, limits.FILE_DESCRIPTORS_MAX))
            capped = _within_hard_limit(resource.RLIMIT_AS, address_space)
            resource.setrlimit(resource.RLIMIT_AS, (capped, capped))
            if cgroup is not None:
                cgroup.join()

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                argv,
                cwd=cwd,
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
        except BaseException:
            os.close(read_fd)
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        finally:
            os.close(write_fd)
        tree = ProcessTree(process.pid, _SANDBOX_WRAPPERS if sandboxing.bwrap is not None else 0)
        return ProcessSandbox(process, read_fd, scratch, tree, cpu_share(spec.memory_mb), cgroup)

    def _sandboxed(
        self, spec: LaunchSpec, bwrap_path: str, sandboxing: Sandboxing, scratch: Path
    ) -> tuple[list[str], dict[str, str], Path]:
        """bwrap's command line and environment: Lambda's layout, paths as on Lambda."""
        layers = None
        if spec.layers:
            layers = spec.layers[0].resolve() if len(spec.layers) == 1 else stage_readable_copy(spec.layers, "opt")
        layout = bwrap.Layout(
            code=spec.code_dir.resolve(),
            layers=layers,
            runtime_dir=self._runtime_dir.path(),
            tmp_mb=spec.ephemeral_storage_mb,
            host_paths=self._runtime_dir.host_paths(),
            shared_paths=bwrap.shared_paths(),
        )
        env = self._environment(spec, Path(bwrap.TASK_ROOT), Path(bwrap.RUNTIME_DIR),
                                [Path(bwrap.OPT)] if layers else [])
        env[bwrap.MARKER_VARIABLE] = str(scratch)
        nproc = limits.PROCESSES_MAX if sandboxing.nproc_rlimit else None
        return bwrap.command(bwrap_path, layout, _runtime_argv(spec, nproc)), env, scratch

    def _in_place(self, spec: LaunchSpec, scratch: Path) -> tuple[list[str], dict[str, str], Path]:
        """No sandbox: the runtime in the code folder, with a private TMPDIR."""
        task_root = spec.code_dir.resolve()
        env = self._environment(spec, task_root, self._runtime_dir.path(), [layer.resolve() for layer in spec.layers])
        env["TMPDIR"] = str(scratch)
        return _runtime_argv(spec, None), env, task_root

    @staticmethod
    def _environment(spec: LaunchSpec, task_root: Path, runtime_dir: Path, layers: list[Path]) -> dict[str, str]:
        layer_paths: list[str] = []
        for layer in layers:
            python_dir = layer / "python"
            layer_paths += [str(python_dir / "lib" / f"python{python_version()}" / "site-packages"), str(python_dir)]
        return {
            **spec.lambda_env,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{spec.runtime_api_port}",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(runtime_dir),
            "PYTHONPATH": os.pathsep.join([*layer_paths, str(runtime_dir)]),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        }


def _within_hard_limit(kind: int, value: int) -> int:
    """`value`, or the current hard limit of `kind` when that is lower (a sealed grading run sets one: see
    `labkit.course.seal`), since no process may raise its hard limit."""
    hard = resource.getrlimit(kind)[1]
    return value if hard == resource.RLIM_INFINITY else min(value, hard)


def _runtime_argv(spec: LaunchSpec, nproc: int | None) -> list[str]:
    """awslambdaric's command line; with nproc, it first lowers RLIMIT_NPROC to it, or to the hard limit
    already in force when lower (inside the user namespace).

    With ``AWS_LAMBDA_EXEC_WRAPPER`` set, the runtime starts through that script, as Lambda's
    bootstrap does (``exec "$AWS_LAMBDA_EXEC_WRAPPER" <runtime> ...``): a wrapper that is missing
    ends the runtime with exit status 127.
    """
    if nproc is None:
        argv = [sys.executable, "-S", "-B", "-m", "awslambdaric", spec.handler]
    else:
        bootstrap = (
            f"import resource, runpy, sys; hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]; "
            f"n = {nproc} if hard == resource.RLIM_INFINITY else min({nproc}, hard); "
            "resource.setrlimit(resource.RLIMIT_NPROC, (n, n)); "
            f"sys.path[0] = {bwrap.TASK_ROOT!r}; runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)"
        )
        argv = [sys.executable, "-S", "-B", "-c", bootstrap, spec.handler]
    if spec.lambda_env.get(EXEC_WRAPPER):
        return ["/bin/sh", "-c", f'exec "${EXEC_WRAPPER}" "$@"', "bootstrap", *argv]
    return argv


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
