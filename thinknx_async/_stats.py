"""Counting what a piece of code sent: attempts put on the wire and 429 replies among them."""

from __future__ import annotations

from contextvars import ContextVar, Token

import attrs

__all__ = ["RequestStats", "count_requests", "current"]


@attrs.define(slots=True)
class RequestStats:
    """Attempts sent (every retry counts) and the 429 replies among them."""

    attempts: int = 0
    """Requests sent by the code inside the :class:`count_requests` block (and the tasks it
    started), every retry counted."""
    rate_limited: int = 0
    """How many of those requests the server answered with a 429."""


_stats: ContextVar[RequestStats | None] = ContextVar("thinknx_request_stats", default=None)
current = _stats.get


class count_requests:
    """Count the requests that the code inside the block sends.

    Tasks started inside the block count into the same figures. Blocks nest: an inner block
    counts its own requests, and they are not added to the outer one.

    ```python
    with count_requests() as stats:
        await light.turn_on()
    print(stats.attempts, stats.rate_limited)
    ```
    """

    __slots__ = ("_stats", "_token")

    def __init__(self) -> None:
        self._stats = RequestStats()
        self._token: Token[RequestStats | None] | None = None

    def __enter__(self) -> RequestStats:
        self._token = _stats.set(self._stats)
        return self._stats

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _stats.reset(self._token)
            self._token = None
