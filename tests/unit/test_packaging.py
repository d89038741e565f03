"""The ways in agree: environment.yml installs what pyproject.toml declares."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    text = (ROOT / "environment.yml").read_text()
    listed = re.findall(r"^\s+- ([A-Za-z0-9_.,\[\]-]+[<>=!~].*)$", text, re.M)
    listed = [item for item in listed if not item.startswith("python")]
    assert sorted(listed) == sorted(declared)


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(make \w+)$", text, re.M)
    assert commands[:2] == ["make lab", "make test"]
