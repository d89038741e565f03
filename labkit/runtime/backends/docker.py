"""The `docker` backend: each execution environment is a container of the sandbox image.

Shaped like Lambda's: code read-only at /var/task, layers at /opt, a tmpfs /tmp of the ephemeral
size, no swap, a CPU share proportional to memory (1,769 MB = one vCPU), and the profile in
sandbox/limits.json (read-only root, unprivileged user, no capabilities, Lambda's pids and
open-files limits). The runtime's stdout and stderr reach labkit through a named pipe, so each
line is read before the response it precedes, exactly as with the process backend.

/tmp is not memory on Lambda, but a tmpfs's pages are charged to the container's memory cgroup.
So the kernel holds the container to memory + ephemeral size (the tmpfs ENOSPCs at its own
size), and the function's memory is its resident set (the cgroup's anonymous and mapped pages,
without the tmpfs), watched by the environment as with the process backend.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from labkit.runtime import limits
from labkit.runtime.backends.base import LaunchSpec
from labkit.runtime.scratch import ensure_owner_dir, pid_alive, stage_readable_copy

LABEL = "labkit"
OWNER_LABEL = "labkit.owner"
OUTPUT_PATH = "/run/labkit/output"


class _DockerClient:
    """One Docker SDK client for the process, created on first use."""

    def __init__(self) -> None:
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                import docker

                self._client = docker.from_env(timeout=60, max_pool_size=256)
            return self._client


DOCKER = _DockerClient()


def cpu_share(memory_mb: int) -> float:
    """vCPUs for a memory size, as on Lambda: 1,769 MB = 1 vCPU, capped at this host's cores."""
    return min(memory_mb / limits.MB_PER_VCPU, float(os.cpu_count() or 1))


class ContainerSandbox:
    """One runtime container: output through a FIFO, exit through a waiter thread, memory and processes from its cgroup."""

    def __init__(self, container: Any, output_fd: int, scratch: Path, vcpus: float) -> None:
        self._container = container
        self._vcpus = vcpus
        self._output_fd = output_fd
        self._scratch = scratch
        self._exit_read, self._exit_write = os.pipe()
        self._exit_code: int | None = None
        self._oom = False
        self._peak_mb = 0.0
        self._closed = False
        self._cgroup = _memory_cgroup(container.id)
        self._stat_fd = _open_or_none(self._cgroup / "memory.stat") if self._cgroup else None
        threading.Thread(target=self._wait, name=f"labkit-wait-{container.short_id}", daemon=True).start()

    @property
    def container_id(self) -> str:
        return str(self._container.id)

    @property
    def output_fd(self) -> int:
        return self._output_fd

    @property
    def exit_fd(self) -> int | None:
        return self._exit_read

    def exit_status(self) -> str | None:
        code = self._exit_code
        if code is None:
            return None
        if self._oom or code == 137:
            return "signal: killed"
        if code > 128:
            from labkit.runtime.backends.process import signal_word

            return f"signal: {signal_word(code - 128)}"
        return f"exit status {code}"

    def invoke_started(self) -> None:
        """Nothing to wake: the kernel holds the container's limits."""

    def init_done(self) -> None:
        """Apply the CPU share from the first invoke on.

        Lambda's INIT is not held to the share: python at 128 MB initialises in ~71 ms there
        (shared/FACTS.md, lambda-perf), where a strict 0.07 vCPU quota would take ~0.5 s.
        """
        period = 100_000
        DOCKER.get().api.update_container(self._container.id, cpu_period=period, cpu_quota=int(self._vcpus * period))

    def memory_now_mb(self) -> float:
        """The cgroup's resident pages (anonymous and mapped), not /tmp's."""
        now = _resident_bytes(self._stat_fd) / 1048576
        self._peak_mb = max(self._peak_mb, now)
        return now

    def memory_peak_mb(self) -> float:
        """The largest resident size seen: the sum of the processes' peaks (VmHWM) or a reading of the cgroup.

        Not the cgroup's own peak charge: that counts /tmp.
        """
        self._peak_mb = max(self._peak_mb, _resident_peak_mb(self._cgroup))
        return self._peak_mb

    def pids(self) -> set[int]:
        """Host pids of the container's processes: its cgroup's members (or `docker top` where the cgroup is unknown)."""
        if self._cgroup is not None:
            try:
                return {int(pid) for pid in (self._cgroup / "cgroup.procs").read_text().split()}
            except OSError:
                return set()
        try:
            top = self._container.top(ps_args="-o pid")
        except Exception:  # gone: no processes
            return set()
        return {int(row[0]) for row in top.get("Processes") or []}

    def oom_killed(self) -> bool:
        return self._oom

    def kill_for_memory(self) -> None:
        self._oom = True
        self.kill()

    def kill(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.memory_peak_mb()
        try:
            self._container.remove(force=True)
        except Exception:  # already gone: nothing to remove
            pass
        stat_fd, self._stat_fd = self._stat_fd, None  # no later reading of a reused fd number
        for fd in (self._output_fd, self._exit_read, self._exit_write, stat_fd):
            if fd is None:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _wait(self) -> None:
        try:
            result = self._container.wait()
            code = int(result.get("StatusCode", -1))
            if code != 0:
                self._container.reload()
                self._oom = self._oom or bool(self._container.attrs["State"].get("OOMKilled"))
        except Exception:  # removed while waiting: it was killed
            code = 137
        self._exit_code = code
        try:
            os.write(self._exit_write, b"x")
        except OSError:
            pass


class DockerBackend:
    """Runs each execution environment in a container of the sandbox image."""

    name = "docker"
    runtime_api_bind_host = "127.0.0.1"
    enforces_memory = False  # the kernel's limit includes /tmp: the environment watches the resident set

    def __init__(self) -> None:
        from labkit.runtime.image import image_tag, sandbox_dir

        self.image = image_tag()
        self.python_version = _image_python(self.image)
        self._profile: dict[str, Any] = json.loads((sandbox_dir() / "limits.json").read_text())

    def launch(self, spec: LaunchSpec) -> ContainerSandbox:
        from docker.types import Ulimit

        scratch = ensure_owner_dir() / spec.env_id
        scratch.mkdir(mode=0o755)
        fifo = scratch / "output"
        os.mkfifo(fifo, 0o666)
        fifo.chmod(0o666)
        output_fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # our own writer end: no EOF before the runtime opens it
        volumes = {str(stage_readable_copy((spec.code_dir,), "task")): {"bind": "/var/task", "mode": "ro"},
                   str(fifo): {"bind": OUTPUT_PATH, "mode": "rw"}}
        if spec.layers:
            volumes[str(stage_readable_copy(spec.layers, "opt"))] = {"bind": "/opt", "mode": "ro"}
        # The image's own entrypoint (Lambda's sys.path, then awslambdaric) with its output into the FIFO;
        # sh stays PID 1 so the runtime gets ordinary signal handling.
        entrypoint = ["/bin/sh", "-c", f'/lambda-entrypoint.sh "$0" >{OUTPUT_PATH} 2>&1']
        env = {**spec.lambda_env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{spec.runtime_api_port}"}
        run_options = {**self._profile["docker_run"]}
        run_options["ulimits"] = [Ulimit(**limit) for limit in run_options.get("ulimits", [])]
        try:
            container = DOCKER.get().containers.run(
                self.image,
                entrypoint=entrypoint,
                command=[spec.handler],
                detach=True,
                environment=env,
                tmpfs={"/tmp": f"{self._profile['tmp']['tmpfs_options']},size={spec.ephemeral_storage_mb}m"},
                volumes=volumes,
                mem_limit=f"{spec.memory_mb + spec.ephemeral_storage_mb}m",  # /tmp's pages are charged here too
                memswap_limit=f"{spec.memory_mb + spec.ephemeral_storage_mb}m",
                network_mode="host",
                **run_options,
                labels={LABEL: "1", OWNER_LABEL: str(os.getpid()), "labkit.environment": spec.env_id},
                name=f"labkit-{spec.lambda_env['AWS_LAMBDA_FUNCTION_NAME']}-{spec.env_id}",
            )
        except Exception:
            os.close(output_fd)
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return ContainerSandbox(container, output_fd, scratch, cpu_share(spec.memory_mb))


def remove_orphan_containers(all_owners: bool = False) -> int:
    """Remove labkit's containers whose labkit process is gone (or every one with all_owners)."""
    try:
        client = DOCKER.get()
        client.ping()
    except Exception:
        return 0
    removed = 0
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        owner = container.labels.get(OWNER_LABEL, "")
        if not all_owners and owner.isdigit() and pid_alive(int(owner)):
            continue
        try:
            container.remove(force=True)
            removed += 1
        except Exception:
            continue
    return removed


def _image_python(tag: str) -> str:
    try:
        labels = DOCKER.get().images.get(tag).labels or {}
    except Exception:
        labels = {}
    return str(labels.get("labkit.python", "3.11"))


def _memory_cgroup(container_id: str) -> Path | None:
    """The container's memory cgroup folder on the host (cgroup v1 or v2, cgroupfs or systemd driver)."""
    for candidate in (
        f"/sys/fs/cgroup/memory/docker/{container_id}",
        f"/sys/fs/cgroup/memory/system.slice/docker-{container_id}.scope",
        f"/sys/fs/cgroup/docker/{container_id}",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope",
    ):
        if os.path.isdir(candidate):
            return Path(candidate)
    return None


def _resident_peak_mb(folder: Path | None) -> float:
    """Sum of VmHWM over the cgroup's processes."""
    if folder is None:
        return 0.0
    total_kib = 0
    try:
        pids = (folder / "cgroup.procs").read_text().split()
    except OSError:
        return 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_bytes()
        except OSError:
            continue
        at = status.find(b"VmHWM:")
        if at >= 0:
            total_kib += int(status[at + 6 :].split(None, 1)[0])
    return total_kib / 1024


def _open_or_none(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


_RESIDENT_KEYS = (b"rss", b"mapped_file", b"anon", b"file_mapped")  # cgroup v1, then v2


def _resident_bytes(stat_fd: int | None) -> float:
    """Anonymous plus mapped bytes from a kept-open memory.stat (~13 us a reading: no open)."""
    if stat_fd is None:
        return 0.0
    try:
        data = os.pread(stat_fd, 16384, 0)
    except OSError:
        return 0.0
    total = 0.0
    for line in data.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key in _RESIDENT_KEYS:
            total += float(value)
    return total
