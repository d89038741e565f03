"""`labkit doctor`: what is installed, which backend runs here, where files go."""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from labkit.paths import labkit_home


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's table."""

    item: str
    ok: bool
    detail: str


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def diagnose() -> list[Finding]:
    """Check the machine; never raises."""
    import labkit

    findings = [
        Finding("python", sys.version_info >= (3, 10), f"{platform.python_version()} ({sys.executable})"),
        Finding("labkit", True, labkit.__version__),
    ]
    ric = _version("awslambdaric")
    findings.append(Finding("awslambdaric", ric is not None, ric or "missing: pip install awslambdaric"))
    findings.append(Finding("backend process", ric is not None and sys.platform == "linux", _process_detail()))
    findings.append(_docker_finding())
    for dist in ("jupyterlab", "ipywidgets", "matplotlib"):
        version = _version(dist)
        findings.append(Finding(dist, version is not None, version or f"missing: pip install {dist}"))
    findings.append(Finding("progress and work files", True, str(labkit_home())))
    return findings


def _process_detail() -> str:
    if sys.platform != "linux":
        return f"needs Linux (this is {sys.platform}): use the docker backend"
    return "ready (embedded: runs your handler in a child process, no Docker needed)"


def _docker_finding() -> Finding:
    try:
        from labkit.runtime.backends.select import docker_status
    except ImportError:
        return Finding("backend docker", False, "not available in this version")
    ready, detail = docker_status()
    return Finding("backend docker", ready, detail)


def print_doctor() -> int:
    findings = diagnose()
    width = max(len(f.item) for f in findings)
    for finding in findings:
        mark = "ok " if finding.ok else "-- "
        print(f"{mark} {finding.item.ljust(width)}  {finding.detail}")
    auto = "docker" if any(f.item == "backend docker" and f.ok for f in findings) else "process"
    print(f"\nbackend='auto' runs on: {auto}")
    return 0 if all(f.ok for f in findings if f.item in ("python", "awslambdaric")) else 1



def doctor() -> list[Finding]:
    """Print the doctor's table (as `labkit doctor` does) and return its findings."""
    print_doctor()
    return diagnose()
