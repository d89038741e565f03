"""The contract between an execution environment and the backend that hosts its runtime."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class LaunchSpec:
    """What a backend needs to start one execution environment's runtime."""

    env_id: str
    handler: str
    code_dir: Path
    layers: tuple[Path, ...]
    lambda_env: dict[str, str]  # Lambda's variables and the user's, without backend-specific paths
    runtime_api_port: int
    memory_mb: int
    ephemeral_storage_mb: int


class Sandbox(Protocol):
    """A running runtime: its merged stdout/stderr, its exit, its processes, its memory."""

    @property
    def output_fd(self) -> int:
        """Non-blocking readable fd carrying the runtime's stdout and stderr."""

    @property
    def exit_fd(self) -> int | None:
        """An fd that becomes readable when the sandbox exits, or None (then poll `exit_status`)."""

    def exit_status(self) -> str | None:
        """None while running, else Lambda's wording: 'exit status 3' or 'signal: killed'."""

    def pids(self) -> set[int]:
        """Host pids of every process of the environment: only they may connect to its Runtime API."""

    def init_done(self) -> None:
        """The runtime finished INIT and asks for work: apply what holds only from the first invoke on."""

    def invoke_started(self) -> None:
        """An event is handed to the runtime now (a watch that idles may wake up)."""

    def memory_now_mb(self) -> float:
        """Resident memory now."""

    def memory_peak_mb(self) -> float:
        """Peak resident memory since start: Lambda's Max Memory Used."""

    def oom_killed(self) -> bool:
        """True when the kernel or the backend ended it for going past its memory."""

    def kill_for_memory(self) -> None:
        """End it because it went past its memory size (then `oom_killed()` is True)."""

    def kill(self) -> None:
        """End it now (idempotent); wait for it to be gone."""


class Backend(Protocol):
    """Starts sandboxes."""

    name: str
    python_version: str  # of the runtime inside, e.g. "3.11" (AWS_EXECUTION_ENV)
    runtime_api_bind_host: str
    enforces_memory: bool  # True when the kernel enforces the memory limit (no polling needed)

    def launch(self, spec: LaunchSpec) -> Sandbox:
        """Start the runtime for spec; return at once (init happens in the sandbox)."""
