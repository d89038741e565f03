"""Secrets in environment variables: find the ones that look like secrets, and warn with the fix.

Anyone who may read a function's configuration (`lambda:GetFunctionConfiguration`, the console)
reads its environment variables, and they end up in templates, notebooks and repositories. A
variable is flagged when its *name* says secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`,
`*API_KEY*`, `*PRIVATE_KEY*`, `*CREDENTIAL*`) or its *value* looks like one (an AWS access key, a
JWT, a private key, credentials in a URL, a long high-entropy string). Names that point to a
secret instead of holding it (`DB_SECRET_ARN`, `TOKEN_PARAMETER_NAME`) are fine.

`warn_about_secrets(env, function_name)` emits one `SecretInEnvironmentWarning` per variable;
`labkit.Function(...)` and the local Lambda service's CreateFunction call it.
"""
from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

SECRET_NAME_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL", "ACCESS_KEY")
POINTER_SUFFIXES = ("_ARN", "_NAME", "_ID", "_PATH", "_PARAM", "_PARAMETER", "_PARAMETER_NAME", "_KEY_NAME", "_TTL")
"""Name endings of variables that hold where a secret is (fine), not the secret itself."""

VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("credentials in a URL", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
    ("an API token", re.compile(r"\b(ghp_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,})")),
)
ENTROPY_MIN_LENGTH = 20
ENTROPY_MIN_BITS = 4.2
_NOT_SECRETS = re.compile(r"^(arn:|https?://[^@]*$|/|[\w.-]+\.amazonaws\.com)")


class SecretInEnvironmentWarning(UserWarning):
    """An environment variable of a function looks like a secret."""


@dataclass(frozen=True)
class SecretFinding:
    """One variable that looks like a secret, and why."""

    name: str
    reason: str


def shannon_bits(value: str) -> float:
    """Bits of entropy per character of `value` (English prose ~ 3-4, random base64 ~ 5-6)."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values()) if value else 0.0


def _value_reason(value: str) -> str | None:
    for reason, pattern in VALUE_PATTERNS:
        if pattern.search(value):
            return f"its value looks like {reason}"
    if _NOT_SECRETS.match(value) or len(value) < ENTROPY_MIN_LENGTH or any(c.isspace() for c in value):
        return None
    if re.fullmatch(r"[0-9a-fA-F]{32,}", value):
        return "its value is a long hexadecimal key"
    mixed = all(re.search(p, value) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    if mixed and shannon_bits(value) >= ENTROPY_MIN_BITS:
        return "its value is a long random-looking string"
    return None


def find_secrets(env: Mapping[str, str]) -> list[SecretFinding]:
    """The variables of `env` that look like secrets (by name or by value), in env's order."""
    found: list[SecretFinding] = []
    for name, value in env.items():
        value = str(value)
        if not value.strip():
            continue
        upper = name.upper()
        reason = _value_reason(value)
        if reason is None and not upper.endswith(POINTER_SUFFIXES) and not _NOT_SECRETS.match(value):
            word = next((w for w in SECRET_NAME_WORDS if w in upper), None)
            if word is not None:
                reason = f"its name contains {word}"
        if reason is not None:
            found.append(SecretFinding(name, reason))
    return found


def advice(finding: SecretFinding, function_name: str) -> str:
    """The warning's text: which variable, why, and the fix."""
    return (
        f"environment variable {finding.name} of function {function_name} looks like a secret ({finding.reason}): "
        "anyone who can read the function's configuration can read it. Store the value in AWS Secrets Manager "
        "or in SSM Parameter Store as a SecureString, give the function its name instead "
        f"(e.g. {finding.name}_SECRET_ARN) and fetch it at run time with a cache (Powertools parameters)."
    )


def warn_about_secrets(env: Mapping[str, str], function_name: str) -> list[SecretFinding]:
    """Warn (`SecretInEnvironmentWarning`) once per variable of `env` that looks like a secret; returns them."""
    findings = find_secrets(env)
    for finding in findings:
        # Issued from here (stacklevel 1): a function made by the service and by its runtime pool warns once.
        warnings.warn(advice(finding, function_name), SecretInEnvironmentWarning, stacklevel=1)
    return findings
