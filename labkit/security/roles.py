"""Execution roles in the local IAM (the embedded moto's, in this process): their policies and their trust.

A role is looked up by the name at the end of its ARN, in the account the ARN names. Nothing here
changes IAM; `None` answers mean "no such role in the local IAM".
"""
from __future__ import annotations

from typing import Any

from labkit.security.iam import PolicyError, RequestContext, evaluate

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


def _role(role_name: str, account: str) -> Any:
    from moto.iam.models import iam_backends

    try:
        return iam_backends[account]["aws"].get_role(role_name)
    except Exception:  # moto's NotFoundException: no such role
        return None


def role_policies(role_name: str, account: str) -> list[Any] | None:
    """The policy documents of a role (inline, then attached managed ones), or None if there is no such role."""
    role = _role(role_name, account)
    if role is None:
        return None
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        documents.append(version.document if version is not None else policy.document)
    return documents


def principal_keys(role_name: str, account: str, session_name: str) -> dict[str, str]:
    """The condition keys IAM knows of a session of the role: `aws:userid` (`<role id>:<session>`) and
    `aws:PrincipalTag/<key>` for each of the role's tags; none when the role is not in the local IAM."""
    role = _role(role_name, account)
    if role is None:
        return {}
    keys = {"aws:userid": f"{role.id}:{session_name}"}
    keys.update({f"aws:PrincipalTag/{tag['Key']}": tag["Value"] for tag in role.tags or []})
    return keys


def trust_allows(role_arn: str, principal: str = LAMBDA_PRINCIPAL) -> bool | None:
    """Does the role's trust policy let `principal` (a service) assume it? None when the role is not in the local IAM."""
    parts = role_arn.split(":")
    if len(parts) < 6:
        return None
    role = _role(role_arn.rsplit("/", 1)[-1], parts[4])
    if role is None:
        return None
    try:
        return evaluate([role.assume_role_policy_document], "sts:AssumeRole", role_arn, RequestContext(principal)).allowed
    except PolicyError:
        return False
