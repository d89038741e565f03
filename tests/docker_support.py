"""Docker for tests: a client when a daemon answers, else skip with the reason (fail under LABKIT_REQUIRE_DOCKER=1).

CI sets LABKIT_REQUIRE_DOCKER=1 after starting dockerd, so a broken Docker set-up fails the run
instead of silently skipping every container test.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    import docker

TEST_LABEL = "labkit"  # every container a test starts carries it, so nothing is left unnoticed


def docker_required() -> bool:
    return os.environ.get("LABKIT_REQUIRE_DOCKER") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the test, printing why, or fail it when LABKIT_REQUIRE_DOCKER=1."""
    if docker_required():
        pytest.fail(f"Docker is required here (LABKIT_REQUIRE_DOCKER=1) but {reason}", pytrace=False)
    print(f"skipping: {reason}", file=sys.stderr)
    pytest.skip(reason)


def require_docker() -> docker.DockerClient:
    """A client of a running Docker daemon, or skip/fail with what is wrong and how to fix it."""
    from labkit.errors import BackendUnavailableError
    from labkit.runtime.image import docker_client

    try:
        return docker_client()
    except BackendUnavailableError as exc:
        reason = str(exc)
    unavailable(reason)  # outside the handler: the report shows the reason, not a chained traceback


def remove_test_containers(client: docker.DockerClient, value: str) -> None:
    """Force-remove the containers labelled ``labkit=<value>``."""
    for container in client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={value}"}):
        container.remove(force=True)
