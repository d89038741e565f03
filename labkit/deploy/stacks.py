"""A stack's record, and deleting what a template no longer declares, in CloudFormation's order.

The record of stack S is one SSM parameter, ``/labkit/stacks/S``, kept in the local AWS itself so
it lives exactly as long as the resources it names. Its value is JSON: each logical id the last
deploy holds (``Worker``; ``WorkerRole``, SAM's implicit role; ``Worker/Queue``, an event's wiring)
mapped to ``{"Type": ..., "PhysicalId": ..., "Properties": {...}}``, the properties being what
deleting it needs besides its physical id (the bucket of an S3 notification, the permission's
statement id ...).

As CloudFormation does, a deploy first creates and updates what the template declares, then
deletes what the previous record holds and the template no longer declares; `labkit delete`
deletes everything of the record. Dependents go first: a function's event wiring (event source
mappings, notifications, subscriptions, rules, routes, each with the ``lambda.add_permission``
the deploy made) and aliases, then functions (their function URLs and policies go with them),
then the other resources, then roles and layers. A bucket that still holds objects is not
deleted (S3 answers ``BucketNotEmpty``): the step says ``failed`` with the fix, the bucket stays in
the record, and the next deploy or `labkit delete` tries again.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labkit.deploy.apis import GATEWAYS, REST_STAGE
from labkit.deploy.context import StackResource, error_code
from labkit.deploy.errors import DeployError
from labkit.deploy.functions import FUNCTION

Clients = Callable[[str], Any]  # service name -> boto3 client
Recorder = Callable[..., None]  # Context.record's signature: (resource, kind, action, detail)
RECORD_PREFIX = "/labkit/stacks/"
GONE = {  # the error codes of deleting what is not there any more: nothing left to delete
    "ResourceNotFoundException", "NoSuchBucket", "NoSuchEntity", "NotFoundException", "NotFound",
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "ParameterNotFound",
}
EVENT_KINDS = ("SQS", "DynamoDB", "S3", "SNS", "Schedule", "EventBridgeRule", "Api", "HttpApi", "AWS::Lambda::Alias")
LAST_KINDS = ("AWS::IAM::Role", "AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


def record_name(stack_name: str) -> str:
    return f"{RECORD_PREFIX}{stack_name}"


def read_record(aws: Clients, stack_name: str) -> dict[str, StackResource]:
    """What the last deploy of the stack holds, by logical id ({} for a stack never deployed)."""
    try:
        value = aws("ssm").get_parameter(Name=record_name(stack_name))["Parameter"]["Value"]
    except ClientError as exc:
        if error_code(exc) != "ParameterNotFound":
            raise
        return {}
    try:
        return {logical_id: StackResource(entry["Type"], entry["PhysicalId"], dict(entry.get("Properties") or {}))
                for logical_id, entry in json.loads(value).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeployError(
            f"the record of stack {stack_name} (SSM parameter {record_name(stack_name)}) is not what labkit deploy "
            f"wrote ({exc!r}): delete the parameter (ssm.delete_parameter(Name='{record_name(stack_name)}')) and "
            "deploy again; resources it named are then no longer deleted with the stack"
        ) from None


def write_record(aws: Clients, stack_name: str, resources: dict[str, StackResource]) -> None:
    """Keep the stack's record (deleted when the stack holds nothing)."""
    ssm = aws("ssm")
    if not resources:
        try:
            ssm.delete_parameter(Name=record_name(stack_name))
        except ClientError as exc:
            if error_code(exc) != "ParameterNotFound":
                raise
        return
    value = {logical_id: {"Type": r.type, "PhysicalId": r.physical_id, "Properties": r.properties}
             for logical_id, r in resources.items()}
    ssm.put_parameter(Name=record_name(stack_name), Value=json.dumps(value, separators=(",", ":")), Type="String",
                      Overwrite=True, Tier="Intelligent-Tiering",
                      Description=f"what labkit deploy made for stack {stack_name}")


def deletion_order(resources: dict[str, StackResource]) -> list[tuple[str, StackResource]]:
    """Dependents first: event wiring and aliases, functions, other resources, roles and layers (each newest first)."""
    def stage(resource: StackResource) -> int:
        return (0 if resource.type in EVENT_KINDS else 1 if resource.type == FUNCTION
                else 3 if resource.type in LAST_KINDS else 2)

    return sorted(reversed(list(resources.items())), key=lambda item: stage(item[1]))


def delete_resources(aws: Clients, record: Recorder, resources: dict[str, StackResource]) -> dict[str, StackResource]:
    """Delete the resources (reporting each step); return those that could not be deleted, to keep in the record."""
    kept: dict[str, StackResource] = {}
    for logical_id, resource in deletion_order(resources):
        deleter = DELETERS.get(resource.type)
        if deleter is None:
            kept[logical_id] = resource
            record(logical_id, resource.type, "failed",
                   f"labkit deploy does not know how to delete a {resource.type}: delete {resource.physical_id} yourself")
            continue
        try:
            deleter(aws, resource)
        except ClientError as exc:
            if error_code(exc) not in GONE:
                kept[logical_id] = resource
                record(logical_id, resource.type, "failed", _why_not_deleted(resource, exc))
                continue
        record(logical_id, resource.type, "deleted", resource.physical_id)
    return kept


def _why_not_deleted(resource: StackResource, exc: ClientError) -> str:
    code = error_code(exc)
    if code == "BucketNotEmpty":
        name = resource.physical_id
        return (f"bucket {name} is not empty (BucketNotEmpty), so it is kept, as CloudFormation keeps it: empty it "
                f"(boto3.resource('s3').Bucket('{name}').objects.all().delete()), then deploy again or run labkit delete")
    message = exc.response.get("Error", {}).get("Message", "")
    return (f"{resource.physical_id}: {code}: {message}; it stays in the stack's record, "
            "the next deploy or labkit delete tries again")


def _ignore_gone(call: Callable[[], Any]) -> None:
    try:
        call()
    except ClientError as exc:
        if error_code(exc) not in GONE:
            raise


def _remove_permission(aws: Clients, resource: StackResource) -> None:
    """The lambda.add_permission an S3, SNS or EventBridge event made (gone already with its function)."""
    if "StatementId" in resource.properties:
        _ignore_gone(lambda: aws("lambda").remove_permission(
            FunctionName=resource.properties["Function"], StatementId=resource.properties["StatementId"]))


def _function(aws: Clients, resource: StackResource) -> None:
    aws("lambda").delete_function(FunctionName=resource.physical_id)


def _alias(aws: Clients, resource: StackResource) -> None:
    function_arn, alias = resource.physical_id.rsplit(":", 1)
    aws("lambda").delete_alias(FunctionName=function_arn, Name=alias)


def _event_source_mapping(aws: Clients, resource: StackResource) -> None:
    aws("lambda").delete_event_source_mapping(UUID=resource.physical_id)


def _s3_notification(aws: Clients, resource: StackResource) -> None:
    _remove_permission(aws, resource)
    s3, bucket = aws("s3"), resource.properties["Bucket"]
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    config.pop("ResponseMetadata", None)
    others = [e for e in config.pop("LambdaFunctionConfigurations", []) if e.get("Id") != resource.physical_id]
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={**config, **({"LambdaFunctionConfigurations": others} if others else {})})


def _subscription(aws: Clients, resource: StackResource) -> None:
    _remove_permission(aws, resource)
    aws("sns").unsubscribe(SubscriptionArn=resource.physical_id)


def _rule(aws: Clients, resource: StackResource) -> None:
    _remove_permission(aws, resource)
    events = aws("events")
    bus = {"EventBusName": resource.properties["EventBusName"]} if "EventBusName" in resource.properties else {}
    events.remove_targets(Rule=resource.physical_id, Ids=[resource.properties["TargetId"]], **bus)
    events.delete_rule(Name=resource.physical_id, **bus)


def _rest_route(aws: Clients, resource: StackResource) -> None:
    method, path = resource.physical_id.split(" ", 1)
    api_id, client = resource.properties["ApiId"], aws("apigateway")
    paths = {r["path"]: r["id"] for r in client.get_resources(restApiId=api_id, limit=500)["items"]}
    if path in paths:
        client.delete_method(restApiId=api_id, resourceId=paths[path], httpMethod=method)
        try:
            client.create_deployment(restApiId=api_id, stageName=REST_STAGE)
        except ClientError as exc:
            if error_code(exc) != "BadRequestException":  # the API has no methods left: nothing to deploy
                raise
    gateway = GATEWAYS.find(api_id)
    if gateway is not None:
        gateway.remove_route(method, path)


def _http_route(aws: Clients, resource: StackResource) -> None:
    api_id, client = resource.properties["ApiId"], aws("apigatewayv2")
    for route in client.get_routes(ApiId=api_id)["Items"]:
        if route["RouteKey"] == resource.physical_id:
            client.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    method, path = ("ANY", "$default") if resource.physical_id == "$default" else resource.physical_id.split(" ", 1)
    gateway = GATEWAYS.find(api_id)
    if gateway is not None:
        gateway.remove_route(method, path)


def _rest_api(aws: Clients, resource: StackResource) -> None:
    aws("apigateway").delete_rest_api(restApiId=resource.physical_id)
    GATEWAYS.close(api_id=resource.physical_id)


def _http_api(aws: Clients, resource: StackResource) -> None:
    aws("apigatewayv2").delete_api(ApiId=resource.physical_id)
    GATEWAYS.close(api_id=resource.physical_id)


def _bucket(aws: Clients, resource: StackResource) -> None:
    aws("s3").delete_bucket(Bucket=resource.physical_id)


def _queue(aws: Clients, resource: StackResource) -> None:
    sqs = aws("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=resource.physical_id)["QueueUrl"])


def _topic(aws: Clients, resource: StackResource) -> None:
    aws("sns").delete_topic(TopicArn=resource.physical_id)  # its subscriptions go with it


def _table(aws: Clients, resource: StackResource) -> None:
    aws("dynamodb").delete_table(TableName=resource.physical_id)


def _role(aws: Clients, resource: StackResource) -> None:
    iam, name = aws("iam"), resource.physical_id
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def _alarm(aws: Clients, resource: StackResource) -> None:
    aws("cloudwatch").delete_alarms(AlarmNames=[resource.physical_id])


def _layer_version(aws: Clients, resource: StackResource) -> None:
    layer_arn, version = resource.physical_id.rsplit(":", 1)
    aws("lambda").delete_layer_version(LayerName=layer_arn, VersionNumber=int(version))


DELETERS: dict[str, Callable[[Clients, StackResource], None]] = {
    FUNCTION: _function,
    "AWS::Lambda::Alias": _alias,
    "SQS": _event_source_mapping,
    "DynamoDB": _event_source_mapping,
    "S3": _s3_notification,
    "SNS": _subscription,
    "Schedule": _rule,
    "EventBridgeRule": _rule,
    "Api": _rest_route,
    "HttpApi": _http_route,
    "AWS::ApiGateway::RestApi": _rest_api,
    "AWS::ApiGatewayV2::Api": _http_api,
    "AWS::S3::Bucket": _bucket,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::DynamoDB::Table": _table,
    "AWS::IAM::Role": _role,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Serverless::LayerVersion": _layer_version,
    "AWS::Lambda::LayerVersion": _layer_version,
}
