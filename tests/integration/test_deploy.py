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
from labkit.deploy import TemplateError, UnsupportedError, delete_stack, deploy
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


STACK_V1 = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Jobs:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return len(event.get('Records', []))\\n"
      Environment:
        Variables:
          TABLE: !Ref Orders
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
"""
STACK_V2 = STACK_V1.replace("""  Jobs:
    Type: AWS::SQS::Queue
""", "").replace("""      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
""", "")


def write_template(tmp_path: Path, text: str) -> Path:
    template = tmp_path / "shop" / "template.yaml"
    template.parent.mkdir(exist_ok=True)
    template.write_text(text)
    return template


def stack_record(local: LocalAws, stack: str) -> dict[str, Any]:
    return json.loads(local.client("ssm").get_parameter(Name=f"/labkit/stacks/{stack}")["Parameter"]["Value"])


def test_a_redeploy_deletes_what_the_template_no_longer_declares_after_deploying_the_rest(
    local: LocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(tmp_path, STACK_V1)
    deploy(template, local=local)
    lam, sqs = local.client("lambda"), local.client("sqs")
    assert set(stack_record(local, "shop")) == {"Orders", "Jobs", "Worker", "WorkerRole", "Worker/Queue"}
    assert len(lam.list_event_source_mappings(FunctionName="shop-Worker")["EventSourceMappings"]) == 1
    code = lam.get_function_configuration(FunctionName="shop-Worker")["CodeSha256"]

    assert main(["deploy", str(write_template(tmp_path, STACK_V2)), "--endpoint", local.endpoint_url, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    deleted = [line.split() for line in lines if line.strip().startswith("deleted")]
    assert [words[1:3] for words in deleted] == [["SQS", "Worker/Queue"], ["AWS::SQS::Queue", "Jobs"]], \
        "the mapping goes before its queue"
    assert lines.index(next(line for line in lines if "deleted" in line)) > max(
        i for i, line in enumerate(lines) if "unchanged" in line), "deleted after everything else is deployed"
    assert json.loads(lines[-1]) == {}, "--json's last line is still the outputs"

    assert lam.list_event_source_mappings(FunctionName="shop-Worker")["EventSourceMappings"] == []
    assert not any(url.endswith("/shop-Jobs") for url in sqs.list_queues().get("QueueUrls", []))
    config = lam.get_function_configuration(FunctionName="shop-Worker")
    assert config["CodeSha256"] == code and config["Environment"]["Variables"] == {"TABLE": "shop-Orders"}, "the rest unchanged"
    assert local.client("dynamodb").describe_table(TableName="shop-Orders")["Table"]["TableStatus"] == "ACTIVE"
    assert set(stack_record(local, "shop")) == {"Orders", "Worker", "WorkerRole"}


BUCKETS = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Uploads:
    Type: AWS::S3::Bucket
  Scratch:
    Type: AWS::S3::Bucket
"""


def test_a_removed_bucket_that_holds_objects_is_kept_and_reported_and_deleted_once_empty(local: LocalAws, tmp_path: Path) -> None:
    template = write_template(tmp_path, BUCKETS)
    deploy(template, local=local)
    s3 = local.client("s3")
    s3.put_object(Bucket="shop-uploads", Key="report.csv", Body=b"id\n1\n")

    result = deploy(write_template(tmp_path, BUCKETS.split("  Uploads:")[0]), local=local)
    actions = {step.resource: (step.action, step.detail) for step in result.steps}
    assert actions["Scratch"] == ("deleted", "shop-scratch")
    action, reason = actions["Uploads"]
    assert action == "failed" and "BucketNotEmpty" in reason and "empty it" in reason
    assert actions["Orders"][0] == "unchanged"
    assert s3.list_objects_v2(Bucket="shop-uploads")["KeyCount"] == 1, "kept with its objects"
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {"shop-uploads"}
    assert set(stack_record(local, "shop")) == {"Orders", "Uploads"}, "still the stack's, so a later deploy retries"

    s3.delete_object(Bucket="shop-uploads", Key="report.csv")
    steps = delete_stack(template, local=local)
    assert sorted((step.resource, step.action) for step in steps) == [("Orders", "deleted"), ("Uploads", "deleted")]
    assert s3.list_buckets()["Buckets"] == [] and local.client("dynamodb").list_tables()["TableNames"] == []


def test_deleting_a_stack_leaves_nothing_of_it(local: LocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = copy_template("all-events", tmp_path)
    result = deploy(template, local=local)
    assert urllib.request.urlopen(result.outputs["RestUrl"], timeout=30).status == 200
    other = write_template(tmp_path, BUCKETS)  # another stack stays as it is
    deploy(other, local=local)

    assert main(["delete", str(template), "--endpoint", local.endpoint_url]) == 0
    out = capsys.readouterr().out
    assert "deleted   AWS::Serverless::Function" in out and "deleted   S3" in out
    lam = local.client("lambda")
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert lam.list_layers()["Layers"] == []
    assert local.client("sqs").list_queues().get("QueueUrls", []) == []
    assert local.client("sns").list_topics()["Topics"] == [] and local.client("sns").list_subscriptions()["Subscriptions"] == []
    assert local.client("dynamodb").list_tables()["TableNames"] == ["shop-Orders"]
    assert {b["Name"] for b in local.client("s3").list_buckets()["Buckets"]} == {"shop-uploads", "shop-scratch"}
    assert [r["RoleName"] for r in local.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("all-events")] == []
    assert local.client("events").list_rules()["Rules"] == []
    assert local.client("apigateway").get_rest_apis()["items"] == []
    assert local.client("apigatewayv2").get_apis()["Items"] == []
    parameters = local.client("ssm").describe_parameters()["Parameters"]
    assert [p["Name"] for p in parameters] == ["/labkit/stacks/shop"], "the record went with the stack"
    with pytest.raises(OSError):  # its local API Gateway is closed
        urllib.request.urlopen(result.outputs["RestUrl"], timeout=5)

    assert delete_stack(stack_name="all-events", local=local) == [], "deleting again: nothing left"


def test_a_failed_deploy_deletes_nothing_and_keeps_what_it_made_in_the_record(local: LocalAws, tmp_path: Path) -> None:
    deploy(write_template(tmp_path, STACK_V1), local=local)
    broken = STACK_V2 + """\
  Extra:
    Type: AWS::SQS::Queue
  Broken:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: missing/, Handler: app.handler, Runtime: python3.12}
"""
    with pytest.raises(TemplateError, match="is not a folder"):
        deploy(write_template(tmp_path, broken), local=local)
    queues = local.client("sqs").list_queues()["QueueUrls"]
    assert sorted(url.rsplit("/", 1)[-1] for url in queues) == ["shop-Extra", "shop-Jobs"], "nothing deleted"
    assert {"Jobs", "Worker/Queue", "Extra"} <= set(stack_record(local, "shop"))

    result = deploy(write_template(tmp_path, STACK_V2), local=local)
    assert sorted(s.resource for s in result.steps if s.action == "deleted") == ["Extra", "Jobs", "Worker/Queue"]
    assert local.client("sqs").list_queues().get("QueueUrls", []) == []
