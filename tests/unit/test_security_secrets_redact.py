"""Secret-looking environment variables are warned about; the redaction filter masks secrets and PII."""
from __future__ import annotations

import io
import logging

import pytest

from labkit.security.redact import RedactingFilter, redact, redact_text
from labkit.security.secrets import SecretInEnvironmentWarning, find_secrets, warn_about_secrets


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("DB_PASSWORD", "hunter2", "name contains PASSWORD"),
        ("STRIPE_API_KEY", "abc", "name contains API_KEY"),
        ("GITHUB_TOKEN", "x1", "name contains TOKEN"),
        ("KEY", "AKIAIOSFODNN7EXAMPLE", "AWS access key id"),
        ("SESSION", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl", "JSON Web Token"),
        ("CERT", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "private key"),
        ("DATABASE_URL", "postgres://app:s3cret@db.internal:5432/shop", "credentials in a URL"),
        ("SIGNING", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "random-looking"),
    ],
)
def test_secret_looking_variables_are_found(name: str, value: str, why: str) -> None:
    [finding] = find_secrets({name: value})
    assert finding.name == name and why in finding.reason


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
        ("TOKEN_PARAMETER_NAME", "/shop/api-token"),
        ("TABLE_NAME", "orders-table-2024-production"),
        ("STAGE", "dev"),
        ("API_URL", "https://api.example.com/v1/orders"),
        ("PASSWORD_MIN_LENGTH", ""),
    ],
)
def test_configuration_and_pointers_to_secrets_are_fine(name: str, value: str) -> None:
    assert find_secrets({name: value}) == []


def test_the_warning_names_the_variable_and_the_fix() -> None:
    with pytest.warns(SecretInEnvironmentWarning) as caught:
        warn_about_secrets({"DB_PASSWORD": "hunter2", "STAGE": "dev"}, "orders")
    [warning] = caught
    text = str(warning.message)
    assert "DB_PASSWORD" in text and "orders" in text and "Secrets Manager" in text and "Parameter Store" in text


def test_labkit_function_warns_at_creation(tmp_path) -> None:
    import labkit

    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    with pytest.warns(SecretInEnvironmentWarning, match="API_KEY"):
        labkit.Function("app.handler", code=tmp_path, env={"API_KEY": "sk_live_abcdefghijklmnopqrstuvwx"}).close()


def test_redact_text_masks_credentials_cards_and_emails_and_keeps_the_rest() -> None:
    text = ('order 1042 for ada@example.com card 4111 1111 1111 1111 password=hunter2 '
            '"token": "abc" Authorization: Bearer abcdef123456 key AKIAIOSFODNN7EXAMPLE id 1234567812345678')
    out = redact_text(text)
    for secret in ("ada@", "4111 1111", "hunter2", '"abc"', "abcdef123456", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in out
    assert "order 1042" in out and "***@example.com" in out
    assert "1234567812345678" in out  # not a card number (fails the Luhn check)


def test_the_filter_masks_formatted_records_and_structured_messages() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test-redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("login %s with password=%s", "ada@example.com", "hunter2")
        logger.warning({"user": {"email": "bob@shop.io", "password": "pw", "cards": ["4111-1111-1111-1111"]}})
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "login ***@example.com with password=***"
    assert lines[1] == str({"user": {"email": "***@shop.io", "password": "***", "cards": ["***"]}})
    assert redact(("a@b.io", 3)) == ("***@b.io", 3)
