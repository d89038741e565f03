"""Fixtures of the integration tests."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.aws.local import LocalAws
from labkit.service.lambda_service import LambdaService
from tests.local_aws import local_aws


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[LocalAws, LambdaService]]:
    """(local AWS, its Lambda service) on a fast lesson clock, closed after the test."""
    with local_aws(tmp_path) as pair:
        yield pair
