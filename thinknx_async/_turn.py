"""One attempt's rate-limit tokens, from its site's bucket to the wire."""

from __future__ import annotations

from typing import Protocol

from ._transport.base import PoolClosed
from .throttle import TokenBucket

__all__ = ["Turn"]


class _Owner(Protocol):
    @property
    def closed(self) -> bool:
        """Whether the session is closed."""


class Turn:
    """One attempt's tokens, its site's then its relay's, spent when it reaches the wire.

    :meth:`take` waits for them before the attempt enters the pool (no connection is held while
    waiting). When the pool holds the attempt up on its way to the wire (it waits for a free
    connection, or opens a new one: TCP, then TLS), it calls :meth:`give_back`: the tokens go
    back to their buckets meanwhile, and the pool awaits the turn itself once the connection
    is ready, which takes them again. So the server's bucket drains when requests arrive, and
    a slow handshake bunches nothing. A kept-alive connection is used at once, tokens in hand.
    Cancelling any wait consumes nothing, and an attempt cancelled before the wire never
    reached it.
    """

    __slots__ = (
        "bucket", "granted", "owner", "prepaid", "relay", "relay_bound", "relay_granted",
        "returned",
    )  # fmt: skip

    def __init__(
        self, bucket: TokenBucket | None, relay: TokenBucket | None, owner: _Owner
    ) -> None:
        self.owner = owner
        self.bucket = bucket
        self.relay = relay
        self.returned = False
        #: When the site's token was granted (0.0 without a site bucket).
        self.granted = 0.0
        #: When the relay's token was granted (0.0 without a relay bucket).
        self.relay_granted = 0.0
        #: Whether the relay's bucket made this attempt wait: the relay's limit was binding.
        self.relay_bound = False
        #: Tokens taken already (a poll's spare ones): the next :meth:`take` takes nothing.
        self.prepaid = False

    def paid(self, granted: float, relay_granted: float) -> None:
        """The tokens were taken already, at these times (a poll takes only spare ones)."""
        self.granted, self.relay_granted = granted, relay_granted
        self.prepaid = True

    async def take(self, first: bool = False) -> None:
        """Wait for the tokens, in each bucket's FIFO order (at its head when ``first``)."""
        if self.prepaid:
            self.prepaid = False
            return
        bucket = self.bucket
        if bucket is not None:
            now = bucket.try_acquire(first)
            self.granted = now if now is not None else await bucket.acquire(first)
        relay = self.relay
        if relay is not None:
            now = relay.try_acquire(first)
            self.relay_bound |= now is None
            self.relay_granted = now if now is not None else await relay.acquire(first)

    def give_back(self) -> None:
        """The attempt is held up before the wire: its tokens go back meanwhile (once)."""
        if not self.returned:
            self.returned = True
            if self.bucket is not None:
                self.bucket.give_back()
            if self.relay is not None:
                self.relay.give_back()

    async def __call__(self) -> None:
        """The connection is ready to carry the attempt: take back the tokens it gave back.

        Raises :class:`PoolClosed` when the session closed meanwhile: nothing is sent after it.
        """
        if self.returned:
            await self.take(first=True)  # it had its turn: no queueing behind later ones
            self.returned = False
            if self.owner.closed:
                raise PoolClosed

    def record_success(self) -> None:
        """The attempt's reply was not a 429: both buckets may grow back."""
        if self.bucket is not None:
            self.bucket.record_success()
        if self.relay is not None:
            self.relay.record_success()

    def record_rate_limited(self, source: object, retry_after: float | None) -> None:
        """The attempt got a 429: slow down the bucket whose limit it was.

        With a relay bucket, the 429 is the relay's when the relay's bucket was the binding one
        (this attempt waited for it), or when another site behind the same relay got a 429 at
        nearly the same time; otherwise it is the site's own.
        """
        relay = self.relay
        if relay is not None and (relay.shares_429(source) or self.relay_bound):
            relay.record_rate_limited(self.relay_granted, retry_after)
        elif self.bucket is not None:
            self.bucket.record_rate_limited(self.granted, retry_after)
