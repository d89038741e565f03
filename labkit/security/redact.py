"""Keep secrets and personal data out of logs: `RedactingFilter`, a `logging.Filter` for handlers.

Masks, in every record's message and arguments (text, dicts and lists, Powertools' structured
messages included): values of sensitive keys (`password`, `token`, `authorization`, `ssn`,
`card_number`, ... as `"key": value` or `key=value`), e-mail addresses, payment card numbers
(that pass the Luhn check), AWS access key ids, JWTs and bearer tokens. Each becomes `***`
(e-mails keep their domain: `***@example.com`, so logs still tell customers apart by company).

This module uses only the standard library, so it runs inside a function as well: give the
function `layers=[redaction_layer()]` and, in the handler,

    import logging, redact
    logging.getLogger().addFilter(redact.RedactingFilter())   # root logger: every record

(Lambda's runtime logs through the root logger's handler; add the filter to that handler to
cover loggers that do not propagate.)
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

MASK = "***"
SENSITIVE_KEYS = (
    "password", "passwd", "secret", "token", "authorization", "api_key", "apikey", "private_key",
    "ssn", "card_number", "cardnumber", "cvv", "iban", "credit_card",
)
_KEY_VALUE = re.compile(
    r"""(?P<key>["']?\b[\w-]*(?:""" + "|".join(SENSITIVE_KEYS) + r""")[\w-]*["']?\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;}&]+)""",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_TOKENS = re.compile(
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return MASK if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def _key_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{quote}{MASK}{quote}"


def redact_text(text: str) -> str:
    """`text` with sensitive values, e-mail addresses, card numbers and credentials masked."""
    text = _TOKENS.sub(MASK, text)
    text = _KEY_VALUE.sub(_key_value, text)
    text = _EMAIL.sub(lambda m: f"{MASK}@{m.group('domain')}", text)
    return _CARD.sub(_card, text)


def redact(value: Any) -> Any:
    """A copy of `value` (text, dict, list, tuple) with what `redact_text` masks masked, and sensitive keys' values."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: MASK if isinstance(key, str) and any(word in key.lower() for word in SENSITIVE_KEYS) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) for item in value)
    return value


class RedactingFilter(logging.Filter):
    """A `logging.Filter` that masks secrets and personal data in each record (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, (dict, list)):
            record.msg = redact(record.msg)
        else:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # arguments that do not fit the format: keep the record as is
                return True
            record.msg = redact_text(message)
            record.args = None
        return True


def redaction_layer() -> Path:
    """A layer (`python/redact.py`) that makes this module importable as `redact` inside a function."""
    import hashlib
    import shutil

    from labkit.paths import cache_dir

    source = Path(__file__)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    target = cache_dir() / "layers" / f"redact-{digest}"
    if not (target / "python" / "redact.py").is_file():
        (target / "python").mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / "python" / "redact.py")
    return target
