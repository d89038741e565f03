"""Execution roles on the local AWS: a function runs with its role's credentials and its calls are authorized."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.security import sessions
from tests.packages import app_zip

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
)

HANDLER = '''
import os, boto3
from botocore.exceptions import ClientError

def handler(event, context):
    table = boto3.resource("dynamodb").Table(event["table"])
    out = {"key_id": os.environ["AWS_ACCESS_KEY_ID"]}
    out["read"] = table.get_item(Key={"pk": "a"}).get("Item")
    try:
        table.put_item(Item={"pk": "b"})
        out["write"] = "ok"
    except ClientError as exc:
        out["write"] = exc.response["Error"]
    return out
'''


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    local = LocalAws.start()
    yield local
    local.close()


def make_role(aws: LocalAws, name: str, policy: dict) -> str:
    iam = aws.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    return arn


def test_a_read_only_role_reads_and_is_denied_put_item_with_awss_message(backend: str) -> None:
    with LocalAws.start(backend=backend) as aws:
        read_only_role_case(aws)


def make_table_with_item(aws: LocalAws, prefix: str) -> tuple[str, str]:
    """A new table holding the item {"pk": "a"}, written with the learner's own (admin) credentials: (name, ARN)."""
    table = unique(prefix)
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
    return table, f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"


def read_only_role_case(aws: LocalAws) -> None:
    table, table_arn = make_table_with_item(aws, "orders")
    role = unique("reader")
    role_arn = make_role(aws, role, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": table_arn}]})
    fn = unique("reader-fn")
    lam = aws.client("lambda")
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=role_arn, Handler="app.handler",
                        Code={"ZipFile": app_zip(HANDLER)})
    wait_function_ready(lam, fn)
    try:
        out = json.loads(lam.invoke(FunctionName=fn, Payload=json.dumps({"table": table}))["Payload"].read())
    finally:
        lam.delete_function(FunctionName=fn)
    assert out["key_id"].startswith("ASIA")
    assert out["read"] == {"pk": "a"}
    assert out["write"]["Code"] == "AccessDeniedException"
    assert out["write"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{fn} is not authorized to perform: dynamodb:PutItem on "
        f"resource: {table_arn} because no identity-based policy allows the dynamodb:PutItem action"
    )
    assert "Item" not in aws.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "b"}})


def role_client(aws: LocalAws, service: str, role_arn: str, session: str = "fn"):
    """A boto3 client signed with a role session's credentials, as a function's would be."""
    import boto3

    creds = sessions.issue(role_arn, session)
    return boto3.client(
        service, endpoint_url=aws.endpoint_url, region_name="us-east-1",
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"], aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds["AWS_SESSION_TOKEN"],
    )


def test_explicit_deny_wildcards_and_each_protocols_error_shape(aws: LocalAws) -> None:
    bucket, topic, queue = unique("bkt"), unique("topic"), unique("queue")
    aws.client("s3").create_bucket(Bucket=bucket)
    topic_arn = aws.client("sns").create_topic(Name=topic)["TopicArn"]
    queue_url = aws.client("sqs").create_queue(QueueName=queue)["QueueUrl"]
    role_arn = make_role(aws, unique("mixed"), {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:Send*", "Resource": "*"},
    ]})
    s3 = role_client(aws, "s3", role_arn)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as denied:
        s3.delete_object(Bucket=bucket, Key="k")
    error = denied.value.response["Error"]
    assert (error["Code"], denied.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert error["Message"].endswith("with an explicit deny in an identity-based policy")
    with pytest.raises(ClientError) as listing:
        s3.list_objects_v2(Bucket=bucket)  # s3:ListBucket is on the bucket, not its objects
    assert f'on resource: "arn:aws:s3:::{bucket}"' in listing.value.response["Error"]["Message"]

    sqs = role_client(aws, "sqs", role_arn)
    sqs.send_message(QueueUrl=queue_url, MessageBody="hi")
    with pytest.raises(ClientError) as receive:
        sqs.receive_message(QueueUrl=queue_url)
    assert receive.value.response["Error"]["Code"] == "AccessDenied"

    with pytest.raises(ClientError) as publish:
        role_client(aws, "sns", role_arn).publish(TopicArn=topic_arn, Message="hi")
    assert publish.value.response["Error"]["Code"] == "AuthorizationError"
    assert f"SNS:Publish on resource: {topic_arn}" in publish.value.response["Error"]["Message"]


def test_a_role_missing_from_the_local_iam_is_not_enforced_and_sts_is_free(aws: LocalAws) -> None:
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{unique('not-created')}"
    role_client(aws, "s3", role_arn).list_buckets()
    denied_role = make_role(aws, unique("nothing"), {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    assert role_client(aws, "sts", denied_role).get_caller_identity()["Account"] == ACCOUNT


def test_add_permission_get_policy_remove_permission_and_invokes_by_roles_and_services(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    fn = unique("guarded")
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/any",
                        Handler="app.handler", Code={"ZipFile": app_zip("def handler(event, context):\n    return 'ran'\n")})
    wait_function_ready(lam, fn)
    try:
        with pytest.raises(ClientError) as missing:
            lam.get_policy(FunctionName=fn)
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
        statement = json.loads(lam.add_permission(
            FunctionName=fn, StatementId="s3-invoke", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
            SourceArn="arn:aws:s3:::uploads", SourceAccount=ACCOUNT)["Statement"])
        assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
        assert statement["Condition"]["ArnLike"] == {"AWS:SourceArn": "arn:aws:s3:::uploads"}
        with pytest.raises(ClientError) as conflict:
            lam.add_permission(FunctionName=fn, StatementId="s3-invoke", Action="lambda:InvokeFunction",
                               Principal="s3.amazonaws.com")
        assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        policy = json.loads(lam.get_policy(FunctionName=fn)["Policy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["s3-invoke"]

        service = aws.lambda_app.app
        assert service.invoke(fn, None, b"{}", principal="s3.amazonaws.com", source_arn="arn:aws:s3:::uploads",
                              source_account=ACCOUNT).invocation.result == "ran"
        with pytest.raises(Exception) as other_bucket:
            service.invoke_async(fn, None, b"{}", principal="s3.amazonaws.com", source_arn="arn:aws:s3:::other")
        assert "no resource-based policy allows the lambda:InvokeFunction action" in str(other_bucket.value)
        with pytest.raises(Exception):
            service.invoke_async(fn, None, b"{}", principal="sns.amazonaws.com")

        caller = make_role(aws, unique("caller"), {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
        with pytest.raises(ClientError) as not_allowed:
            role_client(aws, "lambda", caller).invoke(FunctionName=fn)
        assert not_allowed.value.response["Error"]["Code"] == "AccessDeniedException"
        lam.add_permission(FunctionName=fn, StatementId="caller", Action="lambda:InvokeFunction", Principal=caller)
        assert role_client(aws, "lambda", caller).invoke(FunctionName=fn)["Payload"].read() == b'"ran"'

        lam.remove_permission(FunctionName=fn, StatementId="s3-invoke")
        with pytest.raises(ClientError) as gone:
            lam.remove_permission(FunctionName=fn, StatementId="s3-invoke")
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    finally:
        lam.delete_function(FunctionName=fn)


def test_attached_managed_policies_count_and_a_deny_there_wins(aws: LocalAws) -> None:
    iam = aws.client("iam")
    bucket = unique("managed")
    aws.client("s3").create_bucket(Bucket=bucket)
    role = unique("managed-role")
    role_arn = make_role(aws, role, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    guard = iam.create_policy(PolicyName=unique("no-deletes"), PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}))["Policy"]["Arn"]
    reader = iam.create_policy(PolicyName=unique("list"), PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}]}))["Policy"]["Arn"]
    s3 = role_client(aws, "s3", role_arn)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=bucket)
    iam.attach_role_policy(RoleName=role, PolicyArn=reader)
    iam.attach_role_policy(RoleName=role, PolicyArn=guard)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    with pytest.raises(ClientError) as denied:
        s3.delete_object(Bucket=bucket, Key="k")
    assert "explicit deny" in denied.value.response["Error"]["Message"]


def test_create_function_refuses_a_local_role_that_lambda_may_not_assume(aws: LocalAws) -> None:
    iam, lam = aws.client("iam"), aws.client("lambda")
    ec2_only = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role_arn = iam.create_role(RoleName=unique("ec2-role"), AssumeRolePolicyDocument=ec2_only)["Role"]["Arn"]
    with pytest.raises(ClientError) as refused:
        lam.create_function(FunctionName=unique("fn"), Runtime="python3.12", Role=role_arn, Handler="app.handler",
                            Code={"ZipFile": app_zip("def handler(event, context):\n    return 1\n")})
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith("The role defined for the function cannot be assumed by Lambda.")


def test_secrets_by_name_match_their_full_arn_and_parameters_their_path(aws: LocalAws) -> None:
    name, other, prefix = unique("shop/db"), unique("shop/other"), f"/{unique('app')}"
    aws.client("secretsmanager").create_secret(Name=name, SecretString="s")
    aws.client("secretsmanager").create_secret(Name=other, SecretString="o")
    aws.client("ssm").put_parameter(Name=f"{prefix}/url", Value="u", Type="String")
    aws.client("ssm").put_parameter(Name="/elsewhere-" + prefix.strip("/"), Value="x", Type="String")
    role_arn = make_role(aws, unique("secret-reader"), {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-??????"},
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"],
         "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{prefix}*"},
    ]})
    secrets, ssm = role_client(aws, "secretsmanager", role_arn), role_client(aws, "ssm", role_arn)
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "s"  # the name resolves to the ARN with its suffix
    with pytest.raises(ClientError) as denied:
        secrets.get_secret_value(SecretId=other)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f":secret:{other}-" in denied.value.response["Error"]["Message"]
    assert ssm.get_parameter(Name=f"{prefix}/url")["Parameter"]["Value"] == "u"
    assert [p["Name"] for p in ssm.get_parameters_by_path(Path=prefix)["Parameters"]] == [f"{prefix}/url"]
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/elsewhere-" + prefix.strip("/"))


GET_ITEM = '''
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        return {"item": boto3.client("dynamodb").get_item(TableName=event["table"], Key={"pk": {"S": "a"}}).get("Item")}
    except ClientError as exc:
        return {"error": exc.response["Error"]}
'''


def test_conditions_on_time_and_the_callers_address_decide_a_functions_get_item(aws: LocalAws) -> None:
    table, table_arn = make_table_with_item(aws, "dated")
    role = unique("conditional")

    def allow_get_item_when(condition: dict) -> dict:
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn, "Condition": condition}]}

    role_arn = make_role(aws, role, allow_get_item_when({}))
    fn = unique("conditional-fn")
    lam, iam = aws.client("lambda"), aws.client("iam")
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=role_arn, Handler="app.handler",
                        Code={"ZipFile": app_zip(GET_ITEM)})
    wait_function_ready(lam, fn)
    local = ["127.0.0.0/8", "::1/128"]  # the process backend's function calls from this machine
    cases = [
        ({"DateLessThan": {"aws:CurrentTime": "2100-01-01T00:00:00Z"}, "IpAddress": {"aws:SourceIp": local}}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}, False),
        ({"NumericLessThan": {"aws:EpochTime": "4102444800"}, "Bool": {"aws:SecureTransport": "false"}}, True),
        ({"NumericLessThan": {"aws:EpochTime": "946684800"}}, False),
        ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, False),
        ({"NotIpAddress": {"aws:SourceIp": local}}, False),
    ]
    try:
        for condition, allowed in cases:
            iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=json.dumps(allow_get_item_when(condition)))
            out = json.loads(lam.invoke(FunctionName=fn, Payload=json.dumps({"table": table}))["Payload"].read())
            if allowed:
                assert out == {"item": {"pk": {"S": "a"}}}, condition
            else:
                assert out["error"]["Code"] == "AccessDeniedException", condition
                assert out["error"]["Message"] == (
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{fn} is not authorized to perform: dynamodb:GetItem "
                    f"on resource: {table_arn} because no identity-based policy allows the dynamodb:GetItem action"
                ), condition
    finally:
        lam.delete_function(FunctionName=fn)


def test_policy_variables_resolve_the_roles_tags_and_user_id(aws: LocalAws) -> None:
    team = unique("team")
    ddb = aws.client("dynamodb")
    for table in (f"{team}-orders", unique("other")):
        ddb.create_table(
            TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
    other = table
    role = unique("tagged")
    role_arn = make_role(aws, role, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "dynamodb:GetItem",
        "Resource": "arn:aws:dynamodb:${aws:RequestedRegion}:${aws:PrincipalAccount}:table/${aws:PrincipalTag/team}-*",
        "Condition": {"StringLike": {"aws:userid": "AROA*:worker"}},
    }]})
    aws.client("iam").tag_role(RoleName=role, Tags=[{"Key": "team", "Value": team}])
    worker = role_client(aws, "dynamodb", role_arn, session="worker")
    assert "Item" not in worker.get_item(TableName=f"{team}-orders", Key={"pk": {"S": "a"}})
    with pytest.raises(ClientError) as not_the_teams:
        worker.get_item(TableName=other, Key={"pk": {"S": "a"}})
    assert not_the_teams.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as another_session:
        role_client(aws, "dynamodb", role_arn, session="intruder").get_item(TableName=f"{team}-orders", Key={"pk": {"S": "a"}})
    assert another_session.value.response["Error"]["Code"] == "AccessDeniedException"
