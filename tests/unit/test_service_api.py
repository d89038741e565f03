"""The Lambda REST API against botocore's own model, without a server or a runtime.

Each call is serialised by botocore's rest-json serializer (as boto3 sends it), answered by
`LambdaService.handle`, and parsed back by botocore's parser; every response body is checked
key by key against the operation's output shape, and every status against the model.
"""
from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.model import OperationModel, Shape

from labkit.service.lambda_service import LambdaService
from labkit.service.wire import HttpRequest, HttpResponse
from tests.packages import app_zip

MODEL = botocore.session.get_session().get_service_model("lambda")
ANSWERED_BEYOND_ENUM = {("LastUpdateStatusReasonCode", "Creating")}
"""Values AWS answers (recorded: tests/conformance/cases) that the model's enum does not list."""
SERIALIZER = botocore.serialize.create_serializer("rest-json", include_validation=False)  # curl sends anything
PARSER = botocore.parsers.create_parser("rest-json")
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, parsed: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.parsed = status, code, message, parsed


def check_shape(value: Any, shape: Shape, where: str) -> None:
    """Every key and value of a response as the model's shape allows (no extra keys, right types)."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{where}: expected an object"
        for key, item in value.items():
            assert key in shape.members, f"{where}: {key!r} is not a member of {shape.name}"
            check_shape(item, shape.members[key], f"{where}.{key}")
    elif kind == "list":
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            check_shape(item, shape.member, f"{where}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{where}: expected a map"
        for key, item in value.items():
            check_shape(item, shape.value, f"{where}[{key!r}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
        if shape.enum and (shape.name, value) not in ANSWERED_BEYOND_ENUM:
            assert value in shape.enum, f"{where}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: expected an integer"
    elif kind in ("double", "float"):
        assert isinstance(value, (int, float)), f"{where}: expected a number"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: expected a boolean"
    elif kind == "timestamp":
        assert isinstance(value, (int, float, str)), f"{where}: expected a timestamp"


class Api:
    """boto3's wire format, in process: `api.call("GetFunction", FunctionName="f")`."""

    def __init__(self, service: LambdaService) -> None:
        self.service = service

    def raw(self, operation: str, **params: Any) -> tuple[OperationModel, HttpResponse]:
        op = MODEL.operation_model(operation)
        wire = SERIALIZER.serialize_to_request(params, op)
        path, _, inline_query = wire["url_path"].partition("?")
        query = {k: v if isinstance(v, list) else [v] for k, v in wire["query_string"].items()}
        query.update(parse_qs(inline_query))
        body = wire["body"] if isinstance(wire["body"], bytes) else wire["body"].encode()
        headers = {k.lower(): v for k, v in wire["headers"].items()}
        request = HttpRequest(wire["method"], unquote(path), query, headers, body)
        return op, self.service.handle(request)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        op, response = self.raw(operation, **params)
        parsed = PARSER.parse(
            {"status_code": response.status, "headers": {k.lower(): v for k, v in response.headers.items()}, "body": response.body},
            op.output_shape,
        )
        if response.status >= 300:
            error = parsed["Error"]
            raise ApiError(response.status, error["Code"], error.get("Message", ""), parsed)
        assert response.status == op.http.get("responseCode", 200) or (operation, response.status) in {
            ("DeleteFunction", 204),  # the model says 200; Lambda answers 204 No Content
            ("Invoke", 202),  # Event
            ("Invoke", 204),  # DryRun
        }, f"{operation} answered {response.status}"
        if op.output_shape is not None and response.body and not op.output_shape.serialization.get("payload"):
            check_shape(json.loads(response.body), op.output_shape, operation)
        return parsed


def package(source: str = "def handler(event, context):\n    return event\n") -> bytes:
    return app_zip(source)


@pytest.fixture
def api(tmp_path: Any) -> Iterator[Api]:
    # transitions end at the next read: these tests are about the API's shapes (states: test_function_states.py)
    service = LambdaService("http://127.0.0.1:1", data_dir=tmp_path / "lambda", state_transition_s=0)
    yield Api(service)
    service.close()


def create(api: Api, name: str = "orders", **extra: Any) -> dict[str, Any]:
    params = {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
              "Code": {"ZipFile": package()}, **extra}
    return api.call("CreateFunction", **params)


def test_create_function_answers_201_with_lambdas_function_configuration(api: Api) -> None:
    zipped = package()
    out = create(api, MemorySize=256, Timeout=10, Environment={"Variables": {"STAGE": "dev"}},
                 Architectures=["arm64"], EphemeralStorage={"Size": 1024}, Description="orders",
                 DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"})
    import hashlib

    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:orders"
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert out["CodeSize"] == len(zipped)
    assert (out["Version"], out["State"], out["StateReasonCode"], out["PackageType"]) == ("$LATEST", "Pending", "Creating", "Zip")
    assert "LastUpdateStatus" not in out  # AWS reports no update status while the function is being created
    assert (out["MemorySize"], out["Timeout"], out["Architectures"], out["EphemeralStorage"]) == (256, 10, ["arm64"], {"Size": 1024})
    assert out["Environment"] == {"Variables": {"STAGE": "dev"}}, "AWS_ENDPOINT_URL is the service's, not the user's"
    assert out["DeadLetterConfig"] == {"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}
    assert out["LastModified"].endswith("+0000") and out["RevisionId"]
    folder = api.service.model.function("orders").latest.code.folder
    assert (folder / "app.py").is_file() and str(folder).startswith(str(api.service.data_dir))


def test_create_with_publish_returns_version_1(api: Api) -> None:
    out = create(api, Publish=True)
    assert out["Version"] == "1" and out["FunctionArn"].endswith(":orders:1")


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ({"Runtime": "nodejs20.x"}, "InvalidParameterValueException", "python3.x"),
        ({"Handler": "app.py.handler"}, "InvalidParameterValueException", ".py ending"),
        ({"MemorySize": 64}, "ValidationException", "memorySize"),  # the model's range: the framework checks it first
        ({"Timeout": 901}, "InvalidParameterValueException", "timeout"),
        ({"EphemeralStorage": {"Size": 20000}}, "InvalidParameterValueException", "ephemeralStorage"),
        ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException", "reserved keys"),
        ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "InvalidParameterValueException", "4KB"),
        ({"Role": "lambda-role"}, "ValidationException", "role"),  # the model's pattern
        ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException", "Could not unzip"),
        ({"DeadLetterConfig": {"TargetArn": "arn:aws:s3:::bucket"}}, "InvalidParameterValueException", "SQS queue or SNS topic"),
        ({"PackageType": "Image", "Code": {"ImageUri": "x"}}, "InvalidParameterValueException", "zip"),
    ],
)
def test_create_function_refuses_what_lambda_refuses(api: Api, extra: dict[str, Any], code: str, fragment: str) -> None:
    with pytest.raises(ApiError) as raised:
        create(api, **extra)
    assert (raised.value.status, raised.value.code) == (400, code)
    assert fragment.lower() in raised.value.message.lower()
    assert api.service.model.functions() == []


def test_a_zip_with_paths_outside_the_package_is_refused(api: Api) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.py", "x = 1")
    with pytest.raises(ApiError, match="outside the package"):
        create(api, Code={"ZipFile": buffer.getvalue()})


def test_errors_reach_botocore_with_their_code_status_and_message(api: Api) -> None:
    with pytest.raises(ApiError) as raised:
        api.call("GetFunction", FunctionName="missing")
    error = raised.value
    assert (error.status, error.code) == (404, "ResourceNotFoundException")
    assert error.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing"
    _, response = api.raw("GetFunction", FunctionName="missing")
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(response.body) == {"Type": "User", "Message": error.message}
    create(api)
    with pytest.raises(ApiError) as raised:
        create(api)
    assert (raised.value.status, raised.value.code) == (409, "ResourceConflictException")


def test_get_list_update_and_delete_functions(api: Api) -> None:
    create(api, "a")
    create(api, "b")
    got = api.call("GetFunction", FunctionName="arn:aws:lambda:us-east-1:123456789012:function:a")
    assert got["Configuration"]["FunctionName"] == "a"
    assert got["Code"]["RepositoryType"] == "S3" and "/functions/a/package" in got["Code"]["Location"]
    assert [f["FunctionName"] for f in api.call("ListFunctions")["Functions"]] == ["a", "b"]
    page = api.call("ListFunctions", MaxItems=1)
    assert len(page["Functions"]) == 1 and page["NextMarker"]
    rest = api.call("ListFunctions", Marker=page["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["b"] and "NextMarker" not in rest

    before = api.call("GetFunctionConfiguration", FunctionName="a")
    updated = api.call("UpdateFunctionConfiguration", FunctionName="a", MemorySize=512, Environment={"Variables": {"KEY": "v"}})
    assert updated["MemorySize"] == 512 and updated["Environment"] == {"Variables": {"KEY": "v"}}
    assert updated["RevisionId"] != before["RevisionId"]
    with pytest.raises(ApiError) as raised:
        api.call("UpdateFunctionConfiguration", FunctionName="a", Timeout=5, RevisionId=before["RevisionId"])
    assert (raised.value.status, raised.value.code) == (412, "PreconditionFailedException")
    new_code = package("def handler(event, context):\n    return 2\n")
    code = api.call("UpdateFunctionCode", FunctionName="a", ZipFile=new_code)
    assert code["CodeSha256"] != before["CodeSha256"] and code["CodeSize"] == len(new_code)

    api.call("DeleteFunction", FunctionName="a")
    with pytest.raises(ApiError, match="ResourceNotFound"):
        api.call("GetFunction", FunctionName="a")
    assert not (api.service.data_dir / "a").exists(), "the deleted function's code stayed on disk"


def test_versions_and_aliases(api: Api) -> None:
    create(api)
    v1 = api.call("PublishVersion", FunctionName="orders", Description="first")
    assert (v1["Version"], v1["Description"]) == ("1", "first")
    api.call("UpdateFunctionConfiguration", FunctionName="orders", Timeout=7)
    v2 = api.call("PublishVersion", FunctionName="orders")
    versions = api.call("ListVersionsByFunction", FunctionName="orders")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[0]["FunctionArn"].endswith(":orders:$LATEST") and versions[2]["Timeout"] == 7

    alias = api.call("CreateAlias", FunctionName="orders", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert alias["AliasArn"].endswith(":orders:live")
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    got = api.call("GetAlias", FunctionName="orders", Name="live")
    assert got["FunctionVersion"] == "1"
    by_alias = api.call("GetFunctionConfiguration", FunctionName="orders", Qualifier="live")
    assert by_alias["Version"] == "1" and by_alias["FunctionArn"].endswith(":orders:live")
    updated = api.call("UpdateAlias", FunctionName="orders", Name="live", FunctionVersion="2", RoutingConfig={})
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    assert [a["Name"] for a in api.call("ListAliases", FunctionName="orders")["Aliases"]] == ["live"]
    with pytest.raises(ApiError) as raised:
        api.call("DeleteFunction", FunctionName="orders", Qualifier="2")
    assert raised.value.code == "ResourceConflictException"
    api.call("DeleteAlias", FunctionName="orders", Name="live")
    api.call("DeleteFunction", FunctionName="orders", Qualifier="2")
    assert [v["Version"] for v in api.call("ListVersionsByFunction", FunctionName="orders")["Versions"]] == ["$LATEST", "1"]
    assert v2["Version"] == "2"


def test_reserved_concurrency_and_account_settings(api: Api) -> None:
    create(api)
    assert api.call("GetFunctionConcurrency", FunctionName="orders").get("ReservedConcurrentExecutions") is None
    assert api.call("PutFunctionConcurrency", FunctionName="orders", ReservedConcurrentExecutions=50)["ReservedConcurrentExecutions"] == 50
    assert api.call("GetFunctionConcurrency", FunctionName="orders")["ReservedConcurrentExecutions"] == 50
    assert api.call("GetFunction", FunctionName="orders")["Concurrency"] == {"ReservedConcurrentExecutions": 50}
    settings = api.call("GetAccountSettings")
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 950
    assert settings["AccountUsage"]["FunctionCount"] == 1
    with pytest.raises(ApiError) as raised:
        api.call("PutFunctionConcurrency", FunctionName="orders", ReservedConcurrentExecutions=901)
    assert raised.value.code == "InvalidParameterValueException"
    assert "UnreservedConcurrentExecution below its minimum value of [100]" in raised.value.message
    api.call("DeleteFunctionConcurrency", FunctionName="orders")
    assert api.call("GetAccountSettings")["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_the_account_limit_can_be_set_for_a_lesson_over_http(api: Api) -> None:
    request = HttpRequest("PUT", "/2016-08-19/account-settings", body=b'{"ConcurrentExecutions": 10}')
    response = api.service.handle(request)
    assert response.status == 200
    assert json.loads(response.body)["AccountLimit"]["ConcurrentExecutions"] == 10
    assert api.service.account_concurrency == 10
    bad = api.service.handle(HttpRequest("PUT", "/2016-08-19/account-settings", body=b'{"ConcurrentExecutions": 0}'))
    assert bad.status == 400


def test_event_invoke_config_operations_and_their_ranges(api: Api) -> None:
    create(api)
    sqs = "arn:aws:sqs:us-east-1:123456789012:done"
    put = api.call("PutFunctionEventInvokeConfig", FunctionName="orders", MaximumRetryAttempts=1,
                   MaximumEventAgeInSeconds=120, DestinationConfig={"OnSuccess": {"Destination": sqs}})
    assert put["FunctionArn"].endswith(":orders:$LATEST")
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 120)
    assert put["DestinationConfig"] == {"OnSuccess": {"Destination": sqs}, "OnFailure": {}}
    updated = api.call("UpdateFunctionEventInvokeConfig", FunctionName="orders", MaximumRetryAttempts=0)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 120)
    assert api.call("GetFunctionEventInvokeConfig", FunctionName="orders")["MaximumRetryAttempts"] == 0
    assert len(api.call("ListFunctionEventInvokeConfigs", FunctionName="orders")["FunctionEventInvokeConfigs"]) == 1
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 59}, {"MaximumEventAgeInSeconds": 21601},
                {"DestinationConfig": {"OnFailure": {"Destination": "not-an-arn"}}},
                {"DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}}}):
        _op, response = api.raw("PutFunctionEventInvokeConfig", FunctionName="orders", **bad)
        assert response.status == 400, bad
    api.call("DeleteFunctionEventInvokeConfig", FunctionName="orders")
    with pytest.raises(ApiError) as raised:
        api.call("GetFunctionEventInvokeConfig", FunctionName="orders")
    assert raised.value.status == 404


def test_provisioned_concurrency_refused_on_latest_and_missing_configs_not_found(api: Api) -> None:
    create(api)
    with pytest.raises(ApiError) as raised:
        api.call("PutProvisionedConcurrencyConfig", FunctionName="orders", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert raised.value.code == "InvalidParameterValueException"
    api.call("PublishVersion", FunctionName="orders")
    with pytest.raises(ApiError) as raised:
        api.call("GetProvisionedConcurrencyConfig", FunctionName="orders", Qualifier="1")
    assert (raised.value.status, raised.value.code) == (404, "ProvisionedConcurrencyConfigNotFoundException")
    assert api.call("ListProvisionedConcurrencyConfigs", FunctionName="orders")["ProvisionedConcurrencyConfigs"] == []


def test_tags(api: Api) -> None:
    arn = create(api, Tags={"team": "a"})["FunctionArn"]
    assert api.call("ListTags", Resource=arn)["Tags"] == {"team": "a"}
    api.call("TagResource", Resource=arn, Tags={"cost": "b"})
    api.call("UntagResource", Resource=arn, TagKeys=["team"])
    assert api.call("ListTags", Resource=arn)["Tags"] == {"cost": "b"}


def test_invoke_errors_before_anything_runs(api: Api) -> None:
    create(api)
    for params, status, code in [
        ({"Payload": b"x" * (6 * 1024 * 1024 + 1)}, 413, "RequestTooLargeException"),
        ({"Payload": b"x" * (1024 * 1024 + 1), "InvocationType": "Event"}, 413, "RequestTooLargeException"),
        ({"Payload": b"{not json"}, 400, "InvalidRequestContentException"),
        ({"Qualifier": "9"}, 404, "ResourceNotFoundException"),
    ]:
        with pytest.raises(ApiError) as raised:
            api.call("Invoke", FunctionName="orders", **params)
        assert (raised.value.status, raised.value.code) == (status, code), params
    with pytest.raises(ApiError) as raised:
        api.call("Invoke", FunctionName="orders", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert raised.value.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    dry = api.call("Invoke", FunctionName="orders", InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    assert api.service.pool.functions() == [], "DryRun started the function"


def test_unknown_paths_get_an_aws_error_not_a_crash(api: Api) -> None:
    response = api.service.handle(HttpRequest("GET", "/2015-03-31/nothing-here"))
    assert response.status == 404 and response.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_invoke_async_takes_any_json_payload_as_its_body(api: Api) -> None:
    """InvokeAsync's body is the event itself, not an object of members: a list or a string is fine."""
    create(api)
    for payload in (b"[1, 2]", b'"text"', b'{"a": 1}'):
        op, response = api.raw("InvokeAsync", FunctionName="orders", InvokeArgs=payload)
        assert response.status == 202, (payload, response.body)
    op, response = api.raw("InvokeAsync", FunctionName="orders", InvokeArgs=b"{not json")
    assert response.status == 400 and response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
