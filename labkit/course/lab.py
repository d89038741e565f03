"""`labkit lab`: starts JupyterLab on the course's learner notebooks."""
from __future__ import annotations

import os
import subprocess
import sys

from jupyter_client.kernelspec import KernelSpecManager

from labkit.course.workspace import notebooks_dir, work_root

LANDING = "index.ipynb"
KERNEL = "python3"


def _ensure_kernel() -> None:
    """Register this interpreter's `python3` kernel when no Jupyter data folder has one yet."""
    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL], check=True)


def lab_command(port: int, open_browser: bool) -> list[str]:
    """The JupyterLab command line: root folder notebooks/, landing notebook opened if there is one."""
    root = notebooks_dir()
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", f"--ServerApp.port={port}"]
    if not open_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers often run as root; Jupyter refuses it otherwise
    if (root / LANDING).is_file():
        command.append(f"--LabApp.default_url=/lab/tree/{LANDING}")
    return command


def start_lab(port: int = 8888, open_browser: bool = True) -> int:
    """Run JupyterLab until it stops; the learner's work folder is created and handed to the kernels."""
    command = lab_command(port, open_browser)
    work = work_root()
    _ensure_kernel()
    print(f"labkit: notebooks in {notebooks_dir()}, your work in {work}", flush=True)
    return subprocess.call(command, env={**os.environ, "LABKIT_WORK": str(work)})
