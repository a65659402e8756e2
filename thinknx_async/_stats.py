"""Counting what a piece of code sent: attempts put on the wire and 429 replies among them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import attrs

__all__ = ["RequestStats", "count_requests", "current"]


@attrs.define(slots=True)
class RequestStats:
    """Attempts sent (every retry counts) and the 429 replies among them."""

    attempts: int = 0
    rate_limited: int = 0


_stats: ContextVar[RequestStats | None] = ContextVar("thinknx_request_stats", default=None)
current = _stats.get


@contextmanager
def count_requests() -> Iterator[RequestStats]:
    """Count the requests that the code inside the block sends.

    Tasks started inside the block count into the same figures. Blocks nest: an inner block
    counts its own requests, and they are not added to the outer one.

    ```python
    with count_requests() as stats:
        await light.turn_on()
    print(stats.attempts, stats.rate_limited)
    ```
    """
    stats = RequestStats()
    token = _stats.set(stats)
    try:
        yield stats
    finally:
        _stats.reset(token)
