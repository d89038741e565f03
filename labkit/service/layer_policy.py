"""Layer version permissions: AddLayerVersionPermission, GetLayerVersionPolicy, RemoveLayerVersionPermission.

Each layer version has a policy of its own, keyed by its version ARN: statements that let an
account, every account (``*``) or, with ``OrganizationId``, the accounts of one organisation call
``lambda:GetLayerVersion`` on it, in the shape GetLayerVersionPolicy returns. botocore's model
checks the request first (:mod:`labkit.service.validation`): the action can only be
``lambda:GetLayerVersion``, the principal an account id, its root ARN or ``*``. Statement ids,
conflicts and revision ids work as for functions (:class:`labkit.service.policy.PolicyStore`).
"""
from __future__ import annotations

from typing import Any

from labkit.service.policy import PolicyStore, principal_document

NO_POLICY = "No policy is associated with the given resource."


def layer_statement(spec: dict[str, Any], layer_version_arn: str) -> dict[str, Any]:
    """The statement AddLayerVersionPermission's (validated) request adds, as the policy shows it."""
    statement: dict[str, Any] = {
        "Sid": spec["StatementId"],
        "Effect": "Allow",
        "Principal": principal_document(spec["Principal"]),
        "Action": spec["Action"],
        "Resource": layer_version_arn,
    }
    if spec.get("OrganizationId"):
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": spec["OrganizationId"]}}
    return statement


class LayerPolicies:
    """The policies of every layer version of one account, keyed by layer version ARN; thread-safe."""

    def __init__(self) -> None:
        self._store: PolicyStore[str] = PolicyStore("GetLayerPolicy", NO_POLICY)

    def add(self, layer_version_arn: str, spec: dict[str, Any], revision_id: str | None = None) -> tuple[dict[str, Any], str]:
        """AddLayerVersionPermission: (the statement added, the policy's new revision id)."""
        statement = layer_statement(spec, layer_version_arn)
        return statement, self._store.add(layer_version_arn, statement, revision_id)

    def get(self, layer_version_arn: str) -> tuple[str, str]:
        """GetLayerVersionPolicy: (the policy as JSON text, its revision id); 404 when there is none."""
        return self._store.get(layer_version_arn)

    def remove(self, layer_version_arn: str, statement_id: str, revision_id: str | None = None) -> None:
        """RemoveLayerVersionPermission; 404 when no statement has that id, 412 on a stale revision id."""
        self._store.remove(layer_version_arn, statement_id, revision_id)

    def drop(self, layer_version_arn: str) -> None:
        """Forget a deleted layer version's policy."""
        self._store.drop(lambda key: key == layer_version_arn)
