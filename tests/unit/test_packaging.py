"""The ways in agree: environment.yml and Binder install what pyproject.toml declares, the dev
container installs and forwards what `make lab` needs, the README opens with the two commands."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from labkit.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def listed_dependencies(environment_yml: Path) -> list[str]:
    """The pip requirements with a version constraint in a conda environment file (python itself left out)."""
    listed = re.findall(r"^\s+- ([A-Za-z0-9_.,\[\]-]+[<>=!~].*)$", environment_yml.read_text(), re.M)
    return [item for item in listed if not item.startswith("python")]


@pytest.mark.parametrize("environment_yml", ["environment.yml", "binder/environment.yml"])
def test_environment_files_list_the_same_dependencies_as_pyproject(environment_yml: str) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(listed_dependencies(ROOT / environment_yml)) == sorted(declared)


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
