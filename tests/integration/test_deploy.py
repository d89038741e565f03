"""`labkit deploy`: SAM templates into the local AWS through boto3, checked with boto3's own list calls."""
from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.aws.local import LocalAws
from labkit.cli import main
from labkit.deploy import TemplateError, UnsupportedError, deploy
from labkit.deploy.apis import close_gateways
from labkit.deploy.releases import ROLLED_BACK, SUCCEEDED
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalAws]:
    service = LambdaService(data_dir=tmp_path / "lambda", idle_timeout_s=60)
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        yield aws
    finally:
        close_gateways(service)
        service.close()  # first: its SQS pollers' long polls need the server to answer
        aws.close()
        aws.reset()  # moto's state is process-wide: the next test starts empty


def copy_template(name: str, tmp_path: Path) -> Path:
    """A fixture template in a folder of its own (its name is the stack's name)."""
    target = tmp_path / name
    shutil.copytree(TEMPLATES / name, target)
    return target / "template.yaml"


def eventually(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll a condition until it holds (real seconds), for state another thread changes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("the condition did not hold in time")


def test_every_event_type_is_wired_with_the_aws_calls_and_a_redeploy_changes_nothing(local: LocalAws, tmp_path: Path) -> None:
    template = copy_template("all-events", tmp_path)
    result = deploy(template, local=local)
    worker = result.functions["Worker"]
    actions = {step.resource: step.action for step in result.steps}

    lam = local.client("lambda")
    config = lam.get_function_configuration(FunctionName=worker.name)
    assert (config["Runtime"], config["MemorySize"], config["Timeout"]) == ("python3.12", 256, 10), "Globals apply"
    assert config["Environment"]["Variables"] == {"STAGE": "dev", "TABLE": "all-events-Orders"}
    assert [layer["Arn"] for layer in config["Layers"]] == [result.outputs["WorkerArn"].replace(
        "function:all-events-Worker", "layer:all-events-helpers:1")]

    s3 = local.client("s3")
    notification, = s3.get_bucket_notification_configuration(Bucket="all-events-uploads")["LambdaFunctionConfigurations"]
    assert notification["LambdaFunctionArn"] == worker.arn and notification["Events"] == ["s3:ObjectCreated:*"]
    assert notification["Filter"]["Key"]["FilterRules"][0]["Value"] == "incoming/"

    sns = local.client("sns")
    topic = result.steps[[s.resource for s in result.steps].index("Alerts")].detail
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=f"arn:aws:sns:us-east-1:123456789012:{topic}")["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("lambda", worker.arn)]

    events = local.client("events")
    schedule = events.describe_rule(Name="all-events-Worker-Nightly")
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert json.loads(events.describe_rule(Name="all-events-Worker-OrderPlaced")["EventPattern"]) == {"source": ["shop.orders"]}
    for rule in ("all-events-Worker-Nightly", "all-events-Worker-OrderPlaced"):
        assert [t["Arn"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == [worker.arn]

    rest_api = local.client("apigateway").get_resources(restApiId=result.functions and _ref(result, "ServerlessRestApi"))
    assert "/orders" in {r["path"] for r in rest_api["items"]}
    routes = local.client("apigatewayv2").get_routes(ApiId=_ref(result, "ServerlessHttpApi"))["Items"]
    assert [r["RouteKey"] for r in routes] == ["GET /orders/{id}"]
    body = json.loads(urllib.request.urlopen(result.outputs["RestUrl"], timeout=30).read())
    assert body == {"stage": "dev", "table": "all-events-Orders", "helper": "from the helpers layer"}, "served by the local API Gateway"

    mappings = lam.list_event_source_mappings(FunctionName=worker.name)["EventSourceMappings"]
    sources = sorted(m["EventSourceArn"] for m in mappings)
    assert len(sources) == 2 and sources[0].startswith("arn:aws:dynamodb:") and ":table/all-events-Orders/stream/" in sources[0]
    assert sources[1] == "arn:aws:sqs:us-east-1:123456789012:all-events-Jobs"
    assert {m["BatchSize"] for m in mappings if "sqs" in m["EventSourceArn"]} == {5}
    assert actions["Worker/Queue"] == actions["Worker/Stream"] == "created"

    again = deploy(template, local=local)
    assert {s.resource: s.action for s in again.steps if s.action in ("created",)} == {}, "a redeploy creates nothing"
    assert next(s.action for s in again.steps if s.resource == "Worker") == "unchanged"
    assert len(sns.list_subscriptions_by_topic(TopicArn=subscriptions[0]["TopicArn"])["Subscriptions"]) == 1

    (template.parent / "src" / "app.py").write_text(
        (template.parent / "src" / "app.py").read_text().replace('"stage"', '"env"'))
    updated = deploy(template, local=local)
    assert next(s.action for s in updated.steps if s.resource == "Worker") == "updated"
    assert lam.get_function_configuration(FunctionName=worker.name)["CodeSha256"] != config["CodeSha256"]


def _ref(result: Any, logical_id: str) -> str:
    return next(s.detail for s in result.steps if s.resource == logical_id)


def test_cfn_lint_errors_stop_the_deploy_with_file_and_line(local: LocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = copy_template("invalid", tmp_path)
    with pytest.raises(TemplateError) as failed:
        deploy(template, local=local)
    assert f"{template}:9:" in str(failed.value) and "E3012" in str(failed.value) and "'soon' is not of type 'integer'" in str(failed.value)
    assert local.client("lambda").list_functions()["Functions"] == [], "nothing deployed"
    assert main(["deploy", str(template), "--endpoint", local.endpoint_url]) == 2
    assert "E3012" in capsys.readouterr().err


def test_unsupported_resource_and_event_types_are_named(local: LocalAws, tmp_path: Path) -> None:
    template = copy_template("unsupported", tmp_path)
    with pytest.raises(UnsupportedError) as failed:
        deploy(template, local=local)
    message = str(failed.value)
    assert f"{template}:4: resource Stream has type AWS::Kinesis::Stream" in message
    assert f"{template}:15: event Records of Reader has type Kinesis" in message
    assert "Supported event types: Api, HttpApi, S3, SQS, SNS, DynamoDB, Schedule, EventBridgeRule" in message


def test_cli_prints_the_outputs_and_json_on_the_last_line(local: LocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = copy_template("canary", tmp_path)
    assert main(["deploy", str(template), "--endpoint", local.endpoint_url, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == {"AliasArn": "arn:aws:lambda:us-east-1:123456789012:function:canary-Greeter:live"}
    assert "  AliasArn = arn:aws:lambda:us-east-1:123456789012:function:canary-Greeter:live" in lines


def test_a_canary_completes_and_one_rolls_back_on_its_alarm(local: LocalAws, tmp_path: Path) -> None:
    template = copy_template("canary", tmp_path)
    clock = LessonClock(speed=60)  # the 5-minute canary lasts 5 real seconds
    lam, cloudwatch = local.client("lambda"), local.client("cloudwatch")
    first = deploy(template, local=local, clock=clock)
    assert first.releases == {}, "the first deploy points the new alias at version 1"
    assert lam.get_alias(FunctionName="canary-Greeter", Name="live")["FunctionVersion"] == "1"

    second = deploy(template, local=local, clock=clock, parameters={"Release": "v2"})
    release = second.releases["Greeter"]
    assert release.status == SUCCEEDED and (release.old_version, release.new_version) == ("1", "2")
    assert [weight for _, weight in release.history] == [0.1, 1.0]
    assert release.history[1][0] >= 300, "all traffic moves after the canary's 5 minutes"
    alias = lam.get_alias(FunctionName="canary-Greeter", Name="live")
    assert alias["FunctionVersion"] == "2" and "RoutingConfig" not in alias

    third = deploy(template, local=local, clock=clock, parameters={"Release": "v3"}, wait=False)
    eventually(lambda: lam.get_alias(FunctionName="canary-Greeter", Name="live").get("RoutingConfig"))
    assert lam.get_alias(FunctionName="canary-Greeter", Name="live")["RoutingConfig"] == {"AdditionalVersionWeights": {"3": 0.1}}
    cloudwatch.set_alarm_state(AlarmName="canary-ErrorsAlarm", StateValue="ALARM", StateReason="errors in the canary")
    rolled = third.wait(timeout=30).releases["Greeter"]
    assert rolled.status == ROLLED_BACK and rolled.alarm == "canary-ErrorsAlarm"
    assert [weight for _, weight in rolled.history] == [0.1, 0.0]
    alias = lam.get_alias(FunctionName="canary-Greeter", Name="live")
    assert alias["FunctionVersion"] == "2" and "RoutingConfig" not in alias, "traffic back on the old version"
    answer = json.loads(lam.invoke(FunctionName="canary-Greeter", Qualifier="live")["Payload"].read())
    assert answer == {"release": "v2", "version": "2"}
