"""Tags by ARN: functions (never a version or alias), event source mappings, with Lambda's errors."""
from __future__ import annotations

import pytest

from tests.unit.test_service_api import Api, ApiError, api, create  # noqa: F401 (api: the fixture)

QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders"


def mapping(api: Api, **extra: object) -> dict[str, object]:
    create(api)
    # disabled: no poller reaches for the (absent) local SQS
    return api.call("CreateEventSourceMapping", EventSourceArn=QUEUE, FunctionName="orders", Enabled=False, **extra)


def test_a_mappings_tags_from_create_to_delete(api: Api) -> None:
    created = mapping(api, Tags={"team": "a"})
    arn = created["EventSourceMappingArn"]
    assert "Tags" not in created  # not part of EventSourceMappingConfiguration
    assert api.call("ListTags", Resource=arn)["Tags"] == {"team": "a"}
    api.call("TagResource", Resource=arn, Tags={"team": "b", "cost": "c"})
    api.call("UntagResource", Resource=arn, TagKeys=["cost", "absent"])
    assert api.call("ListTags", Resource=arn)["Tags"] == {"team": "b"}
    assert api.call("ListTags", Resource="arn:aws:lambda:us-east-1:123456789012:function:orders")["Tags"] == {}
    api.call("DeleteEventSourceMapping", UUID=created["UUID"])
    with pytest.raises(ApiError) as gone:
        api.call("ListTags", Resource=arn)
    assert (gone.value.status, gone.value.code, gone.value.message) == (
        404, "ResourceNotFoundException", f"Event source mapping not found: {arn}")


def test_versions_and_aliases_have_no_tags(api: Api) -> None:
    create(api)
    for qualifier in ("$LATEST", "1", "live"):
        with pytest.raises(ApiError) as refused:
            api.call("TagResource", Resource=f"arn:aws:lambda:us-east-1:123456789012:function:orders:{qualifier}", Tags={"a": "b"})
        assert (refused.value.status, refused.value.code) == (400, "InvalidParameterValueException")
        assert refused.value.message == "Tags on function aliases and versions are not supported. Please specify a function ARN."
    with pytest.raises(ApiError, match="Function not found"):
        api.call("ListTags", Resource="arn:aws:lambda:us-east-1:123456789012:function:nobody")
