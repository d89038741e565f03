"""PutFunctionRecursionConfig and GetFunctionRecursionConfig: Terminate by default, Allow when set."""
from __future__ import annotations

import pytest

from tests.unit.test_service_api import Api, ApiError, api, create  # noqa: F401 (api: the fixture)


def test_terminate_by_default_allow_when_set(api: Api) -> None:
    create(api)
    assert api.call("GetFunctionRecursionConfig", FunctionName="orders")["RecursiveLoop"] == "Terminate"
    assert api.call("PutFunctionRecursionConfig", FunctionName="orders", RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert api.call("GetFunctionRecursionConfig", FunctionName="orders")["RecursiveLoop"] == "Allow"
    api.call("DeleteFunction", FunctionName="orders")
    create(api)  # a new function of the same name starts at the default again
    assert api.call("GetFunctionRecursionConfig", FunctionName="orders")["RecursiveLoop"] == "Terminate"


def test_unknown_values_and_missing_functions(api: Api) -> None:
    create(api)
    with pytest.raises(ApiError) as invalid:
        api.call("PutFunctionRecursionConfig", FunctionName="orders", RecursiveLoop="Sometimes")
    assert (invalid.value.status, invalid.value.code) == (400, "ValidationException")
    assert "Value 'Sometimes' at 'recursiveLoop' failed to satisfy constraint" in invalid.value.message
    for operation, params in [("GetFunctionRecursionConfig", {}), ("PutFunctionRecursionConfig", {"RecursiveLoop": "Allow"})]:
        with pytest.raises(ApiError) as missing:
            api.call(operation, FunctionName="nobody", **params)
        assert (missing.value.status, missing.value.message) == (
            404, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nobody")
