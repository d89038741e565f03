"""Layer version permissions over Lambda's API: statements, revisions, conflicts, missing layers."""
from __future__ import annotations

import json

import pytest

from labkit.service.exceptions import ResourceNotFoundException
from tests.packages import app_zip
from tests.unit.test_service_api import Api, ApiError, api  # noqa: F401 (api: the fixture)

LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps"


def publish(api: Api) -> int:
    return api.call("PublishLayerVersion", LayerName="deps", Content={"ZipFile": app_zip("X = 1\n")})["Version"]


def grant(api: Api, sid: str, **extra: object) -> dict[str, object]:
    params = {"LayerName": "deps", "VersionNumber": 1, "StatementId": sid, "Action": "lambda:GetLayerVersion",
              "Principal": "*", **extra}
    return api.call("AddLayerVersionPermission", **params)


def test_statements_as_the_policy_shows_them(api: Api) -> None:
    publish(api)
    added = grant(api, "everyone")
    assert json.loads(added["Statement"]) == {"Sid": "everyone", "Effect": "Allow", "Principal": "*",
                                              "Action": "lambda:GetLayerVersion", "Resource": f"{LAYER_ARN}:1"}
    grant(api, "partner", Principal="210987654321", RevisionId=added["RevisionId"])
    grant(api, "org", OrganizationId="o-t194hfs8cz")
    got = api.call("GetLayerVersionPolicy", LayerName=LAYER_ARN, VersionNumber=1)
    policy = json.loads(got["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["partner"]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert by_sid["org"]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-t194hfs8cz"}}
    api.call("RemoveLayerVersionPermission", LayerName="deps", VersionNumber=1, StatementId="org", RevisionId=got["RevisionId"])
    after = api.call("GetLayerVersionPolicy", LayerName="deps", VersionNumber=1)
    assert [s["Sid"] for s in json.loads(after["Policy"])["Statement"]] == ["everyone", "partner"]
    assert after["RevisionId"] != got["RevisionId"]


def test_lambdas_errors(api: Api) -> None:
    publish(api)
    with pytest.raises(ApiError, match="No policy is associated with the given resource."):
        api.call("GetLayerVersionPolicy", LayerName="deps", VersionNumber=1)
    grant(api, "s1")
    cases = [
        (lambda: grant(api, "s1"), 409, "ResourceConflictException", "The statement id (s1) provided already exists."),
        (lambda: grant(api, "s2", RevisionId="stale"), 412, "PreconditionFailedException", "Call the GetLayerPolicy API"),
        (lambda: grant(api, "s3", Action="lambda:*"), 400, "ValidationException", "Member must satisfy regular expression pattern: lambda:GetLayerVersion"),
        (lambda: grant(api, "s4", VersionNumber=2), 404, "ResourceNotFoundException", f"Layer version {LAYER_ARN}:2 does not exist."),
        (lambda: api.call("RemoveLayerVersionPermission", LayerName="deps", VersionNumber=1, StatementId="nobody"),
         404, "ResourceNotFoundException", "Statement nobody is not found in resource policy."),
        (lambda: api.call("GetLayerVersionPolicy", LayerName="other", VersionNumber=1),
         404, "ResourceNotFoundException", "Layer version arn:aws:lambda:us-east-1:123456789012:layer:other:1 does not exist."),
    ]
    for call, status, code, fragment in cases:
        with pytest.raises(ApiError) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (status, code)
        assert fragment in raised.value.message


def test_a_deleted_version_takes_its_policy_along(api: Api) -> None:
    publish(api)
    grant(api, "s1")
    api.call("DeleteLayerVersion", LayerName="deps", VersionNumber=1)
    with pytest.raises(ApiError, match="does not exist"):
        api.call("GetLayerVersionPolicy", LayerName="deps", VersionNumber=1)
    with pytest.raises(ResourceNotFoundException, match="No policy"):
        api.service.layers.policies.get(f"{LAYER_ARN}:1")
