"""Chapter 09, security: a least-privilege execution role, and a secret fetched with a cache.

Both checks run the learner's work on the local AWS (`labkit.aws.start()`), where execution
roles are enforced: the least-privilege check deploys the chapter's receipts function with a role
holding the learner's policy and invokes it; the secret check runs the learner's handler with
the Powertools layer against a secret it creates, rotates the secret and invokes again.
"""
from __future__ import annotations

import contextlib
import io
import json
import uuid
import zipfile
from typing import Any

from labkit.aws.waiters import wait_function_ready
from labkit.course.checks import CheckFailed, exercise, expect
from labkit.course.exercises.ch01 import expect_ok, handler_file
from labkit.runtime.function import Function
from labkit.runtime.layers import powertools_layer
from labkit.security.iam import PolicyError, statements

ORDERS_TABLE = "orders"
RECEIPTS_BUCKET = "receipts"
RECEIPTS_HANDLER = '''import json
import os

import boto3

orders = boto3.resource("dynamodb").Table(os.environ["TABLE"])
s3 = boto3.client("s3")


def handler(event, context):
    order = orders.get_item(Key={"order_id": event["order_id"]})["Item"]
    receipt = {"order_id": order["order_id"], "total": str(order["total"])}
    s3.put_object(Bucket=os.environ["BUCKET"], Key=f"receipts/{order['order_id']}.json", Body=json.dumps(receipt))
    return receipt
'''
"""The function whose role the learner shrinks: one GetItem on the orders table, one PutObject into the bucket."""

NEEDED_ACTIONS = frozenset({"dynamodb:GetItem", "s3:PutObject"})
LOG_ACTIONS = frozenset({"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"})
"""What a function's role needs to write its logs on AWS (AWSLambdaBasicExecutionRole); allowed, not required."""
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def receipts_package() -> bytes:
    """The receipts function's deployment package (a zip file's bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("receipts.py", RECEIPTS_HANDLER)
    return buffer.getvalue()


def ensure_orders(aws: Any, order_id: str = "o-1001", total: int = 42) -> None:
    """The orders table and the receipts bucket of the exercise (created when missing), with one order."""
    dynamodb, s3 = aws.client("dynamodb"), aws.client("s3")
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(
            TableName=ORDERS_TABLE, KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        s3.create_bucket(Bucket=RECEIPTS_BUCKET)
    dynamodb.put_item(TableName=ORDERS_TABLE, Item={"order_id": {"S": order_id}, "total": {"N": str(total)}})


# -- 09.least-priv ------------------------------------------------------------------------------


def _allowed_actions(document: Any) -> list[tuple[str, list[str]]]:
    """(action, resources) of every Allow statement, checked to be a policy document."""
    expect(isinstance(document, (dict, str)), "pass the policy document: a dict with \"Version\" and \"Statement\".")
    try:
        found = statements(document)
    except PolicyError as exc:
        raise CheckFailed(f"{exc}.") from None
    pairs: list[tuple[str, list[str]]] = []
    for statement in found:
        expect("NotAction" not in statement, "NotAction allows everything except what it names: list the actions instead.")
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"]
        resources = statement.get("Resource", [])
        for action in [actions] if isinstance(actions, str) else actions:
            pairs.append((action, [resources] if isinstance(resources, str) else list(resources)))
    return pairs


def _run_receipts(aws: Any, document: Any) -> tuple[dict[str, Any], Any]:
    """Deploy the receipts function with a role holding `document`; (its response payload, its FunctionError)."""
    suffix = uuid.uuid4().hex[:8]
    iam, lam = aws.client("iam"), aws.client("lambda")
    role_name, function_name = f"check-09-receipts-{suffix}", f"check-09-receipts-{suffix}"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]
    policy_text = document if isinstance(document, str) else json.dumps(document)
    try:
        iam.put_role_policy(RoleName=role_name, PolicyName="receipts", PolicyDocument=policy_text)
        lam.create_function(
            FunctionName=function_name, Runtime="python3.12", Role=role_arn, Handler="receipts.handler",
            Code={"ZipFile": receipts_package()}, Timeout=10,
            Environment={"Variables": {"TABLE": ORDERS_TABLE, "BUCKET": RECEIPTS_BUCKET}},
        )
        wait_function_ready(lam, function_name)
        response = lam.invoke(FunctionName=function_name, Payload=json.dumps({"order_id": "o-1001"}))
        return json.loads(response["Payload"].read()), response.get("FunctionError")
    finally:
        with contextlib.suppress(Exception):  # clean-up only: the check's verdict stands
            lam.delete_function(FunctionName=function_name)
        with contextlib.suppress(Exception):
            iam.delete_role_policy(RoleName=role_name, PolicyName="receipts")
            iam.delete_role(RoleName=role_name)


@exercise("09.least-priv", title="Shrink a policy until the function still works")
def least_privilege(answer: Any) -> None:
    """`answer`: the receipts function's policy document: it must work, with only the actions it calls, on its resources."""
    from labkit.aws import start

    pairs = _allowed_actions(answer)
    expect(pairs, "the policy allows nothing: it needs at least one Allow statement.")
    aws = start()
    ensure_orders(aws)
    result, error = _run_receipts(aws, answer)
    if error:
        message = str(result.get("errorMessage", result))[:400]
        expect(False, f"with this policy the function fails: {message}. Allow what the message names, on that resource.")
    expect(result.get("order_id") == "o-1001", f"the function returned {result!r}, not the receipt of order o-1001.")
    for action, resources in pairs:
        expect("*" not in action and "?" not in action,
               f"'{action}' is a wildcard: name each action the function calls (its code makes two AWS calls).")
        expect(action.lower() in {a.lower() for a in NEEDED_ACTIONS | LOG_ACTIONS},
               f"the function never calls {action}: remove it.")
        if action.lower() in {a.lower() for a in NEEDED_ACTIONS}:
            expect("*" not in resources and resources,
                   f"{action} is allowed on every resource (\"*\"): give the ARN of the {'table' if action.startswith('dynamodb') else 'bucket objects'} it needs.")
            expect(all(r.startswith(("arn:aws:dynamodb", "arn:aws:s3:::")) for r in resources),
                   f"the resources of {action} are not ARNs of a table or of S3 objects: {resources}.")


# -- 09.secret-cache --------------------------------------------------------------------------------


@exercise("09.secret-cache", title="Fetch a secret with caching")
def cached_secret(answer: Any) -> None:
    """`answer`: the path of a handler that returns {"user": <the secret's username>}, fetched with a cache."""
    from labkit.aws import start

    path = handler_file(answer)
    aws = start()
    secrets = aws.client("secretsmanager")
    name = f"check-09-db-{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    secrets.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": password}))
    env = {"AWS_ENDPOINT_URL": aws.endpoint_url, "SECRET_NAME": name}
    settings = {"code": path.parent, "env": env, "timeout_s": 10, "layers": [powertools_layer()]}
    try:
        with Function(f"{path.stem}.handler", name=f"check-{path.stem}", **settings) as fn:  # type: ignore[arg-type]
            first = fn.invoke({})
            expect_ok(first, {})
            expect(first.result == {"user": "app"},
                   f"the handler returned {first.result!r}, not {{'user': 'app'}}: read the secret named by SECRET_NAME "
                   "(a JSON string) and return its username.")
            secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"username": "rotated", "password": password}))
            second = fn.invoke({})
            expect_ok(second, {})
            expect(second.result == {"user": "app"},
                   "the second invocation, in the same warm environment, fetched the secret again (it saw the rotated "
                   "username): keep it in a cache that outlives one invocation, e.g. parameters.get_secret(name, max_age=300).")
            logs = first.logs + second.logs
        with Function(f"{path.stem}.handler", name=f"check-{path.stem}-fresh", **settings) as fresh:  # type: ignore[arg-type]
            third = fresh.invoke({})
        expect_ok(third, {})
        expect(third.result == {"user": "rotated"},
               f"a new execution environment returned {third.result!r}: it should read the current secret from "
               "Secrets Manager (not a value written into the code).")
        expect(password not in logs + third.logs, "the secret's password appears in the function's logs: never log secrets.")
    finally:
        with contextlib.suppress(Exception):
            secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
