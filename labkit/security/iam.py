"""IAM policy evaluation: does a set of policy documents allow one action on one resource?

The rules are IAM's, for what the course's policies use: statements with `Effect`, `Action` /
`NotAction`, `Resource` / `NotResource`, `Principal` (resource-based policies) and `Condition`.
Action patterns match case-insensitively, resource patterns case-sensitively, both with `*` and
`?` wildcards. An explicit Deny wins over any Allow; with no Allow the request is implicitly
denied. Conditions (`labkit.security.conditions`) use every operator of IAM's reference:
String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress / NotIpAddress, Arn*, Null, the
`...IfExists` forms and the `ForAllValues:` / `ForAnyValue:` set operators; several operators
and keys are ANDed, several values ORed. Their keys are looked up in the request's context
(`aws:SourceArn`, `aws:PrincipalArn`, `aws:CurrentTime`, `aws:SourceIp`, ...) case-insensitively.
In documents of version 2012-10-17, policy variables (`${aws:PrincipalAccount}`, `${*}`, ...;
`labkit.security.patterns`) are resolved in `Resource` / `NotResource` and in the values of
String, Arn and Bool conditions. An operator labkit does not know never matches (an Allow with it
allows nothing, a Deny with it denies nothing) and the decision's `notes` say so.

>>> doc = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:Get*", "Resource": "*"}]}
>>> evaluate([doc], "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/T").allowed
True
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from labkit.errors import LabkitError
from labkit.security.conditions import RequestContext, holds
from labkit.security.patterns import Lookup, matches

__all__ = ["Decision", "Effect", "PolicyError", "RequestContext", "evaluate", "matches", "parse_document", "statements"]


class PolicyError(LabkitError, ValueError):
    """A policy document is not valid JSON or has not IAM's shape."""


class Effect(str, Enum):
    """How an evaluation ended."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Decision:
    """The outcome of `evaluate`: the effect, the statement that decided it (None for an implicit deny)
    and notes on what labkit could not evaluate as IAM would (an unknown condition operator, a value
    that is not of its operator's type).
    """

    effect: Effect
    statement: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW


def parse_document(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as a dict; URL-encoded or JSON text is accepted (IAM returns both)."""
    if isinstance(document, Mapping):
        parsed: Any = dict(document)
    else:
        text = document
        if "%" in text and not text.lstrip().startswith("{"):
            from urllib.parse import unquote

            text = unquote(text)
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise PolicyError(f"the policy document is not valid JSON ({exc}): give a JSON object with a Statement list") from None
    if not isinstance(parsed, dict) or "Statement" not in parsed:
        raise PolicyError('a policy document needs a "Statement": {"Version": "2012-10-17", "Statement": [...]}')
    return parsed


def statements(document: str | Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of one document (a single statement object counts as a list of one)."""
    return _statements(parse_document(document))


def _statements(parsed: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = parsed["Statement"]
    items = found if isinstance(found, list) else [found]
    for item in items:
        if not isinstance(item, Mapping) or item.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f'every statement needs "Effect": "Allow" or "Deny"; got {item!r}')
        if not any(key in item for key in ("Action", "NotAction")):
            raise PolicyError(f'a statement needs "Action" (or "NotAction"); got {item!r}')
    return items


VARIABLES_VERSION = "2012-10-17"
"""The policy language version whose documents may use policy variables (older ones read `${...}` literally)."""


def evaluate(
    documents: Iterable[str | Mapping[str, Any]],
    action: str,
    resource: str,
    context: RequestContext | None = None,
) -> Decision:
    """IAM's decision for `action` (e.g. "s3:GetObject") on `resource` (an ARN or "*") under `documents`."""
    context = context or RequestContext()
    allow: Mapping[str, Any] | None = None
    notes: list[str] = []
    for document in documents:
        parsed = parse_document(document)
        lookup = context.value if parsed.get("Version") == VARIABLES_VERSION else None
        for statement in _statements(parsed):
            if not _applies(statement, action, resource, context, lookup, notes):
                continue
            if statement["Effect"] == "Deny":
                return Decision(Effect.EXPLICIT_DENY, statement, _unique(notes))
            if allow is None:
                allow = statement
    if allow is not None:
        return Decision(Effect.ALLOW, allow, _unique(notes))
    return Decision(Effect.IMPLICIT_DENY, None, _unique(notes))


def _unique(notes: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(notes))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _applies(
    statement: Mapping[str, Any], action: str, resource: str, context: RequestContext, lookup: Lookup | None,
    notes: list[str],
) -> bool:
    if "Action" in statement:
        if not any(matches(p, action, ignore_case=True) for p in _as_list(statement["Action"])):
            return False
    elif any(matches(p, action, ignore_case=True) for p in _as_list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(matches(p, resource, lookup=lookup) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(matches(p, resource, lookup=lookup) for p in _as_list(statement["NotResource"])):
        return False
    if "Principal" in statement and not _principal_matches(statement["Principal"], context):
        return False
    return all(
        holds(operator, key, _as_list(values), context, variables=lookup is not None, notes=notes)
        for operator, pairs in (statement.get("Condition") or {}).items()
        for key, values in pairs.items()
    )


def _principal_matches(principal: Any, context: RequestContext) -> bool:
    """Does a statement's `Principal` name the caller (its session, its role, its account, or `*`)?"""
    if principal == "*":
        return True
    if context.principal is None or not isinstance(principal, Mapping):
        return False
    callers = {context.principal, *(context.value("aws:PrincipalArn") or [])}
    account = context.value("aws:PrincipalAccount")
    for candidate in (p for values in principal.values() for p in _as_list(values)):
        if candidate == "*" or candidate in callers:
            return True
        if account and candidate in (account[0], f"arn:aws:iam::{account[0]}:root"):
            return True  # an account principal covers every identity of that account
    return False
