"""boto3 sessions, clients and resources pointed at the local AWS, and the settings that point others there.

The settings are boto3's own: `AWS_ENDPOINT_URL` (one endpoint for every service), fake
credentials (the same ones a function gets, `labkit.runtime.lambda_env.LOCAL_CREDENTIALS`) and
the region. Code written for AWS runs unchanged against the local AWS once they are set.

Without an explicit `endpoint_url`, the functions here use the process-wide local AWS,
starting it on first use (`labkit.aws.start()`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.aws.embedded.app import REGION
from labkit.runtime.lambda_env import LOCAL_CREDENTIALS

if TYPE_CHECKING:
    import boto3


def environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """The environment variables that send boto3 (in a function, a shell, a subprocess) to the local AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **LOCAL_CREDENTIALS,
    }


def export_lines(endpoint_url: str, region: str = REGION) -> list[str]:
    """`export NAME=value` lines for a POSIX shell, endpoint first."""
    return [f"export {name}={value}" for name, value in environment(endpoint_url, region).items()]


def _endpoint(endpoint_url: str | None) -> str:
    if endpoint_url is not None:
        return endpoint_url
    from labkit.aws.local import start

    return start().endpoint_url


def session(region: str = REGION) -> boto3.Session:
    """A boto3 session with the local AWS's fake credentials and region (clients still need the endpoint)."""
    import boto3

    return boto3.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=region,
    )


def _config(service_name: str, config: Any) -> Any:
    if service_name != "s3":
        return config
    from botocore.config import Config

    path_style = Config(s3={"addressing_style": "path"})  # buckets in the path: no DNS names needed
    return path_style if config is None else path_style.merge(config)


def client(
    service_name: str, *, endpoint_url: str | None = None, boto_session: boto3.Session | None = None, **kwargs: Any
) -> Any:
    """`boto3.client(service_name)` on the local AWS, e.g. `client("s3").list_buckets()`.

    Keyword arguments go to `Session.client` (`config=`, ...).
    """
    kwargs["config"] = _config(service_name, kwargs.get("config"))
    return (boto_session or session()).client(service_name, endpoint_url=_endpoint(endpoint_url), **kwargs)


def resource(
    service_name: str, *, endpoint_url: str | None = None, boto_session: boto3.Session | None = None, **kwargs: Any
) -> Any:
    """`boto3.resource(service_name)` on the local AWS, e.g. `resource("dynamodb").Table("orders")`."""
    kwargs["config"] = _config(service_name, kwargs.get("config"))
    return (boto_session or session()).resource(service_name, endpoint_url=_endpoint(endpoint_url), **kwargs)
