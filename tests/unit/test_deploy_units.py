"""labkit.deploy's pieces without an AWS: intrinsics, Globals, policy templates, traffic plans, ordering, deletion order."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit.deploy.context import StackResource
from labkit.deploy.deployer import deployment_order
from labkit.deploy.errors import TemplateError, UnsupportedError
from labkit.deploy.intrinsics import Scope, references
from labkit.deploy.policies import BASIC_EXECUTION, expand
from labkit.deploy.releases import TrafficStep, traffic_plan
from labkit.deploy.stacks import deletion_order
from labkit.deploy.template import load


def scope() -> Scope:
    return Scope(
        parameters={"Stage": "dev", "AWS::Region": "us-east-1"},
        refs={"Orders": "shop-Orders"},
        attributes={"Orders": {"Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/shop-Orders"}},
    )


def test_ref_getatt_sub_join_and_novalue_resolve() -> None:
    value = {
        "a": {"Ref": "Orders"},
        "b": {"Fn::GetAtt": ["Orders", "Arn"]},
        "c": {"Fn::Sub": "${Orders}-${Stage}-${AWS::Region}-${Orders.Arn}-${!Literal}"},
        "d": {"Fn::Sub": ["${X}/${Stage}", {"X": {"Ref": "Orders"}}]},
        "e": {"Fn::Join": [":", ["a", {"Ref": "Stage"}]]},
        "f": {"Ref": "AWS::NoValue"},
        "g": [{"Fn::Select": [1, {"Fn::Split": [",", "x,y"]}]}],
    }
    assert scope().resolve(value) == {
        "a": "shop-Orders",
        "b": "arn:aws:dynamodb:us-east-1:123456789012:table/shop-Orders",
        "c": "shop-Orders-dev-us-east-1-arn:aws:dynamodb:us-east-1:123456789012:table/shop-Orders-${Literal}",
        "d": "shop-Orders/dev",
        "e": "a:dev",
        "g": ["y"],
    }
    assert references(value) == {"Orders", "Stage", "AWS::Region", "AWS::NoValue"}


def test_unknown_names_and_functions_are_explained() -> None:
    with pytest.raises(TemplateError, match="defines no parameter or resource 'Nope'"):
        scope().resolve({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="has no attribute 'StreamArn'"):
        scope().resolve({"Fn::GetAtt": "Orders.StreamArn"})
    with pytest.raises(UnsupportedError, match="Fn::If is not supported"):
        scope().resolve({"Fn::If": ["c", 1, 2]})


def test_sam_policy_templates_expand_to_statements_on_the_named_resource() -> None:
    policies = expand([{"SQSPollerPolicy": {"QueueName": "jobs"}}, "AmazonS3ReadOnlyAccess",
                       {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}], "t")
    assert policies.managed == [BASIC_EXECUTION, "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    poller = policies.inline[0]["Statement"][0]
    assert poller["Resource"] == "arn:aws:sqs:us-east-1:123456789012:jobs" and "sqs:ReceiveMessage" in poller["Action"]
    assert policies.inline[1]["Statement"][0]["Action"] == "s3:GetObject"
    with pytest.raises(UnsupportedError, match="KinesisCrudPolicy is not supported"):
        expand([{"KinesisCrudPolicy": {"StreamName": "s"}}], "t")
    with pytest.raises(TemplateError, match="needs \\['TableName'\\]"):
        expand([{"DynamoDBCrudPolicy": {}}], "t")


def test_traffic_plans_follow_the_deployment_preference_types() -> None:
    assert traffic_plan("AllAtOnce") == [TrafficStep(0, 1.0)]
    assert traffic_plan("Canary10Percent5Minutes") == [TrafficStep(0, 0.1), TrafficStep(300, 1.0)]
    linear = traffic_plan("Linear10PercentEvery1Minute")
    assert len(linear) == 10 and linear[0] == TrafficStep(0, 0.1) and linear[-1] == TrafficStep(540, 1.0)
    with pytest.raises(UnsupportedError, match="Canary10Percent5Minutes"):
        traffic_plan("Blue")


def test_globals_merge_and_resources_deploy_after_what_they_refer_to(tmp_path: Path) -> None:
    template = tmp_path / "shop" / "template.yaml"
    template.parent.mkdir()
    template.write_text(
        "Globals:\n  Function:\n    Timeout: 9\n    Environment: {Variables: {A: '1'}}\n    Layers: [g]\n"
        "Resources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.h\n      Layers: [own]\n"
        "      Environment: {Variables: {B: !Ref Table}}\n"
        "  Table:\n    Type: AWS::DynamoDB::Table\n    DependsOn: Queue\n"
        "  Queue:\n    Type: AWS::SQS::Queue\n"
    )
    loaded = load(template)
    props = loaded.resources["Fn"]["Properties"]
    assert props["Timeout"] == 9 and props["Layers"] == ["g", "own"]
    assert props["Environment"]["Variables"] == {"A": "1", "B": {"Ref": "Table"}}
    assert loaded.stack_name == "shop"
    assert deployment_order(loaded) == ["Queue", "Table", "Fn"]


def test_traffic_shift_draws_one_panel_per_release_with_its_rollback() -> None:
    from labkit.viz import traffic_shift
    from labkit.viz.style import ERROR_COLOR

    figure = traffic_shift(
        {"good": [(0, 0.1), (300, 1.0)], "bad": [(0, 0.1), (40, 0.0)]},
        planned={"bad": [(0, 0.1), (300, 1.0)]},
        ends={"bad": "rolled back: Errors"},
    )
    good, bad = figure.axes
    assert [ax.get_title(loc="left") for ax in figure.axes] == ["good", "bad"]
    assert list(bad.lines[1].get_ydata()) == [10, 0, 0], "the actual shares, in percent, held to the right edge"
    assert any(text.get_text() == "rolled back: Errors" and text.get_color() == ERROR_COLOR for text in bad.texts)
    assert len(good.lines) == 1 and not good.texts


def test_deletion_goes_dependents_first_newest_first() -> None:
    record = {
        "Role": StackResource("AWS::IAM::Role", "shop-Worker-role"),
        "Jobs": StackResource("AWS::SQS::Queue", "shop-Jobs"),
        "Worker": StackResource("AWS::Serverless::Function", "shop-Worker"),
        "Worker/Queue": StackResource("SQS", "uuid-1"),
        "Worker/live": StackResource("AWS::Lambda::Alias", "arn:aws:lambda:us-east-1:123456789012:function:shop-Worker:live"),
        "Orders": StackResource("AWS::DynamoDB::Table", "shop-Orders"),
    }
    assert [logical_id for logical_id, _ in deletion_order(record)] == [
        "Worker/live", "Worker/Queue", "Worker", "Orders", "Jobs", "Role"]
