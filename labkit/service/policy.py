"""Lambda's resource-based policies: AddPermission, RemovePermission, GetPolicy, and who may invoke.

Each function (and each of its aliases and versions: a qualifier has a policy of its own) keeps
the statements AddPermission wrote, in the shape Lambda returns from GetPolicy. `allows_invoke`
decides an invoke by a principal - a service such as `s3.amazonaws.com` with the `SourceArn` /
`SourceAccount` it invokes for, or an IAM identity - with IAM's rules
(`labkit.security.iam`). Invokes on the account's own behalf (principal None) need no statement.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from labkit.security.iam import Effect, RequestContext, evaluate
from labkit.service.exceptions import (
    InvalidParameterValueException,
    LambdaServiceError,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)

_ACTION = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")
_STATEMENT_ID = re.compile(r"^([a-zA-Z0-9-_.]+)$")
_ACCOUNT = re.compile(r"^\d{12}$")


class AccessDeniedException(LambdaServiceError):
    """A principal without permission to invoke (no statement of the function's policy allows it)."""

    code = "AccessDeniedException"
    status = 403
    message_key = "Message"


@dataclass
class _Policy:
    statements: list[dict[str, Any]] = field(default_factory=list)
    revision_id: str = field(default_factory=lambda: str(uuid.uuid4()))


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
        "Principal": _principal(principal),
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


def _principal(principal: str) -> str | dict[str, str]:
    if principal == "*":
        return "*"
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    if principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        return {"Service": principal}
    raise InvalidParameterValueException(
        f"The provided principal was invalid. Please check the principal and try again: {principal!r} (use a service "
        "such as s3.amazonaws.com, a 12-digit account id, an IAM ARN or *)"
    )


class FunctionPolicies:
    """The resource-based policies of every function of one Lambda service, keyed by (name, qualifier)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policies: dict[tuple[str, str | None], _Policy] = {}

    def add(self, name: str, qualifier: str | None, resource_arn: str, spec: dict[str, Any]) -> dict[str, Any]:
        """AddPermission: the statement added; 409 when its id is taken, 412 on a stale RevisionId."""
        statement = statement_from_request(spec, resource_arn)
        with self._lock:
            policy = self._policies.setdefault((name, qualifier), _Policy())
            self._check_revision(policy, spec.get("RevisionId"))
            if any(s["Sid"] == statement["Sid"] for s in policy.statements):
                raise ResourceConflictException(
                    f"The statement id ({statement['Sid']}) provided already exists. Please provide a new statement "
                    "id, or remove the existing statement."
                )
            policy.statements.append(statement)
            policy.revision_id = str(uuid.uuid4())
        return statement

    def remove(self, name: str, qualifier: str | None, statement_id: str, revision_id: str | None = None) -> None:
        """RemovePermission; 404 when no statement has that id."""
        with self._lock:
            policy = self._policies.get((name, qualifier))
            if policy is None or not any(s["Sid"] == statement_id for s in policy.statements):
                raise ResourceNotFoundException(f"Statement {statement_id} is not found in resource policy.")
            self._check_revision(policy, revision_id)
            policy.statements = [s for s in policy.statements if s["Sid"] != statement_id]
            policy.revision_id = str(uuid.uuid4())
            if not policy.statements:
                del self._policies[(name, qualifier)]

    def document(self, name: str, qualifier: str | None) -> dict[str, Any] | None:
        """The policy document (`{"Version", "Id", "Statement"}`), or None when the function has none."""
        with self._lock:
            policy = self._policies.get((name, qualifier))
            if policy is None:
                return None
            return {"Version": "2012-10-17", "Id": "default", "Statement": [dict(s) for s in policy.statements]}

    def get(self, name: str, qualifier: str | None) -> tuple[str, str]:
        """GetPolicy: (policy JSON text, revision id); 404 when there is no policy."""
        document = self.document(name, qualifier)
        if document is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        with self._lock:
            revision = self._policies[(name, qualifier)].revision_id
        return json.dumps(document, separators=(",", ":")), revision

    def drop(self, name: str, qualifier: str | None = None) -> None:
        """Forget a deleted function's policies (all of them when qualifier is None)."""
        with self._lock:
            for key in [k for k in self._policies if k[0] == name and (qualifier is None or k[1] == qualifier)]:
                del self._policies[key]

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

    @staticmethod
    def _check_revision(policy: _Policy, revision_id: str | None) -> None:
        if revision_id and revision_id != policy.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve "
                "the latest Revision Id"
            )


def denied_invoke(principal: str, resource_arn: str) -> AccessDeniedException:
    """Lambda's answer to an invoke that no statement allows."""
    return AccessDeniedException(
        f"User: {principal} is not authorized to perform: lambda:InvokeFunction on resource: {resource_arn} because no "
        "resource-based policy allows the lambda:InvokeFunction action"
    )
