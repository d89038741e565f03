"""The runtime conformance suite: every behaviour of Lambda's execution environment, on every backend."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import labkit
from labkit.errors import ConfigurationError, PayloadTooLargeError
from labkit.runtime.backends.guarantees import SANDBOXING

CodeMaker = Callable[..., Path]

HELLO = """
import os, sys, logging, time
INIT_AT = time.time()
print("init line")
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    print("out", event.get("tag"))
    print("err", event.get("tag"), file=sys.stderr)
    logging.getLogger().warning("log %s", event.get("tag"))
    time.sleep(event.get("sleep", 0))
    return {"count": COUNT, "init_at": INIT_AT, "pid": os.getpid(), "tag": event.get("tag")}
"""


@pytest.fixture
def hello(make_code: CodeMaker) -> Path:
    return make_code(app=HELLO)


def test_first_invoke_is_cold_then_the_environment_is_reused_warm(hello: Path, backend: str) -> None:
    with labkit.Function("app.handler", code=hello, backend=backend) as fn:
        first, second, third = (fn.invoke({"tag": i}) for i in range(3))
    assert first.error is None and first.result["count"] == 1
    assert first.report.cold and first.report.init_ms is not None and first.report.init_ms > 0
    assert not second.report.cold and second.report.init_ms is None
    assert [second.result["count"], third.result["count"]] == [2, 3]
    assert first.result["init_at"] == third.result["init_at"], "module code outside the handler ran more than once"
    assert "init line" in first.logs and "init line" not in second.logs


def test_concurrent_invokes_get_more_environments(hello: Path, backend: str) -> None:
    with labkit.Function("app.handler", code=hello, backend=backend) as fn:
        invocations = fn.invoke_many([{"tag": i, "sleep": 0.3} for i in range(4)], concurrency=4)
        assert [inv.result["tag"] for inv in invocations] == [0, 1, 2, 3]
        assert len({inv.environment_id for inv in invocations}) == 4
        assert all(inv.report.cold for inv in invocations)
        assert len(fn.environments) == 4
        again = fn.invoke_many([{"tag": i} for i in range(4)], concurrency=4)
        assert not any(inv.report.cold for inv in again)


def test_idle_environments_shut_down_and_the_next_invoke_is_cold(hello: Path, backend: str) -> None:
    with labkit.Function("app.handler", code=hello, backend=backend, idle_timeout_s=0.5) as fn:
        assert fn.invoke({}).report.cold
        deadline = time.monotonic() + 10
        while fn.environments and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fn.environments == []
        assert fn.invoke({}).report.cold


def test_close_ends_every_environment(hello: Path) -> None:
    fn = labkit.Function("app.handler", code=hello)
    assert len({inv.environment_id for inv in fn.invoke_many([{"sleep": 0.2}] * 3, concurrency=3)}) == 3
    pids = {pid for env in fn._idle for pid in env._sandbox.pids()}  # host pids: the handler's own are its namespace's
    assert len(pids) >= 3
    fn.close()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    with pytest.raises(ConfigurationError, match="closed"):
        fn.invoke({})


ENV_AND_CONTEXT = """
import os, tempfile, time
def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    return {
        "env": dict(os.environ),
        "tmp": tempfile.gettempdir(),
        "remaining": [first, context.get_remaining_time_in_millis()],
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "name": context.function_name,
        "version": context.function_version,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
    }
"""


def test_lambda_environment_variables_and_context(make_code: CodeMaker, backend: str) -> None:
    code = make_code(app=ENV_AND_CONTEXT)
    with labkit.Function(
        "app.handler", code=code, backend=backend, name="greeter", memory_mb=256, timeout_s=5, env={"STAGE": "dev"}
    ) as fn:
        first, second = fn.invoke({}), fn.invoke({})
    out = first.result
    env = out["env"]
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": "greeter",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/greeter",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_HANDLER": "app.handler",
        "TZ": ":UTC",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "STAGE": "dev",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert re.fullmatch(r"[\w.-]+:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    sandboxed = backend == "docker" or SANDBOXING.current().bwrap is not None
    assert env["LAMBDA_TASK_ROOT"] == ("/var/task" if sandboxed else str(code))
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["_X_AMZN_TRACE_ID"] != second.result["env"]["_X_AMZN_TRACE_ID"], "trace id must be per invoke"
    assert "HOME" not in env or backend == "docker", "the host's environment leaked into the function"
    assert out["request_id"] == first.request_id
    assert out["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:greeter"
    assert (out["memory"], out["name"], out["version"]) == ("256", "greeter", "$LATEST")
    assert out["group"] == "/aws/lambda/greeter" and out["stream"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    start, later = out["remaining"]
    assert 4_500 < start <= 5_000 and later < start, "remaining time must count down from the timeout"


def test_each_environment_has_its_own_tmp(make_code: CodeMaker, backend: str) -> None:
    code = make_code(
        app="""
        import os, tempfile, time
        def handler(event, context):
            path = os.path.join(tempfile.gettempdir(), "mine.txt")
            seen = os.path.exists(path)
            open(path, "w").write("x")
            time.sleep(event.get("sleep", 0))
            return {"seen": seen, "tmp": tempfile.gettempdir()}
        """
    )
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        a, b = fn.invoke_many([{"sleep": 0.3}, {"sleep": 0.3}], concurrency=2)
        warm = fn.invoke({})
    assert not a.result["seen"] and not b.result["seen"], "a new environment saw another one's /tmp file"
    assert warm.result["seen"], "/tmp must survive between invokes of a warm environment"


def test_a_timeout_reports_lambdas_error_and_the_next_invoke_is_cold(make_code: CodeMaker, backend: str) -> None:
    code = make_code(app="import time\ndef handler(event, context):\n    time.sleep(event['s'])\n    return 'done'\n")
    with labkit.Function("app.handler", code=code, backend=backend, timeout_s=1) as fn:
        fn.invoke({"s": 0})
        timed_out = fn.invoke({"s": 30})
        after = fn.invoke({"s": 0})
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert timed_out.report.status == "timeout" and "\tStatus: timeout" in timed_out.logs
    assert re.search(rf"Z {timed_out.request_id} Task timed out after 1.00 seconds\n", timed_out.logs)
    assert 1000 <= timed_out.report.duration_ms < 1500
    assert after.report.cold and after.result == "done"


MEMORY = """
import time
KEEP = []
def handler(event, context):
    KEEP.append(bytearray(event["mb"] * 1024 * 1024))
    return len(KEEP)
"""


def test_max_memory_used_is_measured(make_code: CodeMaker, backend: str) -> None:
    with labkit.Function("app.handler", code=make_code(app=MEMORY), backend=backend, memory_mb=512) as fn:
        small = fn.invoke({"mb": 1})
        big = fn.invoke({"mb": 120})
    assert small.error is None and big.error is None
    assert 5 <= small.report.max_memory_mb < 80
    assert big.report.max_memory_mb >= small.report.max_memory_mb + 100


def test_going_past_memory_is_an_out_of_memory_error_and_the_next_invoke_is_cold(
    make_code: CodeMaker, backend: str
) -> None:
    with labkit.Function("app.handler", code=make_code(app=MEMORY), backend=backend, memory_mb=128) as fn:
        fn.invoke({"mb": 1})
        oom = fn.invoke({"mb": 300})
        after = fn.invoke({"mb": 1})
    assert oom.error is not None and oom.error["errorType"] == "Runtime.OutOfMemory"
    assert oom.error["errorMessage"] == f"RequestId: {oom.request_id} Error: Runtime exited with error: signal: killed"
    assert oom.report.max_memory_mb == 128
    assert "\tStatus: error\tError Type: Runtime.OutOfMemory" in oom.logs
    assert after.report.cold and after.result == 1


def test_payload_limits_are_lambdas(make_code: CodeMaker, backend: str) -> None:
    code = make_code(app="def handler(event, context):\n    return 'x' * event['n']\n")
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        with pytest.raises(PayloadTooLargeError, match="6291456"):
            fn.invoke({"pad": "x" * (6 * 1024 * 1024)})
        too_big = fn.invoke({"n": 7 * 1024 * 1024})
        fine = fn.invoke({"n": 5 * 1024 * 1024})
    assert too_big.error == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert fine.error is None and len(fine.result) == 5 * 1024 * 1024
    assert not fine.report.cold, "an oversized response must not cost the environment"


def test_events_up_to_six_megabytes_reach_the_handler_every_time(make_code: CodeMaker, backend: str) -> None:
    """The runtime reads a 6 MB event in many pieces: the Runtime API must send all of it, every time."""
    code = make_code(app="def handler(event, context):\n    return len(event['pad'])\n")
    sizes = [4 * 1024 * 1024, 5 * 1024 * 1024, 6 * 1024 * 1024 - 64] * 7
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        results = [fn.invoke({"pad": "x" * size}) for size in sizes]
    assert [(inv.error, inv.result) for inv in results] == [(None, size) for size in sizes]
    assert sum(inv.report.cold for inv in results) == 1, "a large event must not cost the environment"


def test_an_unhandled_exception_gives_lambdas_error_shape(make_code: CodeMaker, backend: str) -> None:
    code = make_code(app="def handler(event, context):\n    raise KeyError('name')\n")
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        inv = fn.invoke({})
        again = fn.invoke({})
    assert inv.result is None
    assert set(inv.error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert inv.error["errorType"] == "KeyError" and inv.error["errorMessage"] == "'name'"
    assert inv.error["requestId"] == inv.request_id
    assert 'line 2, in handler' in inv.error["stackTrace"][0]
    assert "[ERROR] KeyError: 'name'" in inv.logs
    assert not again.report.cold, "a handled error keeps the environment warm"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        ({"app": "def handler(e, c):\n    return (\n"}, "app.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app'"),
        ({"app": "import not_installed_pkg\n"}, "app.handler", "Runtime.ImportModuleError", "No module named 'not_installed_pkg'"),
        ({"app": "x = 1\n"}, "nothere.handler", "Runtime.ImportModuleError", "Unable to import module 'nothere'"),
        ({"app": "def other(e, c): pass\n"}, "app.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'"),
        ({"marshal": "def handler(e, c): pass\n"}, "marshal.handler", "Runtime.BuiltInModuleConflict", "built-in module marshal"),
        ({"app": "raise RuntimeError('bad config')\n"}, "app.handler", "RuntimeError", "bad config"),
    ],
)
def test_init_errors_are_reported_on_the_invoke_that_triggered_init(
    make_code: CodeMaker, backend: str, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    with labkit.Function(handler, code=make_code(**files), backend=backend) as fn:
        inv = fn.invoke({})
        retry = fn.invoke({})
    assert inv.error is not None and inv.error["errorType"] == error_type
    assert message in inv.error["errorMessage"]
    assert "INIT_REPORT Init Duration: " in inv.logs and f"Status: error\tError Type: {error_type}" in inv.logs
    assert inv.report.cold and retry.report.cold, "a failed init is retried on the next invoke"


def test_handlers_may_not_use_packages_of_the_host_venv(make_code: CodeMaker, backend: str) -> None:
    code = make_code(app="import matplotlib\ndef handler(e, c):\n    return 1\n")
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        inv = fn.invoke({})
    assert inv.error is not None and inv.error["errorType"] == "Runtime.ImportModuleError"


@pytest.mark.parametrize(
    ("body", "status"), [("import sys; sys.exit(3)", "exit status 3"), ("import os; os.abort()", "signal: aborted")]
)
def test_a_crashing_runtime_is_an_exit_error_and_the_next_invoke_is_cold(
    make_code: CodeMaker, backend: str, body: str, status: str
) -> None:
    code = make_code(app=f"def handler(event, context):\n    if event.get('crash'):\n        {body}\n    return 'ok'\n")
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        fn.invoke({})
        crashed = fn.invoke({"crash": True})
        after = fn.invoke({})
    assert crashed.error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: {status}",
    }
    assert "Status: error\tError Type: Runtime.ExitError" in crashed.logs
    assert after.report.cold and after.result == "ok"


def test_a_result_that_is_not_json_is_a_marshal_error(make_code: CodeMaker, backend: str) -> None:
    code = make_code(app="def handler(event, context):\n    return {1, 2}\n")
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        inv = fn.invoke({})
    assert inv.error["errorType"] == "Runtime.MarshalError"
    assert "Object of type set is not JSON serializable" in inv.error["errorMessage"]


LOG_LINE = re.compile(
    r"START RequestId: (?P<id>[0-9a-f-]{36}) Version: \$LATEST\n(?P<body>.*)END RequestId: (?P=id)\n"
    r"REPORT RequestId: (?P=id)\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t"
    r"Max Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?\n$",
    re.S,
)


def test_logs_are_lambdas_lines_and_each_invocation_gets_only_its_own(hello: Path, backend: str) -> None:
    with labkit.Function("app.handler", code=hello, backend=backend) as fn:
        invocations = fn.invoke_many([{"tag": f"T{i}", "sleep": 0.05} for i in range(12)], concurrency=4)
    for i, inv in enumerate(invocations):
        match = LOG_LINE.search(inv.logs)
        assert match, inv.logs
        assert match["id"] == inv.request_id
        body = match["body"]
        assert f"out T{i}\n" in body and f"err T{i}\n" in body and f"log T{i}" in body
        others = set(re.findall(r"out (T\d+)", body)) - {f"T{i}"}
        assert not others, f"invocation {i} got another invocation's output: {others}"
        assert inv.report.billed_ms == -(-round(inv.report.duration_ms + (inv.report.init_ms or 0), 6) // 1)


def test_cli_invoke_json_prints_one_object_per_invocation(hello: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "labkit", "invoke", "app.handler", "--code", str(hello), "--event", '{"tag": "cli"}',
         "--repeat", "2", "--json"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.splitlines()
    assert len(out) == 2
    first, second = (json.loads(line) for line in out)
    assert set(first) == {"request_id", "result", "error", "logs", "report"}
    assert first["result"]["tag"] == "cli" and first["report"]["cold"] and not second["report"]["cold"]
    assert {"cold", "init_ms", "duration_ms", "billed_ms", "memory_mb", "max_memory_mb"} <= set(first["report"])


def test_cli_reports_bad_input_without_a_traceback(hello: Path) -> None:
    import subprocess
    import sys

    for args, message in [
        (["app"], "module.function"),
        (["app.handler", "--event", "{bad"], "not valid JSON"),
        (["app.handler", "--memory", "64"], "128 to 10,240 MB"),
        (["app.handler", "--event", "@/no/such/file.json"], "does not exist"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "labkit", "invoke", *args, "--code", str(hello)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_nothing_is_left_when_the_parent_process_is_killed(hello: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(
        "import labkit, os, sys, time\n"
        f"fn = labkit.Function('app.handler', code={str(hello)!r})\n"
        "fn.invoke_many([{'sleep': 0.2}] * 3, concurrency=3)\n"
        "pids = sorted(pid for env in fn._idle for pid in env._sandbox.pids())\n"
        "print(' '.join(map(str, pids)), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(pids) >= 3
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids), "runtime processes outlived their parent"
    leftovers = subprocess.run([sys.executable, "-m", "labkit", "clean"], capture_output=True, text=True, timeout=60)
    assert leftovers.returncode == 0
    assert not Path(f"/tmp/labkit-runtime-{parent.pid}").exists()


def test_provisioned_environments_are_initialised_ahead_and_never_cold(make_code: CodeMaker, backend: str) -> None:
    code = make_code(
        app="""
        import os, time
        INIT_AT = time.time()
        print("init of a provisioned environment")
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return {"init_at": INIT_AT, "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
        """
    )
    with labkit.Function("app.handler", code=code, backend=backend, idle_timeout_s=0.5) as fn:
        before = time.time()
        assert fn.provision(2) == []
        after = time.time()
        assert [env.provisioned for env in fn.environments] == [True, True]
        time.sleep(1.5)  # past the idle timeout: provisioned environments are not reaped
        invocations = fn.invoke_many([{"sleep": 0.2}] * 2, concurrency=2)
        assert not any(inv.report.cold for inv in invocations)
        assert all(before <= inv.result["init_at"] <= after for inv in invocations), "INIT ran before the invokes"
        assert {inv.result["type"] for inv in invocations} == {"provisioned-concurrency"}
        assert "init of a provisioned environment" not in invocations[0].logs
        third = fn.invoke_many([{"sleep": 0.2}] * 3, concurrency=3)
        assert sum(inv.report.cold for inv in third) == 1, "beyond the provisioned ones, environments are on-demand"
        fn.provision(0)
        assert not any(env.provisioned for env in fn.environments)


def test_provisioning_reports_init_errors(make_code: CodeMaker) -> None:
    with labkit.Function("app.handler", code=make_code(app="import nope\n")) as fn:
        errors = fn.provision(1)
        assert [e["errorType"] for e in errors] == ["Runtime.ImportModuleError"]
        assert fn.environments == []


def test_no_bytecode_is_written_into_the_code_folder(make_code: CodeMaker, backend: str) -> None:
    code = make_code(app="import helper\ndef handler(e, c):\n    return helper.VALUE\n", helper="VALUE = 7\n")
    with labkit.Function("app.handler", code=code, backend=backend) as fn:
        assert fn.invoke({}).result == 7
    assert not (code / "__pycache__").exists(), "Lambda's /var/task is read-only: nothing is compiled into it"


def test_platform_variables_and_the_invoked_arn_reach_the_function(make_code: CodeMaker) -> None:
    code = make_code(app="import os\ndef handler(e, c):\n    return [os.environ['AWS_ENDPOINT_URL'], os.environ['AWS_LAMBDA_FUNCTION_VERSION'], c.invoked_function_arn]\n")
    platform = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9001"}
    with labkit.Function("app.handler", code=code, name="f", version="3", platform_env=platform, env={"BIG": "x" * 4000}) as fn:
        arn = "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        assert fn.invoke({}, invoked_arn=arn).result == ["http://127.0.0.1:9001", "3", arn]
        assert fn.invoke({}).result[2] == "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_history_keeps_a_bounded_log_per_invocation_and_the_caller_gets_it_whole(make_code: Callable[..., Path]) -> None:
    from labkit.runtime.invocation import HISTORY_LOG_CHARS

    code = make_code(app="def handler(event, context):\n    print('x' * 1023 * 1024)\n    return 'done'\n")
    with labkit.Function("app.handler", code=code) as fn:
        returned = [fn.invoke({}) for _ in range(5)]
        assert all(len(inv.logs) > 1023 * 1024 for inv in returned)
        kept = list(fn.history)
    assert len(kept) == 5 and all(len(inv.logs) < HISTORY_LOG_CHARS + 200 for inv in kept)
    assert all(inv.logs.startswith("START RequestId:") and "REPORT RequestId:" in inv.logs for inv in kept)
    assert "characters of this log are not kept in history" in kept[0].logs and kept[0].result == "done"


def test_an_exec_wrapper_starts_the_runtime_and_a_missing_one_or_a_clean_exit_is_an_exit_error(
    make_code: CodeMaker, backend: str
) -> None:
    code = make_code(
        app="import os, sys\ndef handler(event, context):\n    if event.get('exit'):\n        sys.exit(0)\n"
            "    return os.environ.get('WRAPPED')\n",
    )
    (code / "wrapper.sh").write_text("#!/bin/sh\nexport WRAPPED=yes\nexec \"$@\"\n")
    (code / "wrapper.sh").chmod(0o755)
    with labkit.Function("app.handler", code=code, backend=backend, env={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}) as fn:
        assert fn.invoke({}).result == "yes"
        clean_exit = fn.invoke({"exit": True})
    assert clean_exit.error is not None and clean_exit.error["errorType"] == "Runtime.ExitError"
    assert clean_exit.error["errorMessage"].endswith("Error: Runtime exited without providing a reason")
    with labkit.Function("app.handler", code=code, backend=backend, env={"AWS_LAMBDA_EXEC_WRAPPER": "/idontexist.sh"}) as fn:
        missing = fn.invoke({})
    assert missing.error is not None and missing.error["errorType"] == "Runtime.ExitError"
    assert missing.error["errorMessage"].endswith("Error: Runtime exited with error: exit status 127")
