"""The embedded AWS: moto's server as a WSGI application, called in-process (no second port, no thread).

`create_app()` returns the same application moto's own server (`moto_server`, `ThreadedMotoServer`)
runs: `DomainDispatcherApplication(create_backend_app)`, which finds each request's service
from its signature, target header or path and hands it to that service's Flask app (created on
the service's first request). State lives in moto's backends, in this process, for account
ACCOUNT_ID; requests signed for us-east-1 land in REGION.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from labkit.aws.embedded.loading import load_moto
from labkit.errors import LabkitError
from labkit.runtime import limits

ACCOUNT_ID = limits.DEFAULT_ACCOUNT_ID
"""The account every resource belongs to (moto's default account)."""

REGION = limits.DEFAULT_REGION
"""The region of the course; boto3 objects from labkit.aws.endpoint are made for it."""

log = logging.getLogger(__name__)

WARM_SERVICES = ("s3", "sqs", "sns", "dynamodb", "events", "logs")
"""Services whose moto apps `MotoApp.warm` builds ahead of their first request."""


class UnknownServiceError(LabkitError):
    """The request is for a service the embedded AWS does not have."""

    def __init__(self, service: str) -> None:
        super().__init__(
            f"labkit's local AWS has no service {service!r} (the request's signature names it): the embedded AWS "
            "serves moto's services and labkit's Lambda"
        )
        self.service = service


def _signed_service(environ: dict[str, Any]) -> str:
    """The service named in the request's SigV4 credential scope (``.../us-east-1/s3/aws4_request``)."""
    scope = str(environ.get("HTTP_AUTHORIZATION", "")).split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else "unknown"


class MotoApp:
    """moto's WSGI application, plus what labkit's server passes that werkzeug's would.

    Werkzeug's server (what moto normally runs under) drops headers whose names contain an
    underscore and moto adds back the S3 metadata ones (`x-amz-meta-my_key`). labkit's server
    leaves the same headers out of the environ and gives the raw list under
    `labkit.raw_headers`; this wrapper restores the ones moto keeps.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dispatcher: Any = None
        self._preserved_key = ""

    @property
    def dispatcher(self) -> Any:
        """moto's `DomainDispatcherApplication`, imported and built on first use (moto takes ~0.3 s to import)."""
        load_moto()
        dispatcher = self._dispatcher
        if dispatcher is None:
            with self._lock:
                if self._dispatcher is None:
                    from moto.core import DEFAULT_ACCOUNT_ID
                    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY
                    from moto.server import DomainDispatcherApplication, create_backend_app

                    if DEFAULT_ACCOUNT_ID != ACCOUNT_ID:
                        raise RuntimeError(
                            f"moto's default account is {DEFAULT_ACCOUNT_ID}, labkit expects {ACCOUNT_ID}: "
                            "unset MOTO_ACCOUNT_ID"
                        )
                    self._preserved_key = PRESERVED_HEADER_NAMES_ENVIRON_KEY
                    self._dispatcher = DomainDispatcherApplication(create_backend_app)
                dispatcher = self._dispatcher
        return dispatcher

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        dispatcher = self.dispatcher
        raw = environ.get("labkit.raw_headers")
        if raw:
            names: dict[str, str] = {}
            for name, value in raw:
                if "_" in name and name.lower().startswith("x-amz-meta-"):
                    key = "HTTP_" + name.upper().replace("-", "_")
                    if key in environ and key not in names:
                        continue  # never let an underscored header stand in for a dashed one
                    if key in names:
                        environ[key] = f"{environ[key]},{value}"
                    else:
                        environ[key] = value
                        names[key] = name
            if names:
                environ[self._preserved_key] = names
        try:
            application = dispatcher.get_application(environ)
        except (AttributeError, KeyError, ValueError) as exc:  # moto's backends.get_backend(None): no such service
            raise UnknownServiceError(_signed_service(environ)) from exc
        return application(environ, start_response)  # type: ignore[no-any-return]

    def warm(self, services: Iterable[str] = WARM_SERVICES) -> None:
        """Build the moto apps of `services` now, so their first requests answer at full speed."""
        dispatcher = self.dispatcher
        for service in services:
            try:
                dispatcher.get_application(_environ_for(service))
            except Exception:  # pragma: no cover - warming is an optimisation only: the first request retries
                log.debug("could not warm moto's %s app", service, exc_info=True)

    def warm_in_background(self, services: Iterable[str] = WARM_SERVICES) -> threading.Thread:
        thread = threading.Thread(target=self.warm, args=(tuple(services),), name="labkit-aws-warm", daemon=True)
        thread.start()
        return thread

    @staticmethod
    def reset() -> None:
        """Forget every resource of every service (what `POST /moto-api/reset` does)."""
        load_moto()
        from moto.moto_api import _internal

        _internal.moto_api_backend.reset()


def _environ_for(service: str) -> dict[str, Any]:
    """The smallest environ moto routes to `service` (a signed request; x-amz-target for dynamodb)."""
    environ: dict[str, Any] = {
        "PATH_INFO": "/",
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=AKID/20260101/{REGION}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "HTTP_HOST": "127.0.0.1",
    }
    if service == "dynamodb":
        environ["HTTP_X_AMZ_TARGET"] = "DynamoDB_20120810.ListTables"
    return environ


def create_app() -> MotoApp:
    """A new embedded AWS application (moto's backends are shared by every one in the process)."""
    return MotoApp()
