"""A function's ``Policies`` as IAM sees them: managed policy ARNs and inline documents, SAM policy templates expanded.

The templates (``DynamoDBCrudPolicy``, ``SQSPollerPolicy``, ``S3ReadPolicy`` ...) grant what SAM's
policy templates grant, on the resource their parameter names, so the same template works on AWS.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.deploy.errors import TemplateError, UnsupportedError
from labkit.runtime import limits

REGION, ACCOUNT = limits.DEFAULT_REGION, limits.DEFAULT_ACCOUNT_ID
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# AWS managed policies a local IAM may lack, with their statements (as AWS publishes them)
AWS_MANAGED: dict[str, dict[str, Any]] = {
    BASIC_EXECUTION: {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                       "Resource": "*"}],
    },
}

Statements = list[dict[str, Any]]


def _allow(actions: list[str], resources: list[str] | str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def _table(p: dict[str, str]) -> list[str]:
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{p['TableName']}"
    return [arn, f"{arn}/index/*"]


def _bucket(p: dict[str, str]) -> list[str]:
    return [f"arn:aws:s3:::{p['BucketName']}", f"arn:aws:s3:::{p['BucketName']}/*"]


_DYNAMODB_READ = ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"]
_DYNAMODB_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"]
_S3_READ = ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion", "s3:GetLifecycleConfiguration"]
_S3_WRITE = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"]

# name -> (parameters it needs, statements from the parameters)
POLICY_TEMPLATES: dict[str, tuple[tuple[str, ...], Callable[[dict[str, str]], Statements]]] = {
    "DynamoDBCrudPolicy": (("TableName",), lambda p: [_allow(
        [*_DYNAMODB_READ, *_DYNAMODB_WRITE, "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"], _table(p))]),
    "DynamoDBReadPolicy": (("TableName",), lambda p: [_allow(_DYNAMODB_READ, _table(p))]),
    "DynamoDBWritePolicy": (("TableName",), lambda p: [_allow(_DYNAMODB_WRITE, _table(p))]),
    "DynamoDBStreamReadPolicy": (("TableName", "StreamName"), lambda p: [
        _allow(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
               f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{p['TableName']}/stream/{p['StreamName']}"),
        _allow(["dynamodb:ListStreams"], f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{p['TableName']}/stream/*")]),
    "SQSPollerPolicy": (("QueueName",), lambda p: [_allow(
        ["sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage", "sqs:DeleteMessageBatch",
         "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{p['QueueName']}")]),
    "SQSSendMessagePolicy": (("QueueName",), lambda p: [_allow(
        ["sqs:SendMessage*"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{p['QueueName']}")]),
    "SNSPublishMessagePolicy": (("TopicName",), lambda p: [_allow(
        ["sns:Publish"], f"arn:aws:sns:{REGION}:{ACCOUNT}:{p['TopicName']}")]),
    "S3ReadPolicy": (("BucketName",), lambda p: [_allow(_S3_READ, _bucket(p))]),
    "S3WritePolicy": (("BucketName",), lambda p: [_allow(_S3_WRITE, _bucket(p))]),
    "S3CrudPolicy": (("BucketName",), lambda p: [_allow([*_S3_READ, *_S3_WRITE, "s3:DeleteObject"], _bucket(p))]),
    "LambdaInvokePolicy": (("FunctionName",), lambda p: [_allow(
        ["lambda:InvokeFunction"], f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{p['FunctionName']}*")]),
    "CloudWatchPutMetricPolicy": ((), lambda p: [_allow(["cloudwatch:PutMetricData"], "*")]),
    "EventBridgePutEventsPolicy": (("EventBusName",), lambda p: [_allow(
        ["events:PutEvents"], f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{p['EventBusName']}")]),
    "SSMParameterReadPolicy": (("ParameterName",), lambda p: [
        _allow(["ssm:DescribeParameters"], "*"),
        _allow(["ssm:GetParameters", "ssm:GetParameter", "ssm:GetParametersByPath"],
               f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{p['ParameterName']}")]),
    "AWSSecretsManagerGetSecretValuePolicy": (("SecretArn",), lambda p: [_allow(
        ["secretsmanager:GetSecretValue"], p["SecretArn"])]),
}


@dataclass
class RolePolicies:
    """What a function's role gets: managed policies attached and one inline document per entry."""

    managed: list[str] = field(default_factory=lambda: [BASIC_EXECUTION])
    inline: list[dict[str, Any]] = field(default_factory=list)


def expand(policies: Any, where: str) -> RolePolicies:
    """A resolved ``Policies`` value (a name, a document, a template, or a list of them)."""
    out = RolePolicies()
    for entry in policies if isinstance(policies, list) else [policies] if policies else []:
        if isinstance(entry, str):
            arn = entry if entry.startswith("arn:") else f"arn:aws:iam::aws:policy/{entry}"
            if arn not in out.managed:
                out.managed.append(arn)
        elif isinstance(entry, dict) and "Statement" in entry:
            out.inline.append({"Version": "2012-10-17", **entry})
        elif isinstance(entry, dict) and len(entry) == 1:
            (name, parameters), = entry.items()
            out.inline.append({"Version": "2012-10-17", "Statement": template_statements(name, parameters or {}, where)})
        else:
            raise UnsupportedError(f"{where}: Policies entry {entry!r} is not a policy name, document or SAM policy template")
    return out


def template_statements(name: str, parameters: dict[str, Any], where: str) -> Statements:
    """The statements of one SAM policy template."""
    if name not in POLICY_TEMPLATES:
        raise UnsupportedError(
            f"{where}: the SAM policy template {name} is not supported by labkit deploy: use one of "
            f"{', '.join(sorted(POLICY_TEMPLATES))}, or an inline policy document"
        )
    needed, build = POLICY_TEMPLATES[name]
    missing = [key for key in needed if key not in parameters]
    if missing:
        raise TemplateError(f"{where}: the policy template {name} needs {missing}, e.g. {{{name}: {{{needed[0]}: ...}}}}")
    return build({key: str(value) for key, value in parameters.items()})
