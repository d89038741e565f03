"""Enforcing execution roles on the local AWS: requests signed with a role's credentials are authorized.

`Authorizer` is the local AWS endpoint's gate. A request signed with credentials from
`labkit.security.sessions.issue` (what a function created with a `Role` gets) is checked against
that role's IAM policies - its inline policies and attached managed policies, read from the
local IAM - and, for Lambda's functions, the function's resource-based policy. A denied request
gets AWS's AccessDenied answer in its service's protocol and wording:

    User: arn:aws:sts::123456789012:assumed-role/reader/fn is not authorized to perform:
    dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/T because no
    identity-based policy allows the dynamodb:PutItem action

Conditions see the keys the gate knows of each request: `aws:PrincipalArn`, `aws:PrincipalAccount`,
`aws:PrincipalType`, `aws:userid` and `aws:PrincipalTag/<key>` (the role's tags), `aws:CurrentTime`, `aws:EpochTime`, `aws:SourceIp` (the client's address),
`aws:SecureTransport` (false: the local AWS is plain HTTP) and `aws:RequestedRegion` (the
signature's region). What labkit cannot evaluate as IAM would (an unknown condition operator, a
value of the wrong type) is logged as a warning, once per note.

Everything else passes untouched: the learner's own credentials stay an administrator's, and a
role that does not exist in the local IAM is not enforced (create it, and it is), so functions
written before this chapter keep working. Requests whose operation botocore's model for the
service does not name (or services without a model) pass too.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from labkit.security.actions import FREE_ACTIONS, ApiCall, describe
from labkit.security.iam import Decision, Effect, PolicyError, RequestContext, evaluate
from labkit.security.roles import principal_keys, role_policies
from labkit.security.sessions import RoleSession, identify

log = logging.getLogger(__name__)

ResourcePolicyLookup = Callable[[str], "Mapping[str, Any] | None"]
"""`resource ARN -> policy document or None`: a resource-based policy (Lambda's function policies)."""


@dataclass(frozen=True)
class Denial:
    """The answer to a denied request: status, headers and body in the service's protocol."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


PolicySource = Callable[[str, str], "list[Any] | None"]
PrincipalKeySource = Callable[[str, str, str], "Mapping[str, str]"]
"""`(role name, account, session name) -> condition keys of the principal` (`aws:userid`, `aws:PrincipalTag/...`)."""


class Authorizer:
    """`authorizer(method, target, headers, body)` -> None (go on) or a `Denial`.

    Parameters
    ----------
    resource_policy
        Looks up a resource's own policy (Lambda's function policies); requests on a resource
        are allowed when its policy allows the caller, even if the role's policies do not.
    policies
        `(role name, account) -> documents or None`; default: the local IAM (`role_policies`).
    principal
        `(role name, account, session name) -> condition keys`; default: the local IAM (`principal_keys`).
    """

    def __init__(
        self, resource_policy: ResourcePolicyLookup | None = None, policies: PolicySource = role_policies,
        principal: PrincipalKeySource = principal_keys,
    ) -> None:
        self._resource_policy = resource_policy
        self._policies = policies
        self._principal = principal
        self._noted: set[str] = set()

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str | None = None
    ) -> Denial | None:
        token = headers.get("x-amz-security-token")
        if token is None and "X-Amz-Security-Token=" in target:
            from urllib.parse import parse_qs, urlsplit

            values = parse_qs(urlsplit(target).query).get("X-Amz-Security-Token")
            token = values[0] if values else None
        session = identify(token)
        if session is None:
            return None
        try:
            return self._authorize(session, method, target, headers, body, source_ip)
        except Exception as exc:  # a bug here must not drop the connection, nor let the request through
            log.exception("could not authorize %s %s for %s", method, target, session.assumed_role_arn)
            message = f"labkit could not authorize this request of {session.assumed_role_arn}: {type(exc).__name__}: {exc}"
            return Denial(500, json.dumps({"message": message}).encode(), {"Content-Type": "application/json"})

    def _authorize(
        self, session: RoleSession, method: str, target: str, headers: Mapping[str, str], body: bytes,
        source_ip: str | None,
    ) -> Denial | None:
        scope = _credential_scope(headers, target)
        if scope is None:
            return None
        region, service = scope
        documents = self._policies(session.role_name, session.account)
        if documents is None:
            return None  # the role is not in the local IAM: not enforced
        call = describe(service, method, target, headers, body, region=region, account=session.account)
        if call is None or call.action in FREE_ACTIONS:
            return None
        principal = self._principal(session.role_name, session.account, session.session_name)
        context = request_context(session, region, source_ip, principal)
        for resource in call.resources:
            decision = self._decide(documents, call, resource, context)
            if not decision.allowed:
                log.info("denied %s on %s to %s", call.action, resource, session.assumed_role_arn)
                return access_denied(call, resource, session, decision)
        return None

    def _decide(self, documents: list[Any], call: ApiCall, resource: str, context: RequestContext) -> Decision:
        try:
            decision = evaluate(documents, call.action, resource, context)
        except PolicyError as exc:
            log.warning("a policy of %s is invalid (%s): its requests are denied", context.principal, exc)
            return Decision(Effect.IMPLICIT_DENY)
        self._warn(decision)
        if decision.effect is not Effect.IMPLICIT_DENY or self._resource_policy is None:
            return decision
        policy = self._resource_policy(resource)
        if policy is None:
            return decision
        decision = evaluate([policy], call.action, resource, context)
        self._warn(decision)
        return decision

    def _warn(self, decision: Decision) -> None:
        """Say (once each) what labkit could not evaluate as IAM would."""
        for note in decision.notes:
            if note not in self._noted:
                self._noted.add(note)
                log.warning("IAM policy evaluation: %s", note)


def request_context(
    session: RoleSession, region: str, source_ip: str | None, principal: Mapping[str, str] | None = None,
    now: float | None = None,
) -> RequestContext:
    """The request context of a call signed by `session`: the global keys the local AWS can know.

    `principal`: what IAM knows of the role (`principal_keys`); `now`: epoch seconds (default: the time).
    """
    moment = time.time() if now is None else now
    keys = {
        **(principal or {}),
        "aws:PrincipalArn": session.role_arn,
        "aws:PrincipalAccount": session.account,
        "aws:PrincipalType": "AssumedRole",
        "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment)),
        "aws:EpochTime": str(int(moment)),
        "aws:SecureTransport": "false",
        "aws:RequestedRegion": region,
    }
    if source_ip:
        keys["aws:SourceIp"] = source_ip
    return RequestContext(session.assumed_role_arn, keys)


def _credential_scope(headers: Mapping[str, str], target: str) -> tuple[str, str] | None:
    """(region, service) of a SigV4 signature, from the Authorization header or a presigned URL."""
    authorization = headers.get("authorization", "")
    start = authorization.find("Credential=")
    if start >= 0:
        credential = authorization[start + len("Credential="):].split(",", 1)[0]
    else:
        from urllib.parse import parse_qs, urlsplit

        found = parse_qs(urlsplit(target).query).get("X-Amz-Credential")
        if not found:
            return None
        credential = found[0]
    parts = credential.strip().split("/")
    if len(parts) != 5 or parts[-1] != "aws4_request":
        return None
    return parts[2], parts[3].lower()


# --------------------------------------------------------------------------- AccessDenied, per protocol


def denial_message(action: str, resource: str, principal: str, decision: Decision) -> str:
    """IAM's wording of a denial (implicit: no policy allows; explicit: a Deny statement matched)."""
    head = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
    if decision.effect is Effect.EXPLICIT_DENY:
        return f"{head} with an explicit deny in an identity-based policy"
    return f"{head} because no identity-based policy allows the {action} action"


_JSON_CODES = {"dynamodb": "com.amazonaws.dynamodb.v20120810#AccessDeniedException"}


def access_denied(call: ApiCall, resource: str, session: RoleSession, decision: Decision) -> Denial:
    """AWS's AccessDenied answer to `call`, shaped for its service and protocol."""
    request_id = str(uuid.uuid4())
    action = call.action
    if call.service == "sns":
        action = "SNS:" + action.split(":", 1)[1]  # SNS spells its prefix in capitals in messages
    if call.service == "s3":
        resource = f'"{resource}"'  # S3 quotes the resource
    message = denial_message(action, resource, session.assumed_role_arn, decision)
    if call.protocol == "json":
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
        status = 400
        if call.service == "sqs":  # query-compatible JSON: botocore reads the query error code
            headers["x-amzn-query-error"] = "AccessDenied;Sender"
            status = 403
        headers["x-amzn-ErrorType"] = "AccessDeniedException"
        document = {"__type": _JSON_CODES.get(call.service, "AccessDeniedException"), "message": message}
        return Denial(status, json.dumps(document).encode(), headers)
    if call.protocol == "rest-json":
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id, "x-amzn-ErrorType": "AccessDeniedException"}
        return Denial(403, json.dumps({"Message": message}).encode(), headers)
    if call.protocol == "rest-xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id[:16].upper()}</RequestId><HostId>{uuid.uuid4().hex}</HostId></Error>"
        )
        return Denial(403, body.encode(), {"Content-Type": "application/xml", "x-amz-request-id": request_id[:16].upper()})
    code = "AuthorizationError" if call.service == "sns" else "AccessDenied"
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Denial(403, body.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})
