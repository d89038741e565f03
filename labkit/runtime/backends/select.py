"""Choosing the container backend: is Docker usable here, and what to say when it is not."""
from __future__ import annotations

import os
import shutil

from labkit.errors import BackendUnavailableError
from labkit.runtime.backends.base import Backend


def docker_problem() -> str | None:
    """None when the docker backend can run; otherwise what is missing and how to fix it."""
    try:
        import docker
    except ImportError:
        return "the Docker SDK for Python is missing: pip install docker"
    if not shutil.which("docker") and not os.path.exists("/var/run/docker.sock") and not os.environ.get("DOCKER_HOST"):
        return "Docker is not installed: install Docker (e.g. apt-get install docker.io), start it, then labkit image build"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except docker.errors.DockerException as exc:
        text = str(exc)
        if "Permission denied" in text:
            return (
                "no permission on the Docker socket (/var/run/docker.sock): add yourself to the docker group "
                "(sudo usermod -aG docker $USER, then log in again)"
            )
        return "the Docker daemon is not running: start it (sudo systemctl start docker, or dockerd &)"
    from labkit.runtime.image import image_ready, image_tag

    if not image_ready():
        return f"the sandbox image {image_tag()} is not built: run labkit image build (or make image)"
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
