"""`LambdaService`: the local Lambda service behind the boto3-compatible API (``handle``) and for Python.

It owns the state (:mod:`labkit.service.models`), the deployment packages
(:mod:`labkit.service.code`), the runtime functions and concurrency accounting
(:mod:`labkit.service.invoke`), the asynchronous queue (:mod:`labkit.service.async_queue`) and the
event source mappings with their pollers (:mod:`labkit.service.event_sources`).
The HTTP layer (:mod:`labkit.service.responses`) turns requests into calls of the methods here.

>>> service = LambdaService(account_concurrency=10)                # doctest: +SKIP
>>> service.handle(request)                                       # an HttpResponse, as AWS answers

The account's concurrency limit is 1,000 as on AWS unless given (``account_concurrency=``, the
``LABKIT_ACCOUNT_CONCURRENCY`` variable, :meth:`LambdaService.set_account_concurrency`, or
``PUT /2016-08-19/account-settings {"ConcurrentExecutions": N}``, labkit's own addition next to
GetAccountSettings). Functions get ``AWS_ENDPOINT_URL`` = ``endpoint_url`` so their own boto3
calls reach the local AWS.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labkit.errors import ConfigurationError
from labkit.runtime import limits
from labkit.runtime.backends import Backend, get_backend
from labkit.runtime.config import validate_env, validate_handler
from labkit.runtime.scratch import ensure_owner_dir
from labkit.service.async_queue import (
    AsyncEvent,
    AsyncOutcome,
    AsyncQueue,
    AsyncSettings,
    Attempt,
)
from labkit.service.clock import CLOCK, LessonClock
from labkit.service.code import CodeStore
from labkit.service.code_signing import CodeSigningConfigs
from labkit.service.destinations import (
    DESTINATION_SERVICES,
    DLQ_SERVICES,
    AwsSender,
    Sender,
    arn_service,
    local_client_factory,
)
from labkit.service.event_sources import BatchInvoker, EventSourceMappings
from labkit.service.exceptions import (
    InvalidParameterValueException,
    LambdaServiceError,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from labkit.service.function_urls import FunctionUrls
from labkit.service.invoke import (
    ACCOUNT,
    ConcurrencyLimiter,
    FunctionMetrics,
    InvokeObserver,
    Invoker,
    InvokeResult,
    RuntimePool,
)
from labkit.service.layers import LayerStore, LayerVersion, check_total_size
from labkit.service.models import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    DEFAULT_PROVISIONING_S,
    DEFAULT_TRANSITION_S,
    LATEST,
    MAX_EVENT_AGE_RANGE,
    MAX_RETRY_RANGE,
    Alias,
    CodeArtifact,
    EventInvokeConfig,
    FunctionState,
    LambdaModel,
    ProvisionedConfig,
    VersionConfig,
    function_arn,
    parse_function_ref,
    qualifier_not_found,
)
from labkit.security.roles import trust_allows
from labkit.security.secrets import warn_about_secrets
from labkit.service.policy import FunctionPolicies, denied_invoke
from labkit.service.recursion import RecursionConfigs
from labkit.service.tagging import ResourceTags
from labkit.service.wire import HttpRequest, HttpResponse

LOG = logging.getLogger("labkit.service")
ACCOUNT_CONCURRENCY_ENV = "LABKIT_ACCOUNT_CONCURRENCY"
TRANSITION_ENV = "LABKIT_STATE_TRANSITION_S"
_PYTHON_RUNTIME = re.compile(r"^python3\.\d{1,2}$")
# The runtimes Lambda still creates and updates functions with (as its answer to an unknown runtime lists
# them); the others of the service model are deprecated.
_SUPPORTED_RUNTIMES = frozenset({
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x", "nodejs22.x", "java25",
    "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4", "ruby3.2", "python3.8", "python3.9", "java17",
    "nodejs16.x", "dotnet10", "dotnet8", "java11", "dotnet6", "nodejs18.x", "provided.al2", "java8.al2",
})
_ARCHITECTURES = ("x86_64", "arm64")
_LOG_FORMATS = ("Text", "JSON")
_LOG_LEVELS = {
    "ApplicationLogLevel": ("application_log_level", ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")),
    "SystemLogLevel": ("system_log_level", ("DEBUG", "INFO", "WARN")),
}

S3Fetch = Callable[[str, str, "str | None"], bytes]


class LambdaService:
    """The Lambda service of one local account and region.

    Parameters
    ----------
    endpoint_url
        Where the local AWS listens (set by the server); functions get it as ``AWS_ENDPOINT_URL``.
    backend
        The runtime backend of every function: ``process``, ``docker`` or ``auto``.
    account_concurrency
        The account's concurrency limit (default 1,000, or ``$LABKIT_ACCOUNT_CONCURRENCY``).
    clock
        The lesson clock every wait runs on (default: ``labkit.clock``'s).
    sender
        Delivers destination records and dead-letter messages (default: boto3 to the local AWS).
    s3_fetch
        ``(bucket, key, version) -> bytes`` for ``Code.S3Bucket`` (default: the local S3).
    state_transition_s
        Lesson seconds a created function stays Pending and an update InProgress (default 0.3, or
        ``$LABKIT_STATE_TRANSITION_S``); ``service.model.transition_s`` changes it later.
    provisioning_s
        Lesson seconds a provisioned concurrency config stays IN_PROGRESS (default 5);
        ``service.model.provisioning_s`` changes it later.
    """

    def __init__(
        self,
        endpoint_url: str | None = None,
        backend: str = "process",
        *,
        account_concurrency: int | None = None,
        clock: LessonClock | None = None,
        sender: Sender | None = None,
        s3_fetch: S3Fetch | None = None,
        data_dir: str | Path | None = None,
        async_workers: int = 16,
        idle_timeout_s: float = 300,
        state_transition_s: float | None = None,
        provisioning_s: float = DEFAULT_PROVISIONING_S,
    ) -> None:
        self._endpoint_url = endpoint_url
        self.clock = clock or CLOCK
        if account_concurrency is None:
            account_concurrency = _env_account_concurrency()
        transition_s = _env_transition_s() if state_transition_s is None else state_transition_s
        self.model = LambdaModel(account_concurrency, self.clock, transition_s, provisioning_s)
        try:
            self.backend: Backend = get_backend(backend)
        except ConfigurationError as exc:
            raise InvalidParameterValueException(str(exc)) from None
        self._own_data_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else ensure_owner_dir() / f"lambda-{uuid.uuid4().hex[:8]}"
        self.code = CodeStore(self.data_dir)
        self.layers = LayerStore(self.data_dir / "layers")
        self.pool = RuntimePool(self.backend, endpoint_url, idle_timeout_s)
        self.limiter = ConcurrencyLimiter(self.model, self.clock)
        self.invoker = Invoker(self.model, self.pool, self.limiter)
        self._client_factory = local_client_factory(lambda: self._endpoint_url)
        self.sender: Sender = sender or AwsSender(self._client_factory, self._enqueue_arn)
        self._s3_fetch = s3_fetch or self._fetch_from_local_s3
        self.queue = AsyncQueue(
            self._attempt, self._async_settings, self.sender, self.clock, workers=async_workers, count=self.limiter.count
        )
        self.event_sources = EventSourceMappings(
            self.model, BatchInvoker(self.invoker, self.limiter, self.model), self._client_factory, self.sender, self.clock
        )
        self._provision_lock = threading.Lock()
        self.function_urls = FunctionUrls()  # served by the host the local AWS installs
        self.policies = FunctionPolicies()
        self.code_signing = CodeSigningConfigs(self.model)
        self.recursion = RecursionConfigs(self.model)
        self.tags = ResourceTags(self.model, self.event_sources, self.code_signing)
        self._responses: Any = None
        self._closed = False

    @property
    def endpoint_url(self) -> str | None:
        """The local AWS's endpoint: functions created after a change get the new one."""
        return self._endpoint_url

    @endpoint_url.setter
    def endpoint_url(self, value: str | None) -> None:
        self._endpoint_url = value
        self.pool.endpoint_url = value

    # -- HTTP ------------------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request of Lambda's REST API as AWS would."""
        responses = self._responses
        if responses is None:
            from labkit.service.responses import LambdaResponses

            responses = self._responses = LambdaResponses(self)
        return responses.handle(request)

    def add_observer(self, observer: InvokeObserver) -> None:
        """Tell `observer` about every invoke from now on (labkit.observe attaches itself); closed with the service."""
        self.invoker.observers.append(observer)
        self.pool.platform_env.update(observer.platform_env())

    def close(self) -> None:
        """End every execution environment and the async workers; remove the unpacked packages (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.function_urls.close()
        self.event_sources.close(join=False)
        self.queue.close(join=False)
        self.pool.close()  # ends in-flight invokes, so the async workers and pollers return at once
        self.queue.join()
        self.event_sources.join()
        for observer in self.invoker.observers:
            observer.close()
        if self._own_data_dir:
            self.code.close()
            self.layers.close()

    def __enter__(self) -> LambdaService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- account ----------------------------------------------------------------------------------

    @property
    def account_concurrency(self) -> int:
        return self.model.account_limit

    def set_account_concurrency(self, limit: int) -> None:
        """Set the account's concurrency limit for a lesson (AWS: a Service Quotas request)."""
        self.model.set_account_limit(limit)

    def account_settings(self) -> dict[str, Any]:
        functions = self.model.functions()
        total = sum(state.latest.code.size + sum(v.code.size for v in state.versions.values()) for state in functions)
        return {
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800,
                "CodeSizeUnzipped": 262_144_000,
                "CodeSizeZipped": 52_428_800,
                "ConcurrentExecutions": self.model.account_limit,
                "UnreservedConcurrentExecutions": self.model.unreserved_limit(),
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(functions)},
        }

    # -- functions ----------------------------------------------------------------------------------

    def create_function(self, spec: dict[str, Any]) -> VersionConfig:
        """CreateFunction from its request document; returns $LATEST, or version 1 with ``Publish``."""
        name, qualifier = parse_function_ref(_required(spec, "FunctionName"))
        if qualifier:
            raise InvalidParameterValueException("A function name cannot carry a qualifier in CreateFunction.")
        if spec.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException(
                "PackageType Image is not supported by labkit's local Lambda: deploy a .zip package (PackageType Zip)"
            )
        runtime = _required(spec, "Runtime", "Runtime and Handler are mandatory parameters for functions created with deployment packages.")
        _check_runtime(runtime)
        handler = _required(spec, "Handler", "Runtime and Handler are mandatory parameters for functions created with deployment packages.")
        role = _required(spec, "Role")
        _check_role(role)
        settings = self._settings(spec, base=None)
        tags = spec.get("Tags") or {}
        code = self._package(name, _required(spec, "Code"))
        config = VersionConfig(
            function_name=name, runtime=runtime, role=role, handler=_check_handler(handler), code=code, **settings
        )
        check_total_size(config.code.folder, config.layers)
        state = self.model.create_function(config, tags)
        warn_about_secrets(config.environment, name)
        if spec.get("Publish"):
            version, _ = self.model.publish_version(name, with_change=True)
            return version
        return state.latest

    def update_function_code(self, name: str, spec: dict[str, Any]) -> VersionConfig:
        state = self.model.function(name)
        self.model.check_updatable(state)
        changes: dict[str, Any] = {}
        if "Architectures" in spec:
            changes["architectures"] = _check_architectures(spec["Architectures"])
        if not any(key in spec for key in ("ZipFile", "S3Bucket", "ImageUri")):
            raise InvalidParameterValueException("Please provide a source for function code: ZipFile or S3Bucket and S3Key.")
        code = self._package(name, spec)
        check_total_size(code.folder, state.latest.layers)
        if spec.get("DryRun"):
            return state.latest.replace(code=code, **changes)
        latest = self.model.update_latest(name, spec.get("RevisionId"), code=code, **changes)
        if spec.get("Publish"):
            version, _ = self.model.publish_version(name, with_change=True)
            return version
        return latest

    def update_function_configuration(self, name: str, spec: dict[str, Any]) -> VersionConfig:
        state = self.model.function(name)
        self.model.check_updatable(state)
        changes = self._settings(spec, base=state.latest)
        if "Runtime" in spec:
            _check_runtime(spec["Runtime"])
            changes["runtime"] = spec["Runtime"]
        if "Handler" in spec:
            changes["handler"] = _check_handler(spec["Handler"])
        if "Role" in spec:
            _check_role(spec["Role"])
            changes["role"] = spec["Role"]
        if "layers" in changes:
            check_total_size(state.latest.code.folder, changes["layers"])
        latest = self.model.update_latest(name, spec.get("RevisionId"), **changes)
        if "environment" in changes:
            warn_about_secrets(latest.environment, name)
        return latest

    def delete_function(self, name: str, qualifier: str | None = None) -> None:
        removed = self.model.delete_function(name, qualifier)
        self.policies.drop(name, qualifier)
        if qualifier is None:
            self.function_urls.drop_function(name)
            self.code_signing.drop_function(name)
            self.recursion.drop(name)
            self.pool.drop(name)
            self.code.remove(name)
        else:
            for version in removed:
                self.pool.drop(name, version.version)

    def publish_version(self, name: str, spec: dict[str, Any]) -> VersionConfig:
        version, _ = self.model.publish_version(
            name, spec.get("Description"), spec.get("CodeSha256"), spec.get("RevisionId")
        )
        return version

    # -- aliases ----------------------------------------------------------------------------------------

    def create_alias(self, name: str, spec: dict[str, Any]) -> Alias:
        return self.model.create_alias(
            name,
            _required(spec, "Name"),
            _required(spec, "FunctionVersion"),
            spec.get("Description") or "",
            _weights(spec),
        )

    def update_alias(self, name: str, alias: str, spec: dict[str, Any]) -> Alias:
        weights = _weights(spec) if "RoutingConfig" in spec else None
        updated = self.model.update_alias(
            name, alias, spec.get("FunctionVersion"), spec.get("Description"), weights, spec.get("RevisionId")
        )
        self.pool.drop(name, alias=alias)
        state = self.model.function(name)
        if alias in state.provisioned:  # provisioned environments follow the alias to its new version
            self._apply_provisioned(name, alias, state.provisioned[alias].requested)
        return updated

    def delete_alias(self, name: str, alias: str) -> None:
        self.model.delete_alias(name, alias)
        self.pool.drop(name, alias=alias)

    # -- layers ---------------------------------------------------------------------------------------

    def publish_layer_version(self, layer_name: str, spec: dict[str, Any]) -> LayerVersion:
        """PublishLayerVersion: ``Content`` is a ZipFile (base64) or an S3Bucket and S3Key, as a function's Code."""
        return self.layers.publish(layer_name, self._package_bytes(_required(spec, "Content")), spec)

    # -- concurrency ------------------------------------------------------------------------------------

    def put_function_concurrency(self, name: str, reserved: Any) -> int:
        return self.model.put_reserved(name, reserved)

    def delete_function_concurrency(self, name: str) -> None:
        self.model.delete_reserved(name)

    def put_provisioned_concurrency(self, name: str, qualifier: str | None, count: Any) -> ProvisionedConfig:
        """Initialise `count` environments now (INIT ahead of invokes); IN_PROGRESS, then READY when they all
        started (or FAILED), reported ``model.provisioning_s`` lesson seconds later as Lambda takes a while."""
        self.model.put_provisioned(name, qualifier, count)
        assert qualifier is not None
        return self._apply_provisioned(name, qualifier, count)

    def delete_provisioned_concurrency(self, name: str, qualifier: str | None) -> None:
        """Release the qualifier's provisioned environments; none configured is no error (as on Lambda)."""
        config = self.model.delete_provisioned(name, qualifier)
        if config is None:
            return
        _state, version, alias = self.model.resolve(name, config.qualifier)
        self.pool.function(version, alias.name if alias else None).provision(0)

    def _apply_provisioned(self, name: str, qualifier: str, count: int) -> ProvisionedConfig:
        with self._provision_lock:
            _state, version, alias = self.model.resolve(name, qualifier)
            function = self.pool.function(version, alias.name if alias else None)
            errors = function.provision(count)
            ready = sum(1 for env in function.environments if env.provisioned)
            if errors:
                LOG.warning(
                    "provisioned concurrency of %s:%s: INIT failed in %d of %d environment(s): %s: %s", name, qualifier,
                    len(errors), count, errors[0].get("errorType"), errors[0].get("errorMessage"),
                )
                self.model.set_provisioned_status(name, qualifier, ready, "FAILED", "FUNCTION_ERROR_INIT_FAILURE")
            else:
                self.model.set_provisioned_status(name, qualifier, ready, "READY")
            return self.model.provisioned(name, qualifier)

    # -- event invoke configs ------------------------------------------------------------------------------

    def put_event_invoke_config(self, name: str, qualifier: str | None, spec: dict[str, Any], merge: bool) -> EventInvokeConfig:
        retries = spec.get("MaximumRetryAttempts")
        age = spec.get("MaximumEventAgeInSeconds")
        if retries is None and age is None and "DestinationConfig" not in spec:
            raise InvalidParameterValueException(
                "You must specify at least one of error handling or destination setting."
            )
        if retries is not None:
            _check_int("maximumRetryAttempts", retries, *MAX_RETRY_RANGE)
        if age is not None:
            _check_int("maximumEventAgeInSeconds", age, *MAX_EVENT_AGE_RANGE)
        destinations = spec.get("DestinationConfig") or {}
        try:
            on_success = _destination(destinations, "OnSuccess")
            on_failure = _destination(destinations, "OnFailure")
        except InvalidParameterValueException as exc:
            LOG.info("%s", exc)  # labkit's hint; Lambda answers only that the config is invalid
            raise InvalidParameterValueException(
                f"The provided destination config {_destination_config_text(destinations)} is invalid."
            ) from None
        config = EventInvokeConfig(qualifier or LATEST, retries, age, on_success, on_failure)
        return self.model.put_event_config(name, qualifier, config, merge)

    # -- resource-based policies ------------------------------------------------------------------------------

    def add_permission(self, name: str, qualifier: str | None, spec: dict[str, Any]) -> dict[str, Any]:
        """AddPermission: a statement in the function's (or the qualifier's) policy; returns it."""
        _check_qualifier(self.model.function(name), qualifier)
        return self.policies.add(name, qualifier, function_arn(name, qualifier), spec)

    def remove_permission(self, name: str, qualifier: str | None, statement_id: str, revision_id: str | None = None) -> None:
        try:
            state = self.model.function(name)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(f"No policy found for: {function_arn(name, qualifier)}") from None
        _check_qualifier(state, qualifier)
        self.policies.remove(name, qualifier, statement_id, revision_id)

    def get_policy(self, name: str, qualifier: str | None) -> tuple[str, str]:
        """GetPolicy: (the policy as JSON text, its revision id); a function or version that does not exist
        has none ("The resource you requested does not exist.", as Lambda answers either)."""
        return self.policies.get(name, qualifier)

    def resource_policy(self, arn: str) -> dict[str, Any] | None:
        """The resource-based policy of a function ARN (qualified or not), or None."""
        name, qualifier = parse_function_ref(arn)
        return self.policies.document(name, qualifier)

    def invoke_refusal(
        self, name: str, qualifier: str | None, principal: str, source_arn: str | None = None,
        source_account: str | None = None,
    ) -> str | None:
        """Why `principal` may not invoke the function for `source_arn` (None: it may); what S3 checks before
        it saves a bucket notification."""
        try:
            self._authorize_invoke(name, qualifier, principal, source_arn, source_account)
        except LambdaServiceError as exc:
            return exc.message
        return None

    def _authorize_invoke(
        self, name: str, qualifier: str | None, principal: str | None, source_arn: str | None, source_account: str | None
    ) -> None:
        if principal is None:
            return  # the account itself
        self.model.resolve(name, qualifier)
        arn = function_arn(name, qualifier)
        if not self.policies.allows_invoke(name, qualifier, arn, principal, source_arn, source_account):
            raise denied_invoke(principal, arn)

    # -- invoke -------------------------------------------------------------------------------------------------

    def invoke(
        self, name: str, qualifier: str | None, payload: bytes, client_context: dict[str, Any] | None = None,
        request_id: str | None = None, *, principal: str | None = None, source_arn: str | None = None,
        source_account: str | None = None,
    ) -> InvokeResult:
        """A synchronous (RequestResponse) invoke; raises TooManyRequestsException when throttled.

        `principal` (a service such as "s3.amazonaws.com", with the `source_arn` and `source_account` it
        invokes for) needs a statement in the function's resource-based policy (AddPermission), else
        AccessDeniedException; None is the account itself, always allowed.
        """
        self._authorize_invoke(name, qualifier, principal, source_arn, source_account)
        if len(payload) > limits.SYNC_REQUEST_MAX_BYTES:
            raise RequestTooLargeException(
                f"Request must be smaller than {limits.SYNC_REQUEST_MAX_BYTES} bytes for the InvokeFunction operation"
            )
        return self.invoker.invoke(name, qualifier, payload or b"{}", client_context=client_context, request_id=request_id)

    def invoke_async(
        self, name: str, qualifier: str | None, payload: bytes, *, principal: str | None = None,
        source_arn: str | None = None, source_account: str | None = None,
    ) -> str:
        """Accept an Event invoke into the async queue; returns its request id (`principal`: as in `invoke`)."""
        self._authorize_invoke(name, qualifier, principal, source_arn, source_account)
        if len(payload) > limits.ASYNC_REQUEST_MAX_BYTES:
            raise RequestTooLargeException(
                f"Request must be smaller than {limits.ASYNC_REQUEST_MAX_BYTES} bytes for the InvokeFunction operation"
            )
        _state, _config, _alias = self.model.resolve(name, qualifier)
        request_id = str(uuid.uuid4())
        self.queue.submit(
            AsyncEvent(
                request_id=request_id,
                function_name=name,
                qualifier=qualifier,
                payload=payload or b"{}",
                received_at=self.clock.now(),
                function_arn=function_arn(name, qualifier or LATEST),
            )
        )
        return request_id

    def wait_for_async(self, timeout: float | None = None) -> bool:
        """Block until every accepted async event has ended (real seconds); False on timeout."""
        return self.queue.wait_idle(timeout)

    @property
    def async_outcomes(self) -> list[AsyncOutcome]:
        """How each async event ended so far (Success, RetriesExhausted, EventAgeExceeded, Discarded)."""
        return list(self.queue.outcomes)

    def metrics(self, name: str | None = None) -> FunctionMetrics:
        """Counters and the concurrency series of one function, or of the whole account (name None)."""
        if name is not None:
            name, _ = parse_function_ref(name)
        return self.limiter.metrics(ACCOUNT if name is None else name)

    # -- internals ----------------------------------------------------------------------------------------------

    def _attempt(self, event: AsyncEvent) -> Attempt:
        try:
            result = self.invoker.invoke(
                event.function_name, event.qualifier, event.payload, request_id=event.request_id,
                received_at=event.received_at,
            )
        except (TooManyRequestsException, ResourceConflictException) as exc:  # throttled, or still Pending: retried soon
            return Attempt("throttled", status_code=exc.status, error_message=exc.message)
        except ResourceNotFoundException as exc:
            return Attempt("gone", status_code=404, error_message=exc.message)
        except FileNotFoundError:  # deleted while the event waited: its unpacked code went with it
            try:
                self.model.function(event.function_name)
            except ResourceNotFoundException as exc:
                return Attempt("gone", status_code=404, error_message=exc.message)
            raise
        except LambdaServiceError as exc:
            if exc.status >= 500:  # service errors are retried like throttles
                return Attempt("throttled", status_code=exc.status, error_message=exc.message)
            return Attempt("error", status_code=exc.status, error_message=exc.message)
        invocation = result.invocation
        if invocation.error is not None:
            return Attempt(
                "error",
                payload=invocation.payload or json.dumps(invocation.error).encode(),
                executed_version=result.executed_version,
                function_error="Unhandled",
                error_message=str(invocation.error.get("errorMessage", "")),
            )
        return Attempt("success", payload=invocation.payload, executed_version=result.executed_version)

    def _async_settings(self, event: AsyncEvent) -> AsyncSettings:
        config = self.model.effective_event_config(event.function_name, event.qualifier)
        try:
            _state, version, _alias = self.model.resolve(event.function_name, event.qualifier)
            dead_letter = version.dead_letter_arn
        except LambdaServiceError:
            dead_letter = None
        return AsyncSettings(config.retries, config.max_age_s, config.on_success, config.on_failure, dead_letter)

    def _enqueue_arn(self, arn: str, payload: bytes) -> None:
        """A Lambda destination: an async invoke of the named local function."""
        name, qualifier = parse_function_ref(arn)
        self.invoke_async(name, qualifier, payload)

    def _settings(self, spec: dict[str, Any], base: VersionConfig | None) -> dict[str, Any]:
        """The settings shared by CreateFunction and UpdateFunctionConfiguration, validated."""
        out: dict[str, Any] = {}
        if "Description" in spec:
            out["description"] = str(spec["Description"] or "")[:256]
        if "Timeout" in spec:
            out["timeout"] = _check_int("timeout", spec["Timeout"], limits.TIMEOUT_MIN_S, limits.TIMEOUT_MAX_S)
        if "MemorySize" in spec:
            out["memory_size"] = _check_int("memorySize", spec["MemorySize"], limits.MEMORY_MIN_MB, limits.MEMORY_MAX_MB)
        if "Environment" in spec:
            variables = (spec.get("Environment") or {}).get("Variables") or {}
            try:
                validate_env(variables)
            except ConfigurationError as exc:
                raise InvalidParameterValueException(str(exc)) from None
            out["environment"] = dict(variables)
            out["environment_sent"] = True
        if "Architectures" in spec and base is None:
            out["architectures"] = _check_architectures(spec["Architectures"])
        if "EphemeralStorage" in spec:
            size = (spec.get("EphemeralStorage") or {}).get("Size")
            out["ephemeral_storage"] = _check_int("ephemeralStorage.size", size, limits.EPHEMERAL_MIN_MB, limits.EPHEMERAL_MAX_MB)
        if "DeadLetterConfig" in spec:
            target = (spec.get("DeadLetterConfig") or {}).get("TargetArn") or None
            if target is not None and arn_service(target) not in DLQ_SERVICES:
                raise InvalidParameterValueException(
                    f"The provided dead-letter target {target} is not an SQS queue or SNS topic ARN."
                )
            out["dead_letter_arn"] = target
        if "LoggingConfig" in spec:
            logging_config = spec.get("LoggingConfig") or {}
            log_format = logging_config.get("LogFormat", base.log_format if base else "Text")
            if log_format not in _LOG_FORMATS:
                raise InvalidParameterValueException(f"LogFormat {log_format!r} is invalid: use Text or JSON")
            out["log_format"] = log_format
            if logging_config.get("LogGroup"):
                out["log_group"] = logging_config["LogGroup"]
            for key, (field_name, levels) in _LOG_LEVELS.items():
                level = logging_config.get(key)
                if level is None:
                    continue
                if level not in levels:
                    raise InvalidParameterValueException(f"{key} {level!r} is invalid: use one of {', '.join(levels)}")
                if log_format != "JSON":
                    raise InvalidParameterValueException(
                        f"{key} can only be set when LogFormat is JSON: add 'LogFormat': 'JSON' to LoggingConfig"
                    )
                out[field_name] = level
        if "TracingConfig" in spec:
            mode = (spec.get("TracingConfig") or {}).get("Mode", "PassThrough")
            if mode not in ("Active", "PassThrough"):
                raise InvalidParameterValueException(f"TracingConfig.Mode {mode!r} is invalid: use Active or PassThrough")
            out["tracing_mode"] = mode
        if "Layers" in spec:
            out["layers"] = self.layers.resolve(spec.get("Layers") or [])
        return out

    def _package(self, name: str, code: dict[str, Any]) -> CodeArtifact:
        return self.code.store(name, self._package_bytes(code))

    def _package_bytes(self, code: dict[str, Any]) -> bytes:
        """The ZIP a Code (or a layer's Content) document names: inline, or in the local S3."""
        if code.get("ImageUri"):
            raise InvalidParameterValueException(
                "Container images (ImageUri) are not supported by labkit's local Lambda: deploy a .zip package"
            )
        if code.get("ZipFile"):
            try:
                package = base64.b64decode(code["ZipFile"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise InvalidParameterValueException(
                    "Could not unzip uploaded file: Code.ZipFile is not base64 (boto3 encodes the bytes you pass)"
                ) from None
        elif code.get("S3Bucket") and code.get("S3Key"):
            package = self._s3_fetch(code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"))
        else:
            raise InvalidParameterValueException(
                "Please provide a source for function code: Code.ZipFile, or Code.S3Bucket and Code.S3Key."
            )
        return package

    def _fetch_from_local_s3(self, bucket: str, key: str, version: str | None) -> bytes:
        try:
            s3 = self._client_factory("s3")
            extra = {"VersionId": version} if version else {}
            return s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        except Exception as exc:  # botocore's ClientError, a missing local AWS
            raise InvalidParameterValueException(
                f"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: could not read "
                f"s3://{bucket}/{key} from the local S3 ({exc})"
            ) from None


# --------------------------------------------------------------------------- validation helpers


def _env_account_concurrency() -> int:
    value = os.environ.get(ACCOUNT_CONCURRENCY_ENV)
    if not value:
        return DEFAULT_ACCOUNT_CONCURRENCY
    try:
        return int(value)
    except ValueError:
        raise InvalidParameterValueException(
            f"${ACCOUNT_CONCURRENCY_ENV}={value!r} is not a whole number: set it to e.g. 10 or unset it"
        ) from None


def _env_transition_s() -> float:
    """How long (lesson seconds) functions stay Pending / InProgress: $LABKIT_STATE_TRANSITION_S or the default."""
    raw = os.environ.get(TRANSITION_ENV)
    if raw is None:
        return DEFAULT_TRANSITION_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InvalidParameterValueException(
            f"${TRANSITION_ENV}={raw!r} must be a number of lesson seconds, 0 or more (default {DEFAULT_TRANSITION_S})"
        )
    return value


def _required(spec: dict[str, Any], key: str, message: str | None = None) -> Any:
    value = spec.get(key)
    if value in (None, "", {}):
        raise InvalidParameterValueException(
            message or f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value


def _check_int(what: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{value}' at '{what}' failed to satisfy constraint: Member must have "
            f"value between {low} and {high} (Lambda's limit, shared by labkit)"
        )
    return value


def _check_runtime(runtime: Any) -> None:
    if not isinstance(runtime, str) or runtime not in _SUPPORTED_RUNTIMES:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. "
            "We recommend you use a supported runtime while creating or updating functions."
        )
    if not _PYTHON_RUNTIME.match(runtime):
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is not supported by labkit's local Lambda: only Python runs here. "
            "Use a python3.x runtime such as python3.12 or python3.13"
        )


def _check_role(role: Any) -> None:
    if not isinstance(role, str) or not re.match(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+$", role):
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+ "
            "(e.g. arn:aws:iam::123456789012:role/lambda-role)"
        )
    if trust_allows(role) is False:  # a role of the local IAM that Lambda may not assume (None: not there, not enforced)
        raise InvalidParameterValueException(
            "The role defined for the function cannot be assumed by Lambda. (Its trust policy must allow the service "
            "lambda.amazonaws.com the action sts:AssumeRole.)"
        )


def _check_handler(handler: Any) -> str:
    try:
        validate_handler(handler)
    except ConfigurationError as exc:
        raise InvalidParameterValueException(str(exc)) from None
    return handler


def _check_architectures(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) != 1 or value[0] not in _ARCHITECTURES:
        raise InvalidParameterValueException(
            f"Architectures {value!r} is invalid: give one of {list(_ARCHITECTURES)} in a list, e.g. ['arm64']"
        )
    return (value[0],)


def _weights(spec: dict[str, Any]) -> dict[str, float]:
    routing = spec.get("RoutingConfig") or {}
    weights = routing.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise InvalidParameterValueException("RoutingConfig.AdditionalVersionWeights must map a version to a weight")
    return dict(weights)


def _check_qualifier(state: FunctionState, qualifier: str | None) -> None:
    """The version or alias a request names must exist (Lambda's message for a missing one)."""
    if qualifier and not state.has_qualifier(qualifier):
        raise qualifier_not_found(state.name, qualifier)


def _destination_config_text(config: dict[str, Any]) -> str:
    """A DestinationConfig as Lambda prints it in its errors (the Java object's toString)."""
    def one(key: str) -> str:
        arn = (config.get(key) or {}).get("Destination")
        return f"{key}(destination={arn})" if arn else "null"
    return f"DestinationConfig(onSuccess={one('OnSuccess')}, onFailure={one('OnFailure')})"


def _destination(config: dict[str, Any], key: str) -> str | None:
    """A destination ARN (None: unchanged in an update; "" clears it)."""
    if key not in config:
        return None
    arn = (config.get(key) or {}).get("Destination") or ""
    if arn and arn_service(arn) not in DESTINATION_SERVICES:
        raise InvalidParameterValueException(
            f"The destination ARN {arn} is invalid: use an SQS queue, SNS topic, Lambda function, EventBridge bus or "
            "S3 bucket ARN"
        )
    if arn and key == "OnSuccess" and arn_service(arn) == "s3":
        raise InvalidParameterValueException(
            "S3 buckets are supported only for on-failure destinations: send successes to a queue, topic, function or bus"
        )
    return arn
