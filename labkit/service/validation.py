"""Lambda's request validation, driven by botocore's service model, as AWS's front end does it.

Before Lambda's own checks (``InvalidParameterValueException`` ...), AWS checks every request
against the operation's input shape: types (a wrong JSON type is a ``SerializationException``),
then required members, lengths, ranges, patterns and enums, answered as one ``ValidationException``
(400) with the framework's message::

    1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?...

Every constraint comes from the model botocore ships (no hand-written list): the request's URI
parameters (read with the operation's ``requestUri``), query string, headers and JSON body are
gathered into the members of the input shape, and each member is checked where AWS names it
(``functionName``, ``filterCriteria.filters.1.member.pattern``).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from labkit.service.exceptions import LambdaServiceError


class ValidationException(LambdaServiceError):
    """The framework's check of a request against the model (no ``Type`` in its body, as AWS sends it)."""

    code = "ValidationException"
    status = 400
    typed = False


class SerializationException(LambdaServiceError):
    """A member of the wrong JSON type: the request could not be read into the operation's input."""

    code = "SerializationException"
    status = 400
    typed = False
    message_key = "Message"


@functools.lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("lambda")


@functools.lru_cache(maxsize=None)
def operation(name: str) -> OperationModel | None:
    """The model of operation `name` (``CreateFunction``), or None when Lambda's model has none."""
    model = service_model()
    return model.operation_model(name) if name in model.operation_names else None


@functools.lru_cache(maxsize=None)
def _uri_pattern(request_uri: str) -> re.Pattern[str]:
    path = request_uri.split("?", 1)[0]
    pattern = re.sub(r"\\{(\w+)\\\+\\}", r"(?P<\1>.+)", re.escape(path))
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{pattern}/?$")


@functools.lru_cache(maxsize=None)
def reads_json_body(name: str) -> bool:
    """Does operation `name` carry its members in a JSON body? (Not when the body is a payload, as
    InvokeAsync's is, nor when every member sits in the URI, query or headers.)"""
    model = operation(name)
    shape = model.input_shape if model is not None else None
    if shape is None or shape.serialization.get("payload"):
        return False
    return any("location" not in member.serialization for member in shape.members.values())


def validate(name: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str],
             body: Mapping[str, Any] | None) -> None:
    """Check one request of operation `name`; raises :class:`ValidationException` or
    :class:`SerializationException` as AWS would."""
    model = operation(name)
    if model is None or model.input_shape is None:
        return
    shape = model.input_shape
    match = _uri_pattern(model.http.get("requestUri", "")).match(path)
    uri = match.groupdict() if match else {}
    payload_member = shape.serialization.get("payload")
    params: dict[str, Any] = {}
    for member, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        wire_name = member_shape.serialization.get("name", member)
        if location == "uri":
            if wire_name in uri:
                params[member] = _from_text(uri[wire_name], member_shape)
        elif location == "querystring":
            if wire_name in query:
                values = query[wire_name]
                params[member] = values if isinstance(member_shape, ListShape) else _from_text(values[0], member_shape)
        elif location == "header":
            value = headers.get(wire_name.lower())
            if value is not None:
                params[member] = _from_text(value, member_shape)
        elif member == payload_member:
            continue  # an invoke's payload: checked where it is read (JSON, size), never here
        elif body is not None and wire_name in body:
            params[member] = body[wire_name]
    problems: list[str] = []
    _check_members(shape, params, "", problems, unchecked=payload_member)
    if problems:
        count = len(problems)
        raise ValidationException(f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))


def _from_text(text: str, shape: Shape) -> Any:
    """A URI, query or header value as the member's type (what is not a number stays text)."""
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def _member_path(parent: str, member: str) -> str:
    name = member[:1].lower() + member[1:]
    return f"{parent}.{name}" if parent else name


def _check_members(shape: StructureShape, value: Mapping[str, Any], path: str, problems: list[str],
                   unchecked: str | None = None) -> None:
    for member, member_shape in shape.members.items():
        if member == unchecked:
            continue
        member_path = _member_path(path, member)
        if member not in value or value[member] is None:
            if member in shape.required_members:
                problems.append(f"Value null at '{member_path}' failed to satisfy constraint: Member must not be null")
            continue
        _check(member_shape, value[member], member_path, problems)


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    _check_type(shape, value, path)
    if isinstance(shape, StructureShape):
        _check_members(shape, value, path, problems)
        return
    failed = _failed_constraints(shape, value)
    if isinstance(shape, ListShape):
        member = shape.member
        if _is_scalar(member) and any(item is None or _failed_constraints(member, item) for item in value):
            inner = _constraints(member) + ["Member must not be null"]
            failed.append(f"Member must satisfy constraint: [{', '.join(inner)}]")
        elif not _is_scalar(member):
            for index, item in enumerate(value, start=1):
                _check(member, item, f"{path}.{index}.member", problems)
    elif isinstance(shape, MapShape):
        if any(_failed_constraints(shape.key, key) for key in value):
            failed.append(f"Map keys must satisfy constraint: [{', '.join(_constraints(shape.key))}]")
        for key, item in value.items():
            if item is not None and not _is_scalar(shape.value):
                _check(shape.value, item, f"{path}.{key}", problems)
            elif item is not None and _failed_constraints(shape.value, item):
                inner = _constraints(shape.value) + ["Member must not be null"]
                failed.append(f"Map value must satisfy constraint: [{', '.join(inner)}]")
    if failed:
        problems.append(_problem(shape, value, path, failed))


def _problem(shape: Shape, value: Any, path: str, failed: list[str]) -> str:
    shown = "" if shape.metadata.get("sensitive") else f" {_render(value)}"  # never echo a secret
    return f"Value{shown} at '{path}' failed to satisfy constraint: " + ", ".join(failed)


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "'[" + ", ".join("null" if item is None else str(item) for item in value) + "]'"
    if isinstance(value, dict):
        return "'{" + ", ".join(f"{key}={float(item) if isinstance(item, (int, float)) and not isinstance(item, bool) else item}"
                                for key, item in value.items()) + "}'"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    return f"'{value}'"


def _is_scalar(shape: Shape) -> bool:
    return not isinstance(shape, (StructureShape, ListShape, MapShape))


def _constraints(shape: Shape) -> list[str]:
    """Every constraint of a scalar shape, in the framework's words and order (for a list's members,
    a map's keys and values)."""
    metadata = shape.metadata
    found = []
    if metadata.get("enum"):
        found.append(f"Member must satisfy enum value set: [{', '.join(metadata['enum'])}]")
    if shape.type_name in _NUMBERS:
        if "max" in metadata:
            found.append(f"Member must have value less than or equal to {_number(shape, metadata['max'])}")
        if "min" in metadata:
            found.append(f"Member must have value greater than or equal to {_number(shape, metadata['min'])}")
        return found
    if "max" in metadata:
        found.append(f"Member must have length less than or equal to {metadata['max']}")
    if "min" in metadata:
        found.append(f"Member must have length greater than or equal to {metadata['min']}")
    if "pattern" in metadata:
        found.append(f"Member must satisfy regular expression pattern: {metadata['pattern']}")
    return found


_NUMBERS = ("integer", "long", "double", "float")


def _number(shape: Shape, value: Any) -> str:
    """A number as Java prints the member's type (``1.0`` for a double)."""
    return str(float(value)) if shape.type_name in ("double", "float") else str(value)


def _failed_constraints(shape: Shape, value: Any) -> list[str]:
    metadata = shape.metadata
    failed: list[str] = []
    if shape.type_name in _NUMBERS:
        if "min" in metadata and value < metadata["min"]:
            failed.append(f"Member must have value greater than or equal to {_number(shape, metadata['min'])}")
        if "max" in metadata and value > metadata["max"]:
            failed.append(f"Member must have value less than or equal to {_number(shape, metadata['max'])}")
        return failed
    if shape.type_name in ("string", "list", "map", "blob") and isinstance(value, (str, list, dict)):
        size = len(value)
        if "min" in metadata and size < metadata["min"]:
            failed.append(f"Member must have length greater than or equal to {metadata['min']}")
        if "max" in metadata and size > metadata["max"]:
            failed.append(f"Member must have length less than or equal to {metadata['max']}")
    if shape.type_name == "string" and isinstance(value, str):
        enum = metadata.get("enum")
        if enum and value not in enum:
            failed.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = metadata.get("pattern")
        if pattern and not _full_match(pattern, value):
            failed.append(f"Member must satisfy regular expression pattern: {pattern}")
    return failed


@functools.lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:  # a Java-only construct: the pattern is not checked here
        return None


def _full_match(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
    "boolean": (bool,),
    "timestamp": (int, float, str),
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
}


def _check_type(shape: Shape, value: Any, path: str) -> None:
    expected = _JSON_TYPES.get(shape.type_name)
    wrong = expected is not None and (not isinstance(value, expected)
                                      or (isinstance(value, bool) and bool not in expected))
    if wrong:
        raise SerializationException(
            f"Cannot read {path}: the model's {shape.name} is a {shape.type_name}, the request sent "
            f"{type(value).__name__} {_render(value)[:80]}"
        )
