"""Function URLs: the state behind Create/Get/Update/Delete/ListFunctionUrlConfig(s), and their shapes.

A URL belongs to a function, or to one of its aliases (``Qualifier``), and records its
``AuthType`` (``NONE`` | ``AWS_IAM``), ``Cors`` (applied) and ``InvokeMode`` (recorded; responses
are buffered). Serving it is not the service's job: a :class:`UrlHost` (the local API Gateway's,
installed by the local AWS, see ``labkit.triggers.apigateway.serve_function_urls``) opens a local
endpoint per URL and answers with the function URL payload; ``FunctionUrl`` is that endpoint.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from labkit.service.exceptions import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceException,
)
from labkit.service.models import LATEST, function_arn

AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
_CORS_KEYS = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders", "MaxAge")


class UrlHost(Protocol):
    """Serves function URLs: one local endpoint per URL."""

    def open(self, function_name: str, qualifier: str | None, auth_type: str, cors: dict[str, Any]) -> str:
        """Start serving the function (or alias); returns the URL (ending in ``/``)."""
        ...

    def configure(self, url: str, auth_type: str, cors: dict[str, Any]) -> None: ...

    def close(self, url: str) -> None: ...


@dataclass(frozen=True)
class FunctionUrlConfig:
    function_name: str
    qualifier: str | None
    url: str
    auth_type: str
    invoke_mode: str = "BUFFERED"
    cors: dict[str, Any] = field(default_factory=dict)
    creation_time: str = ""
    last_modified: str = ""

    def shape(self, *, invoke_mode: bool = True) -> dict[str, Any]:
        """FunctionUrlConfig as the Lambda API returns it (Create and Update name ``InvokeMode`` only
        when the request did, as AWS answers)."""
        out: dict[str, Any] = {
            "FunctionUrl": self.url,
            "FunctionArn": function_arn(self.function_name, self.qualifier) if self.qualifier else function_arn(self.function_name),
            "AuthType": self.auth_type,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified,
        }
        if invoke_mode:
            out["InvokeMode"] = self.invoke_mode
        if self.cors:
            out["Cors"] = dict(self.cors)
        return out


class FunctionUrls:
    """The function URLs of one Lambda service."""

    def __init__(self, host: UrlHost | None = None) -> None:
        self.host = host
        self._configs: dict[tuple[str, str | None], FunctionUrlConfig] = {}
        self._lock = threading.Lock()

    def create(self, name: str, qualifier: str | None, spec: dict[str, Any]) -> FunctionUrlConfig:
        qualifier = _qualifier(qualifier)
        auth_type = _auth_type(spec.get("AuthType"))
        invoke_mode = _invoke_mode(spec.get("InvokeMode", "BUFFERED"))
        cors = _cors(spec.get("Cors"))
        if self.host is None:
            raise ServiceException(
                "labkit serves function URLs from the local AWS: start it (labkit.aws.start() or `labkit serve`), or "
                "give this LambdaService a host with labkit.triggers.apigateway.serve_function_urls(service)"
            )
        with self._lock:
            if (name, qualifier) in self._configs:
                raise ResourceConflictException(
                    f"Failed to create function url config for [functionArn = {_arn(name, qualifier)}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function"
                )
            url = self.host.open(name, qualifier, auth_type, cors)
            now = _now()
            config = FunctionUrlConfig(name, qualifier, url, auth_type, invoke_mode, cors, now, now)
            self._configs[(name, qualifier)] = config
        return config

    def get(self, name: str, qualifier: str | None) -> FunctionUrlConfig:
        key = (name, _qualifier(qualifier))
        with self._lock:
            config = self._configs.get(key)
        if config is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return config

    def update(self, name: str, qualifier: str | None, spec: dict[str, Any]) -> FunctionUrlConfig:
        config = self.get(name, qualifier)
        changes: dict[str, Any] = {"last_modified": _now()}
        if "AuthType" in spec:
            changes["auth_type"] = _auth_type(spec["AuthType"])
        if "InvokeMode" in spec:
            changes["invoke_mode"] = _invoke_mode(spec["InvokeMode"])
        if "Cors" in spec:
            changes["cors"] = _cors(spec["Cors"])
        updated = replace(config, **changes)
        with self._lock:
            self._configs[(config.function_name, config.qualifier)] = updated
        if self.host is not None:
            self.host.configure(updated.url, updated.auth_type, updated.cors)
        return updated

    def delete(self, name: str, qualifier: str | None) -> None:
        config = self.get(name, qualifier)
        with self._lock:
            self._configs.pop((config.function_name, config.qualifier), None)
        if self.host is not None:
            self.host.close(config.url)

    def list(self, name: str) -> list[FunctionUrlConfig]:
        with self._lock:
            return [config for (function, _), config in sorted(self._configs.items(), key=lambda kv: str(kv[0])) if function == name]

    def drop_function(self, name: str) -> None:
        """DeleteFunction: its URLs go with it."""
        for config in self.list(name):
            self.delete(name, config.qualifier)

    def close(self) -> None:
        with self._lock:
            configs = list(self._configs.values())
            self._configs.clear()
        if self.host is not None:
            for config in configs:
                self.host.close(config.url)


def _qualifier(qualifier: str | None) -> str | None:
    if qualifier in (None, "", LATEST):
        return None
    if qualifier.isdigit():
        raise InvalidParameterValueException(
            f"Qualifier {qualifier} is a version: function URLs belong to the function or to an alias"
        )
    return qualifier


def _auth_type(value: Any) -> str:
    if value not in AUTH_TYPES:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{value}' at 'authType' failed to satisfy constraint: Member must "
            "satisfy enum value set: [NONE, AWS_IAM]"
        )
    return str(value)


def _invoke_mode(value: Any) -> str:
    if value not in INVOKE_MODES:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{value}' at 'invokeMode' failed to satisfy constraint: Member must "
            "satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
        )
    return str(value)


def _cors(value: Any) -> dict[str, Any]:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or set(value) - set(_CORS_KEYS):
        raise InvalidParameterValueException(f"Cors takes the keys {', '.join(_CORS_KEYS)} only")
    return dict(value)


def _arn(name: str, qualifier: str | None) -> str:
    return function_arn(name, qualifier) if qualifier else function_arn(name)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
