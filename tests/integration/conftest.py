"""Fixtures of the integration tests: a local AWS around a Lambda service on a fast lesson clock."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.aws.local import LocalAws
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[LocalAws, LambdaService]]:
    """(local AWS, its Lambda service): the service at 600 lesson seconds a second, closed first."""
    service = LambdaService(clock=LessonClock(speed=600), data_dir=tmp_path / "lambda")
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        yield aws, service
    finally:
        service.close()
        aws.close()
