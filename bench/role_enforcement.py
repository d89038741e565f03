"""What enforcing an execution role costs per AWS call: role-signed requests against admin-signed ones.

    .venv/bin/python bench/role_enforcement.py [--n 500]

Both peers run in the same local AWS, in the same run, with the same boto3 call (DynamoDB
GetItem on one item) on a kept-alive connection: one client signs with the learner's own
credentials (not evaluated), the other with an execution role's session credentials, so every
request is described from botocore's model and evaluated against the role's policy from the
local IAM before moto answers. The calls take turns. Prints p50/p99 of each and the role / admin ratio.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.peers import percentile
from labkit.aws.local import LocalAws
from labkit.security import sessions

TABLE = "bench-roles"


def interleaved_ms(calls: dict[str, Callable[[], object]], n: int) -> dict[str, list[float]]:
    """Each call n times, taking turns (so both see the same machine load), after a warm-up; ms each."""
    for call in calls.values():  # warm-up: connections, moto's app, botocore's caches
        for _ in range(20):
            call()
    out: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            out[name].append((time.perf_counter() - began) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    with LocalAws.start() as aws:
        admin = aws.client("dynamodb")
        admin.create_table(
            TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
        admin.put_item(TableName=TABLE, Item={"pk": {"S": "a"}})
        iam = aws.client("iam")
        role_arn = iam.create_role(RoleName="bench-reader", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        iam.put_role_policy(RoleName="bench-reader", PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": f"arn:aws:dynamodb:us-east-1:*:table/{TABLE}"}]}))
        creds = sessions.issue(role_arn, "bench")
        role = boto3.client(
            "dynamodb", endpoint_url=aws.endpoint_url, region_name="us-east-1", aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"], aws_session_token=creds["AWS_SESSION_TOKEN"],
        )
        key = {"pk": {"S": "a"}}
        results = interleaved_ms(
            {
                "admin (not evaluated)": lambda: admin.get_item(TableName=TABLE, Key=key),
                "execution role": lambda: role.get_item(TableName=TABLE, Key=key),
            },
            args.n,
        )
    for name, values in results.items():
        print(f"{name:>22}: p50 {percentile(values, 50):6.2f} ms   p99 {percentile(values, 99):6.2f} ms   (n={len(values)})")
    admin_p50, role_p50 = (percentile(v, 50) for v in results.values())
    print(f"role / admin p50 ratio: {role_p50 / admin_p50:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
