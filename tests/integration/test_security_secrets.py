"""Secrets Manager and Parameter Store from inside a function, Powertools' cached parameters, redaction there."""
from __future__ import annotations

import uuid
from pathlib import Path

import labkit
from labkit.aws.local import LocalAws
from labkit.runtime.layers import powertools_layer
from labkit.security.redact import redaction_layer

HANDLER = '''
import json, logging, os
import boto3
import redact
from aws_lambda_powertools.utilities import parameters

logging.getLogger().addFilter(redact.RedactingFilter())
log = logging.getLogger()
log.setLevel(logging.INFO)

def handler(event, context):
    secret = parameters.get_secret(os.environ["SECRET_NAME"], max_age=300)
    plain = boto3.client("ssm").get_parameter(Name=os.environ["PARAM"], WithDecryption=True)["Parameter"]["Value"]
    log.info("user %s logged in with password=%s", event["email"], secret)
    return {"secret": secret, "param": plain, "cached_param": parameters.get_parameter(os.environ["PARAM"], decrypt=True)}
'''


def test_secrets_and_parameters_from_a_function_with_caching_and_redacted_logs(tmp_path: Path) -> None:
    aws = LocalAws.start()
    name, param = f"db-{uuid.uuid4().hex[:8]}", f"/shop/{uuid.uuid4().hex[:8]}/api-key"
    aws.client("secretsmanager").create_secret(Name=name, SecretString="hunter2")
    aws.client("ssm").put_parameter(Name=param, Value="k-123", Type="SecureString")
    (tmp_path / "app.py").write_text(HANDLER)
    env = {"AWS_ENDPOINT_URL": aws.endpoint_url, "SECRET_NAME": name, "PARAM": param}
    try:
        with labkit.Function("app.handler", code=tmp_path, env=env, timeout_s=15,
                             layers=[powertools_layer(), redaction_layer()]) as fn:
            first = fn.invoke({"email": "ada@example.com"})
            assert first.error is None, first.error
            assert first.result == {"secret": "hunter2", "param": "k-123", "cached_param": "k-123"}
            assert "hunter2" not in first.logs and "ada@example.com" not in first.logs
            assert "***@example.com" in first.logs and "password=***" in first.logs
            aws.client("secretsmanager").put_secret_value(SecretId=name, SecretString="rotated")
            second = fn.invoke({"email": "ada@example.com"})
            assert not second.report.cold
            assert second.result["secret"] == "hunter2"  # served from Powertools' cache, no call to Secrets Manager
    finally:
        aws.close()
