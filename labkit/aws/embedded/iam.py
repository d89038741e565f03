"""The local IAM's roles and Secrets Manager's secret ARNs, read from the embedded AWS's backends."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.aws.embedded.loading import load_moto


@dataclass(frozen=True)
class Role:
    """What IAM knows of one role: its policy documents (inline first, then the default version of
    each attached managed policy), its trust policy and its tags."""

    role_id: str
    name: str
    policies: tuple[Any, ...]
    trust_policy: Any
    tags: tuple[tuple[str, str], ...]


def find_role(name: str, account: str) -> Role | None:
    """The role called `name` in `account` of the local IAM, or None when there is none."""
    load_moto()
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["aws"].get_role(name)
    except Exception:  # moto's NoSuchEntity: no such role
        return None
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        documents.append(version.document if version is not None else getattr(policy, "document", None))
    tags = tuple((str(tag["Key"]), str(tag["Value"])) for tag in role.tags or [])
    return Role(str(role.id), name, tuple(documents), role.assume_role_policy_document, tags)


def secret_arn(name: str, region: str, account: str) -> str:
    """A secret's full ARN (with the 6-character suffix Secrets Manager adds) when it exists locally."""
    load_moto()
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        return str(secretsmanager_backends[account][region].secrets[name].arn)
    except Exception:  # not created yet (CreateSecret): the ARN without its suffix
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"
