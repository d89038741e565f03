"""Lambda's resource-based policies: statements as GetPolicy shows them, conflicts, revisions, invoke decisions."""
from __future__ import annotations

import json

import pytest

from labkit.service.exceptions import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from labkit.service.policy import FunctionPolicies, statement_from_request

ARN = "arn:aws:lambda:us-east-1:123456789012:function:thumbs"


def test_principals_become_aws_shapes() -> None:
    spec = {"StatementId": "a", "Action": "lambda:InvokeFunction"}
    assert statement_from_request({**spec, "Principal": "123456789012"}, ARN)["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert statement_from_request({**spec, "Principal": "sns.amazonaws.com"}, ARN)["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement_from_request({**spec, "Principal": "*"}, ARN)["Principal"] == "*"
    with pytest.raises(InvalidParameterValueException, match="principal"):
        statement_from_request({**spec, "Principal": "my friend"}, ARN)
    with pytest.raises(InvalidParameterValueException, match="statementId"):
        statement_from_request({**spec, "StatementId": "no spaces allowed", "Principal": "*"}, ARN)
    with pytest.raises(InvalidParameterValueException, match="action"):
        statement_from_request({**spec, "Action": "s3:GetObject", "Principal": "*"}, ARN)


def test_add_get_remove_with_conflicts_and_revisions() -> None:
    policies = FunctionPolicies()
    with pytest.raises(ResourceNotFoundException, match="does not exist"):
        policies.get("thumbs", None)
    spec = {"StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com",
            "SourceArn": "arn:aws:s3:::uploads", "SourceAccount": "123456789012"}
    policies.add("thumbs", None, ARN, spec)
    with pytest.raises(ResourceConflictException, match=r"The statement id \(s3\) provided already exists"):
        policies.add("thumbs", None, ARN, spec)
    text, revision = policies.get("thumbs", None)
    assert json.loads(text)["Statement"][0]["Condition"] == {
        "StringEquals": {"AWS:SourceAccount": "123456789012"}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}
    with pytest.raises(PreconditionFailedException):
        policies.add("thumbs", None, ARN, {**spec, "StatementId": "other", "RevisionId": "stale"})
    policies.add("thumbs", None, ARN, {**spec, "StatementId": "other", "RevisionId": revision})
    assert policies.document("thumbs", "live") is None  # a qualifier has a policy of its own
    policies.remove("thumbs", None, "s3")
    with pytest.raises(ResourceNotFoundException, match="Statement s3 is not found"):
        policies.remove("thumbs", None, "s3")
    policies.remove("thumbs", None, "other")
    with pytest.raises(ResourceNotFoundException, match="No policy is associated with the given resource"):
        policies.remove("thumbs", None, "other")
    assert policies.document("thumbs", None) is None


def test_invokes_need_the_principal_and_a_matching_source() -> None:
    policies = FunctionPolicies()
    policies.add("thumbs", None, ARN, {"StatementId": "s3", "Action": "lambda:InvokeFunction",
                                       "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::uploads-*"})
    assert policies.allows_invoke("thumbs", None, ARN, "s3.amazonaws.com", "arn:aws:s3:::uploads-eu")
    assert not policies.allows_invoke("thumbs", None, ARN, "s3.amazonaws.com", "arn:aws:s3:::other")
    assert not policies.allows_invoke("thumbs", None, ARN, "s3.amazonaws.com")  # no source: the condition fails
    assert not policies.allows_invoke("thumbs", None, ARN, "sns.amazonaws.com", "arn:aws:s3:::uploads-eu")
    policies.drop("thumbs")
    assert not policies.allows_invoke("thumbs", None, ARN, "s3.amazonaws.com", "arn:aws:s3:::uploads-eu")
