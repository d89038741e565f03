"""A local AWS around a Lambda service on a fast lesson clock, for integration tests."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labkit.aws.local import LocalAws
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService


@contextmanager
def local_aws(tmp_path: Path, **service_options: Any) -> Iterator[tuple[LocalAws, LambdaService]]:
    """(local AWS, its Lambda service): the service at 600 lesson seconds a second, closed first."""
    service = LambdaService(clock=LessonClock(speed=600), data_dir=tmp_path / "lambda", **service_options)
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        yield aws, service
    finally:
        service.close()
        aws.close()
