"""Chapter 09's checks: a least-privilege role for the receipts function, a secret fetched with a cache."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit.course.exercises import ch09
from labkit.course.registry import CheckFailed

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
OBJECTS_ARN = "arn:aws:s3:::receipts/*"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


LEAST = policy(
    {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE_ARN},
    {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": OBJECTS_ARN},
)


def test_least_privilege_passes_the_two_actions_on_their_resources() -> None:
    ch09.least_privilege(LEAST)
    with_logs = policy(*LEAST["Statement"], {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"})
    ch09.least_privilege(with_logs)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (policy({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE_ARN}),
         "is not authorized to perform: s3:PutObject"),
        (policy({"Effect": "Allow", "Action": ["dynamodb:*", "s3:*"], "Resource": "*"}), "wildcard"),
        (policy(*LEAST["Statement"], {"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": TABLE_ARN}),
         "never calls dynamodb:DeleteItem"),
        (policy({"Effect": "Allow", "Action": ["dynamodb:GetItem", "s3:PutObject"], "Resource": "*"}), "every resource"),
        ({"Statement": [{"Action": "s3:*"}]}, "Effect"),
        ("not json", "not valid JSON"),
    ],
)
def test_least_privilege_hints(answer: Any, hint: str) -> None:
    with pytest.raises(CheckFailed, match=hint):
        ch09.least_privilege(answer)


CACHED = '''
import json, os
from aws_lambda_powertools.utilities import parameters

def handler(event, context):
    secret = json.loads(parameters.get_secret(os.environ["SECRET_NAME"], max_age=300))
    return {"user": secret["username"]}
'''
UNCACHED = '''
import json, os, boto3

def handler(event, context):
    value = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SECRET_NAME"])["SecretString"]
    return {"user": json.loads(value)["username"]}
'''
LOGGED = CACHED.replace('    return {"user"', '    print("fetched", secret)\n    return {"user"')
HARDCODED = 'def handler(event, context):\n    return {"user": "app"}\n'


def write(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "db_user.py"
    path.write_text(source)
    return path


def test_cached_secret_passes_powertools_parameters_with_a_max_age(tmp_path: Path) -> None:
    ch09.cached_secret(write(tmp_path, CACHED))


@pytest.mark.parametrize(
    ("source", "hint"),
    [(UNCACHED, "fetched the secret again"), (HARDCODED, "new execution environment"), (LOGGED, "never log secrets")],
)
def test_cached_secret_hints(tmp_path: Path, source: str, hint: str) -> None:
    with pytest.raises(CheckFailed, match=hint):
        ch09.cached_secret(write(tmp_path, source))
