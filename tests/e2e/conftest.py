"""The course in a real browser: JupyterLab started by `labkit lab`, headless Chromium driven by Playwright.

Fixtures:
- `lab`: `labkit lab` on a free port with a known token, serving a throw-away copy of the course
  (notebooks/ copied, so the repository stays clean), with its own learner home, Jupyter settings
  and workspaces; stopped at the end, and every process it started is checked to be gone.
- `page`: a fresh browser page, a screenshot `failure-<test>.png` kept when the test fails.
- `artifacts`: where screenshots and the lab's log go: `$LABKIT_ARTIFACTS`, default tests/e2e/artifacts/.

Without Playwright or Chromium the tests skip and say why; under CI (`CI=true`) they fail instead.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import psutil
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 90
SHUTDOWN_TIMEOUT_S = 30
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
# Jupyter user settings for the test's lab: every cell rendered (not only those in view), so
# screenshots show what was scrolled to; no news or update notifications over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def unavailable(reason: str) -> NoReturn:
    """Skip, printing why; under CI (`CI=true`) fail instead, so a broken set-up is never hidden."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the browser test must run in CI (CI=true) but {reason}", pytrace=False)
    print(f"skipping: {reason}", file=sys.stderr)
    pytest.skip(reason)


def chromium_path() -> str | None:
    """The system Chromium: `$LABKIT_CHROMIUM`, else `chromium` (Debian) or `chromium-browser` on PATH."""
    configured = os.environ.get("LABKIT_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("LABKIT_ARTIFACTS") or ROOT / "tests" / "e2e" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed: pip install -e '.[test]'")
    executable = chromium_path()
    if executable is None:
        unavailable("no Chromium found: apt-get install -y chromium (or set LABKIT_CHROMIUM to its path)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the test item, so `page` can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    try:
        yield opened
        call = getattr(request.node, "report_call", None)
        if call is not None and call.failed:
            opened.screenshot(path=str(artifacts / f"failure-{request.node.name}.png"), full_page=True)
    finally:
        context.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def course_copy(target: Path) -> Path:
    """A course folder `labkit lab` recognises: pyproject.toml, labkit/ (linked) and a copy of notebooks/."""
    target.mkdir(parents=True)
    shutil.copy2(ROOT / "pyproject.toml", target / "pyproject.toml")
    (target / "labkit").symlink_to(ROOT / "labkit", target_is_directory=True)
    shutil.copytree(ROOT / "notebooks", target / "notebooks")
    return target


def write_lab_settings(folder: Path) -> Path:
    for name, values in LAB_SETTINGS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its address, token, the notebooks it serves and its learner home."""

    url: str
    token: str
    notebooks: Path
    home: Path

    def open_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"


def wait_until_serving(process: subprocess.Popen[bytes], url: str, token: str, log: Path) -> None:
    """Poll the server's status API until it answers; fail with the log's tail if it exits or never does."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"labkit lab exited with code {process.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)  # polling a server that is starting, not waiting for a guessed duration
    pytest.fail(f"labkit lab did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}", pytrace=False)


def stop(process: subprocess.Popen[bytes]) -> list[str]:
    """Stop `labkit lab` as Ctrl+C in its terminal would end it, then make sure its process tree is gone.

    Returns what had to be killed because it outlived the server (kernels, runtimes): a leak.
    """
    tree = [psutil.Process(process.pid)]
    try:
        tree += tree[0].children(recursive=True)
    except psutil.NoSuchProcess:
        pass
    os.killpg(process.pid, signal.SIGTERM)  # labkit and JupyterLab; JupyterLab shuts its kernels down
    process.wait(timeout=SHUTDOWN_TIMEOUT_S)
    _, alive = psutil.wait_procs(tree, timeout=SHUTDOWN_TIMEOUT_S)
    leaked = []
    for survivor in alive:
        try:
            leaked.append(" ".join(survivor.cmdline()))
            survivor.kill()
        except psutil.NoSuchProcess:
            pass
    return leaked


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[Lab]:
    """`labkit lab --no-browser` on a free port, as `make lab` runs it, serving a copy of the course."""
    base = tmp_path_factory.mktemp("lab")
    course = course_copy(base / "course")
    home = base / "home"
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_TOKEN": token,
        "LABKIT_HOME": str(home),
        "JUPYTERLAB_SETTINGS_DIR": str(write_lab_settings(base / "lab-settings")),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
    }
    env.pop("LABKIT_WORK", None)
    log = artifacts / "lab.log"
    command = [sys.executable, "-m", "labkit", "lab", "--port", str(port), "--no-browser"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=course, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    leaked: list[str] = []
    try:
        wait_until_serving(process, url, token, log)
        yield Lab(url=url, token=token, notebooks=course / "notebooks", home=home)
    finally:
        leaked = stop(process)
    assert not leaked, f"processes outlived labkit lab (killed now): {leaked}"
