"""The process backend's sandbox (bubblewrap, no root): each of Lambda's guarantees, and the fallback without bwrap."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import labkit
from labkit.runtime.backends import bwrap, pids_cgroup
from labkit.runtime.backends.guarantees import HOST_PROCESSES_HIDDEN, SANDBOXING
from labkit.runtime.environment import ExecutionEnvironment
from tests.sandbox_support import sandbox_unavailable

CodeMaker = Callable[..., Path]



@pytest.fixture
def sandboxed() -> None:
    """Skip (printing why) where bubblewrap cannot sandbox; fail instead when LABKIT_REQUIRE_SANDBOX=1 (CI)."""
    if SANDBOXING.current().bwrap is None:
        sandbox_unavailable(f"no sandbox here: {SANDBOXING.current().problem}")


def sandbox_pids(fn: labkit.Function) -> set[int]:
    """Host pids of every process of fn's environments."""
    environments: list[ExecutionEnvironment] = fn._idle  # type: ignore[attr-defined]
    return {pid for env in environments for pid in env._sandbox.pids()}  # type: ignore[union-attr]


def test_tmp_is_private_and_of_the_ephemeral_size(make_code: CodeMaker, sandboxed: None) -> None:
    code = make_code(app="""
        import os
        def handler(event, context):
            with open("/tmp/big", "wb", buffering=0) as f:
                try:
                    for _ in range(event["mb"]):
                        f.write(b"x" * 1048576)
                except OSError as exc:
                    return [str(exc), os.path.getsize("/tmp/big") // 1048576]
            return ["written", event["mb"]]
        """)
    with labkit.Function("app.handler", code=code, memory_mb=1769, timeout_s=30, ephemeral_storage_mb=512) as fn:
        fits = fn.invoke({"mb": 100})
        too_big = fn.invoke({"mb": 600})
    assert fits.result == ["written", 100]
    assert too_big.result[0] == "[Errno 28] No space left on device"
    assert 500 <= too_big.result[1] <= 512
    assert not Path("/tmp/big").exists(), "the handler's /tmp is the host's"


def test_code_is_read_only_at_var_task(make_code: CodeMaker, sandboxed: None) -> None:
    code = make_code(app="""
        import os
        def handler(event, context):
            try:
                os.remove(__file__)
            except OSError as exc:
                removed = str(exc)
            else:
                removed = "removed"
            return [__file__, os.environ["LAMBDA_TASK_ROOT"], os.getcwd(), removed, os.listdir("/opt")]
        """)
    layer = make_code(folder="layer", python__shared="VALUE = 1\n")
    with labkit.Function("app.handler", code=code, layers=[layer]) as fn:
        inv = fn.invoke({})
    assert inv.result[:3] == ["/var/task/app.py", "/var/task", "/var/task"]
    assert "Read-only file system" in inv.result[3]
    assert inv.result[4] == ["python"]
    assert (code / "app.py").exists()


def test_processes_and_threads_are_limited_to_1024(make_code: CodeMaker, sandboxed: None) -> None:
    code = make_code(app="""
        import os, signal
        def handler(event, context):
            pids = []
            try:
                for _ in range(1200):
                    pids.append(os.posix_spawn("/bin/sleep", ["sleep", "30"], {}))
                error = None
            except OSError as exc:
                error = str(exc)
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            return [len(pids), error]
        """)
    with labkit.Function("app.handler", code=code, memory_mb=1024, timeout_s=60) as fn:
        inv = fn.invoke({})
    started, error = inv.result
    assert 1000 <= started < 1024, "Lambda allows 1,024 processes and threads in all"
    assert error.startswith("[Errno 11] Resource temporarily unavailable")


def test_memory_counts_the_whole_process_tree(make_code: CodeMaker, sandboxed: None) -> None:
    code = make_code(app="""
        import subprocess, sys
        def handler(event, context):
            subprocess.run([sys.executable, "-c", "import time; x = b'x' * (600 << 20); time.sleep(5)"])
            return "survived"
        """)
    with labkit.Function("app.handler", code=code, memory_mb=128, timeout_s=20) as fn:
        inv = fn.invoke({})
    assert inv.error is not None and inv.error["errorType"] == "Runtime.OutOfMemory"
    assert inv.report.max_memory_mb == 128


def test_a_detached_grandchild_ends_with_its_environment(make_code: CodeMaker, sandboxed: None) -> None:
    code = make_code(app="""
        import subprocess
        def handler(event, context):
            subprocess.Popen(["/bin/sh", "-c", "sleep 300 &"], start_new_session=True).wait()
            return "detached"
        """)
    fn = labkit.Function("app.handler", code=code)
    assert fn.invoke({}).result == "detached"
    deadline = time.monotonic() + 5
    while not (sleeping := [pid for pid in sandbox_pids(fn) if _command(pid).startswith(b"sleep\0")]):
        assert time.monotonic() < deadline, "the detached sleep is not one of the environment's pids()"
        time.sleep(0.02)
    pids = sandbox_pids(fn)
    fn.close()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], "a process outlived its environment"


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


CPU_BOUND = """
import time
def handler(event, context):
    start = time.process_time()
    x = 0
    for i in range(event["loops"]):
        x = (x * 31 + i) % 1000003
    return (time.process_time() - start) * 1000
"""


def test_cpu_share_is_proportional_to_memory(make_code: CodeMaker, sandboxed: None) -> None:
    share = 256 / 1769  # vCPUs at 256 MB
    with labkit.Function("app.handler", code=make_code(app=CPU_BOUND), memory_mb=256, timeout_s=60) as fn:
        fn.invoke({"loops": 1000})
        inv = fn.invoke({"loops": 3_000_000})
    cpu_ms = inv.result  # the handler's own CPU time: the same at any memory size
    expected_ms = cpu_ms / share
    assert 0.8 * expected_ms <= inv.report.duration_ms <= 1.3 * expected_ms, (inv.report.duration_ms, cpu_ms)


def test_without_bwrap_the_backend_runs_in_place_and_says_what_does_not_hold(
    make_code: CodeMaker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", os.path.dirname(os.__file__))  # a folder without bwrap
    assert bwrap.find() is None
    sandboxing = SANDBOXING.current()
    assert sandboxing.bwrap is None and "bwrap not found" in str(sandboxing.problem)
    held = {g.what: g.held for g in sandboxing.guarantees()}
    assert not held["private /tmp of the ephemeral size"] and not held["every process ends with its environment"]
    assert held["memory counted over the process tree"] and held["CPU share proportional to memory"]
    monkeypatch.setattr(SANDBOXING, "_announced", False)
    code = make_code(app="import os, tempfile\ndef handler(e, c):\n    return [os.environ['LAMBDA_TASK_ROOT'], tempfile.gettempdir()]\n")
    with labkit.Function("app.handler", code=code) as fn:
        task_root, tmp = fn.invoke({}).result
    assert task_root == str(code.resolve()) and tmp != "/tmp"
    assert "does not hold all of Lambda's sandbox" in capsys.readouterr().err


def test_cgroups_left_by_a_killed_labkit_are_removed_and_live_ones_kept(sandboxed: None) -> None:
    root = pids_cgroup.hierarchy()
    if root is None:
        pytest.skip("labkit runs without pids cgroups here (not root, or no writable pids hierarchy)")
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = root / f"labkit-{dead.pid}-0123456789ab"
    live = root / f"labkit-{os.getpid()}-0123456789ab"
    orphan.mkdir()
    live.mkdir()
    try:
        assert pids_cgroup.remove_orphans() >= 1
        assert not orphan.exists() and live.exists()
    finally:
        for folder in (orphan, live):
            if folder.exists():
                folder.rmdir()


ENVIRON_WALKER = """
import json
import os
def handler(event, context):
    found, readable = [], 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                variables = environ.read().split(b"\\0")
        except OSError:
            continue
        readable += 1
        found += [f"{pid}: {item.decode(errors='replace')}" for item in variables if event["marker"].encode() in item]
    return {"readable": readable, "found": found}
"""
LAUNCHER = """
import json, sys, labkit
with labkit.Function("app.handler", code=sys.argv[1], backend="process") as fn:
    inv = fn.invoke({"marker": sys.argv[2]})
print(json.dumps([inv.result, inv.error]))
"""


@pytest.mark.parametrize("with_bwrap", [True, False], ids=["sandbox", "without-bwrap"])
def test_a_handler_reads_no_variable_of_labkit_s_own_process(
    make_code: CodeMaker, monkeypatch: pytest.MonkeyPatch, with_bwrap: bool
) -> None:
    """labkit runs in a process started with a unique marker (and a secret key) in its environment; a handler
    that reads every /proc/<pid>/environ it can must find neither, or `labkit doctor` must say it can."""
    if not with_bwrap:
        monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # the interpreter's folder, without bwrap
    elif SANDBOXING.current().bwrap is None:
        pytest.skip(f"no sandbox here: {SANDBOXING.current().problem}")
    held = {g.what: g.held for g in SANDBOXING.current().guarantees()}[HOST_PROCESSES_HIDDEN]
    assert held is with_bwrap
    marker = f"labkit-test-marker-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "LABKIT_TEST_MARKER": marker, "AWS_SECRET_ACCESS_KEY": f"secret-{marker}"}
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(make_code(app=ENVIRON_WALKER)), marker], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result, error = json.loads(done.stdout.strip().splitlines()[-1])
    assert error is None and result["readable"] >= 1, (result, error)  # it read its own environment at least
    if held:
        assert result["found"] == [], "the handler read the environment of labkit's own process"
    else:  # what doctor says is so: without the sandbox the handler does read labkit's variables
        assert any(f"secret-{marker}" in item for item in result["found"]), result
