"""Event source mappings without a poller: the API's shapes against botocore's model, partial batch responses."""
from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from labkit.service.event_sources import EventSourceMapping, failed_item_ids
from labkit.service.exceptions import InvalidParameterValueException
from labkit.service.lambda_service import LambdaService

MODEL = botocore.session.get_session().get_service_model("lambda")
QUEUE = "arn:aws:sqs:us-east-1:123456789012:jobs"
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"


@pytest.mark.parametrize("source, arn", [("sqs", QUEUE), ("dynamodb", STREAM)])
def test_the_configuration_document_uses_only_the_models_members(source: str, arn: str) -> None:
    mapping = EventSourceMapping(
        uuid="6d9f7a4e-0b8c-4d7e-9f2a-1c3b5d7e9f10", source=source, event_source_arn=arn, function_name="f",
        qualifier=None, batch_size=10, starting_position="LATEST" if source == "dynamodb" else None,
        maximum_concurrency=5 if source == "sqs" else None,
    )
    shape = MODEL.shape_for("EventSourceMappingConfiguration")
    document = mapping.to_wire()
    assert set(document) <= set(shape.members)
    assert len(document["UUID"]) == 36
    assert document["EventSourceMappingArn"].endswith(f":event-source-mapping:{mapping.uuid}")
    assert ("MaximumRetryAttempts" in document) == (source == "dynamodb"), "stream settings only on streams"


def test_partial_batch_responses_are_read_as_lambda_reads_them() -> None:
    ids = ["m1", "m2", "m3"]

    def failed(response: object) -> list[str] | None:
        return failed_item_ids(json.dumps(response).encode(), ids)

    assert failed({"batchItemFailures": [{"itemIdentifier": "m2"}]}) == ["m2"]
    assert failed({"batchItemFailures": []}) == [] and failed(None) == [] and failed("ok") == []
    assert failed_item_ids(b"not json", ids) == [], "a response that is not JSON: every item succeeded"
    assert failed({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}) is None, "unknown id: the whole batch failed"
    assert failed({"batchItemFailures": [{"itemIdentifier": ""}]}) is None
    assert failed({"batchItemFailures": [{"itemIdentifier": None}]}) is None


@pytest.mark.parametrize("spec, message", [
    ({"EventSourceArn": "arn:aws:s3:::bucket"}, "Unrecognized event source"),
    ({"EventSourceArn": STREAM}, "StartingPosition"),
    ({"EventSourceArn": STREAM, "StartingPosition": "LATEST", "BatchSize": 10_001}, "less than or equal to 10000"),
    ({"EventSourceArn": STREAM, "StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 5}, "greater than or equal to 60"),
    ({"EventSourceArn": STREAM, "StartingPosition": "LATEST", "ScalingConfig": {"MaximumConcurrency": 2}}, "only supported for SQS"),
    ({"EventSourceArn": STREAM, "StartingPosition": "LATEST",
      "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:x"}}}, "is invalid"),
    ({"EventSourceArn": QUEUE + ".fifo", "BatchSize": 11, "MaximumBatchingWindowInSeconds": 1}, "less than or equal to 10"),
    ({"EventSourceArn": QUEUE, "FunctionResponseTypes": ["Everything"]}, "ReportBatchItemFailures"),
    ({"EventSourceArn": QUEUE, "ScalingConfig": {"MaximumConcurrency": 1}}, "greater than or equal to 2"),
])
def test_bad_settings_are_refused_with_a_message_that_names_them(tmp_path: Path, spec: dict[str, Any], message: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    with LambdaService(data_dir=tmp_path) as service:
        service.create_function({
            "FunctionName": "f", "Runtime": "python3.12", "Role": "arn:aws:iam::123456789012:role/lambda-role",
            "Handler": "app.handler", "Code": {"ZipFile": base64.b64encode(buffer.getvalue()).decode()},
        })
        with pytest.raises(InvalidParameterValueException, match=re.escape(message)):
            service.event_sources.create({"FunctionName": "f", **spec})
        assert service.event_sources.list() == []
