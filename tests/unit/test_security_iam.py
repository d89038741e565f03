"""IAM policy evaluation, role session credentials and request descriptions."""
from __future__ import annotations

import json

import pytest

from labkit.security import sessions
from labkit.security.actions import describe
from labkit.security.iam import Effect, PolicyError, RequestContext, evaluate, matches

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("documents", "action", "resource", "effect"),
    [
        ([policy(allow("dynamodb:GetItem", TABLE))], "dynamodb:GetItem", TABLE, Effect.ALLOW),
        ([policy(allow("dynamodb:GetItem", TABLE))], "dynamodb:PutItem", TABLE, Effect.IMPLICIT_DENY),
        ([policy(allow("dynamodb:GetItem", TABLE))], "dynamodb:GetItem", TABLE + "2", Effect.IMPLICIT_DENY),
        ([policy(allow("DynamoDB:get*", "arn:aws:dynamodb:*:*:table/*"))], "dynamodb:GetItem", TABLE, Effect.ALLOW),
        ([policy(allow("dynamodb:?etItem", TABLE))], "dynamodb:GetItem", TABLE, Effect.ALLOW),
        ([policy(allow("*"), deny("dynamodb:Delete*"))], "dynamodb:DeleteItem", TABLE, Effect.EXPLICIT_DENY),
        ([policy(allow("*")), policy(deny("dynamodb:DeleteItem", TABLE))], "dynamodb:DeleteItem", TABLE, Effect.EXPLICIT_DENY),
        ([policy(allow("*"), deny("dynamodb:Delete*"))], "dynamodb:GetItem", TABLE, Effect.ALLOW),
        ([policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})], "iam:CreateUser", "*", Effect.IMPLICIT_DENY),
        ([policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})], "s3:GetObject",
         "arn:aws:s3:::secret/k", Effect.IMPLICIT_DENY),
        ([policy(allow("s3:GetObject", "arn:aws:s3:::Bucket/*"))], "s3:GetObject", "arn:aws:s3:::bucket/k", Effect.IMPLICIT_DENY),
        ([], "s3:GetObject", "*", Effect.IMPLICIT_DENY),
        ([json.dumps(policy(allow("sqs:SendMessage")))], "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q", Effect.ALLOW),
    ],
)
def test_evaluation(documents, action, resource, effect) -> None:
    assert evaluate(documents, action, resource).effect is effect


def test_a_single_statement_object_and_url_encoded_documents_are_read() -> None:
    encoded = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D"
    assert evaluate([encoded], "s3:PutObject", "arn:aws:s3:::b/k").allowed


def test_conditions_string_equals_like_arn_like_if_exists_and_unknown_operators() -> None:
    statement = allow("lambda:InvokeFunction", Condition={
        "StringEquals": {"AWS:SourceAccount": "123456789012"}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads*"}})
    ok = RequestContext("s3.amazonaws.com", {"aws:SourceAccount": "123456789012", "aws:SourceArn": "arn:aws:s3:::uploads-1"})
    assert evaluate([policy(statement)], "lambda:InvokeFunction", "*", ok).allowed
    other = RequestContext("s3.amazonaws.com", {"aws:SourceAccount": "123456789012", "aws:SourceArn": "arn:aws:s3:::x"})
    assert not evaluate([policy(statement)], "lambda:InvokeFunction", "*", other).allowed
    assert not evaluate([policy(statement)], "lambda:InvokeFunction", "*", RequestContext("s3.amazonaws.com")).allowed
    if_exists = allow("s3:*", Condition={"StringLikeIfExists": {"s3:prefix": "home/*"}})
    assert evaluate([policy(if_exists)], "s3:ListBucket", "*").allowed
    not_equals = deny("s3:*", Condition={"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}})
    assert evaluate([policy(allow("s3:*"), not_equals)], "s3:GetObject", "*",
                    RequestContext(None, {"aws:PrincipalAccount": "123456789012"})).allowed
    unknown = allow("s3:*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})
    assert not evaluate([policy(unknown)], "s3:GetObject", "*").allowed


def test_principals_of_resource_policies() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/caller"},
                 "Action": "lambda:InvokeFunction", "Resource": "*"}
    session = RequestContext("arn:aws:sts::123456789012:assumed-role/caller/fn",
                             {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/caller"})
    assert evaluate([policy(statement)], "lambda:InvokeFunction", "*", session).allowed
    assert not evaluate([policy(statement)], "lambda:InvokeFunction", "*", RequestContext("sns.amazonaws.com")).allowed
    account = dict(statement, Principal={"AWS": "arn:aws:iam::123456789012:root"})
    assert evaluate([policy(account)], "lambda:InvokeFunction", "*",
                    RequestContext("x", {"aws:PrincipalAccount": "123456789012"})).allowed


def test_invalid_documents_say_what_is_wrong() -> None:
    with pytest.raises(PolicyError, match="not valid JSON"):
        evaluate(["{nope"], "s3:GetObject", "*")
    with pytest.raises(PolicyError, match="Effect"):
        evaluate([{"Statement": [{"Action": "s3:*"}]}], "s3:GetObject", "*")


def test_wildcard_matching() -> None:
    assert matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c")
    assert not matches("arn:aws:s3:::b/?", "arn:aws:s3:::b/ab")
    assert matches("S3:get*", "s3:GetObject", ignore_case=True)


def test_session_tokens_name_their_role_and_cannot_be_forged() -> None:
    creds = sessions.issue("arn:aws:iam::123456789012:role/service-role/app-role", "my-fn")
    assert creds["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(creds["AWS_ACCESS_KEY_ID"]) == 20
    session = sessions.identify(creds["AWS_SESSION_TOKEN"])
    assert session is not None
    assert session.assumed_role_arn == "arn:aws:sts::123456789012:assumed-role/app-role/my-fn"
    forged = creds["AWS_SESSION_TOKEN"][:-1] + ("0" if creds["AWS_SESSION_TOKEN"][-1] != "0" else "1")
    assert sessions.identify(forged) is None
    assert sessions.identify("labkit-local-session-token") is None


@pytest.mark.parametrize(
    ("service", "method", "target", "headers", "body", "action", "resource"),
    [
        ("s3", "GET", "/b/k/x.txt", {}, b"", "s3:GetObject", "arn:aws:s3:::b/k/x.txt"),
        ("s3", "HEAD", "/b", {}, b"", "s3:ListBucket", "arn:aws:s3:::b"),
        ("sqs", "POST", "/", {"x-amz-target": "AmazonSQS.ReceiveMessage", "content-type": "application/x-amz-json-1.0"},
         b'{"QueueUrl": "http://h/123456789012/jobs"}', "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:123456789012:jobs"),
        ("secretsmanager", "POST", "/", {"x-amz-target": "secretsmanager.GetSecretValue", "content-type": "application/x-amz-json-1.1"},
         b'{"SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}', "secretsmanager:GetSecretValue",
         "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
        ("ssm", "POST", "/", {"x-amz-target": "AmazonSSM.GetParametersByPath", "content-type": "application/x-amz-json-1.1"},
         b'{"Path": "/app/"}', "ssm:GetParametersByPath", "arn:aws:ssm:us-east-1:123456789012:parameter/app/"),
        ("events", "POST", "/", {"x-amz-target": "AWSEvents.PutEvents", "content-type": "application/x-amz-json-1.1"},
         b'{"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}', "events:PutEvents",
         "arn:aws:events:us-east-1:123456789012:event-bus/default"),
        ("sns", "POST", "/", {"content-type": "application/x-www-form-urlencoded"},
         b"Action=ListTopics&Version=2010-03-31", "sns:ListTopics", "*"),
        ("lambda", "GET", "/2015-03-31/functions/f/policy", {}, b"", "lambda:GetPolicy",
         "arn:aws:lambda:us-east-1:123456789012:function:f"),
    ],
)
def test_requests_are_described_as_iam_action_and_resource(service, method, target, headers, body, action, resource) -> None:
    call = describe(service, method, target, headers, body, region="us-east-1", account="123456789012")
    assert call is not None
    assert (call.action, call.resources) == (action, (resource,))


def test_the_authorizer_passes_other_credentials_and_answers_its_own_failures_with_500() -> None:
    from labkit.security.enforce import Authorizer

    def broken(role_name: str, account: str) -> list[str]:
        raise RuntimeError("the policy store is gone")

    authorizer = Authorizer(policies=broken)
    signed = {"authorization": "AWS4-HMAC-SHA256 Credential=ASIA/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"}
    assert authorizer("GET", "/b/k", signed, b"") is None  # no session token: the learner's own credentials
    token = sessions.issue("arn:aws:iam::123456789012:role/r", "fn")["AWS_SESSION_TOKEN"]
    denial = authorizer("GET", "/b/k", {**signed, "x-amz-security-token": token}, b"")
    assert denial is not None and denial.status == 500
    assert b"the policy store is gone" in denial.body
