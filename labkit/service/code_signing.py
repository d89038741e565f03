"""Code signing configurations, and which function uses which.

:class:`CodeSigningConfigs` implements Create, Get, Update, Delete and ListCodeSigningConfigs,
Put, Get and DeleteFunctionCodeSigningConfig and ListFunctionsByCodeSigningConfig, with Lambda's
errors and shapes (botocore's model checks the requests first, :mod:`labkit.service.validation`).
A configuration names the signing profiles a package must be signed by and what a deployment of
an unsigned package gets (``UntrustedArtifactOnDeployment``: ``Warn``, the default, or
``Enforce``). labkit stores the configurations and verifies no signature. A configuration can be
deleted once no function uses it; a deleted function's association goes with it.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from labkit.runtime import limits
from labkit.service.exceptions import LambdaServiceError, ResourceConflictException, ResourceNotFoundException
from labkit.service.models import LambdaModel, function_arn, timestamp

WARN = "Warn"


class CodeSigningConfigNotFoundException(LambdaServiceError):
    """PutFunctionCodeSigningConfig naming a configuration that does not exist."""

    code = "CodeSigningConfigNotFoundException"
    status = 404
    message_key = "Message"


class CodeSigningConfigMissing(ResourceNotFoundException):
    """A configuration operation on an ARN that names none: AWS's body has no ``Type`` here."""

    typed = False


def code_signing_config_arn(config_id: str) -> str:
    return f"arn:aws:lambda:{limits.DEFAULT_REGION}:{limits.DEFAULT_ACCOUNT_ID}:code-signing-config:{config_id}"


@dataclass(frozen=True)
class CodeSigningConfig:
    """One configuration (``id``: ``csc-`` and 17 hexadecimal digits, as AWS's)."""

    id: str
    signing_profile_version_arns: tuple[str, ...] = ()
    untrusted_artifact_on_deployment: str = WARN
    description: str = ""
    last_modified: str = field(default_factory=timestamp)

    @property
    def arn(self) -> str:
        return code_signing_config_arn(self.id)

    def to_wire(self) -> dict[str, Any]:
        """The CodeSigningConfig document of Lambda's API."""
        return {
            "CodeSigningConfigId": self.id,
            "CodeSigningConfigArn": self.arn,
            "Description": self.description,
            "AllowedPublishers": {"SigningProfileVersionArns": list(self.signing_profile_version_arns)},
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": self.untrusted_artifact_on_deployment},
            "LastModified": self.last_modified,
        }


def _settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The fields a Create or Update request sets (its members already checked against the model)."""
    out: dict[str, Any] = {}
    if "Description" in spec:
        out["description"] = spec["Description"]
    if "AllowedPublishers" in spec:
        out["signing_profile_version_arns"] = tuple(spec["AllowedPublishers"]["SigningProfileVersionArns"])
    if "UntrustedArtifactOnDeployment" in (spec.get("CodeSigningPolicies") or {}):
        out["untrusted_artifact_on_deployment"] = spec["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"]
    return out


class CodeSigningConfigs:
    """The code signing configurations of one Lambda service, their tags and their functions; thread-safe."""

    def __init__(self, model: LambdaModel) -> None:
        self.model = model
        self._lock = threading.Lock()
        self._configs: dict[str, CodeSigningConfig] = {}  # by ARN, in creation order
        self._tags: dict[str, dict[str, str]] = {}
        self._functions: dict[str, str] = {}  # function name -> configuration ARN

    # -- configurations ----------------------------------------------------------------------

    def create(self, spec: dict[str, Any]) -> CodeSigningConfig:
        """CreateCodeSigningConfig."""
        config = CodeSigningConfig(id=f"csc-{uuid.uuid4().hex[:17]}", **_settings(spec))
        with self._lock:
            self._configs[config.arn] = config
            self._tags[config.arn] = dict(spec.get("Tags") or {})
        return config

    def get(self, arn: str) -> CodeSigningConfig:
        """GetCodeSigningConfig; 404 when the ARN names no configuration."""
        with self._lock:
            return self._config(arn)

    def update(self, arn: str, spec: dict[str, Any]) -> CodeSigningConfig:
        """UpdateCodeSigningConfig: the members given replace the configuration's; none given, it is unchanged."""
        changes = _settings(spec)
        with self._lock:
            config = self._config(arn)
            if changes:
                config = self._configs[arn] = replace(config, **changes, last_modified=timestamp())
            return config

    def delete(self, arn: str) -> None:
        """DeleteCodeSigningConfig; 409 while a function uses it."""
        with self._lock:
            self._config(arn)
            users = sorted(name for name, used in self._functions.items() if used == arn)
            if users:
                raise ResourceConflictException(
                    f"The code signing configuration {arn} is used by the functions {users}: remove it from them "
                    "(DeleteFunctionCodeSigningConfig) before deleting it."
                )
            del self._configs[arn]
            del self._tags[arn]

    def configs(self) -> list[CodeSigningConfig]:
        """ListCodeSigningConfigs: every configuration, oldest first."""
        with self._lock:
            return list(self._configs.values())

    def functions(self, arn: str) -> list[str]:
        """ListFunctionsByCodeSigningConfig: the ARNs of the functions that use the configuration."""
        with self._lock:
            self._config(arn)
            return [function_arn(name) for name, used in sorted(self._functions.items()) if used == arn]

    # -- functions ---------------------------------------------------------------------------

    def put_function(self, function_name: str, arn: str) -> None:
        """PutFunctionCodeSigningConfig: the configuration is checked before the function, as AWS does."""
        with self._lock:
            if arn not in self._configs:
                raise CodeSigningConfigNotFoundException(
                    "The code signing configuration cannot be found. Check that the provided configuration is not "
                    f"deleted: {arn}."
                )
        self.model.function(function_name)
        with self._lock:
            self._functions[function_name] = arn

    def of_function(self, function_name: str) -> str | None:
        """GetFunctionCodeSigningConfig: the ARN of the function's configuration, None when it has none."""
        self.model.function(function_name)
        with self._lock:
            return self._functions.get(function_name)

    def delete_function(self, function_name: str) -> None:
        """DeleteFunctionCodeSigningConfig (nothing to remove is fine)."""
        self.model.function(function_name)
        self.drop_function(function_name)

    def drop_function(self, function_name: str) -> None:
        """Forget a deleted function's association."""
        with self._lock:
            self._functions.pop(function_name, None)

    # -- tags (TagResource, UntagResource and ListTags on a configuration's ARN) ------------------

    def tags(self, arn: str) -> dict[str, str]:
        with self._lock:
            self._config(arn)
            return dict(self._tags[arn])

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._config(arn)
            self._tags[arn].update(tags)

    def untag(self, arn: str, keys: list[str]) -> None:
        with self._lock:
            self._config(arn)
            for key in keys:
                self._tags[arn].pop(key, None)

    def _config(self, arn: str) -> CodeSigningConfig:
        """Under the lock: the configuration `arn` names, or Lambda's 404."""
        config = self._configs.get(arn)
        if config is None:
            raise CodeSigningConfigMissing(f"The Lambda code signing configuration {arn} can not be found.")
        return config
