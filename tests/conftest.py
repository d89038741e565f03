"""Shared fixtures: handler folders, the backends to run the conformance suite on, leak checks."""
from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.docker_support import unavailable


@pytest.fixture(scope="session", autouse=True)
def sandboxes_share_pytests_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Bind pytest's temporary folders into process-backend sandboxes: tests read back the ledgers handlers write there."""
    from labkit.runtime.backends.bwrap import SHARE_VARIABLE

    os.environ[SHARE_VARIABLE] = str(tmp_path_factory.getbasetemp())
    yield
    os.environ.pop(SHARE_VARIABLE, None)

def docker_backend_status() -> tuple[bool, str]:
    try:
        from labkit.runtime.backends.select import docker_status
    except ImportError as exc:
        return False, f"docker backend not importable: {exc}"
    return docker_status()


def require_docker_backend() -> None:
    """Skip (printing why) unless the docker backend can run; fail instead when LABKIT_REQUIRE_DOCKER=1."""
    ready, detail = docker_backend_status()
    if not ready:
        unavailable(f"the docker backend cannot run: {detail}")


@pytest.fixture(params=["process", "docker"])
def backend(request: pytest.FixtureRequest) -> str:
    """The conformance suite runs on every backend."""
    if request.param == "docker":
        require_docker_backend()
    return request.param


@pytest.fixture
def make_code(tmp_path: Path) -> Callable[..., Path]:
    """Write handler files into a fresh code folder: make_code(app="def handler(e, c): ...")."""

    def write(folder: str = "code", **files: str) -> Path:
        root = tmp_path / folder
        root.mkdir(parents=True, exist_ok=True)
        for name, source in files.items():
            path = root / (name.replace("__", "/") + ".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return root

    return write


def runtime_processes() -> list[str]:
    """awslambdaric processes started by this test process."""
    out = subprocess.run(["pgrep", "-f", "-a", "awslambdaric"], capture_output=True, text=True).stdout
    marker = f"labkit-runtime-{os.getpid()}"
    found = []
    for line in out.splitlines():
        pid = line.split()[0]
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if marker in environ:
            found.append(line)
    return found


@pytest.fixture(scope="session", autouse=True)
def no_leaked_runtimes() -> Iterator[None]:
    """The suite leaves no runtime process behind once its functions are closed."""
    yield
    import gc

    gc.collect()
    leaked = runtime_processes()
    assert not leaked, f"runtime processes still running after the tests: {leaked}"
