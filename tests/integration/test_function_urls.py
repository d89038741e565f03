"""Function URLs through the Lambda API (boto3 against the local AWS), served with the function URL payload."""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.security import sessions

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
APP = """
def handler(event, context):
    return {"statusCode": 200, "body": event["rawPath"] + " " + event["routeKey"],
            "headers": {"Content-Type": "text/plain"},
            "cookies": ["iam=" + str(bool(event["requestContext"].get("authorizer")))]}
"""


def signed(method: str, url: str, credentials: Credentials, body: bytes = b"") -> dict[str, str]:
    """The headers botocore's SigV4 signer adds for the service `lambda` (as a function URL wants)."""
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
    return dict(request.headers.items())


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
    answer = requests.get(url, headers=signed("GET", url, aws.session().get_credentials()))
    assert answer.status_code == 200 and answer.headers["Set-Cookie"] == "iam=True"

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


def test_aws_iam_function_urls_check_the_signature(aws: LocalAws, caplog: pytest.LogCaptureFixture) -> None:
    lam = aws.client("lambda")
    lam.create_function(FunctionName="url-iam", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": package()})
    wait_function_ready(lam, "url-iam")
    url = lam.create_function_url_config(FunctionName="url-iam", AuthType="AWS_IAM")["FunctionUrl"] + "path?q=1"
    local = aws.session().get_credentials()
    role = sessions.issue(ROLE, "url-iam")  # what a function gets: its role's session
    role_credentials = Credentials(role["AWS_ACCESS_KEY_ID"], role["AWS_SECRET_ACCESS_KEY"], role["AWS_SESSION_TOKEN"])

    right = requests.post(url, data=b'{"a": 1}', headers=signed("POST", url, local, b'{"a": 1}'))
    assert right.status_code == 200 and right.text == "/path $default"
    assert requests.get(url, headers=signed("GET", url, role_credentials)).status_code == 200

    wrong_secret = Credentials(local.access_key, "not-the-secret-key", local.token)
    refused = requests.get(url, headers=signed("GET", url, wrong_secret))
    assert refused.status_code == 403
    assert refused.json() == {"message": "The request signature we calculated does not match the signature you "
                              "provided. Check your AWS Secret Access Key and signing method. Consult the service "
                              "documentation for details."}
    assert "the signature is not that of the secret key" in caplog.text
    other_body = requests.post(url, data=b'{"a": 2}', headers=signed("POST", url, local, b'{"a": 1}'))
    assert other_body.status_code == 403

    unknown = requests.get(url, headers=signed("GET", url, Credentials("AKIAUNKNOWN000000000", "secret")))
    assert unknown.status_code == 403
    assert unknown.json() == {"message": "The security token included in the request is invalid."}

    stale = signed("GET", url, local)
    stale["X-Amz-Date"] = "20200101T000000Z"
    expired = requests.get(url, headers=stale)
    assert expired.status_code == 403 and expired.json()["message"].startswith("Signature expired: 20200101T000000Z")
    no_date = {name: value for name, value in signed("GET", url, local).items() if name != "X-Amz-Date"}
    assert requests.get(url, headers=no_date).json() == {
        "message": "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
    assert requests.get(url).json() == {"Message": "Forbidden"}
    lam.delete_function(FunctionName="url-iam")
