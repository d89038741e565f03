"""Plain resources through boto3: S3 buckets, SQS queues, SNS topics, DynamoDB tables, IAM roles, CloudWatch alarms, layers.

Each deployer takes the resolved properties, creates the resource or brings the existing one up
to date (so a redeploy is idempotent), and returns its ``Ref`` value and attributes.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labkit.deploy.context import Context, error_code
from labkit.deploy.errors import TemplateError
from labkit.deploy.policies import AWS_MANAGED, LAMBDA_TRUST
from labkit.runtime import limits
from labkit.service.code import zip_folder

REGION, ACCOUNT = limits.DEFAULT_REGION, limits.DEFAULT_ACCOUNT_ID
Deployed = tuple[Any, dict[str, Any]]  # (Ref value, attributes)
Deployer = Callable[[Context, str, dict[str, Any]], Deployed]


def bucket(ctx: Context, logical_id: str, props: dict[str, Any]) -> Deployed:
    name = ctx.physical_name(logical_id, props.get("BucketName"), most=63, lower=True)
    s3 = ctx.aws("s3")
    try:
        s3.head_bucket(Bucket=name)
        action = "unchanged"
    except ClientError:
        s3.create_bucket(Bucket=name)
        action = "created"
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]})
    _not_applied(ctx, logical_id, props, {"BucketName", "VersioningConfiguration", "Tags"})
    ctx.record(logical_id, "AWS::S3::Bucket", action, name)
    return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                  "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com"}


_QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                     "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "RedrivePolicy", "KmsMasterKeyId")


def queue(ctx: Context, logical_id: str, props: dict[str, Any]) -> Deployed:
    fifo = str(props.get("FifoQueue", "")).lower() == "true"
    name = ctx.physical_name(logical_id, props.get("QueueName"), most=75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name = name[:75] + ".fifo"
    attributes = {
        key: json.dumps(props[key]) if isinstance(props[key], dict) else str(props[key]).lower()
        if isinstance(props[key], bool) else str(props[key])
        for key in _QUEUE_ATTRIBUTES if key in props
    }
    sqs = ctx.aws("sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        action = "created"
    else:
        changeable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        action = "unchanged" if all(current.get(k) == v for k, v in changeable.items()) else "updated"
        if action == "updated":
            sqs.set_queue_attributes(QueueUrl=url, Attributes=changeable)
    _not_applied(ctx, logical_id, props, {"QueueName", "Tags", *_QUEUE_ATTRIBUTES})
    ctx.record(logical_id, "AWS::SQS::Queue", action, name)
    return url, {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "QueueName": name, "QueueUrl": url}


def topic(ctx: Context, logical_id: str, props: dict[str, Any]) -> Deployed:
    name = ctx.physical_name(logical_id, props.get("TopicName"), most=256)
    sns = ctx.aws("sns")
    existing = {t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]}
    attributes = {"FifoTopic": "true"} if str(props.get("FifoTopic", "")).lower() == "true" else {}
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    subscribed = {(s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}
    for subscription in props.get("Subscription") or []:
        if (subscription["Protocol"], subscription["Endpoint"]) not in subscribed:
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    _not_applied(ctx, logical_id, props, {"TopicName", "Subscription", "FifoTopic", "Tags"})
    ctx.record(logical_id, "AWS::SNS::Topic", "unchanged" if arn in existing else "created", name, physical_id=arn)
    return arn, {"TopicArn": arn, "TopicName": name}


def table(ctx: Context, logical_id: str, props: dict[str, Any]) -> Deployed:
    name = ctx.physical_name(logical_id, props.get("TableName"), most=255)
    dynamodb = ctx.aws("dynamodb")
    try:
        description = dynamodb.describe_table(TableName=name)["Table"]
        action = "unchanged"
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        for required in ("AttributeDefinitions", "KeySchema"):
            if required not in props:
                raise TemplateError(f"{ctx.template.path}: table {logical_id} needs {required}") from None
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if props.get("StreamSpecification"):
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                request[key] = props[key]
        description = dynamodb.create_table(**request)["TableDescription"]
        action = "created"
    _not_applied(ctx, logical_id, props, {"TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "Tags",
                                         "ProvisionedThroughput", "StreamSpecification", "GlobalSecondaryIndexes",
                                         "LocalSecondaryIndexes"})
    ctx.record(logical_id, "AWS::DynamoDB::Table", action, name)
    attributes = {"Arn": description["TableArn"]}
    if description.get("LatestStreamArn"):
        attributes["StreamArn"] = description["LatestStreamArn"]
    return name, attributes


def role(ctx: Context, logical_id: str, props: dict[str, Any]) -> Deployed:
    name = ctx.physical_name(logical_id, props.get("RoleName"))
    inline = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []}
    arn, action = ensure_role(ctx, name, props.get("AssumeRolePolicyDocument") or LAMBDA_TRUST,
                              list(props.get("ManagedPolicyArns") or []), inline)
    _not_applied(ctx, logical_id, props, {"RoleName", "AssumeRolePolicyDocument", "ManagedPolicyArns", "Policies",
                                         "Path", "Description", "Tags"})
    ctx.record(logical_id, "AWS::IAM::Role", action, name)
    return name, {"Arn": arn, "RoleId": name}


def ensure_role(
    ctx: Context, name: str, trust: dict[str, Any], managed: list[str], inline: dict[str, dict[str, Any]]
) -> tuple[str, str]:
    """create_role (or update its trust policy), attach managed policies, put inline ones: (ARN, action)."""
    iam = ctx.aws("iam")
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        action = "updated"
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        action = "created"
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    inline = dict(inline)
    for policy_arn in managed:
        if policy_arn in attached:
            continue
        try:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity" or not policy_arn.startswith("arn:aws:iam::aws:policy/"):
                raise
            # the local IAM does not load AWS's managed policies: the same statements inline
            document = AWS_MANAGED.get(policy_arn)
            if document is None:
                ctx.note(f"role {name}: the AWS managed policy {policy_arn} is not known to the local IAM and was not attached")
            else:
                inline[policy_arn.rsplit("/", 1)[-1]] = document
    existing = set(iam.list_role_policies(RoleName=name)["PolicyNames"])
    for stale in existing - set(inline):
        iam.delete_role_policy(RoleName=name, PolicyName=stale)
    for policy_name, document in inline.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    return arn, action


def alarm(ctx: Context, logical_id: str, props: dict[str, Any]) -> Deployed:
    name = ctx.physical_name(logical_id, props.get("AlarmName"), most=255)
    cloudwatch = ctx.aws("cloudwatch")
    exists = bool(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"])
    request: dict[str, Any] = {key: props[key] for key in (
        "AlarmDescription", "MetricName", "Namespace", "Statistic", "Period", "EvaluationPeriods", "Threshold",
        "ComparisonOperator", "TreatMissingData", "DatapointsToAlarm", "Unit", "AlarmActions", "OKActions",
    ) if key in props}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in request:
            request[key] = int(request[key])
    if "Threshold" in request:
        request["Threshold"] = float(request["Threshold"])
    if "Dimensions" in props:
        request["Dimensions"] = props["Dimensions"]
    cloudwatch.put_metric_alarm(AlarmName=name, **request)
    ctx.record(logical_id, "AWS::CloudWatch::Alarm", "updated" if exists else "created", name)
    return name, {"Arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"}


def layer(ctx: Context, logical_id: str, props: dict[str, Any]) -> Deployed:
    """AWS::Serverless::LayerVersion (ContentUri: a folder) or AWS::Lambda::LayerVersion (Content)."""
    name = ctx.physical_name(logical_id, props.get("LayerName"), most=140)
    content = props.get("ContentUri", props.get("Content"))
    lam = ctx.aws("lambda")
    request: dict[str, Any] = {"LayerName": name, "Content": package(ctx, logical_id, content, "ContentUri")}
    for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        if key in props:
            request[key] = props[key]
    latest = lam.list_layer_versions(LayerName=name).get("LayerVersions") or []
    if latest and "ZipFile" in request["Content"]:
        current = lam.get_layer_version(LayerName=name, VersionNumber=latest[0]["Version"])
        if current["Content"]["CodeSha256"] == code_sha256(request["Content"]["ZipFile"]):
            ctx.record(logical_id, "AWS::Lambda::LayerVersion", "unchanged", current["LayerVersionArn"])
            return current["LayerVersionArn"], {"Arn": current["LayerVersionArn"]}
    arn = lam.publish_layer_version(**request)["LayerVersionArn"]
    ctx.record(logical_id, "AWS::Lambda::LayerVersion", "created", arn)
    return arn, {"Arn": arn}


def package(ctx: Context, logical_id: str, uri: Any, key: str) -> dict[str, Any]:
    """A CodeUri / ContentUri as the Code document of the Lambda API: a local folder is zipped."""
    if isinstance(uri, dict) and ("Bucket" in uri or "S3Bucket" in uri):
        bucket_name, object_key = uri.get("Bucket", uri.get("S3Bucket")), uri.get("Key", uri.get("S3Key"))
        return {"S3Bucket": bucket_name, "S3Key": object_key}
    if isinstance(uri, str) and uri.startswith("s3://"):
        bucket_name, _, object_key = uri[5:].partition("/")
        return {"S3Bucket": bucket_name, "S3Key": object_key}
    if not isinstance(uri, str) or not uri:
        raise TemplateError(f"{ctx.template.path}: {logical_id} has no {key}: give the folder of its code, e.g. {key}: src/")
    folder = (ctx.template.folder / uri).resolve()
    if not folder.is_dir():
        raise TemplateError(
            f"{ctx.template.path}: {logical_id}.{key} {uri!r} is not a folder next to the template ({folder}): "
            "give the folder that holds the code"
        )
    if (folder / "requirements.txt").is_file():
        ctx.note(
            f"{logical_id}: {uri} has a requirements.txt; labkit deploy uploads the folder as it is (as `sam deploy` "
            f"does after `sam build`): install them into it first (pip install -r requirements.txt -t {uri}) or put "
            "them in a layer"
        )
    return {"ZipFile": zip_folder(folder)}


def code_sha256(package_bytes: bytes) -> str:
    """CodeSha256 as Lambda reports it: base64 of the ZIP's SHA-256."""
    return base64.b64encode(hashlib.sha256(package_bytes).digest()).decode()


def _not_applied(ctx: Context, logical_id: str, props: dict[str, Any], handled: set[str]) -> None:
    ignored = sorted(set(props) - handled)
    if ignored:
        ctx.note(f"{logical_id}: properties not applied by labkit deploy: {', '.join(ignored)}")


PLAIN_RESOURCES: dict[str, Deployer] = {
    "AWS::S3::Bucket": bucket,
    "AWS::SQS::Queue": queue,
    "AWS::SNS::Topic": topic,
    "AWS::DynamoDB::Table": table,
    "AWS::IAM::Role": role,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::Serverless::LayerVersion": layer,
    "AWS::Lambda::LayerVersion": layer,
}

