"""The ways in agree: every one installs the lock's versions (`make lab`, `make test`, CI, the dev
container, conda and Binder), the locks satisfy pyproject.toml, `labkit doctor` compares the two,
the dev container forwards what `make lab` needs, the README opens with the two commands."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from labkit import lockfile
from labkit.cli import build_parser
from labkit.lockfile import Pin
from labkit.runtime import doctor

ROOT = Path(__file__).resolve().parents[2]


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(name) for name in names]


def pins(lock: Path) -> dict[str, str]:
    """name -> version of the pins that apply on this machine."""
    return {pin.name: pin.version for pin in lockfile.read_lock(lock) if pin.applies()}


@pytest.mark.parametrize(("lock", "extras"), [(lockfile.LAB_LOCK, ()), (lockfile.TEST_LOCK, ("test",))])
def test_each_lock_pins_a_version_pyproject_allows_for_every_dependency(lock: Path, extras: tuple[str, ...]) -> None:
    locked = pins(lock)
    wanted = declared() + [requirement for extra in extras for requirement in declared(extra)]
    outside = {str(r): locked.get(canonicalize_name(r.name)) for r in wanted
               if locked.get(canonicalize_name(r.name)) not in r.specifier}
    assert outside == {}, "pyproject.toml and the lock disagree: run `make lock`"


def test_the_test_lock_pins_every_lab_pin_at_the_same_version() -> None:
    lab, test = lockfile.read_lock(lockfile.LAB_LOCK), {(p.name, p.marker): p.version for p in lockfile.read_lock(lockfile.TEST_LOCK)}
    assert lab and {(p.name, p.marker): p.version for p in lab}.items() <= test.items()


def test_the_locks_are_hashed() -> None:
    for lock in (lockfile.LAB_LOCK, lockfile.TEST_LOCK):
        text = lock.read_text()
        assert text.count("--hash=sha256:") >= len(lockfile.read_lock(lock)), lock.name


def test_a_pin_with_a_marker_is_read_with_it(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("appnope==1.0.0 ; sys_platform == 'darwin' \\\n    --hash=sha256:00\nmoto==5.2.6 \\\n    --hash=sha256:11\n")
    assert lockfile.read_lock(lock) == [Pin("appnope", "1.0.0", "sys_platform == 'darwin'"), Pin("moto", "5.2.6")]
    assert not lockfile.read_lock(lock)[0].applies() or sys.platform == "darwin"


@pytest.mark.parametrize("environment_yml", ["environment.yml", "binder/environment.yml"])
def test_environment_files_are_the_lock_s_versions(environment_yml: str) -> None:
    path = ROOT / environment_yml
    assert path.read_text() == lockfile.expected_environment_files()[path], "run `make lock` to write them again"
    pip_section = yaml.safe_load(path.read_text())["dependencies"][-1]["pip"]
    assert [line for line in pip_section if not line.startswith("-")] == [p.requirement for p in lockfile.read_lock()]


def test_every_way_in_installs_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for lock in ("requirements.lock", "requirements-test.lock"):
        assert f"--require-hashes --no-deps -r {lock}" in makefile
    assert "exec make test" in (ROOT / ".ci" / "run").read_text()
    assert json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())["postCreateCommand"] == "make install"


def test_doctor_names_a_dependency_that_differs_from_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("moto==0.0.1 \\\n    --hash=sha256:00\n")
    findings = {finding.item: finding for finding in doctor._version_findings(lock)}
    assert not findings["moto"].ok and "requirements.lock has 0.0.1" in findings["moto"].detail
    assert not findings["lock"].ok and "moto" in findings["lock"].detail
    assert findings["boto3"].ok  # not in that lock: nothing to compare


def test_binder_installs_labkit_itself() -> None:
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    assert "pip install --no-deps -e ." in post_build.read_text()


def test_devcontainer_installs_labkit_and_forwards_the_lab_port() -> None:
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    command = config["postCreateCommand"].split()
    assert command[0] == "make"
    dry_run = subprocess.run([*command, "--dry-run"], cwd=ROOT, capture_output=True, text=True)
    assert dry_run.returncode == 0, dry_run.stderr
    lab_port = build_parser().parse_args(["lab"]).port
    assert lab_port in config["forwardPorts"]
    assert "3.11" in config["image"]
    assert any("docker-in-docker" in feature for feature in config["features"])


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(make \w+)$", text, re.M)
    assert commands[:2] == ["make lab", "make test"]


def test_readme_screenshots_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert images, "the README shows the course with screenshots from docs/images/"
    assert [image for image in images if not (ROOT / image).is_file()] == []
