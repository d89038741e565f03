"""Temporary credentials of an execution role, as Lambda gives a function, and who they belong to.

`issue(role_arn, session_name)` returns the three variables Lambda sets in a function's
environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`). The session
token carries the role and session name, signed with a key made when this process started, so
`identify(token)` tells the local AWS whose request it is without any shared table, and a token
cannot be forged by editing it. The secret key is derived from the key id and the token with the
same key, so `secret_key(key id, token)` gives it back to check a request's SigV4 signature.
Tokens from another process (a restarted `labkit serve`) are not recognised: those requests are
treated like the learner's own.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from dataclasses import dataclass

TOKEN_PREFIX = "labkit-role."
_SIGNING_KEY = secrets.token_bytes(32)
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class RoleSession:
    """One assumed role: `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`."""

    role_arn: str
    session_name: str

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def role_name(self) -> str:
        """The role's name: the last part of its ARN (`role/service-role/app` is named `app`)."""
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def assumed_role_arn(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"


def _sign(payload: bytes) -> str:
    return hmac.new(_SIGNING_KEY, payload, hashlib.sha256).hexdigest()[:32]


def _secret(access_key_id: str, token: str) -> str:
    digest = hmac.new(_SIGNING_KEY, f"secret\0{access_key_id}\0{token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:40]


def issue(role_arn: str, session_name: str) -> dict[str, str]:
    """Fresh credentials of `role_arn` for `session_name` (Lambda uses the function's name)."""
    payload = base64.urlsafe_b64encode(json.dumps([role_arn, session_name]).encode()).decode()
    access_key_id = "ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    token = f"{TOKEN_PREFIX}{payload}.{_sign(payload.encode())}"
    return {
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": _secret(access_key_id, token),
        "AWS_SESSION_TOKEN": token,
    }


def secret_key(access_key_id: str, token: str | None) -> str | None:
    """The secret key `issue` gave with this key id and token, or None when the token was not issued here."""
    if token is None or identify(token) is None:
        return None
    return _secret(access_key_id, token)


def identify(token: str | None) -> RoleSession | None:
    """The role session a token was issued for, or None (no token, another kind, or not signed here)."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    payload, _, signature = token[len(TOKEN_PREFIX):].rpartition(".")
    if not hmac.compare_digest(signature, _sign(payload.encode())):
        return None
    try:
        role_arn, session_name = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return None
    return RoleSession(str(role_arn), str(session_name))
