"""Where an execution environment's runtime runs: a child process or a Docker container."""
from __future__ import annotations

from labkit.runtime.backends.base import Backend, LaunchSpec, Sandbox

__all__ = ["Backend", "LaunchSpec", "Sandbox", "get_backend"]


def get_backend(name: str) -> Backend:
    """The backend called name: 'process', 'docker' or 'auto' (docker when ready, else process)."""
    if name == "process":
        from labkit.runtime.backends.process import ProcessBackend

        return ProcessBackend()
    if name in ("docker", "auto"):
        from labkit.runtime.backends.select import choose_container_backend

        return choose_container_backend(required=name == "docker")
    from labkit.errors import ConfigurationError

    raise ConfigurationError(f"backend {name!r} is unknown: use 'process', 'docker' or 'auto'")
