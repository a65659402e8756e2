"""How a poll's request tells the site that its token is already taken.

The poller takes a token only when one is spare (:meth:`Site._spare_token`), then sends its read
inside :func:`polling`: the site uses that token instead of queueing for another, and never
retries the read (the poller backs off instead, so a poll never queues ahead of a command).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["POLL", "Poll", "polling"]


class Poll:
    """One poll in progress: when its tokens were granted (the site's, the relay's), until the
    site has used them."""

    __slots__ = ("granted",)

    def __init__(self, granted: tuple[float, float] | None) -> None:
        self.granted = granted


POLL: ContextVar[Poll | None] = ContextVar("thinknx_async_poll", default=None)


@contextmanager
def polling(granted: tuple[float, float] | None) -> Iterator[Poll]:
    """Mark the requests sent inside the block as a poll holding tokens granted at ``granted``
    (the site's and the relay's grant times)."""
    poll = Poll(granted)
    token = POLL.set(poll)
    try:
        yield poll
    finally:
        POLL.reset(token)
