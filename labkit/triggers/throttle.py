"""A token bucket: API Gateway's rate and burst throttling (steady requests per second, and how many
may arrive at once)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from labkit.errors import ConfigurationError


class TokenBucket:
    """`rate` tokens per second refill a bucket of `burst` tokens; each request takes one.

    >>> bucket = TokenBucket(rate=10, burst=5)
    >>> [bucket.take() for _ in range(6)]      # the burst, then empty
    [True, True, True, True, True, False]
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ConfigurationError(
                f"throttling needs rate > 0 requests per second and burst >= 1 (got rate={rate!r}, burst={burst!r})"
            )
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a token if there is one: True lets the request through, False throttles it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False
