"""IAM condition operators: does one `Condition` entry (operator, key, values) hold for a request?

The operators of IAM's reference, with its rules:

- String(Not)Equals, String(Not)EqualsIgnoreCase, String(Not)Like (`*`, `?` wildcards);
- Numeric(Not)Equals, NumericLessThan(Equals), NumericGreaterThan(Equals);
- Date(Not)Equals, DateLessThan(Equals), DateGreaterThan(Equals): ISO 8601 (`2026-01-01T00:00:00Z`,
  `2026-01-01`) or epoch seconds, on either side;
- Bool; BinaryEquals (the policy's value is base64, compared byte for byte);
- IpAddress / NotIpAddress: CIDR blocks or single addresses, IPv4 and IPv6;
- Arn(Not)Equals, Arn(Not)Like: each of an ARN's first five `:` components matched on its own;
- Null (`"true"`: the key is absent), and `...IfExists` after any operator but Null;
- the set operators `ForAllValues:` / `ForAnyValue:` before any operator but Null.

A key the request does not carry makes an operator false, a negated one (`...Not...`,
`NotIpAddress`) true, an `...IfExists` one true, `ForAllValues:` true and `ForAnyValue:` false.
Several values for one key are ORed (NORed by negated operators). Policy variables (`${aws:username}`)
are resolved in the values of String, Arn and Bool operators when the caller asks for it (documents
of version 2012-10-17). An operator labkit does not know, or a value that is not of its operator's
type, matches nothing; a note in `notes` says so.
"""
from __future__ import annotations

import base64
import ipaddress
import operator as op
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from labkit.security.patterns import Lookup, substitute, wildcard


@dataclass(frozen=True)
class RequestContext:
    """What a statement is matched against: principal ARN and condition keys (`aws:SourceArn`: value)."""

    principal: str | None = None
    keys: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        """The values of a condition key (key names are case-insensitive), or None when the request has none."""
        wanted = key.lower()
        for name, value in self.keys.items():
            if name.lower() == wanted:
                return [value] if isinstance(value, str) else list(value)
        return None


@dataclass(frozen=True)
class _Test:
    """One positive operator: `prepare` reads a policy value, `read` a request value, `compare` decides.

    `prepare` and `read` raise ValueError for a value of the wrong type; `prepare` returns None for a
    value whose policy variable has no value. `variables`: policy variables are resolved in its values.
    """

    prepare: Callable[[str, Lookup | None], Any]
    read: Callable[[str], Any]
    compare: Callable[[Any, Any], bool]
    variables: bool = False


def _number(text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not number.is_finite():
        raise ValueError("is not a finite number")
    return number


_EPOCH = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _date(text: str) -> datetime:
    """A date of a condition: epoch seconds or ISO 8601 (a date without a zone is UTC)."""
    if _EPOCH.match(text):
        return datetime.fromtimestamp(float(text), timezone.utc)
    iso = text.strip()
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError("is not an ISO 8601 date (2026-01-01T00:00:00Z) nor epoch seconds") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError("is not an IP address nor a CIDR block (203.0.113.0/24, 2001:db8::/32)") from None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise ValueError("is not an IP address") from None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _binary(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("is not base64") from None


def _lower(value: str, lookup: Lookup | None) -> str | None:
    text = substitute(value, lookup)
    return None if text is None else text.lower()


def _same(value: str) -> str:
    return value


def _lowered(value: str) -> str:
    return value.lower()


def _numeric(compare: Callable[[Any, Any], bool]) -> _Test:
    return _Test(lambda value, _: _number(value), _number, lambda policy, request: compare(request, policy))


def _dated(compare: Callable[[Any, Any], bool]) -> _Test:
    return _Test(lambda value, _: _date(value), _date, lambda policy, request: compare(request, policy))


def _matched(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.match(value) is not None


_ARN = _Test(lambda value, lookup: wildcard(value, lookup=lookup, arn=True), _same, _matched, variables=True)
_TESTS: dict[str, _Test] = {
    "StringEquals": _Test(substitute, _same, op.eq, variables=True),
    "StringEqualsIgnoreCase": _Test(_lower, _lowered, op.eq, variables=True),
    "StringLike": _Test(lambda value, lookup: wildcard(value, lookup=lookup), _same, _matched, variables=True),
    "NumericEquals": _numeric(op.eq),
    "NumericLessThan": _numeric(op.lt),
    "NumericLessThanEquals": _numeric(op.le),
    "NumericGreaterThan": _numeric(op.gt),
    "NumericGreaterThanEquals": _numeric(op.ge),
    "DateEquals": _dated(op.eq),
    "DateLessThan": _dated(op.lt),
    "DateLessThanEquals": _dated(op.le),
    "DateGreaterThan": _dated(op.gt),
    "DateGreaterThanEquals": _dated(op.ge),
    "Bool": _Test(_lower, _lowered, op.eq, variables=True),
    "BinaryEquals": _Test(lambda value, _: _binary(value), _binary, op.eq),
    "IpAddress": _Test(lambda value, _: _network(value), _address, lambda network, address: address in network),
    "ArnEquals": _ARN,
    "ArnLike": _ARN,
}
_NEGATIONS = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
_QUALIFIERS = ("ForAllValues", "ForAnyValue")
KNOWN_OPERATORS = (*_TESTS, *_NEGATIONS, "Null")
"""Every operator name labkit evaluates; each but Null also with `IfExists` and after a set operator."""


@dataclass(frozen=True)
class _Operator:
    """A condition operator as written, taken apart: `ForAnyValue:StringNotLikeIfExists`."""

    qualifier: str | None
    base: str
    negated: bool
    if_exists: bool


def _parse(name: str) -> _Operator | None:
    qualifier, _, rest = name.rpartition(":")
    if qualifier and qualifier not in _QUALIFIERS:
        return None
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    if base == "Null":
        return None if if_exists or qualifier else _Operator(None, base, False, False)
    negated = base in _NEGATIONS
    base = _NEGATIONS.get(base, base)
    return _Operator(qualifier or None, base, negated, if_exists) if base in _TESTS else None


def holds(
    operator: str, key: str, wanted: list[str], context: RequestContext, *, variables: bool = False,
    notes: list[str] | None = None,
) -> bool:
    """Does `{operator: {key: wanted}}` hold for the request? Problems that make it match nothing go to `notes`."""
    notes = notes if notes is not None else []
    parsed = _parse(operator)
    if parsed is None:
        notes.append(
            f"the condition operator {operator!r} is not one labkit knows, so its statement never applies (an Allow "
            f"allows nothing, a Deny denies nothing); check its spelling against IAM's: {', '.join(KNOWN_OPERATORS)}, "
            "each with IfExists, or after ForAllValues: / ForAnyValue:"
        )
        return False
    values = context.value(key)
    if parsed.base == "Null":
        return _null(key, wanted, absent=not values, notes=notes)
    if not values:
        if parsed.if_exists or parsed.qualifier == "ForAllValues":
            return True
        return parsed.negated and parsed.qualifier is None
    test = _TESTS[parsed.base]
    lookup = context.value if variables and test.variables else None
    prepared = []
    for value in wanted:
        try:
            found = test.prepare(value, lookup)
        except ValueError as exc:
            notes.append(f"{operator}: the policy's value {value!r} for {key} {exc}, so it matches nothing")
            continue
        if found is not None:
            prepared.append(found)

    def hit(value: str) -> bool:
        try:
            request = test.read(value)
        except ValueError as exc:
            notes.append(f"{operator}: the request's value {value!r} of {key} {exc}, so it matches nothing")
            return False
        return any(test.compare(policy, request) for policy in prepared)

    if parsed.qualifier == "ForAllValues":
        return all(hit(value) != parsed.negated for value in values)
    if parsed.qualifier == "ForAnyValue":
        return any(hit(value) != parsed.negated for value in values)
    return any(hit(value) for value in values) != parsed.negated


def _null(key: str, wanted: list[str], *, absent: bool, notes: list[str]) -> bool:
    result = False
    for value in wanted:
        if value.lower() not in ("true", "false"):
            notes.append(f'Null: the policy\'s value {value!r} for {key} is neither "true" (absent) nor "false" (present)')
        elif (value.lower() == "true") == absent:
            result = True
    return result
