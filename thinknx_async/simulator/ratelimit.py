"""Token-bucket rate limiting and the ``Retry-After`` header it produces.

:class:`LimitReq` is nginx's ``limit_req ... nodelay`` arithmetic, for comparing with the
bucket (the virtual-clock tests use both); serving with it is one more option to wire in.
"""

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


class LimitReq:
    """nginx's ``limit_req`` for one key, with ``burst`` and ``nodelay``, as nginx computes it.

    nginx keeps an *excess* in milli-requests and the time of the last accepted request in
    milliseconds; a request adds 1000 less what the rate has drained since, and is refused
    when the excess would pass ``burst * 1000``. So ``burst + 1`` requests pass at once, then
    one per ``1 / rate``. Refused requests change nothing. ``acquire`` answers as
    :meth:`TokenBucket.acquire` does, with the wait ``add_header Retry-After 1 always`` gives.
    """

    def __init__(self, rate: float, burst: int, now: float | None = None) -> None:
        self._rate = int(rate * 1000)  # nginx keeps requests per 1000 s
        self._burst = burst * 1000
        self._excess = 0
        self._last: int | None = None
        self._start = time.monotonic() if now is None else now

    def acquire(self, now: float | None = None) -> float:
        """0.0 when the request is accepted, else 1.0 (the ``Retry-After`` to send)."""
        t = time.monotonic() if now is None else now
        ms_now = int((t - self._start) * 1000)
        if self._last is None:  # a new node: excess 0
            self._last = ms_now
            return 0.0
        ms = max(0, ms_now - self._last)
        excess = max(0, self._excess - self._rate * ms // 1000 + 1000)
        if excess > self._burst:
            return 1.0  # 429, Retry-After: 1
        self._excess, self._last = excess, ms_now
        return 0.0


def retry_after_header(wait: float, style: RetryAfterStyle) -> list[tuple[bytes, bytes]]:
    """The ``Retry-After`` header for a wait: ceil seconds (min 1), an HTTP date, or none."""
    if style == "none":
        return []
    seconds = max(1, math.ceil(wait))
    if style == "date":
        return [(b"retry-after", formatdate(time.time() + seconds, usegmt=True).encode())]
    return [(b"retry-after", str(seconds).encode())]
