"""Execution roles in the local IAM (the embedded AWS's, in this process): their policies and their trust.

A role is looked up by the name at the end of its ARN, in the account the ARN names. Nothing here
changes IAM; `None` answers mean "no such role in the local IAM".
"""
from __future__ import annotations

from typing import Any

from labkit.aws.embedded.iam import find_role
from labkit.security.iam import PolicyError, RequestContext, evaluate

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


def role_policies(role_name: str, account: str) -> list[Any] | None:
    """The policy documents of a role (inline, then attached managed ones), or None if there is no such role."""
    role = find_role(role_name, account)
    return None if role is None else list(role.policies)


def principal_keys(role_name: str, account: str, session_name: str) -> dict[str, str]:
    """The condition keys IAM knows of a session of the role: `aws:userid` (`<role id>:<session>`) and
    `aws:PrincipalTag/<key>` for each of the role's tags; none when the role is not in the local IAM."""
    role = find_role(role_name, account)
    if role is None:
        return {}
    keys = {"aws:userid": f"{role.role_id}:{session_name}"}
    keys.update({f"aws:PrincipalTag/{key}": value for key, value in role.tags})
    return keys


def trust_allows(role_arn: str, principal: str = LAMBDA_PRINCIPAL) -> bool | None:
    """Does the role's trust policy let `principal` (a service) assume it? None when the role is not in the local IAM."""
    parts = role_arn.split(":")
    if len(parts) < 6:
        return None
    role = find_role(role_arn.rsplit("/", 1)[-1], parts[4])
    if role is None:
        return None
    try:
        return evaluate([role.trust_policy], "sts:AssumeRole", role_arn, RequestContext(principal)).allowed
    except PolicyError:
        return False
