"""The embedded AWS: moto's server in-process behind labkit's one-port endpoint, and boto3 pointed at it.

`labkit.aws.start()` starts the process-wide local AWS (once; later calls return it) and
`labkit.aws.client("s3")` gives a boto3 client on it. Modules: `embedded` (the only code that
touches moto: its WSGI application, roles, CloudWatch stores, event patterns and delivery hooks), `local` (`LocalAws`: the server, the Lambda service and moto on one port),
`endpoint` (boto3 sessions, clients, resources and the environment variables that point code
at the local AWS), `waiters` (a function's Pending / InProgress states waited out).
"""
from __future__ import annotations

from labkit._lazy import lazy_getattr

_EXPORTS = {
    "LocalAws": "labkit.aws.local",
    "start": "labkit.aws.local",
    "current": "labkit.aws.local",
    "stop": "labkit.aws.local",
    "client": "labkit.aws.endpoint",
    "resource": "labkit.aws.endpoint",
    "session": "labkit.aws.endpoint",
    "environment": "labkit.aws.endpoint",
    "wait_function_ready": "labkit.aws.waiters",
    "ACCOUNT_ID": "labkit.aws.embedded.app",
    "REGION": "labkit.aws.embedded.app",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr("labkit.aws", _EXPORTS, globals())
