"""Sealed grading: a malicious submission (mallory) next to honest ones (alice solved chapter 01, bob
half of it) reaches nothing outside its own run, and the honest grades do not move, serially and
with two runs at a time."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import labkit
from labkit.course import seal as seal_module
from labkit.course.grade import GradeError, grade
from labkit.course.nbrun import run_notebook
from labkit.course.notebook import Notebook, read_notebook, write_notebook
from labkit.course.release import solved_notebook
from labkit.course.seal import Seal, SealLimits, find_seal
from tests.integration.test_grade import with_cell_after
from tests.sandbox_support import sandbox_unavailable

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "01-first-handler.ipynb"
EXERCISES = ["01.billed-ms", "01.deadline", "01.env-greeting", "01.greet"]
BOB_SOLVED = {"ex-greet", "ex-deadline"}  # the exercise cells bob solved
LIMITS = SealLimits(memory_mb=1536, processes=512)
TIMEOUT_S = 60
MARKER = "mallory-daemon-7c1e"  # in the daemon's command line: no process may carry it after grading
GRADER_SECRET = "grader-secret-value-3b9f"


def released() -> Notebook:
    return read_notebook(ROOT / "notebooks" / CHAPTER)


def solved(only: set[str] | None = None) -> Notebook:
    """The released notebook with the solutions of the `only` cells (default: all) filled in."""
    full = solved_notebook(released(), read_notebook(ROOT / "solutions" / CHAPTER))
    if only is None:
        return full
    learner = released()
    answers = {cell["id"]: cell for cell in full["cells"]}
    learner["cells"] = [answers[cell["id"]] if cell["id"] in only else cell for cell in learner["cells"]]
    return learner


def daemon(out: Path) -> str:
    """A detached process that keeps rewriting the grades for a minute."""
    forged = "learner,passed\nmallory,32\n"
    return (
        "import time\n"
        "for _ in range(300):\n"
        "    time.sleep(0.2)\n"
        "    try:\n"
        f"        open({str(out)!r}, 'w').write({forged!r})\n"
        "    except OSError:\n"
        "        pass\n"
    )


def attacks(folder: Path, secret: Path, out: Path) -> dict[str, str]:
    """Cell id → a cell that raises "ESCAPED ..." when its attack works."""
    alice, bob = folder / "alice" / CHAPTER, folder / "bob"
    labkit_init = Path(labkit.__file__).resolve()
    return {
        "read-alice": f"try:\n    stolen = open({str(alice)!r}).read()\nexcept OSError:\n    pass\nelse:\n    raise AssertionError('ESCAPED: read alice')",
        "read-secret": f"try:\n    stolen = open({str(secret)!r}).read()\nexcept OSError:\n    pass\nelse:\n    raise AssertionError('ESCAPED: read ' + stolen)",
        "list-submissions": f"import os\ntry:\n    seen = os.listdir({str(folder)!r})\nexcept OSError:\n    pass\nelse:\n    raise AssertionError(f'ESCAPED: listed {{seen}}')",
        "grader-view": (
            "import glob, os\n"
            "cmdlines = [open(p, 'rb').read() for p in glob.glob('/proc/[0-9]*/cmdline')]\n"
            f"assert not [c for c in cmdlines if {str(folder).encode()!r} in c or {str(out).encode()!r} in c], 'ESCAPED: grader command line'\n"
            f"assert {GRADER_SECRET!r} not in str(os.environ), 'ESCAPED: grader environment'\n"
            f"assert not [p for p in {[str(p) for p in grader_files()]!r} if os.path.exists(p)], 'ESCAPED: the grader home or repository'"
        ),
        "write-bob": (
            f"try:\n    open({str(bob / 'planted.txt')!r}, 'w').write('mallory was here')\n    open({str(bob / CHAPTER)!r}, 'a').close()\n"
            "except OSError:\n    pass\nelse:\n    raise AssertionError('ESCAPED: wrote into bob')"
        ),
        "write-labkit": f"try:\n    open({str(labkit_init)!r}, 'a').close()\nexcept OSError:\n    pass\nelse:\n    raise AssertionError('ESCAPED: labkit writable')",
        "other-runs": (
            "import glob\nfound = glob.glob('/tmp/labkit-run-*/**/progress.json', recursive=True)\n"
            "for path in found:\n    open(path, 'w').close()\nassert not found, f'ESCAPED: emptied {found}'"
        ),
        "network": "import socket\nassert [name for _, name in socket.if_nameindex()] == ['lo'], 'ESCAPED: a network'",
        "daemon": (
            f"import subprocess, sys\nrewrite = {daemon(out)!r}\n"
            f"subprocess.Popen(['setsid', sys.executable, '-c', rewrite, {MARKER!r}], start_new_session=True,\n"
            "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
        ),
        "fork-loop": (
            "import subprocess, sys\n"
            "loop = (\n"
            "    'import os\\nr, w = os.pipe()\\nn = 0\\n'\n"
            f"    'while n < {LIMITS.processes + 100}:\\n'\n"
            "    '    try: pid = os.fork()\\n'\n"
            "    '    except OSError: break\\n'\n"
            "    '    if pid == 0:\\n'\n"
            "    '        os.close(w); os.read(r, 1); os._exit(0)\\n'\n"
            "    '    n += 1\\n'\n"
            "    'print(n)\\nos.close(w)\\n'\n"
            "    'while True:\\n'\n"
            "    '    try: os.wait()\\n'\n"
            "    '    except ChildProcessError: break\\n'\n"
            ")\n"
            "forked = int(subprocess.run([sys.executable, '-c', loop], capture_output=True, text=True, timeout=60).stdout)\n"
            f"assert forked < {LIMITS.processes}, f'ESCAPED: forked {{forked}}'"
        ),
        "memory": (
            "import subprocess, sys\n"
            f"hog = subprocess.run([sys.executable, '-c', 'b = b\"x\" * ({LIMITS.memory_mb} + 512) * 1048576; print(len(b))'], capture_output=True)\n"
            "assert hog.returncode != 0, 'ESCAPED: allocated past the memory limit'"
        ),
        "nested-sandbox": (
            "from labkit.runtime.backends.guarantees import SANDBOXING\n"
            "assert SANDBOXING.current().bwrap is not None, SANDBOXING.current().problem"
        ),
    }


def grader_files() -> list[Path]:
    """Files of the grader's home and of the repository that no submission may see (the interpreter's folders aside)."""
    on_the_way = {Path(labkit.__file__).resolve().parent, *Path(labkit.__file__).resolve().parents}
    home = [path for path in Path.home().iterdir() if not any(path == p or path in p.parents for p in on_the_way | {Path(sys.base_prefix)})]
    return [*home[:3], ROOT / "tests" / "conftest.py", ROOT / "pyproject.toml"]


def mallory(folder: Path, secret: Path, out: Path) -> Notebook:
    nb = released()
    after = next(number for number, cell in enumerate(nb["cells"]) if cell["id"] == "setup") + 1
    for cell_id, source in reversed(list(attacks(folder, secret, out).items())):
        nb = with_cell_after(nb, "setup", source)
        nb["cells"][after]["id"] = cell_id
    return nb


def submit(folder: Path, learner: str, nb: Notebook) -> None:
    write_notebook(nb, folder / learner / CHAPTER)


def graded(out: Path) -> dict[str, dict[str, str]]:
    with open(out, newline="", encoding="utf-8") as file:
        return {row["learner"]: row for row in csv.DictReader(file)}


def honest(rows: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    return {learner: [rows[learner][name] for name in [*EXERCISES, "passed", "flags"]] for learner in ("alice", "bob")}


def kill_daemons() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if MARKER in " ".join(process.info["cmdline"] or []):
            found.append(process)
            process.kill()
    return found


@pytest.fixture(scope="module")
def seal() -> Seal:
    found = find_seal(LIMITS)
    if isinstance(found, str):
        sandbox_unavailable(f"grading runs cannot be sealed here: {found}")
    return found


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory, seal: Seal) -> Iterator[dict[str, Path]]:
    base = tmp_path_factory.mktemp("class")
    folder, secret, out = base / "submissions", base / "shadow", base / "out" / "grades.csv"
    secret.write_text("root:$6$not-for-learners\n")
    (base / "released").mkdir()
    shutil.copy(ROOT / "notebooks" / CHAPTER, base / "released" / CHAPTER)
    submit(folder, "alice", solved())
    submit(folder, "bob", solved(BOB_SOLVED))
    yield {"folder": folder, "secret": secret, "out": out, "base": base}
    kill_daemons()


@pytest.fixture(scope="module")
def baseline(classroom: dict[str, Path]) -> dict[str, list[str]]:
    """The honest grades with no mallory in the class."""
    out = classroom["base"] / "baseline.csv"
    grade(classroom["folder"], out=out, timeout_s=TIMEOUT_S, released=classroom["base"] / "released", jobs=2, limits=LIMITS,
          require_sealed=True)
    return honest(graded(out))


@pytest.fixture(scope="module")
def with_mallory(classroom: dict[str, Path], baseline: dict[str, list[str]]) -> dict[str, Path]:
    submit(classroom["folder"], "mallory", mallory(classroom["folder"], classroom["secret"], classroom["out"]))
    return classroom


def test_honest_grades_are_as_solved(baseline: dict[str, list[str]]) -> None:
    assert baseline["alice"] == ["pass"] * 4 + ["4", ""]
    assert baseline["bob"] == ["fail", "pass", "fail", "pass", "2", ""]


def test_every_attack_fails_inside_the_sandbox(with_mallory: dict[str, Path], seal: Seal) -> None:
    path = with_mallory["folder"] / "mallory" / CHAPTER
    run = run_notebook(path, timeout_s=TIMEOUT_S, seal=seal)
    verdicts = {cell.cell_id: (cell.outcome, cell.message) for cell in run.cells.values()}
    escaped = {cell_id: verdicts.get(cell_id, ("not run", run.output[-2000:])) for cell_id in attacks(Path(), Path(), Path())}
    assert {cell_id: verdict for cell_id, verdict in escaped.items() if verdict[0] != "passed"} == {}
    assert not kill_daemons(), "a daemon outlived its run"


@pytest.mark.parametrize("jobs", [1, 2])
def test_mallory_moves_no_honest_grade(
    with_mallory: dict[str, Path], baseline: dict[str, list[str]], jobs: int, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GRADER_SECRET", GRADER_SECRET)
    folder, out = with_mallory["folder"], with_mallory["out"]
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    assert grade(folder, out=out, timeout_s=TIMEOUT_S, released=with_mallory["base"] / "released", jobs=jobs, limits=LIMITS,
                 require_sealed=True) == 0
    written = out.read_text(encoding="utf-8")
    time.sleep(2)  # the daemon tried every 0.2 s: it had its chance to rewrite the grades
    assert out.read_text(encoding="utf-8") == written
    assert not kill_daemons(), "a daemon outlived the grader"
    rows = graded(out)
    assert honest(rows) == baseline
    assert rows["mallory"]["passed"] == "0" and rows["mallory"]["total"] == "4"
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before
    assert [path.name for path in out.parent.iterdir()] == ["grades.csv"]  # no temporary file left
    printed = capsys.readouterr().out
    assert "submissions sealed" in printed
    assert [line.split() for line in printed.splitlines() if line.startswith(("alice ", "bob "))] == [
        [learner, *row[:4], f"{row[4]}/4"] for learner, row in baseline.items()
    ]


def test_without_bwrap_grading_warns_or_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(seal_module.bwrap, "find", lambda: None)
    (tmp_path / "in" / "bob").mkdir(parents=True)
    (tmp_path / "in" / "bob" / CHAPTER).write_text(json.dumps({"cells": "broken"}))
    with pytest.raises(GradeError, match="cannot be sealed"):
        grade(tmp_path / "in", timeout_s=5, require_sealed=True)
    assert grade(tmp_path / "in", timeout_s=5) == 0
    assert "warning: submissions are NOT sealed (bwrap not found" in capsys.readouterr().out


def test_an_interpreter_below_tmp_is_sealed(tmp_path: Path, seal: Seal) -> None:
    """A venv below /tmp (a fresh clone in mktemp) stays visible under the sandbox's private /tmp."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    site_packages = next(venv.glob("lib/python*/site-packages"))
    (site_packages / "host.pth").write_text("".join(f"{path}\n" for path in sys.path if path))
    probe = "from labkit.course.seal import SealLimits, find_seal; found = find_seal(SealLimits()); print(found if isinstance(found, str) else 'sealed')"
    done = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "sealed", done.stdout + done.stderr
