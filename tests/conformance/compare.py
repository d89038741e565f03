"""Compare an answer labkit gave with the answer AWS recorded, the way LocalStack's snapshots do.

The recorded answers come from LocalStack's snapshot files, which normalise what changes from run
to run: a value such as `<uuid:1>`, `<function-name:2>`, `<code-sha256:1>`, `<code-size>`,
`<region>`, `date`, `datetime` or `code-sha256` stands for any value of its kind (a word
`date` inside a log line, for its timestamp). `compare` accepts any such value, and checks
that one numbered placeholder stands for one value throughout an answer (`<uuid:1>` twice means
the same id twice), and that `<uuid:1>` and `<uuid:2>` differ. Name placeholders never match a colon.

Everything else must be equal: keys (none missing, none extra), values, list lengths and order,
HTTP status codes, error codes and error messages. Only `ResponseMetadata.HTTPStatusCode` is
compared of the response metadata (the snapshots keep no headers, ids or retry counts).

The answer is first brought into the snapshot's form (`snapshot_form`): streams are read and
decoded, datetimes become text, string values that hold a JSON object are parsed (one level, as
`localstack_snapshot` does), and labkit's account id is written as the snapshots' `111111111111`.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

RECORDED_ACCOUNT = "111111111111"
"""The account id LocalStack writes in place of the recording AWS account."""

_PLACEHOLDER = re.compile(r"<([A-Za-z][^<>\s'\"]*)>")
_DATE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_KINDS: dict[str, str] = {
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "revision-id": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "datetime": _DATE,
    "code-sha256": r"[A-Za-z0-9+/]{43}=",
    "code-size": r"\d+",
    "region": r"[a-z]{2}(?:-[a-z]+)+-\d",
    "partition": r"aws(?:-[a-z]+)*",
}
_ANY = r".+?"
_NAME = r"[^:\s]+"
_NAME_KINDS = ("name",)
"""Kinds of placeholders that stand for a name: never with a colon (an ARN's qualifier is not part of it)."""
_BARE: dict[str, str] = {
    # values a LocalStack transformer replaced by a bare word (no angle brackets)
    "date": _DATE,
    "datetime": _DATE,
    "timestamp": r"\d+",
    "code-sha256": _KINDS["code-sha256"],
    "function-url": r"https?://\S+",
    "lambda-url": r"https?://\S+",
    "maximum-batching-window-in-seconds": r"\d+",
    "log-result": r"[A-Za-z0-9+/=]+",
    "receipt-handle": r"\S+",
    "sent-timestamp": r"\d+",
    "sender-id": r"\S+",
}
_DATE_WORD = re.compile(r"(?:(?<=\s)|^)date(?=\s|$)")


@dataclass
class Bindings:
    """Which value each placeholder of one answer stood for."""

    values: dict[str, str] = field(default_factory=dict)

    def bind(self, placeholder: str, value: str, path: str, differences: list[str]) -> None:
        known = self.values.get(placeholder)
        if known is None:
            kind = placeholder.split(":", 1)[0]
            if kind == "uuid":  # two different ids recorded: labkit must not answer the same one twice
                for other, other_value in self.values.items():
                    if other != placeholder and other.split(":", 1)[0] == kind and other_value == value:
                        differences.append(f"{path}: {value!r} stands for both <{other}> and <{placeholder}>")
            self.values[placeholder] = value
        elif known != value:
            differences.append(f"{path}: <{placeholder}> was {known!r}, now {value!r}")


def read_streams(value: Any) -> Any:
    """`value` (a boto3 answer) with every stream read and decoded, and datetimes as text."""
    if isinstance(value, io.IOBase) or hasattr(value, "read"):
        value = value.read()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: read_streams(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [read_streams(v) for v in value]
    if isinstance(value, dt.datetime):
        return str(value)
    return value


def snapshot_form(value: Any, account: str) -> Any:
    """An answer (streams read, reshaped by the case's views) as LocalStack's snapshots store it.

    As `localstack_snapshot` does: a string value of an object (or of an object in a list) that
    starts with `{` and holds JSON is parsed (but not searched again for JSON inside); `account`
    is written as 111111111111.
    """
    wrapped = {"answer": read_streams(value)}
    _parse_json_values(wrapped)
    return _with_account(wrapped["answer"], account)


def _parse_json_values(obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _parse_json_values(item)
        if isinstance(value, dict):
            _parse_json_values(value)
        if isinstance(value, str) and value.startswith("{"):
            try:
                obj[key] = json.loads(value)
            except json.JSONDecodeError:
                pass


def _with_account(value: Any, account: str) -> Any:
    if isinstance(value, dict):
        return {k: _with_account(v, account) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_account(v, account) for v in value]
    if isinstance(value, str):
        return value.replace(account, RECORDED_ACCOUNT)
    return value


def _pattern(expected: str) -> tuple[re.Pattern[str], list[str]] | None:
    """A regex for a recorded string with placeholders (None when it has none), and its placeholders."""
    if expected in _BARE:
        return re.compile(_BARE[expected]), []
    if expected == "<datetime>":
        return re.compile(_DATE), []
    names: list[str] = []
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(expected):
        parts.append(_literal(expected[last : match.start()]))
        name = match.group(1)
        kind = name.split(":", 1)[0]
        parts.append(f"({_KINDS.get(kind, _NAME if kind.endswith(_NAME_KINDS) else _ANY)})")
        names.append(name)
        last = match.end()
    if not names and not _DATE_WORD.search(expected):
        return None
    parts.append(_literal(expected[last:]))
    return re.compile("".join(parts), re.DOTALL), names


def _literal(text: str) -> str:
    """`text` as a regex, where a whole word `date` (a timestamp in a log line) matches any timestamp."""
    pieces = _DATE_WORD.split(text)
    return f"(?:{_DATE})".join(re.escape(piece) for piece in pieces)


def _scalar(expected: Any, actual: Any, path: str, bindings: Bindings, differences: list[str]) -> None:
    if isinstance(expected, str) and expected == actual:
        return
    if isinstance(expected, str):
        found = _pattern(expected)
        if found is not None:
            pattern, names = found
            if isinstance(actual, (dict, list)) or actual is None or isinstance(actual, bool):
                differences.append(f"{path}: expected a value like {expected!r}, got {actual!r}")
                return
            text = str(actual)
            match = pattern.fullmatch(text)
            if match is None:
                differences.append(f"{path}: expected {expected!r}, got {actual!r}")
                return
            for name, value in zip(names, match.groups()):
                if re.search(r":\d+$", name):  # only numbered placeholders are references to one value
                    bindings.bind(name, value, path, differences)
            return
    if type(expected) is not type(actual) and not (
        isinstance(expected, (int, float)) and isinstance(actual, (int, float))
        and not isinstance(expected, bool) and not isinstance(actual, bool)
    ):
        differences.append(f"{path}: expected {expected!r}, got {actual!r}")
    elif expected != actual:
        differences.append(f"{path}: expected {expected!r}, got {actual!r}")


def _walk(expected: Any, actual: Any, path: str, bindings: Bindings, differences: list[str]) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            differences.append(f"{path}: expected an object, got {actual!r}")
            return
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            if key == "ResponseMetadata":
                status = (actual.get(key) or {}).get("HTTPStatusCode")
                if status != value.get("HTTPStatusCode"):
                    differences.append(f"{where}.HTTPStatusCode: expected {value.get('HTTPStatusCode')}, got {status}")
            elif key not in actual:
                differences.append(f"{where}: missing (AWS: {_short(value)})")
            else:
                _walk(value, actual[key], where, bindings, differences)
        for key in actual:
            if key not in expected and key != "ResponseMetadata":
                where = f"{path}.{key}" if path else key
                differences.append(f"{where}: not in AWS's answer (labkit: {_short(actual[key])})")
    elif isinstance(expected, list):
        if not isinstance(actual, list):
            differences.append(f"{path}: expected a list, got {_short(actual)}")
            return
        if len(expected) != len(actual):
            differences.append(f"{path}: expected {len(expected)} items, got {len(actual)}: {_short(actual)}")
            return
        for index, (e, a) in enumerate(zip(expected, actual)):
            _walk(e, a, f"{path}[{index}]", bindings, differences)
    else:
        _scalar(expected, actual, path, bindings, differences)


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(expected: Any, actual: Any) -> list[str]:
    """The differences between a recorded answer and labkit's (in snapshot form); [] when they match."""
    differences: list[str] = []
    _walk(expected, actual, "", Bindings(), differences)
    return differences
