"""Function URLs through the Lambda API (boto3 against the local AWS), served with the function URL payload."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
import requests
from botocore.exceptions import ClientError

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
APP = """
def handler(event, context):
    return {"statusCode": 200, "body": event["rawPath"] + " " + event["routeKey"],
            "headers": {"Content-Type": "text/plain"},
            "cookies": ["iam=" + str(bool(event["requestContext"].get("authorizer")))]}
"""


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", APP)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws.start() as local:  # labkit's own Lambda service, with its function URL host
        yield local


def test_function_url_lifecycle_and_requests(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    lam.create_function(FunctionName="url-fn", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package()})
    wait_function_ready(lam, "url-fn")
    created = lam.create_function_url_config(FunctionName="url-fn", AuthType="NONE")
    url = created["FunctionUrl"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")
    assert created["AuthType"] == "NONE" and created["FunctionArn"].endswith(":function:url-fn")

    answer = requests.get(url + "hello/world")
    assert answer.status_code == 200 and answer.text == "/hello/world $default"
    assert answer.headers["Set-Cookie"] == "iam=False"

    with pytest.raises(ClientError) as conflict:
        lam.create_function_url_config(FunctionName="url-fn", AuthType="NONE")
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"

    lam.update_function_url_config(FunctionName="url-fn", Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"]})
    preflight = requests.options(url, headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert requests.get(url, headers={"Origin": "https://app.example"}).headers["Access-Control-Allow-Origin"] == "https://app.example"

    updated = lam.update_function_url_config(FunctionName="url-fn", AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["FunctionUrl"] == url
    assert requests.get(url).status_code == 403  # unsigned
    signed = requests.get(url, headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/lambda/aws4_request"})
    assert signed.status_code == 200 and signed.headers["Set-Cookie"] == "iam=True"

    stored = lam.get_function_url_config(FunctionName="url-fn")
    assert stored["AuthType"] == "AWS_IAM" and stored["Cors"]["AllowOrigins"] == ["https://app.example"]
    assert [c["FunctionUrl"] for c in lam.list_function_url_configs(FunctionName="url-fn")["FunctionUrlConfigs"]] == [url]

    lam.delete_function_url_config(FunctionName="url-fn")
    with pytest.raises(ClientError) as gone:
        lam.get_function_url_config(FunctionName="url-fn")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
    lam.delete_function(FunctionName="url-fn")


def test_bad_auth_type_and_missing_function(aws: LocalAws) -> None:
    lam = aws.client("lambda")
    with pytest.raises(ClientError) as missing:
        lam.create_function_url_config(FunctionName="no-such-fn", AuthType="NONE")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.create_function(FunctionName="url-bad", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package()})
    wait_function_ready(lam, "url-bad")
    with pytest.raises(ClientError) as bad:
        lam.create_function_url_config(FunctionName="url-bad", AuthType="IAM")
    assert bad.value.response["Error"]["Code"] == "ValidationException"  # the model's enum: the framework's check
    assert bad.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'IAM' at 'authType' failed to satisfy constraint: Member must satisfy "
        "enum value set: [NONE, AWS_IAM]"
    )
    lam.delete_function(FunctionName="url-bad")
