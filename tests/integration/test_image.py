"""The docker backend's image: built (or reused) from sandbox/, cached by its recipe hash, runnable as Lambda runs it."""
from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.docker_support import TEST_LABEL, remove_test_containers, require_docker, unavailable

from labkit.errors import BackendUnavailableError
from labkit.runtime import image as image_mod
from labkit.runtime.image import build_image, image_ready, image_tag, recipe_hash

if TYPE_CHECKING:
    import docker

LABEL_VALUE = "test-image"
USER = "sbx_user1051"


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = require_docker()
    yield client
    remove_test_containers(client, LABEL_VALUE)


@pytest.fixture(scope="module")
def tag(client: docker.DockerClient) -> str:
    """Build the image, or reuse it when the recipes have not changed."""
    try:
        return build_image(progress=lambda line: print(line, flush=True))
    except BackendUnavailableError as exc:
        reason = f"the image cannot be built here: {exc}"
    unavailable(reason)


def run(client: docker.DockerClient, tag: str, command: list[str], task: Path, **options: object) -> tuple[int, str]:
    """Run a command in a container set up as the docker backend sets one up; return (exit code, output)."""
    container = client.containers.run(
        tag, command=command[1:], entrypoint=command[:1], detach=True, read_only=True, user=USER,
        volumes={str(task): {"bind": "/var/task", "mode": "ro"}}, tmpfs={"/tmp": "rw,size=64m,mode=1777"},
        labels={TEST_LABEL: LABEL_VALUE}, **options,
    )
    try:
        status = container.wait(timeout=60)
        return int(status["StatusCode"]), container.logs().decode()
    finally:
        container.remove(force=True)


def code_folder(tmp_path: Path, source: str) -> Path:
    task = tmp_path / "task"
    task.mkdir()
    (task / "app.py").write_text(textwrap.dedent(source))
    for path in (tmp_path, task, task / "app.py"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the sandbox's user
    return task


# -- with Docker ------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_image_is_tagged_and_labelled_by_its_recipe(client: docker.DockerClient, tag: str) -> None:
    digest = recipe_hash()
    assert tag == image_tag() == f"labkit/lambda-python:{digest[:12]}"
    image = client.images.get(tag)
    assert image.labels["labkit.recipe"] == digest
    assert image.labels["labkit"] == "sandbox"
    assert image.labels["labkit.flavor"] in ("offline", "official")
    assert re.fullmatch(r"3\.\d+", image.labels["labkit.python"])
    assert client.images.get("labkit/lambda-python:latest").id == image.id
    assert image_ready()


@pytest.mark.docker
@pytest.mark.slow
def test_second_build_is_instant(tag: str) -> None:
    lines: list[str] = []
    started = time.monotonic()
    assert build_image(progress=lines.append) == tag
    assert time.monotonic() - started < 5
    assert lines and "up to date" in lines[0]


@pytest.mark.docker
@pytest.mark.slow
def test_runtime_client_imports_read_only_as_non_root(client: docker.DockerClient, tag: str, tmp_path: Path) -> None:
    task = code_folder(tmp_path, "X = 1\n")
    script = textwrap.dedent(
        """
        import json, os, sys, tempfile, awslambdaric
        try:
            open("/root-is-writable", "w")
            writable = True
        except OSError:
            writable = False
        with tempfile.NamedTemporaryFile(dir="/tmp") as f:
            f.write(b"ok")
        print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "ric": awslambdaric.__file__,
                          "root_writable": writable, "cwd": os.getcwd(), "lang": os.environ.get("LANG")}))
        """
    )
    code, out = run(client, tag, ["/var/lang/bin/python3", "-c", script], task)
    assert code == 0, out
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts["uid"] == 993 and facts["gid"] == 990
    assert facts["ric"].startswith("/var/runtime/")
    assert facts["root_writable"] is False
    assert facts["cwd"] == "/var/task"
    assert facts["lang"] == "en_US.UTF-8"


@pytest.mark.docker
@pytest.mark.slow
def test_lambda_layout(client: docker.DockerClient, tag: str, tmp_path: Path) -> None:
    task = code_folder(tmp_path, "X = 1\n")
    checks = " && ".join(
        [
            "test -d /var/task -a -d /opt -a -d /var/runtime",
            "test -x /var/lang/bin/python3 -a -x /var/runtime/bootstrap -a -x /lambda-entrypoint.sh",
            "test -x /usr/local/bin/aws-lambda-rie",
            "test -f /var/task/app.py",
            "echo layout-ok",
        ]
    )
    code, out = run(client, tag, ["/bin/sh", "-c", checks], task)
    assert code == 0 and "layout-ok" in out, out


@pytest.mark.docker
@pytest.mark.slow
def test_emulator_in_the_image_invokes_a_handler_with_a_layer(
    client: docker.DockerClient, tag: str, tmp_path: Path
) -> None:
    task = code_folder(
        tmp_path,
        """
        import os, sys
        import greeting  # from the layer at /opt/python

        def handler(event, context):
            return {"hello": greeting.WHO, "event": event, "uid": os.getuid(), "path": sys.path[:3]}
        """,
    )
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "greeting.py").write_text("WHO = 'layer'\n")
    for path in (layer, layer / "python"):
        path.chmod(0o755)
    container = client.containers.run(
        tag, command=["app.handler"], detach=True, read_only=True, user=USER,
        volumes={str(task): {"bind": "/var/task", "mode": "ro"}, str(layer): {"bind": "/opt", "mode": "ro"}},
        tmpfs={"/tmp": "rw,size=64m,mode=1777"}, ports={"8080/tcp": ("127.0.0.1", None)},
        labels={TEST_LABEL: LABEL_VALUE},
    )
    try:
        container.reload()
        port = int(container.ports["8080/tcp"][0]["HostPort"])
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
        deadline = time.monotonic() + 20
        while True:
            try:
                request = urllib.request.Request(url, data=json.dumps({"n": 1}).encode(), method="POST")
                with urllib.request.urlopen(request, timeout=10) as response:
                    result = json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise AssertionError(container.logs().decode()) from None
                time.sleep(0.2)
    finally:
        container.stop(timeout=2)  # the log has every line once the container's output is closed
        container.wait(timeout=10)
        logs = container.logs().decode()
        container.remove(force=True)
    assert (result["hello"], result["event"], result["uid"]) == ("layer", {"n": 1}, 993), logs
    task_root, layer_packages, layer_root = result["path"]  # Lambda's order
    assert task_root == "/var/task" and layer_root == "/opt/python"
    assert re.fullmatch(r"/opt/python/lib/python3\.\d+/site-packages", layer_packages)
    assert "REPORT RequestId:" in logs


# -- without Docker: recipes and messages ----------------------------------------------------


def test_recipe_hash_follows_the_recipes_not_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "sandbox"
    shutil.copytree(image_mod.sandbox_dir(), copy)
    monkeypatch.setenv("LABKIT_SANDBOX_DIR", str(copy))
    first = image_tag()
    (copy / "README.md").write_text("changed\n")
    (copy / "limits.json").write_text("{}\n")
    assert image_tag() == first
    with open(copy / "rootfs.config", "a") as config:
        config.write("ENV EXTRA=1\n")
    assert image_tag() != first


def test_missing_recipes_say_where_they_were_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_SANDBOX_DIR", str(tmp_path))
    with pytest.raises(BackendUnavailableError, match="LABKIT_SANDBOX_DIR"):
        image_tag()
    assert not image_ready()


def test_no_daemon_is_named_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    assert not image_ready()
    with pytest.raises(BackendUnavailableError) as caught:
        build_image(progress=lambda line: None)
    message = str(caught.value)
    assert "not running" in message or "not installed" in message
    assert "dockerd" in message or "apt-get install docker.io" in message


def test_permission_problem_is_named_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = tmp_path / "docker.sock"
    sock.touch()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    message = image_mod._docker_problem(PermissionError(13, "Permission denied"))
    assert str(sock) in message and "docker group" in message


def test_offline_build_prerequisites_are_named_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the offline build is for Linux")
    monkeypatch.setattr(image_mod, "_debootstrap", lambda: None)
    with pytest.raises(BackendUnavailableError, match="apt-get install debootstrap"):
        image_mod._check_offline_prerequisites()
    monkeypatch.setattr(image_mod, "_debootstrap", lambda: "/usr/sbin/debootstrap")
    monkeypatch.setattr(image_mod.os, "geteuid", lambda: 1000)
    with pytest.raises(BackendUnavailableError, match="needs root.*sudo"):
        image_mod._check_offline_prerequisites()


@pytest.mark.docker
@pytest.mark.slow
def test_limits_profile_applies_as_docker_run_arguments(client: docker.DockerClient, tag: str, tmp_path: Path) -> None:
    limits = json.loads((image_mod.sandbox_dir() / "limits.json").read_text())
    task = code_folder(tmp_path, "X = 1\n")
    memory_mb = limits["memory"]["default_mb"]
    tmp_mb = limits["tmp"]["default_mb"]
    vcpus = min(memory_mb / limits["cpu"]["mb_per_vcpu"], limits["cpu"]["max_vcpus"])
    probe = (
        "ulimit -n; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
        "df -m /tmp | tail -n 1; id -u; /var/lang/bin/python3 -c 'import awslambdaric; print(\"ric-ok\")'"
    )
    container = client.containers.run(
        tag, command=["-c", probe], entrypoint=["/bin/sh"], detach=True,
        volumes={str(task): {"bind": "/var/task", "mode": "ro"}},
        tmpfs={"/tmp": f"{limits['tmp']['tmpfs_options']},size={tmp_mb}m"},
        mem_limit=f"{memory_mb}m", memswap_limit=f"{memory_mb}m", nano_cpus=round(vcpus * 1e9),
        labels={TEST_LABEL: LABEL_VALUE}, **limits["docker_run"],
    )
    try:
        assert container.wait(timeout=60)["StatusCode"] == 0, container.logs().decode()
        nofile, pids, tmp_line, uid, ric = container.logs().decode().split("\n")[:5]
    finally:
        container.remove(force=True)
    assert int(nofile) == limits["nofile"] == 1024
    assert int(pids) == limits["pids"] == 1024
    assert int(tmp_line.split()[1]) == tmp_mb
    assert int(uid) == limits["uid"] == 993
    assert ric == "ric-ok"


def test_limits_profile_agrees_with_the_runtime_limits() -> None:
    from labkit.runtime import limits as lambda_limits

    profile = json.loads((image_mod.sandbox_dir() / "limits.json").read_text())
    assert profile["pids"] == lambda_limits.PROCESSES_MAX
    assert profile["nofile"] == lambda_limits.FILE_DESCRIPTORS_MAX
    assert profile["cpu"]["mb_per_vcpu"] == lambda_limits.MB_PER_VCPU
    assert (profile["memory"]["min_mb"], profile["memory"]["max_mb"]) == (
        lambda_limits.MEMORY_MIN_MB, lambda_limits.MEMORY_MAX_MB)
    assert (profile["tmp"]["min_mb"], profile["tmp"]["max_mb"]) == (
        lambda_limits.EPHEMERAL_MIN_MB, lambda_limits.EPHEMERAL_MAX_MB)
    assert (profile["timeout_s"]["min"], profile["timeout_s"]["max"]) == (
        lambda_limits.TIMEOUT_MIN_S, lambda_limits.TIMEOUT_MAX_S)
    assert profile["init_max_s"] == lambda_limits.INIT_MAX_S
    assert profile["env_vars_max_bytes"] == lambda_limits.ENV_VARS_MAX_BYTES
    assert profile["layers_max"] == lambda_limits.LAYERS_MAX
