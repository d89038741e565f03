"""The IAM action and resource ARNs of one AWS API request, from botocore's service models.

`describe(service, method, target, headers, body)` finds the request's operation and its
parameters the way the embedded AWS does (:func:`labkit.aws.embedded.requests.read_call`) and names
what IAM authorizes: the action (`dynamodb:PutItem`; a few differ from the operation's name, e.g.
`Invoke` is `lambda:InvokeFunction`, `ListObjectsV2` is `s3:ListBucket`) and the resource ARNs
(`arn:aws:dynamodb:us-east-1:123456789012:table/orders`; `*` for list operations). ARNs are
built for the services the course uses: s3, dynamodb, sqs, sns, secretsmanager, ssm, lambda,
events, logs; other services' requests get `*`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labkit.aws.embedded.iam import secret_arn
from labkit.aws.embedded.requests import read_call

# Operations whose IAM action is not `<prefix>:<operation>`.
ACTION_NAMES: dict[str, dict[str, str]] = {
    "s3": {
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "HeadBucket": "ListBucket",
        "HeadObject": "GetObject",
        "ListBuckets": "ListAllMyBuckets",
        "DeleteObjects": "DeleteObject",
        "CopyObject": "PutObject",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "UploadPartCopy": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "ListObjectVersions": "ListBucketVersions",
        "ListMultipartUploads": "ListBucketMultipartUploads",
        "ListParts": "ListMultipartUploadParts",
        "GetObjectAttributes": "GetObject",
    },
    "lambda": {
        "Invoke": "InvokeFunction",
        "InvokeWithResponseStream": "InvokeFunction",
        "ListFunctions20150331": "ListFunctions",
    },
}

FREE_ACTIONS = frozenset({"sts:GetCallerIdentity"})
"""Actions IAM never denies (any caller may ask who it is)."""


@dataclass(frozen=True)
class ApiCall:
    """One request as IAM sees it."""

    service: str
    operation: str
    action: str
    resources: tuple[str, ...]
    protocol: str


def describe(
    service: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    region: str,
    account: str,
) -> ApiCall | None:
    """The call a request makes, or None when its service's model has no operation for it."""
    request = read_call(service, method, target, headers, body)
    if request is None:
        return None
    name = request.operation
    action = f"{service}:{ACTION_NAMES.get(service, {}).get(name, name)}"
    builder = RESOURCE_BUILDERS.get(service)
    found = builder(name, request.params, region, account) if builder else []
    return ApiCall(service, name, action, tuple(found) or ("*",), request.protocol)


# --------------------------------------------------------------------------- resource ARNs per service

ResourceBuilder = Callable[[str, dict[str, Any], str, str], list[str]]


def _s3(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    bucket = params.get("Bucket")
    if not bucket:
        return []
    if operation == "DeleteObjects":
        objects = (params.get("Delete") or {}).get("Objects") or []
        return [f"arn:aws:s3:::{bucket}/{item.get('Key', '')}" for item in objects] or [f"arn:aws:s3:::{bucket}/*"]
    key = params.get("Key")
    return [f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"]


def _dynamodb(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    base = f"arn:aws:dynamodb:{region}:{account}:table/"
    if "RequestItems" in params:  # BatchGetItem, BatchWriteItem
        return [base + table for table in params["RequestItems"]]
    if "TransactItems" in params:
        tables = {body.get("TableName") for item in params["TransactItems"] for body in item.values() if isinstance(body, dict)}
        return [base + table for table in sorted(t for t in tables if t)]
    table = params.get("TableName") or params.get("TableArn") or params.get("ResourceArn")
    if not table:
        return []
    if table.startswith("arn:"):
        return [table]
    if params.get("IndexName"):
        return [f"{base}{table}/index/{params['IndexName']}"]
    if operation.endswith("Stream") or operation in ("DescribeStream", "GetRecords", "GetShardIterator"):
        return [f"{base}{table}/stream/*"]
    return [base + table]


def _sqs(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    url = params.get("QueueUrl")
    name = url.rstrip("/").rsplit("/", 1)[-1] if url else params.get("QueueName")
    return [f"arn:aws:sqs:{region}:{account}:{name}"] if name else []


def _sns(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    arn = params.get("TopicArn") or params.get("TargetArn") or params.get("ResourceArn")
    if arn:
        return [arn]
    if operation == "CreateTopic" and params.get("Name"):
        return [f"arn:aws:sns:{region}:{account}:{params['Name']}"]
    if params.get("SubscriptionArn"):
        return [params["SubscriptionArn"].rsplit(":", 1)[0]]
    return []


def _secretsmanager(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    secret = params.get("SecretId") or params.get("Name")
    if not secret:
        return []
    if secret.startswith("arn:"):
        return [secret]
    return [secret_arn(secret, region, account)]


def _ssm(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    names = params.get("Names") or ([params["Name"]] if params.get("Name") else [])
    if params.get("Path"):
        names = [params["Path"]]
    return [f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}" for name in names]


def _lambda(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    ref = params.get("FunctionName")
    if not ref:
        return []
    if ref.startswith("arn:"):
        return [ref]
    name, _, qualifier = ref.partition(":")
    qualifier = qualifier or params.get("Qualifier") or ""
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return [f"{arn}:{qualifier}" if qualifier else arn]


def _events(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    base = f"arn:aws:events:{region}:{account}:"
    if operation == "PutEvents":
        buses = {entry.get("EventBusName") or "default" for entry in params.get("Entries") or []}
        return [bus if bus.startswith("arn:") else f"{base}event-bus/{bus}" for bus in sorted(buses)]
    rule = params.get("Rule") if operation in ("PutTargets", "RemoveTargets", "ListTargetsByRule") else params.get("Name")
    if rule and operation not in ("CreateEventBus", "DeleteEventBus", "DescribeEventBus"):
        bus = params.get("EventBusName") or "default"
        return [f"{base}rule/{rule}" if bus == "default" else f"{base}rule/{bus}/{rule}"]
    if params.get("Name"):
        return [f"{base}event-bus/{params['Name']}"]
    return []


def _logs(operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    group = params.get("logGroupName")
    if not group:
        return []
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    stream = params.get("logStreamName")
    return [f"{arn}:log-stream:{stream}" if stream else f"{arn}:*"]


RESOURCE_BUILDERS: dict[str, ResourceBuilder] = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "sns": _sns,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "lambda": _lambda,
    "events": _events,
    "logs": _logs,
}
