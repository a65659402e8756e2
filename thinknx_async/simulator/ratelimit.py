"""Token-bucket rate limiting and the ``Retry-After`` header it produces."""

from __future__ import annotations

import math
import threading
import time
from email.utils import formatdate
from typing import Literal

RetryAfterStyle = Literal["seconds", "date", "none"]


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; one token per request."""

    __slots__ = ("_lock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, now: float | None = None) -> float:
        """Take a token: 0.0 when granted, else the seconds until one will be available."""
        with self._lock:
            t = time.monotonic() if now is None else now
            tokens = min(self.burst, self._tokens + (t - self._stamp) * self.rate)
            self._stamp = t
            if tokens >= 1.0:
                self._tokens = tokens - 1.0
                return 0.0
            self._tokens = tokens
            return (1.0 - tokens) / self.rate

    def reset(self) -> None:
        """Refill to ``burst``."""
        with self._lock:
            self._tokens = float(self.burst)
            self._stamp = time.monotonic()


def retry_after_header(wait: float, style: RetryAfterStyle) -> list[tuple[bytes, bytes]]:
    """The ``Retry-After`` header for a wait: ceil seconds (min 1), an HTTP date, or none."""
    if style == "none":
        return []
    seconds = max(1, math.ceil(wait))
    if style == "date":
        return [(b"retry-after", formatdate(time.time() + seconds, usegmt=True).encode())]
    return [(b"retry-after", str(seconds).encode())]
