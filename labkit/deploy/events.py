"""A function's Events as the AWS calls that wire them: event source mappings, notifications, subscriptions, rules, routes.

- SQS, DynamoDB: ``lambda.create_event_source_mapping`` (updated in place when it exists)
- S3: ``s3.put_bucket_notification_configuration`` (other functions' entries kept)
- SNS: ``sns.subscribe`` with the ``lambda`` protocol
- Schedule, EventBridgeRule (and its older name CloudWatchEvent): ``events.put_rule`` + ``put_targets``
- Api, HttpApi: routes on the stack's implicit API (:mod:`labkit.deploy.apis`)

S3, SNS and EventBridge also get ``lambda.add_permission``, as SAM adds, so the same template
works on AWS.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labkit.deploy.apis import add_http_route, add_rest_route
from labkit.deploy.context import Context, error_code
from labkit.deploy.errors import TemplateError
from labkit.deploy.functions import DeployedFunction

EventDeployer = Callable[[Context, DeployedFunction, str, dict[str, Any]], None]


def _require(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any], key: str) -> Any:
    if not props.get(key):
        raise TemplateError(f"{ctx.template.path}: {fn.logical_id} event {event} needs {key}")
    return props[key]


def _permission(ctx: Context, fn: DeployedFunction, event: str, principal: str, source_arn: str) -> dict[str, str]:
    """lambda.add_permission for a service; returns what deleting the event needs to remove it again."""
    statement = re.sub(r"[^a-zA-Z0-9-_]", "-", f"{fn.logical_id}-{event}")[:100]
    try:
        ctx.aws("lambda").add_permission(
            FunctionName=fn.target_arn, StatementId=statement, Action="lambda:InvokeFunction",
            Principal=principal, SourceArn=source_arn,
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceConflictException":  # already there: a redeploy
            raise
    return {"Function": fn.target_arn, "StatementId": statement}


def event_source_mapping(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any], source_key: str,
                         kind: str) -> None:
    lam = ctx.aws("lambda")
    source = _require(ctx, fn, event, props, source_key)
    settings: dict[str, Any] = {key: props[key] for key in (
        "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "ParallelizationFactor", "FilterCriteria",
        "ScalingConfig", "DestinationConfig",
    ) if key in props}
    if "Enabled" in props:
        settings["Enabled"] = str(props["Enabled"]).lower() != "false"
    existing = lam.list_event_source_mappings(EventSourceArn=source, FunctionName=fn.target_arn)["EventSourceMappings"]
    if existing:
        lam.update_event_source_mapping(UUID=existing[0]["UUID"], FunctionName=fn.target_arn, **settings)
        ctx.record(f"{fn.logical_id}/{event}", kind, "updated", existing[0]["UUID"])
        return
    extra = {"StartingPosition": props["StartingPosition"]} if "StartingPosition" in props else {}
    created = lam.create_event_source_mapping(EventSourceArn=source, FunctionName=fn.target_arn, **settings, **extra)
    ctx.record(f"{fn.logical_id}/{event}", kind, "created", created["UUID"])


def sqs(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    event_source_mapping(ctx, fn, event, props, "Queue", "SQS")


def dynamodb(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    _require(ctx, fn, event, props, "StartingPosition")
    event_source_mapping(ctx, fn, event, props, "Stream", "DynamoDB")


def s3(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    bucket = _require(ctx, fn, event, props, "Bucket")
    kinds = props.get("Events") or "s3:ObjectCreated:*"
    entry: dict[str, Any] = {
        "Id": f"{fn.logical_id}-{event}",
        "LambdaFunctionArn": fn.target_arn,
        "Events": kinds if isinstance(kinds, list) else [kinds],
    }
    rules = ((props.get("Filter") or {}).get("S3Key") or {}).get("Rules")
    if rules:
        entry["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
    permission = _permission(ctx, fn, event, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    client = ctx.aws("s3")
    config = client.get_bucket_notification_configuration(Bucket=bucket)
    config.pop("ResponseMetadata", None)
    lambdas = config.get("LambdaFunctionConfigurations") or []
    action = "unchanged" if entry in lambdas else "updated" if any(e.get("Id") == entry["Id"] for e in lambdas) else "created"
    config["LambdaFunctionConfigurations"] = [e for e in lambdas if e.get("Id") != entry["Id"]] + [entry]
    client.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    ctx.record(f"{fn.logical_id}/{event}", "S3", action, f"s3://{bucket} {', '.join(entry['Events'])}",
               physical_id=entry["Id"], Bucket=bucket, **permission)


def sns(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    topic = _require(ctx, fn, event, props, "Topic")
    client = ctx.aws("sns")
    permission = _permission(ctx, fn, event, "sns.amazonaws.com", topic)
    current = [s for s in client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
               if s["Protocol"] == "lambda" and s["Endpoint"] == fn.target_arn]
    attributes = {"FilterPolicy": json.dumps(props["FilterPolicy"])} if props.get("FilterPolicy") else {}
    if current:
        for key, value in attributes.items():
            client.set_subscription_attributes(SubscriptionArn=current[0]["SubscriptionArn"], AttributeName=key, AttributeValue=value)
        ctx.record(f"{fn.logical_id}/{event}", "SNS", "unchanged" if not attributes else "updated",
                   current[0]["SubscriptionArn"], **permission)
        return
    arn = client.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.target_arn, Attributes=attributes,
                           ReturnSubscriptionArn=True)["SubscriptionArn"]
    ctx.record(f"{fn.logical_id}/{event}", "SNS", "created", arn, **permission)


def _rule(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any], kind: str, **rule: Any) -> None:
    client = ctx.aws("events")
    name = str(props.get("Name") or ctx.physical_name(f"{fn.logical_id}-{event}"))[:64]
    bus = {"EventBusName": props["EventBusName"]} if props.get("EventBusName") else {}
    enabled = str(props.get("Enabled", props.get("State", "ENABLED"))).lower() not in ("false", "disabled")
    existed = bool(client.list_rules(NamePrefix=name, **bus)["Rules"])
    rule_arn = client.put_rule(Name=name, State="ENABLED" if enabled else "DISABLED", **rule, **bus)["RuleArn"]
    target: dict[str, Any] = {"Id": re.sub(r"[^a-zA-Z0-9-_.]", "-", f"{fn.logical_id}{event}")[:64], "Arn": fn.target_arn}
    if "Input" in props:
        target["Input"] = props["Input"] if isinstance(props["Input"], str) else json.dumps(props["Input"])
    if "InputPath" in props:
        target["InputPath"] = props["InputPath"]
    permission = _permission(ctx, fn, event, "events.amazonaws.com", rule_arn)
    client.put_targets(Rule=name, Targets=[target], **bus)
    ctx.record(f"{fn.logical_id}/{event}", kind, "updated" if existed else "created", name, TargetId=target["Id"],
               **bus, **permission)


def schedule(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    expression = _require(ctx, fn, event, props, "Schedule")
    _rule(ctx, fn, event, props, "Schedule", ScheduleExpression=expression,
          **({"Description": props["Description"]} if props.get("Description") else {}))


def eventbridge(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    pattern = _require(ctx, fn, event, props, "Pattern")
    _rule(ctx, fn, event, props, "EventBridgeRule", EventPattern=json.dumps(pattern))


def api(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    add_rest_route(ctx, fn, event, _require(ctx, fn, event, props, "Path"), _require(ctx, fn, event, props, "Method"))


def http_api(ctx: Context, fn: DeployedFunction, event: str, props: dict[str, Any]) -> None:
    add_http_route(ctx, fn, event, props.get("Path"), props.get("Method"))


EVENTS: dict[str, EventDeployer] = {
    "Api": api,
    "HttpApi": http_api,
    "S3": s3,
    "SQS": sqs,
    "SNS": sns,
    "DynamoDB": dynamodb,
    "Schedule": schedule,
    "EventBridgeRule": eventbridge,
    "CloudWatchEvent": eventbridge,
}
