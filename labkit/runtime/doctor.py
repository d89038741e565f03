"""`labkit doctor`: what is installed, which backend runs here, where files go."""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from labkit import lockfile
from labkit.paths import labkit_home

INSTALL_HINT = "run `make install` in the course folder (pip install --require-hashes --no-deps -r requirements.lock)"


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
        Finding("python", sys.version_info >= (3, 11), f"{platform.python_version()} ({sys.executable})"),
        Finding("labkit", True, labkit.__version__),
    ]
    findings += _version_findings()
    ric = _version("awslambdaric")
    findings.append(Finding("backend process", ric is not None and sys.platform == "linux", _process_detail()))
    if sys.platform == "linux":
        findings += _sandbox_findings()
    findings.append(_docker_finding())
    findings.append(Finding("progress and work files", True, str(labkit_home())))
    return findings


def _version_findings(lock: Path = lockfile.LAB_LOCK) -> list[Finding]:
    """The key dependencies' versions, each against the lock, then one line for the whole lock."""
    pins = {pin.name: pin for pin in lockfile.read_lock(lock) if pin.applies()} if lock.is_file() else {}
    findings = []
    for name in lockfile.KEY_DISTRIBUTIONS:
        installed = _version(name)
        locked = pins[name].version if name in pins else None
        if installed is None:
            detail = f"missing: {INSTALL_HINT}" if pins else f"missing: pip install {name}"
        elif locked is not None and installed != locked:
            detail = f"{installed}, but requirements.lock has {locked}: {INSTALL_HINT}"
        else:
            detail = installed
        findings.append(Finding(name, installed is not None and (locked is None or installed == locked), detail))
    if not pins:
        findings.append(Finding("lock", True, f"no {lock.name} beside this labkit (not installed from the course repository)"))
        return findings
    drifted = lockfile.drift(list(pins.values()))
    if drifted:
        listed = ", ".join(f"{d.name} {d.installed or 'missing'} (lock {d.locked})" for d in drifted[:8])
        more = f" and {len(drifted) - 8} more" if len(drifted) > 8 else ""
        findings.append(Finding("lock", False, f"{len(drifted)} of {len(pins)} differ from {lock.name}: {listed}{more}; "
                                               f"{INSTALL_HINT}"))
    else:
        findings.append(Finding("lock", True, f"all {len(pins)} installed versions are those of {lock.name}"))
    return findings


def _process_detail() -> str:
    if sys.platform != "linux":
        return f"needs Linux (this is {sys.platform}): use the docker backend"
    return "ready (embedded: runs your handler in a child process, no Docker needed; its sandbox below)"


def _sandbox_findings() -> list[Finding]:
    """One line per guarantee of the process backend's sandbox: held here or not, and how (or what to do)."""
    from labkit.runtime.backends.guarantees import SANDBOXING

    return [Finding(f"  sandbox: {g.what}", g.held, g.how) for g in SANDBOXING.current().guarantees()]


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
    return 0 if all(f.ok for f in findings if f.item in ("python", "awslambdaric", "lock")) else 1



def doctor() -> list[Finding]:
    """Print the doctor's table (as `labkit doctor` does) and return its findings."""
    print_doctor()
    return diagnose()
