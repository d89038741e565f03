"""Code signing configurations over Lambda's API: shapes, the function association, Lambda's errors."""
from __future__ import annotations

import json
import re

import pytest

from tests.unit.test_service_api import Api, ApiError, api, create  # noqa: F401 (api: the fixture)

PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/test"


def new_config(api: Api, **extra: object) -> dict[str, object]:
    params = {"AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]}, **extra}
    return api.call("CreateCodeSigningConfig", **params)["CodeSigningConfig"]


def test_create_get_update_and_list(api: Api) -> None:
    config = new_config(api, Description="signed builds only")
    assert re.fullmatch(r"csc-[0-9a-f]{17}", config["CodeSigningConfigId"])
    assert config["CodeSigningConfigArn"] == f"arn:aws:lambda:us-east-1:123456789012:code-signing-config:{config['CodeSigningConfigId']}"
    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}  # AWS's default
    assert config["AllowedPublishers"] == {"SigningProfileVersionArns": [PROFILE]}
    arn = config["CodeSigningConfigArn"]
    assert api.call("GetCodeSigningConfig", CodeSigningConfigArn=arn)["CodeSigningConfig"] == config
    unchanged = api.call("UpdateCodeSigningConfig", CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert unchanged == config
    updated = api.call("UpdateCodeSigningConfig", CodeSigningConfigArn=arn,
                       CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})["CodeSigningConfig"]
    assert updated["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    assert updated["Description"] == "signed builds only"
    other = new_config(api)
    listed = api.call("ListCodeSigningConfigs")["CodeSigningConfigs"]
    assert [c["CodeSigningConfigArn"] for c in listed] == [arn, other["CodeSigningConfigArn"]]
    assert api.call("ListCodeSigningConfigs", MaxItems=1)["NextMarker"] == "1"


def test_a_function_uses_a_config_until_removed_or_deleted(api: Api) -> None:
    create(api)
    arn = new_config(api)["CodeSigningConfigArn"]
    assert api.call("GetFunctionCodeSigningConfig", FunctionName="orders").keys() == {"ResponseMetadata"}
    answer = api.call("PutFunctionCodeSigningConfig", FunctionName="orders", CodeSigningConfigArn=arn)
    assert (answer["CodeSigningConfigArn"], answer["FunctionName"]) == (arn, "orders")
    assert api.call("GetFunctionCodeSigningConfig", FunctionName="orders")["FunctionName"] == "orders"
    assert api.call("ListFunctionsByCodeSigningConfig", CodeSigningConfigArn=arn)["FunctionArns"] == [
        "arn:aws:lambda:us-east-1:123456789012:function:orders"]
    with pytest.raises(ApiError) as in_use:
        api.call("DeleteCodeSigningConfig", CodeSigningConfigArn=arn)
    assert (in_use.value.status, in_use.value.code) == (409, "ResourceConflictException")
    api.call("DeleteFunctionCodeSigningConfig", FunctionName="orders")
    api.call("DeleteFunctionCodeSigningConfig", FunctionName="orders")  # nothing left to remove: still 204
    assert api.call("ListFunctionsByCodeSigningConfig", CodeSigningConfigArn=arn)["FunctionArns"] == []
    api.call("PutFunctionCodeSigningConfig", FunctionName="orders", CodeSigningConfigArn=arn)
    api.call("DeleteFunction", FunctionName="orders")
    create(api)  # the same name again: a new function, without the old one's config
    assert "CodeSigningConfigArn" not in api.call("GetFunctionCodeSigningConfig", FunctionName="orders")
    api.call("DeleteCodeSigningConfig", CodeSigningConfigArn=arn)
    assert api.call("ListCodeSigningConfigs")["CodeSigningConfigs"] == []


def test_errors_in_lambdas_words_and_body_shapes(api: Api) -> None:
    create(api)
    missing = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdefx"
    _, response = api.raw("GetCodeSigningConfig", CodeSigningConfigArn=missing)
    assert response.status == 404 and response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(response.body) == {"Message": f"The Lambda code signing configuration {missing} can not be found."}
    # the configuration is checked before the function, with an error code of its own
    _, response = api.raw("PutFunctionCodeSigningConfig", FunctionName="nobody", CodeSigningConfigArn=missing)
    assert response.status == 404 and response.headers["x-amzn-ErrorType"] == "CodeSigningConfigNotFoundException"
    assert json.loads(response.body) == {"Type": "User", "Message": (
        f"The code signing configuration cannot be found. Check that the provided configuration is not deleted: {missing}.")}
    arn = new_config(api)["CodeSigningConfigArn"]
    with pytest.raises(ApiError, match="Function not found: arn:aws:lambda:us-east-1:123456789012:function:nobody"):
        api.call("PutFunctionCodeSigningConfig", FunctionName="nobody", CodeSigningConfigArn=arn)
    with pytest.raises(ApiError) as bad_policy:
        new_config(api, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Ignore"})
    assert bad_policy.value.code == "ValidationException"  # botocore's model: Warn or Enforce


def test_a_config_keeps_tags(api: Api) -> None:
    arn = new_config(api, Tags={"team": "a"})["CodeSigningConfigArn"]
    api.call("TagResource", Resource=arn, Tags={"cost": "b"})
    api.call("UntagResource", Resource=arn, TagKeys=["team"])
    assert api.call("ListTags", Resource=arn)["Tags"] == {"cost": "b"}
