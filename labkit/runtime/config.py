"""A function's configuration and its validation, refused before anything runs as Lambda refuses it."""
from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from labkit.errors import ConfigurationError
from labkit.runtime import limits

# Keys Lambda reserves: CreateFunction refuses them in Environment.Variables.
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
_ENV_KEY = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])*$")
_IDENTIFIER_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:[./][A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class FunctionConfig:
    """Everything that defines one function's execution environments."""

    handler: str
    code_dir: Path
    name: str
    memory_mb: int = 128
    timeout_s: float = 3
    env: dict[str, str] = field(default_factory=dict)
    ephemeral_storage_mb: int = 512
    layers: tuple[Path, ...] = ()
    region: str = limits.DEFAULT_REGION
    account_id: str = limits.DEFAULT_ACCOUNT_ID
    version: str = "$LATEST"
    log_format: str = "Text"
    platform_env: dict[str, str] = field(default_factory=dict)  # set by the platform: not in the 4 KB

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    def validate(self) -> FunctionConfig:
        """Raise ConfigurationError naming the first problem and its fix; return self when valid."""
        validate_handler(self.handler)
        _check_name(self.name)
        _check_range("memory_mb", self.memory_mb, limits.MEMORY_MIN_MB, limits.MEMORY_MAX_MB, "MB")
        _check_range("timeout_s", self.timeout_s, limits.TIMEOUT_MIN_S, limits.TIMEOUT_MAX_S, "seconds")
        _check_range(
            "ephemeral_storage_mb", self.ephemeral_storage_mb, limits.EPHEMERAL_MIN_MB, limits.EPHEMERAL_MAX_MB, "MB"
        )
        validate_env(self.env)
        if not self.code_dir.is_dir():
            raise ConfigurationError(
                f"code folder {str(self.code_dir)!r} does not exist: pass code= the folder that holds your handler's file"
            )
        if len(self.layers) > limits.LAYERS_MAX:
            raise ConfigurationError(f"{len(self.layers)} layers given; a function can use at most {limits.LAYERS_MAX}")
        for layer in self.layers:
            if not layer.is_dir():
                raise ConfigurationError(f"layer folder {str(layer)!r} does not exist")
        if self.log_format not in ("Text", "JSON"):
            raise ConfigurationError(f"log_format must be 'Text' or 'JSON', not {self.log_format!r}")
        return self


def validate_handler(handler: str) -> None:
    """A handler is `module.function` (the module may sit in folders: `pkg/app.handler`)."""
    if not isinstance(handler, str) or "." not in handler:
        raise ConfigurationError(
            f"handler {handler!r} is not of the form module.function: write e.g. 'app.handler' for "
            "def handler(event, context) in app.py"
        )
    module, function = handler.rsplit(".", 1)
    if module.endswith(".py"):
        raise ConfigurationError(
            f"handler {handler!r} names the file with its .py ending: write {module[:-3] + '.' + function!r}"
        )
    if not _IDENTIFIER_PATH.match(module) or not function.isidentifier() or keyword.iskeyword(function):
        raise ConfigurationError(
            f"handler {handler!r} is not of the form module.function with Python names: write e.g. 'app.handler'"
        )


def validate_env(env: dict[str, str]) -> None:
    """Lambda's rules for Environment.Variables: names, reserved keys, 4 KB in total."""
    reserved = sorted(k for k in env if k in RESERVED_ENV_KEYS)
    if reserved:
        raise ConfigurationError(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. Reserved keys used "
            f"in this request: {', '.join(reserved)}"
        )
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_KEY.match(key):
            raise ConfigurationError(
                f"environment variable name {key!r} is invalid: start with a letter, then letters, digits or _"
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"environment variable {key} must be a string, not {type(value).__name__}: write {key}={str(value)!r}"
            )
    size = len(json.dumps(env, separators=(",", ":")).encode())
    if size > limits.ENV_VARS_MAX_BYTES:
        raise ConfigurationError(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit ({size} bytes). Keep large values in S3, SSM Parameter Store or "
            "Secrets Manager and read them at init"
        )


def _check_name(name: str) -> None:
    if not _FUNCTION_NAME.match(name):
        raise ConfigurationError(
            f"function name {name!r} is invalid: use 1-64 letters, digits, hyphens or underscores"
        )


def _check_range(what: str, value: float, low: float, high: float, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigurationError(f"{what}={value!r} is outside Lambda's range: use {low:,} to {high:,} {unit}")
