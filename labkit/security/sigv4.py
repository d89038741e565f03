"""Checking a request's SigV4 signature (the `Authorization` header form) as AWS does.

`verify` recomputes the signature with botocore's own signer (`botocore.auth.SigV4Auth`: the
canonical request, the string to sign, the signing key) from the request as received and the
secret key of the access key it names, and compares. It refuses, in AWS's words, a missing or
malformed `Authorization` header, a missing date, a date more than 5 minutes from now, a scope
for another service, an access key (or session token) it does not know, and a signature that
does not match. Which credentials are known is the caller's `SecretLookup`.
"""
from __future__ import annotations

import calendar
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 300
SecretLookup = Callable[[str, "str | None"], "str | None"]
"""`(access key id, session token or None) -> its secret key`, or None: credentials labkit did not give out."""

_INVALID_TOKEN = "The security token included in the request is invalid."
_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret "
             "Access Key and signing method. Consult the service documentation for details.")
_NO_DATE = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."


@dataclass(frozen=True)
class Rejection:
    """Why a request is refused: AWS's message (`unsigned`: no SigV4 `Authorization` at all), and labkit's help."""

    message: str
    reason: str
    unsigned: bool = False


def verify(
    method: str, url: str, headers: Mapping[str, str], body: bytes, service: str, secret_of: SecretLookup,
    now: float | None = None,
) -> Rejection | None:
    """None when `headers` (lower-case names) carry a valid signature of the request for `service`, else why not."""
    authorization = headers.get("authorization", "")
    if not authorization.startswith(ALGORITHM + " "):
        return Rejection("Forbidden", "the request is not signed (no AWS4-HMAC-SHA256 Authorization header)", unsigned=True)
    fields = _fields(authorization[len(ALGORITHM) + 1:])
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        text = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        return Rejection(f"{text} Authorization={authorization}", f"the Authorization header has no {', '.join(missing)}")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return Rejection("Credential should be scoped to a valid region. ", f"malformed credential scope {fields['Credential']!r}")
    access_key, day, region, scoped_service, _ = scope
    if scoped_service != service:
        return Rejection(f"Credential should be scoped to correct service: '{service}'. ",
                         f"the signature is for the service {scoped_service!r}")
    timestamp = _timestamp(headers)
    if timestamp is None:
        return Rejection(_NO_DATE, "the request has no X-Amz-Date (or Date) header")
    skew = _skew(timestamp, time.time() if now is None else now)
    if skew is not None:
        return skew
    token = headers.get("x-amz-security-token")
    secret = secret_of(access_key, token)
    if secret is None:
        return Rejection(_INVALID_TOKEN, f"labkit gave out no credentials with the access key {access_key} "
                                         f"{'and this session token' if token else 'without a session token'}")
    signed = fields["SignedHeaders"].split(";")
    request = AWSRequest(method=method, url=url, headers={name: headers.get(name, "") for name in signed}, data=body)
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(access_key, secret, token), service, region)
    if day != timestamp[:8] or signer.signed_headers(signer.headers_to_sign(request)) != fields["SignedHeaders"]:
        return Rejection(_MISMATCH, "the credential scope's date or the signed headers do not match the request")
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        return Rejection(_MISMATCH, f"the signature is not that of the secret key of {access_key} for this request")
    return None


def _fields(text: str) -> dict[str, str]:
    """`Credential=..., SignedHeaders=..., Signature=...` as a dict."""
    out: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def _timestamp(headers: Mapping[str, str]) -> str | None:
    """The signature's time as `YYYYMMDDTHHMMSSZ`: X-Amz-Date, else Date (RFC 1123)."""
    amz = headers.get("x-amz-date")
    if amz:
        try:
            return time.strftime(SIGV4_TIMESTAMP, time.strptime(amz, SIGV4_TIMESTAMP))
        except ValueError:
            return None
    date = headers.get("date")
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).strftime(SIGV4_TIMESTAMP)
    except (TypeError, ValueError):
        return None


def _skew(timestamp: str, now: float) -> Rejection | None:
    """AWS's refusal of a signature more than 5 minutes old or ahead, or None."""
    signed_at = _epoch(timestamp)
    stamp = time.strftime(SIGV4_TIMESTAMP, time.gmtime(now))
    if signed_at < now - MAX_SKEW_S:
        bound = time.strftime(SIGV4_TIMESTAMP, time.gmtime(now - MAX_SKEW_S))
        return Rejection(f"Signature expired: {timestamp} is now earlier than {bound} ({stamp} - 5 min.)",
                         "the signature is more than 5 minutes old: sign each request when you send it")
    if signed_at > now + MAX_SKEW_S:
        bound = time.strftime(SIGV4_TIMESTAMP, time.gmtime(now + MAX_SKEW_S))
        return Rejection(f"Signature not yet current: {timestamp} is still later than {bound} ({stamp} + 5 min.)",
                         "the signature's date is more than 5 minutes ahead of this machine's clock")
    return None


def _epoch(timestamp: str) -> float:
    return float(calendar.timegm(time.strptime(timestamp, SIGV4_TIMESTAMP)))
