"""The Lambda service through the single-port local AWS, with boto3 and raw HTTP, on the process backend."""
from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import botocore.exceptions
from botocore.config import Config

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService
from tests.packages import app_zip

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
NO_RETRIES = Config(retries={"total_max_attempts": 1})

APP = """
import os, sys, time, uuid
ENVIRONMENT = uuid.uuid4().hex  # one per execution environment (in a sandbox, os.getpid() is its namespace's)
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("spam"):
        for i in range(event["spam"]):
            print(f"line {i:05d} " + "x" * 90)
    time.sleep(event.get("sleep", 0))
    return {"env": ENVIRONMENT, "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"], "answer": ANSWER,
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"), "stage": os.environ.get("STAGE")}
ANSWER = 1
"""


def package(source: str = APP, **replace: str) -> bytes:
    for old, new in replace.items():
        source = source.replace(old, new)
    return app_zip(source)


class Local:
    def __init__(self, aws: LocalAws, service: LambdaService) -> None:
        self.aws = aws
        self.service = service
        self.lam = aws.client("lambda")
        self.lam_once = aws.client("lambda", config=NO_RETRIES)

    def create(self, name: str = "fn", code: bytes | None = None, **extra: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": code or package()}, **extra,
        )
        wait_function_ready(self.lam, name)
        return created

    def invoke(self, name: str = "fn", event: Any = None, **extra: Any) -> tuple[dict[str, Any], Any]:
        response = self.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **extra)
        return response, json.loads(response["Payload"].read())


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    service = LambdaService(clock=LessonClock(speed=600), data_dir=tmp_path / "lambda", idle_timeout_s=60)
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        yield Local(aws, service)
    finally:
        aws.close()
        service.close()


def test_sync_invoke_returns_the_result_executed_version_and_reuses_the_environment(local: Local) -> None:
    local.create(Environment={"Variables": {"STAGE": "dev"}})
    first, body = local.invoke(event={})
    _second, again = local.invoke(event={})
    assert first["StatusCode"] == 200 and first["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in first
    assert body["stage"] == "dev" and body["version"] == "$LATEST"
    assert body["endpoint"] == local.aws.endpoint_url, "functions must reach the local AWS"
    assert again["env"] == body["env"], "the warm environment was not reused"
    metrics = local.service.metrics("fn")
    assert (metrics.invocations, metrics.cold_starts, metrics.errors) == (2, 1, 0)


def test_function_errors_come_back_as_unhandled_with_lambdas_error_document(local: Local) -> None:
    local.create()
    response, body = local.invoke(event={"fail": True})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "asked to fail"
    assert local.service.metrics("fn").errors == 1


def test_log_tail_is_the_last_4_kb_of_the_logs(local: Local) -> None:
    local.create()
    response, _ = local.invoke(event={"spam": 100}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"])
    assert 4000 < len(tail) <= 4096
    text = tail.decode()
    assert "line 00099" in text and "line 00000" not in text
    assert text.rstrip().splitlines()[-1].startswith("REPORT RequestId:")
    quiet, _ = local.invoke(event={})
    assert "LogResult" not in quiet


def test_functions_reach_the_local_aws_with_boto3(local: Local) -> None:
    source = """
import boto3
def handler(event, context):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=event["bucket"])
    s3.put_object(Bucket=event["bucket"], Key="k", Body=b"from a function")
    return [b["Name"] for b in s3.list_buckets()["Buckets"]]
"""
    local.create(code=package(source), Timeout=30, Environment={"Variables": {"PAD": "p" * 4000}})
    response, buckets = local.invoke(event={"bucket": "made-by-lambda"})
    assert "FunctionError" not in response, buckets
    assert "made-by-lambda" in buckets
    body = local.aws.client("s3").get_object(Bucket="made-by-lambda", Key="k")["Body"].read()
    assert body == b"from a function"


def test_code_from_the_local_s3(local: Local) -> None:
    s3 = local.aws.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="fn.zip", Body=package())
    local.lam.create_function(FunctionName="from-s3", Runtime="python3.13", Role=ROLE, Handler="app.handler",
                              Code={"S3Bucket": "artifacts", "S3Key": "fn.zip"})
    wait_function_ready(local.lam, "from-s3")
    _, body = local.invoke("from-s3")
    assert body["answer"] == 1
    with pytest.raises(local.lam.exceptions.InvalidParameterValueException, match="artifacts/missing.zip"):
        local.lam.create_function(FunctionName="nope", Runtime="python3.13", Role=ROLE, Handler="app.handler",
                                  Code={"S3Bucket": "artifacts", "S3Key": "missing.zip"})


def test_published_versions_keep_their_code_and_configuration(local: Local) -> None:
    local.create(Environment={"Variables": {"STAGE": "one"}})
    local.lam.publish_version(FunctionName="fn")
    local.lam.update_function_code(FunctionName="fn", ZipFile=package(**{"ANSWER = 1": "ANSWER = 2"}))
    wait_function_ready(local.lam, "fn")
    local.lam.update_function_configuration(FunctionName="fn", Environment={"Variables": {"STAGE": "two"}})
    wait_function_ready(local.lam, "fn")
    latest, new = local.invoke()
    v1, old = local.invoke(Qualifier="1")
    assert (new["answer"], new["stage"], new["version"]) == (2, "two", "$LATEST")
    assert (old["answer"], old["stage"], old["version"]) == (1, "one", "1")
    assert v1["ExecutedVersion"] == "1" and latest["ExecutedVersion"] == "$LATEST"
    assert new["env"] != old["env"]


def test_an_update_retires_the_old_environments(local: Local) -> None:
    local.create()
    _, before = local.invoke()
    old_pids = host_pids(local.service)
    local.lam.update_function_configuration(FunctionName="fn", MemorySize=256)
    wait_function_ready(local.lam, "fn")
    _, after = local.invoke()
    assert after["env"] != before["env"]
    deadline = time.monotonic() + 5
    while any(map(_alive, old_pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert old_pids and not any(map(_alive, old_pids)), "the old configuration's environment was left running"


def test_an_update_in_progress_refuses_the_next_update_and_invokes_run_the_previous_configuration(local: Local) -> None:
    local.create(Environment={"Variables": {"STAGE": "one"}})
    _, before = local.invoke()
    local.service.model.transition_s = 600  # one real second on this fixture's clock (600x)
    updated = local.lam.update_function_configuration(FunctionName="fn", Environment={"Variables": {"STAGE": "two"}})
    assert updated["LastUpdateStatus"] == "InProgress"
    with pytest.raises(botocore.exceptions.ClientError) as refused:  # the classic deploy-script bug
        local.lam_once.update_function_code(FunctionName="fn", ZipFile=package())
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert (error["Code"], error["Message"]) == (
        "ResourceConflictException",
        "The operation cannot be performed at this time. An update is in progress for resource: "
        "arn:aws:lambda:us-east-1:123456789012:function:fn",
    )
    _, during = local.invoke()
    assert (during["stage"], during["env"]) == ("one", before["env"])  # the previous configuration, still warm
    wait_function_ready(local.lam, "fn")
    _, after = local.invoke()
    assert after["stage"] == "two" and after["env"] != before["env"]


def test_weighted_alias_routes_between_two_versions(local: Local) -> None:
    local.create()
    local.lam.publish_version(FunctionName="fn")
    local.lam.update_function_code(FunctionName="fn", ZipFile=package(**{"ANSWER = 1": "ANSWER = 2"}))
    wait_function_ready(local.lam, "fn")
    local.lam.publish_version(FunctionName="fn")
    local.lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1",
                           RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    seen = Counter()
    for _ in range(40):
        response, body = local.invoke(Qualifier="live")
        assert body["version"] == response["ExecutedVersion"]
        seen[response["ExecutedVersion"]] += 1
    assert seen["1"] >= 5 and seen["2"] >= 5, seen  # P(fail) ~ 2e-7
    local.lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    assert {local.invoke(Qualifier="live")[0]["ExecutedVersion"] for _ in range(5)} == {"2"}


def test_reserved_concurrency_throttles_with_the_reason(local: Local) -> None:
    local.create()
    local.lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=1)
    errors: list[Any] = []
    results: list[Any] = []

    def call() -> None:
        try:
            results.append(local.lam_once.invoke(FunctionName="fn", Payload=b'{"sleep": 0.6}')["StatusCode"])
        except local.lam.exceptions.TooManyRequestsException as exc:
            errors.append(exc.response)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert results == [200]
    assert len(errors) == 2
    assert errors[0]["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert errors[0]["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert errors[0]["Error"]["Message"] == "Rate Exceeded."
    metrics = local.service.metrics("fn")
    assert (metrics.throttles, metrics.peak_concurrency, metrics.concurrency) == (2, 1, 0)
    local.lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=0)
    with pytest.raises(local.lam.exceptions.TooManyRequestsException):
        local.lam_once.invoke(FunctionName="fn")


def test_account_concurrency_throttles_and_the_series_records_the_load(local: Local) -> None:
    local.service.set_account_concurrency(3)
    local.create()
    outcomes: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            local.lam_once.invoke(FunctionName="fn", Payload=b'{"sleep": 0.8}')
            outcome = "ok"
        except local.lam.exceptions.TooManyRequestsException as exc:
            outcome = exc.response["Reason"]
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == Counter({"ok": 3, "ConcurrentInvocationLimitExceeded": 2})
    metrics = local.service.metrics("fn")
    assert metrics.peak_concurrency == 3 and metrics.throttles == 2 and metrics.cold_starts == 3
    values = metrics.values
    assert values[0] == 1 and max(values) == 3 and values[-1] == 0
    assert metrics.times == sorted(metrics.times)
    assert local.service.metrics().peak_concurrency == 3  # the account's series
    assert local.lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 3


def test_provisioned_concurrency_initialises_environments_ahead(local: Local) -> None:
    local.create()
    local.lam.publish_version(FunctionName="fn")
    put = local.lam.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert put["Status"] == "IN_PROGRESS" and put["AllocatedProvisionedConcurrentExecutions"] == 0  # as on AWS
    deadline = time.monotonic() + 5
    while (got := local.lam.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="1"))["Status"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, "provisioned concurrency never left IN_PROGRESS"
        time.sleep(0.01)  # 5 lesson seconds: a few milliseconds at the clock's speed
    assert got["RequestedProvisionedConcurrentExecutions"] == 2 and got["Status"] == "READY"
    assert got["AllocatedProvisionedConcurrentExecutions"] == 2
    listed = local.lam.list_provisioned_concurrency_configs(FunctionName="fn")["ProvisionedConcurrencyConfigs"]
    assert [item["FunctionArn"].rsplit(":", 1)[-1] for item in listed] == ["1"]
    for _ in range(3):
        response, _ = local.invoke(Qualifier="1", LogType="Tail")
        assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode(), "a cold start despite provisioning"
    assert local.service.metrics("fn").cold_starts == 0
    runtime = local.service.pool.function(local.service.model.resolve("fn", "1")[1])
    assert sum(env.provisioned for env in runtime.environments) == 2
    local.lam.delete_provisioned_concurrency_config(FunctionName="fn", Qualifier="1")
    assert not any(env.provisioned for env in runtime.environments)


def test_plain_http_without_a_signature_works_like_curl(local: Local) -> None:
    local.create()
    host, port = local.aws.endpoint_url.rsplit("/", 1)[-1].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("POST", "/2015-03-31/functions/fn/invocations", body=b'{"x": 1}')
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 200 and response.getheader("X-Amz-Executed-Version") == "$LATEST"
    assert body["answer"] == 1
    conn.request("POST", "/2015-03-31/functions/fn/invocations", body=b"{}", headers={"X-Amz-Invocation-Type": "DryRun"})
    dry = conn.getresponse()
    dry.read()
    assert dry.status == 204
    conn.request("GET", "/2015-03-31/functions/")
    listed = conn.getresponse()
    assert [f["FunctionName"] for f in json.loads(listed.read())["Functions"]] == ["fn"]
    conn.close()


def test_delete_and_close_end_every_environment(local: Local) -> None:
    local.create("a")
    local.create("b")
    local.invoke("a")
    local.invoke("b")
    pids = host_pids(local.service)
    local.lam.delete_function(FunctionName="a")
    with pytest.raises(local.lam.exceptions.ResourceNotFoundException):
        local.invoke("a")
    local.service.close()
    assert pids
    for pid in pids:
        assert not _alive(pid), f"environment process {pid} outlived the service"


def host_pids(service: LambdaService) -> set[int]:
    """The host pids of every process of the service's idle execution environments."""
    return {pid for function in service.pool.functions() for env in function._idle for pid in env._sandbox.pids()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"
