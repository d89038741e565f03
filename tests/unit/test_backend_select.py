"""Choosing a backend: clear errors when Docker can't run, and 'auto' falls back to process saying why."""
from __future__ import annotations

from pathlib import Path

import pytest

import labkit
from labkit.errors import BackendUnavailableError, ConfigurationError


@pytest.fixture
def no_daemon(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")


def test_docker_backend_without_a_daemon_says_how_to_start_it(no_daemon: None, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="Docker daemon is not running .*: start it"):
        labkit.Function("app.handler", code=tmp_path, backend="docker")


def test_auto_falls_back_to_process_and_says_why(
    no_daemon: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with labkit.Function("app.handler", code=tmp_path, backend="auto") as fn:
        assert fn.backend.name == "process"
    assert "backend 'auto' -> process (the Docker daemon is not running" in capsys.readouterr().out


def test_an_unknown_backend_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'process', 'docker' or 'auto'"):
        labkit.Function("app.handler", code=tmp_path, backend="lambda")


def test_a_missing_image_names_the_command_that_builds_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from labkit.runtime import image
    from labkit.runtime.backends import select

    monkeypatch.setattr(select, "_daemon_problem", lambda: None)
    monkeypatch.setattr(image, "image_ready", lambda: False)
    with pytest.raises(BackendUnavailableError, match="is not built: run labkit image build"):
        labkit.Function("app.handler", code=tmp_path, backend="docker")
