"""Policy strings: IAM's wildcards (`*`, `?`) and policy variables (`${aws:username}`).

A policy variable is replaced by the value of that key in the request's context, once, before
matching; `${key, 'default'}` gives a value for a key the request does not carry (`''` inside the
quotes is one quote). `${*}`, `${?}` and `${$}` stand for the characters themselves, never for
wildcards. A variable whose key is absent (or holds several values) and has no default leaves the
string without a value: it matches nothing. Substituted text is matched literally.

>>> matches("arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/ada/notes",
...         lookup=lambda key: ["ada"] if key == "aws:username" else None)
True
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Lookup = Callable[[str], "list[str] | None"]
"""`key -> values or None`: a request context's condition keys (`RequestContext.value`)."""

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'((?:[^']|'')*)'\s*$")
_LITERALS = frozenset("*?$")

Part = tuple[str, bool]
"""A piece of a resolved policy string: (text, literal); literal text has no wildcards."""


def _regex(parts: list[Part], arn: bool) -> str:
    """A regex body for resolved parts; `arn`: wildcards stay inside one of the first five `:` components."""
    body: list[str] = []
    colons = 0
    for piece, literal in parts:
        for char in piece:
            in_resource = not arn or colons >= 5
            if char == ":":
                colons += 1
            if literal or char not in "*?":
                body.append(re.escape(char))
            elif char == "*":
                body.append(".*" if in_resource else "[^:]*")
            else:
                body.append("." if in_resource else "[^:]")
    return "".join(body)


@lru_cache(maxsize=4096)
def _compiled(parts: tuple[Part, ...], ignore_case: bool, arn: bool) -> re.Pattern[str]:
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.compile(f"^{_regex(list(parts), arn)}$", flags)


def resolve(text: str, lookup: Lookup) -> list[Part] | None:
    """`text` with its policy variables replaced, as parts; None when a variable has no value."""
    parts: list[Part] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        parts.append((text[position:found.start()], False))
        position = found.end()
        inside = found.group(1)
        if inside.strip() in _LITERALS:
            parts.append((inside.strip(), True))
            continue
        default = _DEFAULT.match(inside)
        key = default.group(1) if default else inside.strip()
        values = lookup(key)
        if values is not None and len(values) == 1:
            parts.append((values[0], True))
        elif default is not None:
            parts.append((default.group(2).replace("''", "'"), True))
        else:
            return None
    parts.append((text[position:], False))
    return parts


def substitute(text: str, lookup: Lookup | None) -> str | None:
    """`text` with its policy variables replaced (None: a variable has no value); no lookup: unchanged."""
    if lookup is None or "${" not in text:
        return text
    parts = resolve(text, lookup)
    return None if parts is None else "".join(piece for piece, _ in parts)


def wildcard(
    pattern: str, *, ignore_case: bool = False, lookup: Lookup | None = None, arn: bool = False
) -> re.Pattern[str] | None:
    """The compiled wildcard `pattern`, its policy variables resolved with `lookup`; None: it matches nothing.

    `arn`: IAM's ARN matching, where each of the first five `:`-separated components is matched on
    its own (a wildcard there does not run into the next component).
    """
    if lookup is None or "${" not in pattern:
        return _compiled(((pattern, False),), ignore_case, arn)
    parts = resolve(pattern, lookup)
    return None if parts is None else _compiled(tuple(parts), ignore_case, arn)


def matches(pattern: str, value: str, *, ignore_case: bool = False, lookup: Lookup | None = None) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character; policy variables with `lookup`."""
    compiled = wildcard(pattern, ignore_case=ignore_case, lookup=lookup)
    return compiled is not None and compiled.match(value) is not None
