"""The one-port server's own error answers are AWS-shaped: an AWS SDK reads their code and message."""
from __future__ import annotations

import botocore.session
import pytest
from botocore.parsers import create_parser

from labkit.service.error_shapes import aws_error_body

CASES = [  # service, operation, the request's headers
    ("dynamodb", "ListTables", {"x-amz-target": "DynamoDB_20120810.ListTables",
                                "content-type": "application/x-amz-json-1.0"}),
    ("iam", "ListRoles", {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}),
    ("sqs", "ListQueues", {"x-amz-target": "AmazonSQS.ListQueues", "content-type": "application/x-amz-json-1.0"}),
    ("s3", "CreateBucket", {}),
]


@pytest.mark.parametrize(("service", "operation", "headers"), CASES)
def test_botocore_reads_the_code_and_message_of_an_internal_failure(service: str, operation: str,
                                                                      headers: dict[str, str]) -> None:
    model = botocore.session.get_session().get_service_model(service)
    content_type, body = aws_error_body(headers, "InternalFailure", "labkit's embedded AWS failed: <boom> & more")
    parsed = create_parser(model.metadata["protocol"]).parse(
        {"status_code": 500, "headers": {"content-type": content_type}, "body": body},
        model.operation_model(operation).output_shape,
    )
    assert parsed["Error"]["Code"] == "InternalFailure"
    assert parsed["Error"]["Message"] == "labkit's embedded AWS failed: <boom> & more"
