"""IAM policy evaluation, role session credentials and request descriptions."""
from __future__ import annotations

import json

import pytest

from labkit.security import sessions
from labkit.security.actions import describe
from labkit.security.conditions import holds
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
    unknown = allow("s3:*", Condition={"DateGreaterThn": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})
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


# --------------------------------------------------------------------------- condition operators, family by family

IN_2026 = "2026-01-01T00:00:00Z"
EPOCH_2026 = "1767225600"
HI = "aGk="  # base64 of b"hi"


def holds_for(operator: str, values, keys: dict, notes: list[str] | None = None, *, variables: bool = False) -> bool:
    wanted = values if isinstance(values, list) else [values]
    return holds(operator, "k", [str(v) for v in wanted], RequestContext(None, keys), variables=variables, notes=notes)


@pytest.mark.parametrize(
    ("operator", "values", "keys", "expected"),
    [
        ("StringEquals", "a", {"k": "a"}, True),
        ("StringEquals", "a", {"k": "A"}, False),
        ("StringEquals", ["x", "a"], {"K": "a"}, True),  # values ORed; key names case-insensitive
        ("StringNotEquals", ["a", "b"], {"k": "b"}, False),  # negated: NOR of the values
        ("StringNotEquals", ["a", "b"], {"k": "c"}, True),
        ("StringEqualsIgnoreCase", "ABC", {"k": "abc"}, True),
        ("StringEqualsIgnoreCase", "ABC", {"k": "abd"}, False),
        ("StringNotEqualsIgnoreCase", "ABC", {"k": "abc"}, False),
        ("StringLike", "home/*", {"k": "home/a/b"}, True),
        ("StringLike", "a?c", {"k": "abbc"}, False),
        ("StringNotLike", "home/*", {"k": "work/a"}, True),
        ("StringNotLike", "home/*", {"k": "home/a"}, False),
        ("StringEquals", "a", {}, False),  # a missing key: false ...
        ("StringNotEquals", "a", {}, True),  # ... and true for a negated operator
        ("StringEqualsIfExists", "a", {}, True),
        ("StringEqualsIfExists", "a", {"k": "b"}, False),
        ("StringNotLikeIfExists", "a*", {"k": "ab"}, False),
    ],
)
def test_string_operators(operator, values, keys, expected) -> None:
    assert holds_for(operator, values, keys) is expected


@pytest.mark.parametrize(
    ("operator", "values", "keys", "expected"),
    [
        ("NumericEquals", "10", {"k": "10.0"}, True),
        ("NumericEquals", "10", {"k": "11"}, False),
        ("NumericNotEquals", "10", {"k": "11"}, True),
        ("NumericNotEquals", ["10", "11"], {"k": "11"}, False),
        ("NumericLessThan", "10", {"k": "9.5"}, True),
        ("NumericLessThan", "10", {"k": "10"}, False),
        ("NumericLessThanEquals", "10", {"k": "10"}, True),
        ("NumericLessThanEquals", "10", {"k": "10.5"}, False),
        ("NumericGreaterThan", "10", {"k": "11"}, True),
        ("NumericGreaterThan", "10", {"k": "10"}, False),
        ("NumericGreaterThanEquals", "-1", {"k": "-1"}, True),
        ("NumericGreaterThanEquals", "10", {"k": "9"}, False),
        ("NumericLessThan", 100, {"k": "99"}, True),  # a JSON number in the policy
        ("NumericLessThan", "10", {}, False),
        ("NumericNotEquals", "10", {}, True),
        ("NumericLessThanIfExists", "10", {}, True),
        ("NumericLessThanIfExists", "10", {"k": "12"}, False),
        ("NumericEquals", "ten", {"k": "10"}, False),
        ("NumericEquals", "10", {"k": "ten"}, False),
    ],
)
def test_numeric_operators(operator, values, keys, expected) -> None:
    assert holds_for(operator, values, keys) is expected


@pytest.mark.parametrize(
    ("operator", "values", "keys", "expected"),
    [
        ("DateLessThan", "2030-01-01T00:00:00Z", {"k": IN_2026}, True),
        ("DateLessThan", "2020-01-01T00:00:00Z", {"k": IN_2026}, False),
        ("DateLessThan", IN_2026, {"k": IN_2026}, False),
        ("DateLessThanEquals", IN_2026, {"k": IN_2026}, True),
        ("DateLessThanEquals", IN_2026, {"k": "2026-01-01T00:00:01Z"}, False),
        ("DateGreaterThan", "1700000000", {"k": IN_2026}, True),  # epoch seconds in the policy
        ("DateGreaterThan", "1800000000", {"k": IN_2026}, False),
        ("DateGreaterThanEquals", IN_2026, {"k": EPOCH_2026}, True),  # epoch seconds in the request
        ("DateGreaterThanEquals", IN_2026, {"k": str(int(EPOCH_2026) - 1)}, False),
        ("DateEquals", IN_2026, {"k": EPOCH_2026}, True),
        ("DateEquals", "2026-01-01T01:00:00+01:00", {"k": IN_2026}, True),  # an offset
        ("DateEquals", "2026-01-01", {"k": IN_2026}, True),  # a date alone: midnight UTC
        ("DateEquals", "2026-01-02", {"k": IN_2026}, False),
        ("DateNotEquals", IN_2026, {"k": EPOCH_2026}, False),
        ("DateNotEquals", "2025-01-01T00:00:00Z", {"k": IN_2026}, True),
        ("DateLessThan", "2030-01-01T00:00:00Z", {}, False),
        ("DateLessThanIfExists", "2030-01-01T00:00:00Z", {}, True),
        ("DateLessThan", "tomorrow", {"k": IN_2026}, False),
    ],
)
def test_date_operators(operator, values, keys, expected) -> None:
    assert holds_for(operator, values, keys) is expected


@pytest.mark.parametrize(
    ("operator", "values", "keys", "expected"),
    [
        ("Bool", "true", {"k": "true"}, True),
        ("Bool", "true", {"k": "false"}, False),
        ("Bool", True, {"k": "TRUE"}, True),  # a JSON boolean in the policy
        ("Bool", "false", {}, False),
        ("BoolIfExists", "false", {}, True),
        ("BinaryEquals", HI, {"k": HI}, True),
        ("BinaryEquals", HI, {"k": "aGo="}, False),
        ("BinaryEquals", "not base64!", {"k": HI}, False),
        ("BinaryEquals", HI, {}, False),
        ("BinaryEqualsIfExists", HI, {}, True),
        ("IpAddress", "203.0.113.0/24", {"k": "203.0.113.7"}, True),
        ("IpAddress", "203.0.113.0/24", {"k": "198.51.100.1"}, False),
        ("IpAddress", "127.0.0.1", {"k": "127.0.0.1"}, True),  # an address alone: a /32
        ("IpAddress", "127.0.0.1", {"k": "127.0.0.2"}, False),
        ("IpAddress", "2001:db8::/32", {"k": "2001:db8:1::5"}, True),
        ("IpAddress", "2001:db8::/32", {"k": "2001:db9::5"}, False),
        ("IpAddress", "2001:db8::/32", {"k": "203.0.113.7"}, False),  # another family
        ("IpAddress", "203.0.113.0/24", {"k": "::ffff:203.0.113.7"}, True),  # an IPv4-mapped address
        ("IpAddress", ["10.0.0.0/8", "203.0.113.0/24"], {"k": "10.9.8.7"}, True),
        ("IpAddress", "203.0.113.0/24", {}, False),
        ("IpAddress", "203.0.113.0/24", {"k": "localhost"}, False),
        ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], {"k": "192.168.1.1"}, False),
        ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], {"k": "8.8.8.8"}, True),
        ("NotIpAddress", "10.0.0.0/8", {}, True),
        ("NotIpAddressIfExists", "10.0.0.0/8", {"k": "10.0.0.1"}, False),
    ],
)
def test_bool_binary_and_ip_address_operators(operator, values, keys, expected) -> None:
    assert holds_for(operator, values, keys) is expected


@pytest.mark.parametrize(
    ("operator", "values", "keys", "expected"),
    [
        ("ArnLike", "arn:aws:s3:::uploads*", {"k": "arn:aws:s3:::uploads-1"}, True),
        ("ArnLike", "arn:aws:s3:::uploads*", {"k": "arn:aws:s3:::other"}, False),
        ("ArnEquals", "arn:aws:sqs:*:123456789012:q", {"k": "arn:aws:sqs:us-east-1:123456789012:q"}, True),
        ("ArnEquals", "arn:aws:sqs:*:123456789012:q", {"k": "arn:aws:sqs:us-east-1:210987654321:q"}, False),
        ("ArnLike", "arn:aws:sqs:*:q", {"k": "arn:aws:sqs:us-east-1:123456789012:q"}, False),  # one component each
        ("ArnLike", "arn:aws:logs:*:*:log-group:*", {"k": "arn:aws:logs:us-east-1:1:log-group:/aws/x:*"}, True),
        ("ArnNotLike", "arn:aws:s3:::uploads*", {"k": "arn:aws:s3:::other"}, True),
        ("ArnNotEquals", "arn:aws:s3:::uploads", {"k": "arn:aws:s3:::uploads"}, False),
        ("ArnLike", "arn:aws:s3:::uploads*", {}, False),
        ("ArnNotLike", "arn:aws:s3:::uploads*", {}, True),
        ("ArnLikeIfExists", "arn:aws:s3:::uploads*", {}, True),
        ("Null", "true", {}, True),
        ("Null", "true", {"k": "x"}, False),
        ("Null", "false", {"k": "x"}, True),
        ("Null", "false", {}, False),
    ],
)
def test_arn_and_null_operators(operator, values, keys, expected) -> None:
    assert holds_for(operator, values, keys) is expected


@pytest.mark.parametrize(
    ("operator", "values", "keys", "expected"),
    [
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["b", "a"]}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),  # no values in the request: true
        ("ForAllValues:StringEquals", ["a"], {"k": []}, True),
        ("ForAnyValue:StringEquals", ["a"], {"k": ["x", "a"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {"k": ["x", "y"]}, False),
        ("ForAnyValue:StringEquals", ["a"], {}, False),  # no values in the request: false
        ("ForAllValues:StringNotEquals", ["a"], {"k": ["x", "y"]}, True),
        ("ForAllValues:StringNotEquals", ["a"], {"k": ["x", "a"]}, False),
        ("ForAnyValue:StringNotEquals", ["a"], {"k": ["a", "x"]}, True),
        ("ForAnyValue:StringNotEquals", ["a"], {"k": ["a"]}, False),
        ("ForAnyValue:StringNotEquals", ["a"], {}, False),
        ("ForAnyValue:StringLike", "Created*", {"k": ["Owner", "CreatedBy"]}, True),
        ("ForAllValues:StringLike", "Created*", {"k": ["Owner", "CreatedBy"]}, False),
        ("ForAnyValue:StringEqualsIfExists", "a", {}, True),
        ("ForAllValues:NumericLessThan", "10", {"k": ["1", "2"]}, True),
        ("ForAllValues:NumericLessThan", "10", {"k": ["1", "20"]}, False),
        ("ForAnyValue:IpAddress", "10.0.0.0/8", {"k": ["192.168.0.1", "10.1.1.1"]}, True),
        ("StringEquals", "a", {"k": ["x", "a"]}, True),  # no set operator: any value of the request
    ],
)
def test_set_operators_for_multivalued_keys(operator, values, keys, expected) -> None:
    assert holds_for(operator, values, keys) is expected


@pytest.mark.parametrize(
    "operator", ["StringEqualz", "NullIfExists", "ForSomeValues:StringEquals", "ForAllValues:Null", "stringequals", "Ip"]
)
def test_unknown_operators_match_nothing_and_say_so(operator) -> None:
    notes: list[str] = []
    assert holds_for(operator, "a", {"k": "a"}, notes) is False
    assert holds_for(operator, "a", {}) is False
    assert len(notes) == 1 and repr(operator) in notes[0] and "not one labkit knows" in notes[0]
    allowed = evaluate([policy(allow("s3:*", Condition={operator: {"k": "a"}}))], "s3:GetObject", "*",
                       RequestContext(None, {"k": "a"}))
    assert allowed.effect is Effect.IMPLICIT_DENY and len(allowed.notes) == 1
    denied = evaluate([policy(allow("s3:*"), deny("s3:*", Condition={operator: {"k": "a"}}))], "s3:GetObject", "*",
                      RequestContext(None, {"k": "a"}))
    assert denied.effect is Effect.ALLOW and "Allow allows nothing, a Deny denies nothing" in denied.notes[0]


def test_values_of_the_wrong_type_are_noted() -> None:
    notes: list[str] = []
    assert not holds_for("NumericLessThan", "ten", {"k": "1"}, notes)
    assert not holds_for("IpAddress", "10.0.0.0/8", {"k": "my-laptop"}, notes)
    assert notes == [
        "NumericLessThan: the policy's value 'ten' for k is not a number, so it matches nothing",
        "IpAddress: the request's value 'my-laptop' of k is not an IP address, so it matches nothing",
    ]


def test_operators_and_keys_are_anded() -> None:
    statement = allow("dynamodb:GetItem", Condition={
        "NumericLessThan": {"dynamodb:Limit": "10"},
        "StringEquals": {"aws:RequestedRegion": "eu-west-1", "aws:PrincipalAccount": "123456789012"},
    })
    keys = {"dynamodb:Limit": "5", "aws:RequestedRegion": "eu-west-1", "aws:PrincipalAccount": "123456789012"}
    assert evaluate([policy(statement)], "dynamodb:GetItem", TABLE, RequestContext(None, keys)).allowed
    for key, other in (("dynamodb:Limit", "50"), ("aws:RequestedRegion", "us-east-1"), ("aws:PrincipalAccount", "1")):
        assert not evaluate([policy(statement)], "dynamodb:GetItem", TABLE, RequestContext(None, {**keys, key: other})).allowed


# --------------------------------------------------------------------------- policy variables

HOME = "arn:aws:s3:::home/${aws:username}/*"


@pytest.mark.parametrize(
    ("resource_pattern", "keys", "resource", "version", "allowed"),
    [
        (HOME, {"aws:username": "ada"}, "arn:aws:s3:::home/ada/notes", "2012-10-17", True),
        (HOME, {"aws:username": "ada"}, "arn:aws:s3:::home/bob/notes", "2012-10-17", False),
        (HOME, {}, "arn:aws:s3:::home//notes", "2012-10-17", False),  # no value: matches nothing
        (HOME, {"aws:username": "ada"}, "arn:aws:s3:::home/ada/notes", "2008-10-17", False),  # older: literal text
        (HOME, {"aws:username": ["ada", "bob"]}, "arn:aws:s3:::home/ada/notes", "2012-10-17", False),  # several values
        ("arn:aws:s3:::home/${aws:username, 'guest'}/*", {}, "arn:aws:s3:::home/guest/x", "2012-10-17", True),
        ("arn:aws:s3:::home/${aws:username, 'o''brien'}/*", {}, "arn:aws:s3:::home/o'brien/x", "2012-10-17", True),
        ("arn:aws:s3:::b/${*}", {}, "arn:aws:s3:::b/*", "2012-10-17", True),  # ${*}: the character itself
        ("arn:aws:s3:::b/${*}", {}, "arn:aws:s3:::b/x", "2012-10-17", False),
        ("arn:aws:s3:::b/${?}${$}", {}, "arn:aws:s3:::b/?$", "2012-10-17", True),
        ("arn:aws:s3:::b/${?}", {}, "arn:aws:s3:::b/x", "2012-10-17", False),
        ("arn:aws:s3:::${aws:PrincipalTag/team}-*", {"aws:PrincipalTag/team": "data"}, "arn:aws:s3:::data-1", "2012-10-17", True),
        ("arn:aws:s3:::${aws:username}", {"aws:username": "a*"}, "arn:aws:s3:::abc", "2012-10-17", False),  # literal value
    ],
)
def test_policy_variables_in_resources(resource_pattern, keys, resource, version, allowed) -> None:
    document = {"Version": version, "Statement": [allow("s3:GetObject", resource_pattern)]}
    assert evaluate([document], "s3:GetObject", resource, RequestContext(None, keys)).allowed is allowed


@pytest.mark.parametrize(
    ("operator", "value", "keys", "expected"),
    [
        ("StringLike", "${aws:username}/*", {"aws:username": "ada", "k": "ada/x"}, True),
        ("StringLike", "${aws:username}/*", {"aws:username": "ada", "k": "bob/x"}, False),
        ("StringEquals", "${aws:userid}", {"k": "AROA:fn"}, False),  # no such key
        ("StringNotEquals", "${aws:PrincipalAccount}", {"aws:PrincipalAccount": "1", "k": "1"}, False),
        ("StringEquals", "a${$}b${?}", {"k": "a$b?"}, True),
        ("ArnLike", "arn:aws:iam::${aws:PrincipalAccount}:role/*", {"aws:PrincipalAccount": "1", "k": "arn:aws:iam::1:role/r"}, True),
        ("Bool", "${aws:SecureTransport}", {"aws:SecureTransport": "false", "k": "false"}, True),
        ("NumericEquals", "${aws:EpochTime}", {"aws:EpochTime": "5", "k": "5"}, False),  # not for numbers
    ],
)
def test_policy_variables_in_condition_values(operator, value, keys, expected) -> None:
    assert holds_for(operator, value, keys, variables=True) is expected


# --------------------------------------------------------------------------- the gate's request context


def test_the_gates_request_context_carries_time_source_ip_transport_and_region() -> None:
    from labkit.security.enforce import request_context

    session = sessions.RoleSession("arn:aws:iam::123456789012:role/app", "fn")
    context = request_context(session, "eu-west-1", "10.1.2.3", now=1767225600.7)
    assert context.principal == "arn:aws:sts::123456789012:assumed-role/app/fn"
    assert {key: context.value(key) for key in ("aws:CurrentTime", "aws:EpochTime", "aws:SourceIp",
                                                "aws:SecureTransport", "aws:RequestedRegion", "aws:PrincipalType")} == {
        "aws:CurrentTime": [IN_2026], "aws:EpochTime": [EPOCH_2026], "aws:SourceIp": ["10.1.2.3"],
        "aws:SecureTransport": ["false"], "aws:RequestedRegion": ["eu-west-1"], "aws:PrincipalType": ["AssumedRole"],
    }
    assert request_context(session, "eu-west-1", None).value("aws:SourceIp") is None


def test_the_authorizer_decides_with_the_clients_address_and_warns_once_about_unknown_operators(caplog) -> None:
    from labkit.security.enforce import Authorizer

    document = policy(allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
                      deny("s3:GetObject", Condition={"DateGreaterThn": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}))
    authorizer = Authorizer(policies=lambda role_name, account: [document])
    token = sessions.issue("arn:aws:iam::123456789012:role/r", "fn")["AWS_SESSION_TOKEN"]
    signed = {"authorization": "AWS4-HMAC-SHA256 Credential=ASIA/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
              "x-amz-security-token": token}
    with caplog.at_level("WARNING", logger="labkit.security.enforce"):
        assert authorizer("GET", "/b/k", signed, b"", "10.1.2.3") is None
        denial = authorizer("GET", "/b/k", signed, b"", "127.0.0.1")
    assert denial is not None and denial.status == 403 and b"AccessDenied" in denial.body
    assert authorizer("GET", "/b/k", signed, b"") is not None  # no address: IpAddress does not hold
    warnings = [r.getMessage() for r in caplog.records if "DateGreaterThn" in r.getMessage()]
    assert len(warnings) == 1 and "not one labkit knows" in warnings[0]
