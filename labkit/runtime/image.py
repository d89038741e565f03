"""The docker backend's image: building it from the recipes in sandbox/, and telling whether it is there.

Two recipes, one interface. With a container registry in reach, sandbox/Dockerfile builds on
AWS's official `public.ecr.aws/lambda/python` base. Without one (the normal case here),
sandbox/rootfs.sh builds a Debian root file system laid out like it (python3, awslambdaric and
boto3 in /var/runtime, the Runtime Interface Emulator, user sbx_user1051) and `docker import`
turns it into an image with the settings in sandbox/rootfs.config.

The image is tagged ``labkit/lambda-python:<hash12>`` and labelled ``labkit.recipe=<hash>``,
the SHA-256 of the recipe files, so a second build with unchanged recipes is instant. Set
``LABKIT_IMAGE_RECIPE`` to ``online`` or ``offline`` to choose the recipe (default ``auto``) and
``LABKIT_SANDBOX_DIR`` to use recipes outside the source tree.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.errors import BackendUnavailableError

if TYPE_CHECKING:
    import docker

REPOSITORY = "labkit/lambda-python"
RECIPE_LABEL = "labkit.recipe"
FLAVOR_LABEL = "labkit.flavor"
PYTHON_LABEL = "labkit.python"  # the image's Python version, X.Y
OWNER_LABEL = "labkit"  # containers inherit image labels, so `labkit clean` can find them all
REGISTRY = ("public.ecr.aws", 443)
NOT_HASHED = frozenset({"README.md", "limits.json"})  # they do not change the image

Progress = Callable[[str], None]


# -- recipes and tags -----------------------------------------------------------------------


def sandbox_dir() -> Path:
    """The folder holding the recipes: ``$LABKIT_SANDBOX_DIR``, else ``sandbox/`` of the source tree."""
    configured = os.environ.get("LABKIT_SANDBOX_DIR")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "sandbox"
    if not (folder / "rootfs.sh").is_file():
        raise BackendUnavailableError(
            f"the image recipes are not at {folder}: run labkit from its source tree "
            "(pip install -e .), or set LABKIT_SANDBOX_DIR to the folder holding sandbox/rootfs.sh"
        )
    return folder


def _recipe_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.name not in NOT_HASHED and "__pycache__" not in path.parts
    )


def recipe_hash() -> str:
    """SHA-256 over the recipe files' names, modes and contents."""
    folder = sandbox_dir()
    digest = hashlib.sha256()
    for path in _recipe_files(folder):
        executable = os.access(path, os.X_OK)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{int(executable)}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def image_tag() -> str:
    """The tag the current recipes build: ``labkit/lambda-python:<first 12 hex digits of the hash>``."""
    return f"{REPOSITORY}:{recipe_hash()[:12]}"


# -- Docker ---------------------------------------------------------------------------------


def _docker_problem(exc: BaseException) -> str:
    """Turn a failed connection into a message naming the problem and the fix."""
    text = f"{exc} {exc.__cause__ or ''} {exc.__context__ or ''}"
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        return (
            f"cannot reach the Docker daemon at DOCKER_HOST={host} ({exc}): "
            "check that setting and that the daemon runs"
        )
    sock = host[len("unix://"):] if host else "/var/run/docker.sock"
    installed = any(shutil.which(name) or Path("/usr/sbin", name).exists() for name in ("docker", "dockerd"))
    if not os.path.exists(sock):
        if not installed:
            return (
                "Docker is not installed: install it (Debian/Ubuntu: `sudo apt-get install docker.io`; "
                "macOS/Windows: Docker Desktop), start it, then run `labkit image build`"
            )
        return (
            f"the Docker daemon is not running (no socket at {sock}): start it with "
            "`sudo systemctl start docker`, or `sudo dockerd > /tmp/dockerd.log 2>&1 &` where there is no systemd"
        )
    if "Permission denied" in text or not os.access(sock, os.R_OK | os.W_OK):
        return (
            f"no permission on {sock}: add yourself to the docker group "
            "(`sudo usermod -aG docker $USER`, then log out and in again), or run as root"
        )
    if "Connection refused" in text:
        return (
            f"the Docker daemon is not running ({sock} refuses connections): start it with "
            "`sudo systemctl start docker`, or `sudo dockerd > /tmp/dockerd.log 2>&1 &` where there is no systemd"
        )
    return f"cannot talk to the Docker daemon at {sock}: {exc}"


def docker_client(timeout: int = 60) -> docker.DockerClient:
    """A connected Docker client, or `BackendUnavailableError` saying what is wrong and what to do."""
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BackendUnavailableError("the Python package `docker` is missing: pip install docker") from exc
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # docker wraps every transport error differently
        raise BackendUnavailableError(_docker_problem(exc)) from exc
    return client


def _image_labels(client: docker.DockerClient, ref: str) -> dict[str, str] | None:
    import docker.errors

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    return dict(image.labels or {})


def image_ready() -> bool:
    """Docker is reachable and the image of the current recipes is present. Never raises."""
    try:
        client = docker_client(timeout=10)
        labels = _image_labels(client, image_tag())
    except Exception:  # noqa: BLE001 - any problem means "not ready"
        return False
    return labels is not None and labels.get(RECIPE_LABEL) == recipe_hash()


# -- building -------------------------------------------------------------------------------


def build_image(force: bool = False, progress: Progress = print) -> str:
    """Build the docker backend's image unless it is already there; return its tag.

    Parameters
    ----------
    force
        Rebuild even when an image of the current recipes exists.
    progress
        Called with one line of text per step (a build takes a minute or two).
    """
    client = docker_client(timeout=900)
    digest = recipe_hash()
    tag = f"{REPOSITORY}:{digest[:12]}"
    if not force and _is_current(client, tag, digest):
        progress(f"image {tag} is up to date (recipes unchanged): nothing to build")
        return tag
    with _build_lock():
        if not force and _is_current(client, tag, digest):  # built meanwhile by another process
            progress(f"image {tag} is up to date (recipes unchanged): nothing to build")
            return tag
        started = time.monotonic()
        previous = _image_id(client, tag)
        flavor = _build(client, tag, digest, progress, started)
        client.images.get(tag).tag(REPOSITORY, "latest")
        _remove_stale(client, digest, previous, progress)
        size_mb = client.images.get(tag).attrs.get("Size", 0) / 1e6
        progress(f"built {tag} ({flavor}, {size_mb:.0f} MB) in {time.monotonic() - started:.0f} s")
    return tag


def _build(client: docker.DockerClient, tag: str, digest: str, progress: Progress, started: float) -> str:
    choice = os.environ.get("LABKIT_IMAGE_RECIPE", "auto").lower()
    if choice not in ("auto", "online", "offline"):
        raise BackendUnavailableError(f"LABKIT_IMAGE_RECIPE={choice!r}: use auto, online or offline")
    if choice == "online" or (choice == "auto" and _registry_reachable()):
        try:
            _build_online(client, tag, digest, progress, started)
            return "official"
        except _OnlineBuildFailed as exc:
            if choice == "online":
                raise BackendUnavailableError(
                    f"building from {_base_image()} failed: {exc}. Without registry access, build the "
                    "offline image instead: unset LABKIT_IMAGE_RECIPE or set it to offline"
                ) from None
            progress(f"building from {_base_image()} failed ({exc}): building the offline image instead")
    else:
        progress(f"no container registry in reach ({REGISTRY[0]}): building the offline image from Debian packages")
    _build_offline(client, tag, digest, progress, started)
    return "offline"


def _is_current(client: docker.DockerClient, tag: str, digest: str) -> bool:
    labels = _image_labels(client, tag)
    return labels is not None and labels.get(RECIPE_LABEL) == digest


def _image_id(client: docker.DockerClient, ref: str) -> str | None:
    import docker.errors

    try:
        return str(client.images.get(ref).id)
    except docker.errors.ImageNotFound:
        return None


def _labels(digest: str, flavor: str) -> dict[str, str]:
    return {OWNER_LABEL: "sandbox", RECIPE_LABEL: digest, FLAVOR_LABEL: flavor}


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    folder = base / "labkit"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    with open(_cache_dir() / "image-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _registry_reachable(timeout_s: float = 3.0) -> bool:
    try:
        with socket.create_connection(REGISTRY, timeout=timeout_s):
            return True
    except OSError:
        return False


def _remove_stale(client: docker.DockerClient, digest: str, previous: str | None, progress: Progress) -> None:
    """Remove images of older recipes (and the one a forced rebuild replaced) that no container uses."""
    import docker.errors

    for image in client.images.list(filters={"label": RECIPE_LABEL}):
        stale = image.labels.get(RECIPE_LABEL) != digest or (previous is not None and image.id == previous)
        if not stale or REPOSITORY + ":latest" in image.tags:
            continue
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(image.id)
            progress(f"removed the outdated image {', '.join(image.tags) or image.short_id.split(':')[-1]}")


# -- the online recipe: Dockerfile on the official base ------------------------------------


class _OnlineBuildFailed(Exception):
    pass


def _base_image() -> str:
    for line in (sandbox_dir() / "Dockerfile").read_text().splitlines():
        if line.upper().startswith("FROM "):
            return line.split()[1]
    return "the official base image"


def _build_online(client: docker.DockerClient, tag: str, digest: str, progress: Progress, started: float) -> None:
    progress(f"building from {_base_image()} (sandbox/Dockerfile)")
    try:
        for chunk in client.api.build(
            path=str(sandbox_dir()), dockerfile="Dockerfile", tag=tag, labels=_labels(digest, "official"),
            rm=True, forcerm=True, pull=True, decode=True,
        ):
            if "error" in chunk:
                raise _OnlineBuildFailed(str(chunk["error"]).strip())
            line = str(chunk.get("stream", "")).strip()
            if line.startswith("Step "):
                progress(f"[{time.monotonic() - started:4.0f}s] {line}")
    except _OnlineBuildFailed:
        raise
    except Exception as exc:
        raise _OnlineBuildFailed(str(exc)) from exc


# -- the offline recipe: rootfs.sh, then docker import -------------------------------------

# debootstrap's phase lines (not its one line per package)
_DEBOOTSTRAP_PHASE = re.compile(
    r"^I: (Retrieving InRelease|Retrieving Release|Validating Packages|Resolving dependencies of \w+ packages|Checking component"
    r"|Installing core packages|Unpacking required packages|Configuring required packages"
    r"|Unpacking the base system|Configuring the base system|Base system installed successfully)"
)


def _debootstrap() -> str | None:
    found = shutil.which("debootstrap")
    return found or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)


def _check_offline_prerequisites() -> None:
    if not sys.platform.startswith("linux"):
        raise BackendUnavailableError(
            "no container registry is reachable, and the offline image can only be built on Linux: "
            "connect to the internet (the online recipe pulls public.ecr.aws/lambda/python), then run "
            "`labkit image build` again"
        )
    if _debootstrap() is None:
        raise BackendUnavailableError(
            "debootstrap is not installed, and the offline image needs it: "
            "`sudo apt-get install debootstrap`, then run `labkit image build` again"
        )
    if os.geteuid() != 0:
        raise BackendUnavailableError(
            "building the offline image needs root (debootstrap builds a Debian system with chroot): "
            f"run `sudo {sys.executable} -m labkit image build` (or `sudo make image`)"
        )


def _build_offline(client: docker.DockerClient, tag: str, digest: str, progress: Progress, started: float) -> None:
    _check_offline_prerequisites()
    work = Path(tempfile.mkdtemp(prefix="image-build-", dir=_cache_dir()))
    log_path = _cache_dir() / "image-build.log"
    try:
        root = work / "rootfs"
        _run_rootfs_script(root, log_path, progress, started)
        progress(f"[{time.monotonic() - started:4.0f}s] importing the root file system into Docker as {tag}")
        _import(client, root, tag, {**_labels(digest, "offline"), PYTHON_LABEL: _rootfs_python(root)})
    finally:
        _remove_tree(work, progress)


def _rootfs_python(root: Path) -> str:
    """X.Y of the Python that rootfs.sh linked as /var/lang/bin/pythonX.Y."""
    for path in sorted((root / "var/lang/bin").glob("python3.*")):
        return path.name[len("python"):]
    raise BackendUnavailableError(f"the root file system has no /var/lang/bin/python3.X: see {_cache_dir()}/image-build.log")


def _run_rootfs_script(root: Path, log_path: Path, progress: Progress, started: float) -> None:
    script = sandbox_dir() / "rootfs.sh"
    env = dict(os.environ, HOST_PYTHON=sys.executable, PIP_ROOT_USER_ACTION="ignore",
               PIP_DISABLE_PIP_VERSION_CHECK="1", DEBIAN_FRONTEND="noninteractive")
    tail: list[str] = []
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["bash", str(script), str(root)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, errors="replace", env=env, start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                line = line.rstrip()
                tail = (tail + [line])[-8:]
                if line.startswith("==> "):
                    progress(f"[{time.monotonic() - started:4.0f}s] {line[4:]}")
                elif _DEBOOTSTRAP_PHASE.match(line):
                    progress(f"[{time.monotonic() - started:4.0f}s]     debootstrap: {line[3:]}")
            code = proc.wait()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            raise
    if code != 0:
        hint = ""
        text = "\n".join(tail)
        if re.search(r"Failed getting release file|Couldn't download|Temporary failure resolving", text):
            hint = (" debootstrap could not reach the Debian mirror: check the network, or set "
                    "LABKIT_DEBIAN_MIRROR to a mirror you can reach.")
        elif "pip" in text and ("ERROR" in text or "No matching distribution" in text):
            hint = " pip could not fetch the wheels from PyPI: check the network or your pip index settings."
        raise BackendUnavailableError(
            f"building the offline image failed (sandbox/rootfs.sh exited with {code}).{hint} "
            f"Last lines:\n    " + "\n    ".join(tail) + f"\nFull log: {log_path}"
        )


def _import(client: docker.DockerClient, root: Path, tag: str, labels: dict[str, str]) -> None:
    changes = _config_lines(sandbox_dir() / "rootfs.config")
    changes += [f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()]
    repository, _, version = tag.partition(":")
    tar = subprocess.Popen(
        ["tar", "-C", str(root), "--numeric-owner", "--exclude=./proc/*", "--exclude=./sys/*",
         "--exclude=./dev/*", "-cf", "-", "."],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert tar.stdout is not None
    chunks = iter(lambda: tar.stdout.read(1 << 20), b"")  # type: ignore[union-attr]
    try:
        result: Any = client.api.import_image_from_stream(chunks, repository=repository, tag=version, changes=changes)
    except Exception as exc:
        raise BackendUnavailableError(f"docker import of the root file system failed: {exc}") from exc
    finally:
        tar.stdout.close()
        _, err = tar.communicate()
    if tar.returncode != 0:
        raise BackendUnavailableError(f"tar of the root file system failed: {err.decode(errors='replace').strip()}")
    if "error" in str(result).lower() and _image_id(client, tag) is None:
        raise BackendUnavailableError(f"docker import of the root file system failed: {result}")


def _config_lines(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    found = []
    with open("/proc/self/mounts") as mounts:
        for entry in mounts:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), entry.split()[1])
            if point.startswith(prefix):
                found.append(point)
    return sorted(found, reverse=True)


def _remove_tree(folder: Path, progress: Progress) -> None:
    """Delete a build folder, first unmounting anything an interrupted debootstrap left mounted in it."""
    if not folder.exists():
        return
    for point in _mounts_under(folder):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if _mounts_under(folder):
        progress(f"left {folder} in place: something is still mounted inside it (see /proc/self/mounts)")
        return
    shutil.rmtree(folder, ignore_errors=True)
