"""The benchmark peers: percentile and warm-latency helpers, the RIE binary cache, the RIE for real on the host and in the sandbox image."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import peers  # noqa: E402
from bench.peers import RiePeer, RieUnavailableError, percentile, rie_arch, warm_latencies  # noqa: E402
from tests.docker_support import unavailable  # noqa: E402

# ---------------------------------------------------------------------------- helpers


def test_percentile_interpolates_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 25) == pytest.approx(1.75)
    assert percentile(range(1, 101), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_empty_input_and_out_of_range_p() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    for p in (-1, 101, float("nan")):
        with pytest.raises(ValueError, match="0..100"):
            percentile([1.0], p)


def test_warm_latencies_runs_warmup_untimed_then_times_each_call() -> None:
    calls: list[int] = []
    samples = warm_latencies(lambda: calls.append(1), n=50, warmup=7)
    assert len(calls) == 57
    assert len(samples) == 50
    assert all(0 <= s < 1 for s in samples)
    assert warm_latencies(lambda: None, n=0, warmup=0) == []
    with pytest.raises(ValueError):
        warm_latencies(lambda: None, n=-1, warmup=0)


def test_arch_names_follow_the_wheel() -> None:
    assert rie_arch("x86_64") == rie_arch("AMD64") == "x86_64"
    assert rie_arch("aarch64") == rie_arch("arm64") == "arm64"
    with pytest.raises(RieUnavailableError, match="x86_64 and arm64"):
        rie_arch("riscv64")


# ---------------------------------------------------------------------------- the binary cache


def _fake_wheel(folder: Path) -> Path:
    wheel = folder / "aws_sam_cli-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for arch in ("x86_64", "arm64"):
            zf.writestr(f"samcli/local/rapid/aws-lambda-rie-{arch}", f"#!/bin/sh\necho {arch}\n")
        zf.writestr("samcli/__init__.py", "")
    return wheel


def test_binary_is_extracted_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(peers.BINARY_ENV, raising=False)
    downloads: list[str] = []

    def fake_download(spec: str, dest: Path) -> Path:
        downloads.append(spec)
        return _fake_wheel(dest)

    monkeypatch.setattr(peers, "_download_wheel", fake_download)
    first = peers.rie_binary(cache_dir=tmp_path, spec="aws-sam-cli==0.0.0")
    second = peers.rie_binary(cache_dir=tmp_path, spec="aws-sam-cli==0.0.0")
    assert first == second == tmp_path / "0.0.0" / f"aws-lambda-rie-{rie_arch()}"
    assert downloads == ["aws-sam-cli==0.0.0"]
    assert os.access(first, os.X_OK)
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # only the binary is kept


def test_pip_failure_raises_an_error_that_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(peers.BINARY_ENV, raising=False)

    class Failed:
        returncode = 1
        stdout = ""
        stderr = "ERROR: Could not find a version that satisfies the requirement aws-sam-cli"

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(RuntimeError) as caught:
        peers.rie_binary(cache_dir=tmp_path)
    assert isinstance(caught.value, RieUnavailableError)
    message = str(caught.value)
    assert "Could not find a version" in message and "Fix:" in message and peers.BINARY_ENV in message


def test_binary_override_must_be_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "rie"
    plain.write_text("")
    monkeypatch.setenv(peers.BINARY_ENV, str(plain))
    with pytest.raises(RieUnavailableError, match="not an executable"):
        peers.rie_binary()
    plain.chmod(0o755)
    assert peers.rie_binary() == plain


# ---------------------------------------------------------------------------- the RIE for real


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_rie_invokes_a_handler_and_leaves_nothing_running(tmp_path: Path) -> None:
    try:
        peers.rie_binary()
    except RieUnavailableError as exc:
        print(f"skipping: {exc}")
        pytest.skip(f"RIE not available: {exc}")
    (tmp_path / "app.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    print('hello from the handler')\n"
        "    return {'echo': event, 'name': context.function_name, 'api': os.environ['AWS_LAMBDA_RUNTIME_API']}\n"
    )
    with RiePeer(handler="app.handler", code_dir=tmp_path) as rie:
        rie.start()
        assert rie.pid is not None
        body, seconds = rie.invoke({"n": 1})
        assert json.loads(body) == {"echo": {"n": 1}, "name": "test_function", "api": f"127.0.0.1:{rie.runtime_api_port}"}
        assert rie.last_status == 200 and seconds > 0
        conn = rie._conn
        samples = warm_latencies(lambda: rie.invoke({"n": 2}), n=20, warmup=2)
        assert rie._conn is conn  # one kept-alive connection for every invoke
        assert len(samples) == 20
        family = [rie.pid, *peers._descendants(rie.pid)]
        log_file = rie.log_path()
        assert log_file is not None and log_file.exists()
        assert len(family) >= 2  # the emulator and the runtime it started on the first invoke
    assert not any(_alive(pid) for pid in family)
    assert not log_file.exists()
    log = rie.log_text()
    assert "hello from the handler" in log
    assert log.count("START RequestId: ") == log.count("END RequestId: ") == log.count("REPORT RequestId: ") == 23
    assert "INIT REPORT(durationMs: " in log

    cold_peer = RiePeer(handler="app.handler", code_dir=tmp_path)
    cold = cold_peer.cold_start()
    assert 0 < cold.ready_seconds < cold.total_seconds < 10
    assert cold.init_report_ms is not None and cold.init_report_ms > 0
    assert not cold_peer.running


# ---------------------------------------------------------------------------- the RIE in the sandbox image

_CONTAINER_HANDLER = (
    "import os\n"
    "def handler(event, context):\n"
    "    print('hello from the container')\n"
    "    try:\n"
    "        open('/var/task/x', 'w')\n"
    "        task_writable = True\n"
    "    except OSError:\n"
    "        task_writable = False\n"
    "    return {'echo': event, 'uid': os.getuid(), 'cwd': os.getcwd(), 'task_writable': task_writable,\n"
    "            'memory': os.environ['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'], 'api': os.environ['AWS_LAMBDA_RUNTIME_API']}\n"
)
#: Container settings that must match labkit's docker backend for the same memory size.
_HOST_CONFIG = ("Memory", "MemorySwap", "PidsLimit", "Ulimits", "ReadonlyRootfs", "NetworkMode", "Tmpfs",
                "CapDrop", "SecurityOpt", "ExtraHosts")


def _settings(container: Any) -> dict[str, object]:
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    vcpus = host["NanoCpus"] / 1e9 if host["NanoCpus"] else host["CpuQuota"] / host["CpuPeriod"]
    return {"User": config["User"], "WorkingDir": config["WorkingDir"], "vcpus": round(vcpus, 4),
            **{k: host[k] for k in _HOST_CONFIG}}


def _docker_or_skip() -> Any:
    """A Docker client with the sandbox image present, or a skip that prints why (a failure under LABKIT_REQUIRE_DOCKER=1)."""
    try:
        from labkit.runtime.backends.docker import DOCKER
        from labkit.runtime.image import image_tag

        client = DOCKER.get()
        client.ping()
        client.images.get(image_tag())
        return client
    except Exception as exc:  # no SDK, no daemon, no image
        reason = (f"Docker or the sandbox image is unavailable ({type(exc).__name__}: {exc}); "
                  "start the Docker daemon, then run: labkit image build")
    unavailable(reason)


def _labkit_settings(client: Any, code: Path, memory_mb: int) -> dict[str, object]:
    import labkit

    with labkit.Function("app.handler", code=code, memory_mb=memory_mb, backend="docker") as fn:
        assert fn.invoke({}).error is None
        [container] = client.containers.list(filters={"label": [f"labkit.owner={os.getpid()}", "labkit.environment"]})
        return _settings(container)


def test_rie_container_peer_runs_like_labkits_docker_backend_and_leaves_no_container(tmp_path: Path) -> None:
    from bench.peers import RieContainerPeer

    client = _docker_or_skip()
    (tmp_path / "app.py").write_text(_CONTAINER_HANDLER)
    memory_mb = 512
    with RieContainerPeer(handler="app.handler", code_dir=tmp_path, memory_mb=memory_mb) as rie:
        rie.start()
        container_id = rie.container_id
        assert container_id is not None
        body, seconds = rie.invoke({"n": 1})
        assert rie.last_status == 200 and seconds > 0
        assert json.loads(body) == {
            "echo": {"n": 1}, "uid": 993, "cwd": "/var/task", "task_writable": False,
            "memory": str(memory_mb), "api": f"127.0.0.1:{rie.runtime_api_port}",
        }
        samples = warm_latencies(lambda: rie.invoke({"n": 2}), n=20, warmup=2)
        assert len(samples) == 20
        container = client.containers.get(container_id)
        assert container.labels["labkit"] == "1"
        assert container.attrs["Config"]["Entrypoint"] == ["/usr/local/bin/aws-lambda-rie"]
        ours = _settings(container)
    assert not client.containers.list(all=True, filters={"id": container_id})
    log = rie.log_text()
    assert "hello from the container" in log and log.count("REPORT RequestId: ") == 23

    assert ours == _labkit_settings(client, tmp_path, memory_mb)

    cold_peer = RieContainerPeer(handler="app.handler", code_dir=tmp_path, memory_mb=memory_mb)
    cold = cold_peer.cold_start()
    assert 0 < cold.ready_seconds < cold.total_seconds < 30
    assert cold.init_report_ms is not None and cold.init_report_ms > 0
    assert not cold_peer.running
    mine = {"label": [f"{RieContainerPeer.PEER_LABEL}=rie", f"labkit.owner={os.getpid()}"]}
    assert not client.containers.list(all=True, filters=mine)
