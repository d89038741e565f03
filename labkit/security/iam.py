"""IAM policy evaluation: does a set of policy documents allow one action on one resource?

The rules are IAM's, for what the course's policies use: statements with `Effect`, `Action` /
`NotAction`, `Resource` / `NotResource`, `Principal` (resource-based policies) and `Condition`.
Action patterns match case-insensitively, resource patterns case-sensitively, both with `*` and
`?` wildcards. An explicit Deny wins over any Allow; with no Allow the request is implicitly
denied. Condition operators: String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals,
Arn(Not)Like, Bool, Null and the `...IfExists` forms; any other operator never matches (an
Allow with it allows nothing, a Deny with it denies nothing). Condition keys are looked up in the
request's context (`aws:SourceArn`, `aws:SourceAccount`, `aws:PrincipalArn`, ...) case-insensitively.

>>> doc = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:Get*", "Resource": "*"}]}
>>> evaluate([doc], "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/T").allowed
True
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

from labkit.errors import LabkitError


class PolicyError(LabkitError, ValueError):
    """A policy document is not valid JSON or has not IAM's shape."""


class Effect(str, Enum):
    """How an evaluation ended."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Decision:
    """The outcome of `evaluate`: the effect and the statement that decided it (None for an implicit deny)."""

    effect: Effect
    statement: Mapping[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW


@dataclass(frozen=True)
class RequestContext:
    """What a statement is matched against: principal ARN and condition keys (`aws:SourceArn`: value)."""

    principal: str | None = None
    keys: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        wanted = key.lower()
        for name, value in self.keys.items():
            if name.lower() == wanted:
                return [value] if isinstance(value, str) else list(value)
        return None


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
    found = parse_document(document)["Statement"]
    items = found if isinstance(found, list) else [found]
    for item in items:
        if not isinstance(item, Mapping) or item.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f'every statement needs "Effect": "Allow" or "Deny"; got {item!r}')
        if not any(key in item for key in ("Action", "NotAction")):
            raise PolicyError(f'a statement needs "Action" (or "NotAction"); got {item!r}')
    return items


def evaluate(
    documents: Iterable[str | Mapping[str, Any]],
    action: str,
    resource: str,
    context: RequestContext | None = None,
) -> Decision:
    """IAM's decision for `action` (e.g. "s3:GetObject") on `resource` (an ARN or "*") under `documents`."""
    context = context or RequestContext()
    allow: Mapping[str, Any] | None = None
    for document in documents:
        for statement in statements(document):
            if not _applies(statement, action, resource, context):
                continue
            if statement["Effect"] == "Deny":
                return Decision(Effect.EXPLICIT_DENY, statement)
            if allow is None:
                allow = statement
    return Decision(Effect.ALLOW, allow) if allow is not None else Decision(Effect.IMPLICIT_DENY)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


@lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character."""
    return _pattern(pattern, ignore_case).match(value) is not None


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: RequestContext) -> bool:
    if "Action" in statement:
        if not any(matches(p, action, ignore_case=True) for p in _as_list(statement["Action"])):
            return False
    elif any(matches(p, action, ignore_case=True) for p in _as_list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(matches(p, resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(matches(p, resource) for p in _as_list(statement["NotResource"])):
        return False
    if "Principal" in statement and not _principal_matches(statement["Principal"], context):
        return False
    return all(
        _condition(operator, key, _as_list(values), context)
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


_STRING_TESTS = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringEqualsIgnoreCase": lambda pattern, value: pattern.lower() == value.lower(),
    "StringLike": lambda pattern, value: matches(pattern, value),
    "ArnEquals": lambda pattern, value: pattern == value,
    "ArnLike": lambda pattern, value: matches(pattern, value),
    "Bool": lambda pattern, value: pattern.lower() == value.lower(),
}
_NEGATIONS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition(operator: str, key: str, wanted: list[str], context: RequestContext) -> bool:
    values = context.value(key)
    if operator == "Null":
        return (values is None) == (wanted[0].lower() == "true") if wanted else False
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if values is None:
        return if_exists or base in _NEGATIONS
    negated = base in _NEGATIONS
    test = _STRING_TESTS.get(_NEGATIONS.get(base, base))
    if test is None:
        return False
    hit = any(test(pattern, value) for pattern in wanted for value in values)
    return not hit if negated else hit
