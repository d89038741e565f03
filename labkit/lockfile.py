"""The lock files: exactly what the course installs, read back for `labkit doctor` and the conda files.

`make lock` resolves ``pyproject.toml`` with uv into two hashed pip requirement files at the
repository's root: ``requirements.lock`` (what `make lab` installs) and ``requirements-test.lock``
(the same pins plus what `make test` needs). This module reads them (:func:`read_lock`), compares
them with what is installed (:func:`drift`), and writes the conda environment files from them
(:func:`write_environment_files`; ``python -m labkit.lockfile``), so every way in installs the
same versions.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
"""The repository's root, where the lock files are (in an editable install of labkit)."""
LAB_LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"

KEY_DISTRIBUTIONS = ("moto", "boto3", "botocore", "awslambdaric", "aws-lambda-powertools", "jupyterlab",
                     "ipywidgets", "nbval", "matplotlib", "docker", "cfn-lint")
"""The dependencies `labkit doctor` names with their versions."""

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Pin:
    """One locked requirement: ``name==version``, for the platforms its marker admits."""

    name: str  # canonical (lower case, dashes)
    version: str
    marker: str | None = None

    def applies(self) -> bool:
        """Does this pin apply to the running interpreter and platform?"""
        return self.marker is None or Marker(self.marker).evaluate()

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")


@dataclass(frozen=True)
class Drift:
    """A locked distribution whose installed version differs (``installed`` None: not installed)."""

    name: str
    locked: str
    installed: str | None


def read_lock(path: Path = LAB_LOCK) -> list[Pin]:
    """The pins of a lock file, in its order (hashes and comments left out)."""
    pins = []
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            name, _extras, version, marker = match.groups()
            pins.append(Pin(canonicalize_name(name), version, marker.strip() if marker else None))
    return pins


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def drift(pins: list[Pin]) -> list[Drift]:
    """The pins that apply here whose distribution is missing or installed at another version."""
    found = []
    for pin in pins:
        if not pin.applies():
            continue
        installed = installed_version(pin.name)
        if installed != pin.version:
            found.append(Drift(pin.name, pin.version, installed))
    return found


def environment_file(pins: list[Pin], *, header: str, install_labkit: bool) -> str:
    """A conda environment file installing exactly `pins` with pip, on conda-forge's Python 3.11."""
    lines = [*(f"# {line}".rstrip() for line in header.splitlines()),
             "name: labkit", "channels:", "  - conda-forge", "dependencies:", "  - python=3.11", "  - pip", "  - pip:"]
    lines += [f"      - {pin.requirement}" for pin in pins]
    if install_labkit:
        lines.append("      - -e .")
    return "\n".join(lines) + "\n"


ENVIRONMENT_FILES = {
    ROOT / "environment.yml": (
        "conda/mamba environment for labkit: the versions of requirements.lock, written by `make lock`.\n"
        "  mamba env create -f environment.yml && mamba activate labkit && labkit lab",
        True,
    ),
    ROOT / "binder" / "environment.yml": (
        "Binder (mybinder.org, repo2docker): the versions of requirements.lock, written by `make lock`;\n"
        "postBuild then installs labkit itself from the repository. Functions run on the `process`\n"
        "backend there: Binder has no Docker.",
        False,
    ),
}
"""Each conda environment file, with its header and whether it installs labkit itself."""


def expected_environment_files(lock: Path = LAB_LOCK) -> dict[Path, str]:
    """What each conda environment file must say for `lock`."""
    pins = read_lock(lock)
    return {path: environment_file(pins, header=header, install_labkit=install)
            for path, (header, install) in ENVIRONMENT_FILES.items()}


def write_environment_files(lock: Path = LAB_LOCK) -> list[Path]:
    """Write the conda environment files from `lock`; returns the files written."""
    written = []
    for path, text in expected_environment_files(lock).items():
        path.write_text(text)
        written.append(path)
    return written


def main() -> int:
    for path in write_environment_files():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
