"""Lambda layers through boto3 on the local AWS: publish, get, list, delete, and a function importing from its layer."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.service.code import UNZIPPED_MAX_BYTES
from labkit.service.exceptions import InvalidParameterValueException
from labkit.service.lambda_service import LambdaService

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def zipped(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


LAYER = zipped(**{"python/greetings.py": "def hello(name):\n    return f'hello {name} from a layer'\n"})
APP = zipped(**{"app.py": "import greetings\ndef handler(event, context):\n    return [greetings.hello(event['name']), greetings.__file__]\n"})


@pytest.fixture
def lam(tmp_path: Path) -> Iterator[object]:
    service = LambdaService(data_dir=tmp_path / "lambda", idle_timeout_s=60)
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        yield aws.client("lambda")
    finally:
        service.close()
        aws.close()


def test_layer_versions_round_trip(lam) -> None:
    first = lam.publish_layer_version(
        LayerName="greetings", Content={"ZipFile": LAYER}, CompatibleRuntimes=["python3.12"], Description="v1"
    )
    second = lam.publish_layer_version(LayerName="greetings", Content={"ZipFile": LAYER})
    assert first["Version"] == 1 and second["Version"] == 2
    assert first["LayerVersionArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:greetings:1"
    assert first["LayerArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:greetings"
    assert first["Content"]["CodeSize"] == len(LAYER)
    got = lam.get_layer_version(LayerName="greetings", VersionNumber=1)
    assert got["Description"] == "v1" and got["CompatibleRuntimes"] == ["python3.12"]
    assert lam.get_layer_version_by_arn(Arn=first["LayerVersionArn"])["Version"] == 1
    listed = lam.list_layers()["Layers"]
    assert [(l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in listed] == [("greetings", 2)]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="greetings")["LayerVersions"]] == [2, 1]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="greetings", CompatibleRuntime="python3.12")["LayerVersions"]] == [1]
    lam.delete_layer_version(LayerName="greetings", VersionNumber=2)
    assert lam.list_layers()["Layers"][0]["LatestMatchingVersion"]["Version"] == 1
    with pytest.raises(ClientError) as missing:
        lam.get_layer_version(LayerName="greetings", VersionNumber=2)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    third = lam.publish_layer_version(LayerName="greetings", Content={"ZipFile": LAYER})
    assert third["Version"] == 3, "layer version numbers are never reused"


def test_a_function_imports_from_its_layer_mounted_at_opt(backend: str, tmp_path: Path) -> None:
    service = LambdaService(backend=backend, data_dir=tmp_path / "on-backend", idle_timeout_s=60)
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        where = imports_from_layer(aws.client("lambda"))
        if backend == "docker":
            assert where == "/opt/python/greetings.py", "layers are unpacked at /opt"
        assert where.endswith("/python/greetings.py")
    finally:
        service.close()
        aws.close()


def imports_from_layer(lam) -> str:
    """Publish a layer, create a function using it, invoke: where the layer's module was imported from."""
    arn = lam.publish_layer_version(LayerName="greetings", Content={"ZipFile": LAYER})["LayerVersionArn"]
    created = lam.create_function(
        FunctionName="greeter", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": APP}, Layers=[arn]
    )
    wait_function_ready(lam, "greeter")
    assert created["Layers"] == [{"Arn": arn, "CodeSize": len(LAYER)}]
    answer = lam.invoke(FunctionName="greeter", Payload=json.dumps({"name": "Ada"}))
    greeting, where = json.loads(answer["Payload"].read())
    assert greeting == "hello Ada from a layer"
    lam.update_function_configuration(FunctionName="greeter", Layers=[])
    wait_function_ready(lam, "greeter")
    failed = lam.invoke(FunctionName="greeter", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled", "without the layer the import must fail"
    return where


def test_layer_references_are_checked_as_aws_does(lam) -> None:
    arn = lam.publish_layer_version(LayerName="greetings", Content={"ZipFile": LAYER})["LayerVersionArn"]
    lam.publish_layer_version(LayerName="greetings", Content={"ZipFile": LAYER})

    def create(layers: list[str]) -> str:
        with pytest.raises(ClientError) as failed:
            lam.create_function(FunctionName="bad", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                Code={"ZipFile": APP}, Layers=layers)
        assert failed.value.response["Error"]["Code"] == "InvalidParameterValueException"
        return failed.value.response["Error"]["Message"]

    assert "more than 5 layers" in create([arn] * 6)
    assert "does not exist" in create([arn[:-1] + "9"])
    assert "Two different versions of the same layer" in create([arn, arn[:-1] + "2"])


def test_function_and_layers_over_250_mb_unzipped_are_refused(tmp_path: Path) -> None:
    service = LambdaService(data_dir=tmp_path / "lambda")
    try:
        layer = service.layers.publish("big", zipped(**{"python/blob.bin": "x"}), {})
        # pretend the layer unzips to the whole 250 MB: with the function's code the total is over
        service.layers._versions["big"][1] = dataclasses.replace(layer, unzipped_size=UNZIPPED_MAX_BYTES)
        with pytest.raises(InvalidParameterValueException, match="combined with layers exceeds the maximum allowed size of 262144000"):
            service.create_function({"FunctionName": "f", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
                                     "Code": {"ZipFile": base64.b64encode(APP).decode()}, "Layers": [layer.arn]})
    finally:
        service.close()
