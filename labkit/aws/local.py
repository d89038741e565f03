"""The local AWS: labkit's Lambda service and the embedded moto server behind one loopback port.

`LocalAws.start()` binds the port, starts the server thread and returns at once; moto's
services and the Lambda service are built on their first requests. `start()` / `current()` /
`stop()` keep one process-wide instance, so notebook cells can all say `labkit.aws.start()`.
`run_server` is what `labkit serve` runs.
"""
from __future__ import annotations

import atexit
import errno
import importlib
import importlib.util
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from labkit.aws import endpoint
from labkit.aws.embedded.app import MotoApp, create_app
from labkit.errors import LabkitError
from labkit.security.enforce import Authorizer
from labkit.service.clock import CLOCK
from labkit.service.server import ServiceServer
from labkit.service.wire import HttpRequest, HttpResponse, ServiceApp
from labkit.triggers.bridge import TriggerBridge

LAMBDA_SERVICE_MODULE = "labkit.service.lambda_service"
DEFAULT_PORT = 9001


class PortInUseError(LabkitError, OSError):
    """The port asked for is taken."""


class LambdaUnavailable:
    """Stands in for the Lambda service when it cannot be built: every request gets Lambda's error shape."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def handle(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(
            501,
            {"Type": "Service", "message": f"The Lambda API is not available here: {self.reason}"},
            {"x-amzn-ErrorType": "ServiceException"},
        )

    def close(self) -> None:
        pass


class LazyServiceApp:
    """A ServiceApp built by `factory()` on its first request (thread-safe), closed with `close()`."""

    def __init__(self, factory: Callable[[], ServiceApp]) -> None:
        self._factory = factory
        self._app: ServiceApp | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def app(self) -> ServiceApp:
        app = self._app
        if app is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the Lambda service is closed")
                if self._app is None:
                    self._app = self._factory()
                app = self._app
        return app

    @property
    def built(self) -> bool:
        return self._app is not None

    def handle(self, request: HttpRequest) -> HttpResponse:
        return self.app.handle(request)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            app, self._app = self._app, None
        _close(app)


def lambda_service_factory(endpoint_url: str, backend: str = "process") -> Callable[[], ServiceApp]:
    """Builds labkit's Lambda service (`labkit.service.lambda_service.LambdaService`) when it is installed,
    observed by `labkit.observe` (its functions' logs, metrics and traces go to this local AWS)."""

    def build() -> ServiceApp:
        if importlib.util.find_spec(LAMBDA_SERVICE_MODULE) is None:
            return LambdaUnavailable(f"this labkit has no {LAMBDA_SERVICE_MODULE} module")
        module = importlib.import_module(LAMBDA_SERVICE_MODULE)
        service: ServiceApp = module.LambdaService(endpoint_url, backend=backend)
        from labkit.observe import attach
        from labkit.triggers.apigateway import serve_function_urls

        serve_function_urls(service)  # type: ignore[arg-type]
        attach(service)  # its functions' logs, metrics and traces go to this local AWS
        return service

    return build


def _function_policy(app: ServiceApp, arn: str) -> dict[str, Any] | None:
    """A Lambda function's resource-based policy, when `app` is labkit's Lambda service and has built."""
    if not arn.startswith("arn:aws:lambda:"):
        return None
    if isinstance(app, LazyServiceApp):
        if not app.built:
            return None
        app = app.app
    lookup = getattr(app, "resource_policy", None)
    return lookup(arn) if callable(lookup) else None


def _async_invoker(app: ServiceApp) -> Any:
    """The Lambda service behind `app` when it takes asynchronous invokes (built on demand), else None."""
    service = app.app if isinstance(app, LazyServiceApp) else app
    return service if callable(getattr(service, "invoke_async", None)) else None


def _close(app: object) -> None:
    close = getattr(app, "close", None)
    if callable(close):
        close()


class LocalAws:
    """One local AWS on one port; `endpoint_url` is what boto3's `AWS_ENDPOINT_URL` should say.

    Use `LocalAws.start()` (or the process-wide `labkit.aws.start()`), then `.close()`, or
    `with LocalAws.start() as aws:`.
    """

    def __init__(self, server: ServiceServer, lambda_app: ServiceApp, aws_app: MotoApp, triggers: TriggerBridge) -> None:
        self.server = server
        self.lambda_app = lambda_app
        self.aws_app = aws_app
        self.triggers = triggers
        """Delivers S3, SNS and EventBridge events (and schedules) to the Lambda service."""
        self._session: Any = None
        self._closed = False

    @classmethod
    def start(
        cls,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        backend: str = "process",
        lambda_app: ServiceApp | None = None,
        warm: bool = False,
    ) -> LocalAws:
        """Listen on host:port (0: a free port) and serve at once.

        Parameters
        ----------
        port, host
            Where to listen. Keep to loopback: the local AWS has no authentication.
        backend
            The execution-environment backend of the Lambda service ("process", "docker", "auto").
        lambda_app
            Serve Lambda's API with this ServiceApp instead of labkit's Lambda service
            (which is otherwise built on the first Lambda request). Closed with the LocalAws
            when it has a `close()`.
        warm
            Build moto's most used services on a background thread now, not on first use.
        """
        aws_app = create_app()
        triggers = TriggerBridge()
        try:
            server = ServiceServer(_Deferred(), triggers.wsgi(aws_app), host=host, port=port)
        except BaseException as exc:
            triggers.close()
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is in use (another `labkit serve`?): stop that one, or choose "
                    "another port, e.g. `labkit serve --port 0` for any free one"
                ) from exc
            raise
        app = lambda_app if lambda_app is not None else LazyServiceApp(lambda_service_factory(server.endpoint_url, backend))
        triggers.target = lambda: _async_invoker(app)
        server.lambda_app = app
        server.authorizer = Authorizer(resource_policy=lambda arn: _function_policy(app, arn))
        local = cls(server, app, aws_app, triggers)
        server.start()
        _RUNNING[local.endpoint_url] = local
        if warm:
            aws_app.warm_in_background()
        return local

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def closed(self) -> bool:
        return self._closed

    def environment(self) -> dict[str, str]:
        """The variables that send boto3 to this local AWS (`AWS_ENDPOINT_URL`, credentials, region)."""
        return endpoint.environment(self.endpoint_url)

    def session(self) -> Any:
        """This local AWS's boto3 session (fake credentials, us-east-1), made once."""
        if self._session is None:
            self._session = endpoint.session()
        return self._session

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return endpoint.client(service_name, endpoint_url=self.endpoint_url, boto_session=self.session(), **kwargs)

    def resource(self, service_name: str, **kwargs: Any) -> Any:
        return endpoint.resource(service_name, endpoint_url=self.endpoint_url, boto_session=self.session(), **kwargs)

    def reset(self) -> None:
        """Forget every resource of the embedded AWS's services (functions are the Lambda service's)."""
        self.aws_app.reset()

    def close(self) -> None:
        """Close the Lambda service, stop serving and release the port; safe to call twice.

        The service closes first, while the server still answers: its pollers' last requests and its
        observer's last shipment reach the local AWS instead of waiting on a port nobody serves."""
        if self._closed:
            return
        self._closed = True
        _RUNNING.pop(self.endpoint_url, None)
        self.triggers.close()
        _close(self.lambda_app)
        self.server.stop()
        self.server.close()

    def __enter__(self) -> LocalAws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        return f"<LocalAws {self.endpoint_url} {state}>"


_RUNNING: dict[str, LocalAws] = {}
"""The local AWSs of this process that serve, by endpoint URL."""


def in_process(endpoint_url: str | None) -> bool:
    """Whether `endpoint_url` is served by a local AWS of this process (whose moto backends are this process's)."""
    return endpoint_url in _RUNNING


class _Deferred:
    """Placeholder until LocalAws.start sets the real Lambda app (the server needs its port first)."""

    def handle(self, request: HttpRequest) -> HttpResponse:  # pragma: no cover - replaced before serving
        return LambdaUnavailable("starting").handle(request)


class _Shared:
    """The process-wide local AWS behind `labkit.aws.start()` / `current()` / `stop()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instance: LocalAws | None = None
        self._atexit = False

    def start(self, port: int = 0, backend: str = "process") -> LocalAws:
        with self._lock:
            if self._instance is None or self._instance.closed:
                self._instance = LocalAws.start(port, backend=backend)
                if not self._atexit:
                    atexit.register(self.stop)
                    self._atexit = True
            return self._instance

    def current(self) -> LocalAws | None:
        instance = self._instance
        return instance if instance is not None and not instance.closed else None

    def stop(self) -> None:
        with self._lock:
            instance, self._instance = self._instance, None
        if instance is not None:
            instance.close()


_shared = _Shared()


def start(port: int = 0, backend: str = "process") -> LocalAws:
    """The process-wide local AWS, started on first call (later calls return the same one)."""
    return _shared.start(port, backend)


def current() -> LocalAws | None:
    """The process-wide local AWS if it runs, else None."""
    return _shared.current()


def stop() -> None:
    """Close the process-wide local AWS (a later `start()` starts a new one)."""
    _shared.stop()


def run_server(port: int = DEFAULT_PORT, host: str = "127.0.0.1", backend: str = "process", out: TextIO | None = None) -> int:
    """`labkit serve`: start the local AWS, say how to use it, serve until Ctrl-C or SIGTERM."""
    import sys

    out = out or sys.stdout
    began = time.perf_counter()
    local = LocalAws.start(port, host=host, backend=backend, warm=True)
    started_ms = (time.perf_counter() - began) * 1000
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"labkit: local AWS at {local.endpoint_url} (started in {started_ms:.0f} ms)", file=out)
        print("  Lambda API: labkit (backend: " + backend + "); every other service: embedded moto", file=out)
        speed = CLOCK.speed()
        if speed != 1:
            print(f"  lesson clock: {speed:g}x real time (retry delays, event age, function states)", file=out)
        print("To point boto3, the AWS CLI and your functions at it:", file=out)
        for line in endpoint.export_lines(local.endpoint_url):
            print(f"  {line}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        local.close()
        print("labkit: local AWS stopped.", file=out, flush=True)
    return 0
