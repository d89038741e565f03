"""What only the container gives: read-only code and root, a sized private /tmp, an unprivileged
user, kernel-enforced limits, and clean-up of containers a killed labkit process left behind."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import labkit
from tests.conftest import require_docker_backend

CodeMaker = Callable[..., Path]

PROBE = """
import os, resource, errno
def _try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as exc:
        return errno.errorcode[exc.errno]
def handler(event, context):
    if event.get("fill_mb"):
        try:
            with open("/tmp/fill", "wb") as f:
                for _ in range(event["fill_mb"]):
                    f.write(b"\\0" * 1048576)
            return {"filled": True}
        except OSError as exc:
            return {"filled": False, "error": errno.errorcode[exc.errno]}
    return {
        "uid": os.getuid(),
        "task": _try_write("/var/task/new.txt"),
        "root": _try_write("/etc/new.txt"),
        "tmp": _try_write("/tmp/new.txt"),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "cwd": os.getcwd(),
    }
"""


@pytest.fixture(autouse=True)
def _docker() -> None:
    require_docker_backend()


def test_the_container_is_shaped_like_lambdas(make_code: CodeMaker) -> None:
    with labkit.Function("probe.handler", code=make_code(probe=PROBE), backend="docker") as fn:
        out = fn.invoke({}).result
    assert out["uid"] != 0, "the runtime must not run as root"
    assert out["task"] == "EROFS", "/var/task must be read-only"
    assert out["root"] == "EROFS", "the root file system must be read-only"
    assert out["tmp"] == "written" and out["cwd"] == "/var/task"
    assert out["nofile"] == [1024, 1024]


def test_tmp_is_limited_to_the_ephemeral_storage_size(make_code: CodeMaker) -> None:
    with labkit.Function(
        "probe.handler", code=make_code(probe=PROBE), backend="docker", memory_mb=1024, ephemeral_storage_mb=512
    ) as fn:
        assert fn.invoke({"fill_mb": 400}).result == {"filled": True}
    with labkit.Function(
        "probe.handler", code=make_code(probe=PROBE), backend="docker", memory_mb=1024, ephemeral_storage_mb=512
    ) as fn:
        assert fn.invoke({"fill_mb": 600}).result == {"filled": False, "error": "ENOSPC"}


def test_tmp_is_not_memory(make_code: CodeMaker) -> None:
    """On Lambda /tmp is storage: 300 MB fit at 128 MB of memory, and past its size a write fails with ENOSPC."""
    code = make_code(probe=PROBE)
    with labkit.Function(
        "probe.handler", code=code, backend="docker", memory_mb=128, ephemeral_storage_mb=512, timeout_s=60
    ) as fn:
        inv = fn.invoke({"fill_mb": 300})
        assert inv.error is None and inv.result == {"filled": True}
        assert inv.report.max_memory_mb < 100, "the function's memory does not count /tmp"
    with labkit.Function(
        "probe.handler", code=code, backend="docker", memory_mb=128, ephemeral_storage_mb=512, timeout_s=60
    ) as fn:
        inv = fn.invoke({"fill_mb": 600})
        assert inv.error is None, inv.error
        assert inv.result == {"filled": False, "error": "ENOSPC"}


def test_limits_are_set_on_the_container(make_code: CodeMaker) -> None:
    from labkit.runtime.backends.docker import DOCKER

    code = make_code(app="def handler(e, c):\n    return 1\n")
    with labkit.Function("app.handler", code=code, backend="docker", memory_mb=1769) as fn:
        fn.invoke({})
        (env,) = fn.environments
        (container,) = DOCKER.get().containers.list(filters={"label": f"labkit.environment={env.id}"})
        host = container.attrs["HostConfig"]
    assert host["Memory"] == (1769 + 512) * 1024 * 1024, "memory plus the /tmp tmpfs charged to it"
    assert host["MemorySwap"] == host["Memory"], "no swap"
    assert host["CpuQuota"] == host["CpuPeriod"] == 100_000, "1,769 MB is one vCPU"
    assert host["PidsLimit"] == 1024 and host["ReadonlyRootfs"]


def test_killing_labkit_mid_invoke_leaves_nothing_after_labkit_clean(make_code: CodeMaker, tmp_path: Path) -> None:
    from labkit.runtime.backends.docker import DOCKER, OWNER_LABEL

    code = make_code(app="import time\ndef handler(e, c):\n    time.sleep(30)\n")
    script = tmp_path / "parent.py"
    script.write_text(
        "import labkit, threading, time\n"
        f"fn = labkit.Function('app.handler', code={str(code)!r}, backend='docker', timeout_s=60)\n"
        "threading.Thread(target=fn.invoke, args=({},), daemon=True).start()\n"
        "while not fn.environments or not fn.environments[0].busy: time.sleep(0.05)\n"
        "time.sleep(1.0)\n"
        "print('invoking', flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "invoking"  # type: ignore[union-attr]
        mine = {"label": f"{OWNER_LABEL}={parent.pid}"}
        assert DOCKER.get().containers.list(all=True, filters=mine), "the invoke should be running in a container"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    done = subprocess.run([sys.executable, "-m", "labkit", "clean"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while DOCKER.get().containers.list(all=True, filters=mine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not DOCKER.get().containers.list(all=True, filters=mine)


def test_auto_picks_docker_and_says_so(make_code: CodeMaker, capsys: pytest.CaptureFixture[str]) -> None:
    code = make_code(app="def handler(e, c):\n    return 1\n")
    with labkit.Function("app.handler", code=code, backend="auto") as fn:
        assert fn.backend.name == "docker"
    assert "backend 'auto' -> docker" in capsys.readouterr().out
