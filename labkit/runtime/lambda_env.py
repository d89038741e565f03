"""The environment variables Lambda sets in an execution environment, per-invoke ids, and the credentials labkit gives out."""
from __future__ import annotations

import os
import time
import uuid

from labkit.runtime.config import FunctionConfig
from labkit.security import sessions

# Credentials of the local AWS: Lambda always gives a function its role's credentials.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIALABKITLOCAL00000",
    "AWS_SECRET_ACCESS_KEY": "labkit/local/secret/key/not/a/real/one0000",
    "AWS_SESSION_TOKEN": "labkit-local-session-token",
}


def known_secret(access_key_id: str, token: str | None) -> str | None:
    """The secret key of credentials labkit gave out (the local ones, or a role session's), or None."""
    if access_key_id == LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        return LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] if token == LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"] else None
    return sessions.secret_key(access_key_id, token)


def log_stream_name(version: str = "$LATEST", now: float | None = None) -> str:
    """`YYYY/MM/DD/[$LATEST]<32 hex>`, as Lambda names one environment's log stream."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now if now is not None else time.time()))
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def trace_header(now: float | None = None) -> str:
    """An X-Ray trace header as Lambda passes in `_X_AMZN_TRACE_ID`."""
    epoch = int(now if now is not None else time.time())
    ids = os.urandom(24).hex()
    return f"Root=1-{epoch:08x}-{ids[:24]};Parent={ids[24:40]};Sampled=0;Lineage=1:{ids[40:]}:0"


def lambda_environment(
    config: FunctionConfig, stream: str, python_version: str, initialization_type: str = "on-demand"
) -> dict[str, str]:
    """Lambda's own variables plus the user's (paths are added by the backend)."""
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": config.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{python_version}",
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "_HANDLER": config.handler,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        **LOCAL_CREDENTIALS,
    }
    if config.log_format == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    env.update(config.platform_env)
    env.update(config.env)
    return env
