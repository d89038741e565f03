"""Choosing the container backend: is Docker usable here, and what to say when it is not."""
from __future__ import annotations

from labkit.errors import BackendUnavailableError
from labkit.runtime.backends.base import Backend


def docker_problem() -> str | None:
    """None when the docker backend can run; otherwise what is missing and how to fix it."""
    problem = _daemon_problem()
    if problem is not None:
        return problem
    from labkit.runtime import image

    if not image.image_ready():
        return f"the sandbox image {image.image_tag()} is not built: run labkit image build (or make image)"
    return None


def _daemon_problem() -> str | None:
    from labkit.runtime.image import docker_client

    try:
        docker_client(timeout=5)
    except BackendUnavailableError as exc:
        return str(exc)
    return None


def docker_status() -> tuple[bool, str]:
    problem = docker_problem()
    if problem is None:
        from labkit.runtime.image import image_tag

        return True, f"ready (image {image_tag()})"
    return False, problem


def choose_container_backend(required: bool) -> Backend:
    """The docker backend; with required=False ('auto') fall back to process, saying which and why."""
    problem = docker_problem()
    if problem is None:
        from labkit.runtime.backends.docker import DockerBackend

        if not required:
            print("labkit: backend 'auto' -> docker (daemon running, image built)")
        return DockerBackend()
    if required:
        raise BackendUnavailableError(f"backend 'docker' cannot run: {problem}")
    from labkit.runtime.backends.process import ProcessBackend

    print(f"labkit: backend 'auto' -> process ({problem})")
    return ProcessBackend()
