"""Recursive loop settings: PutFunctionRecursionConfig and GetFunctionRecursionConfig.

Lambda watches invocations that go round a loop through SQS, SNS or S3 (a function writing to
the queue that triggers it) and, when a function's ``RecursiveLoop`` is ``Terminate`` (the
default), stops the loop; ``Allow`` lets it run. This module keeps each function's setting;
botocore's model checks the value (``Allow`` or ``Terminate``) before it gets here. A deleted
function's setting goes with it.
"""
from __future__ import annotations

import threading

from labkit.service.models import LambdaModel

TERMINATE = "Terminate"


class RecursionConfigs:
    """The ``RecursiveLoop`` setting of every function of one Lambda service; thread-safe."""

    def __init__(self, model: LambdaModel) -> None:
        self.model = model
        self._lock = threading.Lock()
        self._loops: dict[str, str] = {}

    def put(self, name: str, recursive_loop: str) -> str:
        """PutFunctionRecursionConfig: the setting now in force (404 when the function is missing)."""
        self.model.function(name)
        with self._lock:
            self._loops[name] = recursive_loop
        return recursive_loop

    def get(self, name: str) -> str:
        """GetFunctionRecursionConfig: ``Terminate`` unless set (404 when the function is missing)."""
        self.model.function(name)
        with self._lock:
            return self._loops.get(name, TERMINATE)

    def drop(self, name: str) -> None:
        """Forget a deleted function's setting."""
        with self._lock:
            self._loops.pop(name, None)
