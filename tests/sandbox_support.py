"""Bubblewrap for tests: skip with the reason where it cannot sandbox, or fail under LABKIT_REQUIRE_SANDBOX=1.

CI sets LABKIT_REQUIRE_SANDBOX=1 after installing bubblewrap, so a sandbox that cannot be built there
fails the run instead of silently skipping the tests that need it.
"""
from __future__ import annotations

import os
import sys
from typing import NoReturn

import pytest


def sandbox_unavailable(reason: str) -> NoReturn:
    """Skip the test, printing why, or fail it when LABKIT_REQUIRE_SANDBOX=1."""
    if os.environ.get("LABKIT_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"the sandbox is required here (LABKIT_REQUIRE_SANDBOX=1) but {reason}", pytrace=False)
    print(f"skipping: {reason}", file=sys.stderr)
    pytest.skip(reason)
