"""Lambda's resource-based policies: AddPermission, RemovePermission, GetPolicy, and who may invoke.

Each function (and each of its aliases and versions: a qualifier has a policy of its own) keeps
the statements AddPermission wrote, in the shape Lambda returns from GetPolicy. `allows_invoke`
decides an invoke by a principal - a service such as `s3.amazonaws.com` with the `SourceArn` /
`SourceAccount` it invokes for, or an IAM identity - with IAM's rules
(`labkit.security.iam`). Invokes on the account's own behalf (principal None) need no statement.

:class:`PolicyStore` keeps statements and revision ids for any kind of resource: functions here,
layer versions in :mod:`labkit.service.layer_policy`.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from labkit.security.iam import Effect, RequestContext, evaluate
from labkit.service.exceptions import (
    AccessDeniedException,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)

LOG = logging.getLogger("labkit.service")
_ACTION = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")
_STATEMENT_ID = re.compile(r"^([a-zA-Z0-9-_.]+)$")
_ACCOUNT = re.compile(r"^\d{12}$")
K = TypeVar("K", bound=Hashable)


@dataclass
class _Policy:
    statements: list[dict[str, Any]] = field(default_factory=list)
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def document(self) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Id": "default", "Statement": [dict(s) for s in self.statements]}


def statement_from_request(spec: dict[str, Any], resource_arn: str) -> dict[str, Any]:
    """The policy statement AddPermission's request document adds, as GetPolicy shows it."""
    sid = spec.get("StatementId")
    if not isinstance(sid, str) or not _STATEMENT_ID.match(sid) or len(sid) > 100:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: ([a-zA-Z0-9-_.]+) (e.g. StatementId='s3-invoke')"
        )
    action = spec.get("Action")
    if not isinstance(action, str) or not _ACTION.match(action):
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{action}' at 'action' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*]) (e.g. Action='lambda:InvokeFunction')"
        )
    principal = spec.get("Principal")
    if not isinstance(principal, str) or not principal:
        raise InvalidParameterValueException(
            "1 validation error detected: Value null at 'principal' failed to satisfy constraint: Member must not be "
            "null (e.g. Principal='s3.amazonaws.com', an account id or a role ARN)"
        )
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal_document(principal),
        "Action": action,
        "Resource": resource_arn,
    }
    condition: dict[str, dict[str, str]] = {}
    if spec.get("SourceAccount"):
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = spec["SourceAccount"]
    if spec.get("PrincipalOrgID"):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = spec["PrincipalOrgID"]
    if spec.get("EventSourceToken"):
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = spec["EventSourceToken"]
    if spec.get("FunctionUrlAuthType"):
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = spec["FunctionUrlAuthType"]
    if spec.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": spec["SourceArn"]}
    if condition:
        statement["Condition"] = condition
    return statement


def principal_document(principal: str) -> str | dict[str, str]:
    """A request's principal as a statement shows it: `*`, `{"AWS": ...}` (an account is its root) or `{"Service": ...}`."""
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    if principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        return {"Service": principal}
    LOG.info(
        "AddPermission: invalid principal %r: use a service such as s3.amazonaws.com, a 12-digit account id, an IAM "
        "ARN or *", principal,
    )
    raise InvalidParameterValueException("The provided principal was invalid. Please check the principal and try again.")


class PolicyStore(Generic[K]):
    """Resource-based policies keyed by resource: statements with unique ids, a new RevisionId on each change.

    Parameters
    ----------
    get_operation
        The operation Lambda's stale-revision message names (``GetPolicy``, ``GetLayerPolicy``).
    no_policy
        The message of a Get when the resource has no policy.
    """

    def __init__(self, get_operation: str, no_policy: str) -> None:
        self._get_operation = get_operation
        self._no_policy = no_policy
        self._lock = threading.Lock()
        self._policies: dict[K, _Policy] = {}

    def add(self, key: K, statement: dict[str, Any], revision_id: str | None = None) -> str:
        """Add a statement; returns the policy's new revision id. 409 when its id is taken, 412 on a stale RevisionId."""
        with self._lock:
            policy = self._policies.setdefault(key, _Policy())
            self._check_revision(policy, revision_id)
            if any(s["Sid"] == statement["Sid"] for s in policy.statements):
                raise ResourceConflictException(
                    f"The statement id ({statement['Sid']}) provided already exists. Please provide a new statement "
                    "id, or remove the existing statement."
                )
            policy.statements.append(statement)
            policy.revision_id = str(uuid.uuid4())
            return policy.revision_id

    def remove(self, key: K, statement_id: str, revision_id: str | None = None) -> None:
        """Remove a statement; 404 when the resource has no policy or no statement has that id."""
        with self._lock:
            policy = self._policies.get(key)
            if policy is None:
                raise ResourceNotFoundException("No policy is associated with the given resource.")
            if not any(s["Sid"] == statement_id for s in policy.statements):
                raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")
            self._check_revision(policy, revision_id)
            policy.statements = [s for s in policy.statements if s["Sid"] != statement_id]
            policy.revision_id = str(uuid.uuid4())
            if not policy.statements:
                del self._policies[key]

    def document(self, key: K) -> dict[str, Any] | None:
        """The policy document (`{"Version", "Id", "Statement"}`), or None when the resource has none."""
        with self._lock:
            policy = self._policies.get(key)
            return None if policy is None else policy.document()

    def get(self, key: K) -> tuple[str, str]:
        """(policy JSON text, revision id); 404 when there is no policy."""
        with self._lock:
            policy = self._policies.get(key)
            if policy is None:
                raise ResourceNotFoundException(self._no_policy)
            return json.dumps(policy.document(), separators=(",", ":")), policy.revision_id

    def drop(self, matches: Callable[[K], bool]) -> None:
        """Forget the policies of the resources `matches` selects (deleted ones)."""
        with self._lock:
            for key in [k for k in self._policies if matches(k)]:
                del self._policies[key]

    def _check_revision(self, policy: _Policy, revision_id: str | None) -> None:
        if revision_id and revision_id != policy.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                f"{self._get_operation} API to retrieve the latest Revision Id"
            )


class FunctionPolicies:
    """The resource-based policies of every function of one Lambda service, keyed by (name, qualifier)."""

    def __init__(self) -> None:
        self._store: PolicyStore[tuple[str, str | None]] = PolicyStore(
            "GetPolicy", "The resource you requested does not exist."
        )

    def add(self, name: str, qualifier: str | None, resource_arn: str, spec: dict[str, Any]) -> dict[str, Any]:
        """AddPermission: the statement added; 409 when its id is taken, 412 on a stale RevisionId."""
        statement = statement_from_request(spec, resource_arn)
        self._store.add((name, qualifier), statement, spec.get("RevisionId"))
        return statement

    def remove(self, name: str, qualifier: str | None, statement_id: str, revision_id: str | None = None) -> None:
        """RemovePermission; 404 when no statement has that id."""
        self._store.remove((name, qualifier), statement_id, revision_id)

    def document(self, name: str, qualifier: str | None) -> dict[str, Any] | None:
        """The policy document (`{"Version", "Id", "Statement"}`), or None when the function has none."""
        return self._store.document((name, qualifier))

    def get(self, name: str, qualifier: str | None) -> tuple[str, str]:
        """GetPolicy: (policy JSON text, revision id); 404 when there is no policy."""
        return self._store.get((name, qualifier))

    def drop(self, name: str, qualifier: str | None = None) -> None:
        """Forget a deleted function's policies (all of them when qualifier is None)."""
        self._store.drop(lambda key: key[0] == name and (qualifier is None or key[1] == qualifier))

    def allows_invoke(
        self,
        name: str,
        qualifier: str | None,
        resource_arn: str,
        principal: str,
        source_arn: str | None = None,
        source_account: str | None = None,
    ) -> bool:
        """Does the policy of (name, qualifier) allow `principal` to call lambda:InvokeFunction?"""
        document = self.document(name, qualifier)
        if document is None:
            return False
        keys = {key: value for key, value in (("aws:SourceArn", source_arn), ("aws:SourceAccount", source_account)) if value}
        decision = evaluate([document], "lambda:InvokeFunction", resource_arn, RequestContext(principal, keys))
        return decision.effect is Effect.ALLOW


def denied_invoke(principal: str, resource_arn: str) -> AccessDeniedException:
    """Lambda's answer to an invoke that no statement allows."""
    return AccessDeniedException(
        f"User: {principal} is not authorized to perform: lambda:InvokeFunction on resource: {resource_arn} because no "
        "resource-based policy allows the lambda:InvokeFunction action"
    )
