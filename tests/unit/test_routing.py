"""The single-port endpoint's routing rule: by the signature's service, else by Lambda's API paths."""
from __future__ import annotations

import pytest

from labkit.service.routing import (
    LAMBDA,
    UNKNOWN,
    is_lambda_path,
    service_in_authorization,
    service_of,
    signing_service,
)


def sigv4(service: str, region: str = "us-east-1") -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=ASIALABKITLOCAL00000/20261123/{region}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"
    )


@pytest.mark.parametrize(
    "service", ["lambda", "s3", "sqs", "sns", "dynamodb", "secretsmanager", "ssm", "logs", "monitoring", "iam", "events"]
)
def test_a_signed_request_goes_to_the_service_named_in_its_signature(service: str) -> None:
    assert service_of("POST", "/", {"authorization": sigv4(service)}, {}) == service


def test_the_signature_wins_over_the_path() -> None:
    # An S3 bucket may be called "2015-03-31": a signed S3 request on that path is S3's.
    assert service_of("GET", "/2015-03-31/functions/x", {"authorization": sigv4("s3")}, {}) == "s3"
    assert service_of("GET", "/", {"authorization": sigv4("lambda")}, {}) == LAMBDA


def test_the_service_name_is_lower_cased_and_the_region_does_not_matter() -> None:
    assert service_of("GET", "/", {"authorization": sigv4("Lambda", "eu-west-1")}) == LAMBDA


def test_a_sigv4a_scope_without_region_names_its_service() -> None:
    header = "AWS4-ECDSA-P256-SHA256 Credential=AKID/20261123/s3/aws4_request, SignedHeaders=host, Signature=00"
    assert service_of("GET", "/bucket", {"authorization": header}) == "s3"


def test_a_presigned_url_names_its_service_in_the_query() -> None:
    query = {"X-Amz-Credential": ["AKID/20261123/us-east-1/s3/aws4_request"], "X-Amz-Signature": ["00"]}
    assert service_of("GET", "/bucket/key", {}, query) == "s3"
    lambda_query = {"X-Amz-Credential": ["AKID/20261123/us-east-1/lambda/aws4_request"]}
    assert service_of("GET", "/anything", {}, lambda_query) == LAMBDA


@pytest.mark.parametrize(
    "path",
    [
        "/2015-03-31/functions",
        "/2015-03-31/functions/",
        "/2015-03-31/functions/hello/invocations",
        "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hello/invocations",
        "/2015-03-31/event-source-mappings/",
        "/2015-03-31/event-source-mappings/14e0db71-0000-0000-0000-000000000000",
        "/2018-10-31/layers",
        "/2018-10-31/layers/my-layer/versions",
        "/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:function:hello",
        "/2017-10-31/functions/hello/concurrency",
        "/2019-09-30/functions/hello/provisioned-concurrency",
        "/2019-09-25/functions/hello/event-invoke-config",
        "/2021-10-31/functions/hello/url",
        "/2021-11-15/functions/hello/response-streaming-invocations",
        "/2016-08-19/account-settings/",
        "/2014-11-13/functions/hello/invoke-async/",
    ],
)
def test_an_unsigned_request_on_a_lambda_api_path_is_lambdas(path: str) -> None:
    assert is_lambda_path(path)
    assert service_of("POST", path, {"content-type": "application/json"}, {}) == LAMBDA


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/bucket/key",
        "/123456789012/my-queue",
        "/2013-04-01/tags/healthcheck/abc",  # Route 53: a date and a resource Lambda also uses, not the pair
        "/2015-03-31/functionsx",
        "/2015-03-31",
        "/2015-03-31/",
        "/2099-01-01/functions/x",
        "/moto-api/reset",
        "2015-03-31/functions/x",
    ],
)
def test_other_unsigned_requests_are_left_to_the_embedded_aws(path: str) -> None:
    assert not is_lambda_path(path)
    assert service_of("GET", path, {}, {}) == UNKNOWN


def test_sigv2_and_malformed_signatures_fall_back_to_the_path() -> None:
    assert service_of("GET", "/bucket", {"authorization": "AWS AKID:c2lnbmF0dXJl"}) == UNKNOWN
    assert service_of("GET", "/2015-03-31/functions/", {"authorization": "AWS AKID:c2ln"}) == LAMBDA
    assert service_of("GET", "/bucket", {"authorization": "AWS4-HMAC-SHA256 Credential=garbage, X=1"}) == UNKNOWN


def test_credential_scope_parsing() -> None:
    assert signing_service("AKID/20261123/us-east-1/sqs/aws4_request") == "sqs"
    assert signing_service("AKID/20261123/sqs/aws4_request") == "sqs"
    assert signing_service("AKID/20261123/us-east-1/sqs") is None
    assert signing_service("") is None
    assert service_in_authorization(sigv4("logs")) == "logs"
    assert service_in_authorization("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/kms/aws4_request") == "kms"
    assert service_in_authorization("Bearer token") is None
