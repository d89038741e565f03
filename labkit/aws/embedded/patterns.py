"""EventBridge's event patterns, matched by the embedded AWS's own matcher (so labkit has one, not two).

The syntax is EventBridge's rule syntax: equality, prefix, suffix, anything-but, numeric,
exists, equals-ignore-case, wildcard and ``$or``.
"""
from __future__ import annotations

from typing import Any

from labkit.aws.embedded.loading import load_moto


class EventPattern:
    """One compiled pattern (see :func:`compile_pattern`)."""

    def __init__(self, text: str, pattern: Any) -> None:
        self._text = text
        self._pattern = pattern

    def dump(self) -> str:
        """The pattern as it was given (JSON text)."""
        return self._text

    def matches_event(self, event: dict[str, Any]) -> bool:
        """Does `event` match the pattern?"""
        return bool(self._pattern.matches_event(event))


class InvalidPatternError(ValueError):
    """The pattern is not one EventBridge accepts; ``reason`` says why, in EventBridge's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def compile_pattern(text: str) -> EventPattern:
    """The pattern of JSON `text`; raises :class:`InvalidPatternError`."""
    load_moto()
    from moto.events.exceptions import InvalidEventPatternException
    from moto.events.models import EventPattern as MotoEventPattern

    try:
        return EventPattern(text, MotoEventPattern.load(text))
    except InvalidEventPatternException as exc:
        raise InvalidPatternError(str(exc.message).split("Reason: ", 1)[-1]) from None
