"""Starts child processes from one long-lived thread, so that a child's parent-death signal
(PR_SET_PDEATHSIG, sent when the *thread* that forked it ends) fires only when labkit's process dies."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


class Spawner:
    """A daemon thread that runs start-up callables and hands back their results."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, start: Callable[[], T]) -> T:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="labkit-spawner", daemon=True)
                self._thread.start()
        future: Future[object] = Future()
        self._jobs.put((start, future))
        return future.result()  # type: ignore[return-value]

    def _loop(self) -> None:
        while True:
            start, future = self._jobs.get()
            try:
                future.set_result(start())
            except BaseException as exc:  # handed to the caller, which re-raises it
                future.set_exception(exc)


SPAWNER = Spawner()
