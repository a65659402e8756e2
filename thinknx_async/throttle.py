"""Token buckets: how fast one site (or one relay host) may be sent requests.

One :class:`TokenBucket` per site. It is FIFO-fair, only the head waiter sleeps (one timer, no
polling), a cancelled waiter consumes nothing, and its burst is explicit. It adapts: a 429 pauses
it until ``Retry-After`` has passed and lowers its rate once per congestion episode; successes
then raise the rate gradually back toward the configured one (or, with :meth:`RateLimit.auto`,
toward what the server turns out to accept).

A request takes its tokens through a :class:`thinknx_async._turn.Turn`, spent at the wire: a
request that must open a connection gives them back until it is ready to carry its bytes, so a
TLS handshake never holds a token (the server's bucket drains when requests arrive, not when
the client decides to send them).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
import attrs

from ._adaptive import RateController
from .errors import ValidationError

__all__ = ["RateLimit", "TokenBucket"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def _check_rate_limit(limit: RateLimit) -> None:
    if not (isinstance(limit.rate, int | float) and math.isfinite(limit.rate) and limit.rate > 0):
        raise ValidationError(f"rate must be a finite number > 0, got {limit.rate!r}")
    if type(limit.burst) is not int or limit.burst < 1:
        raise ValidationError(f"burst must be an integer >= 1, got {limit.burst!r}")
    if not (math.isfinite(limit.jitter) and limit.jitter >= 0):
        raise ValidationError(f"jitter must be a finite number >= 0, got {limit.jitter!r}")
    ceiling = limit.ceiling
    if ceiling is not None and not (
        isinstance(ceiling, int | float) and math.isfinite(ceiling) and ceiling >= limit.rate
    ):
        raise ValidationError(f"ceiling must be a finite number >= rate, got {ceiling!r}")
    if ceiling is not None and not limit.adaptive:
        raise ValidationError("a ceiling needs adaptive=True: the rate only grows by adapting")


_AUTO_RATE = 2.0  # requests a second RateLimit.auto() starts at
_AUTO_CEILING = 1000.0  # and the most it grows to
_AUTO_DOUBLING = 0.5  # seconds to double the rate while it is still searching


@attrs.frozen(slots=True)
class RateLimit:
    """How fast a server accepts requests: ``rate`` per second, ``burst`` at once.

    Give the server's own figures. The client keeps a safety margin under them, because
    requests sent evenly can reach the server bunched up (a slow TLS handshake on one
    connection, a fast one on the next). The margin comes out of the burst
    (``burst - rate * jitter`` tokens, at least one); a burst too small to pay for it spaces
    requests by ``jitter`` more instead.
    """

    rate: float
    """Requests per second the server accepts, as it states it (finite, above 0). With a
    ``ceiling``, only where the client starts: it grows until the server's first 429, then
    holds just under what the server accepted."""
    burst: int = 1
    """Requests the server accepts at once, back to back (an integer, at least 1)."""
    jitter: float = 0.05
    """Seconds: the spread of network delays the client tolerates between sending a request
    and its reaching the server; the safety margin is sized from it (0 for none)."""
    adaptive: bool = True
    """Whether the rate drops on a 429 and recovers on successes, never above ``rate`` (or
    above ``ceiling``, when there is one). False: the rate stays fixed whatever the server
    answers."""
    ceiling: float | None = None
    """Requests per second the rate never grows beyond, for a limit still to be found (see
    :meth:`auto`); at least ``rate``, and only with ``adaptive``. ``None``: the rate never
    grows above ``rate``."""

    @classmethod
    def auto(
        cls, *, ceiling: float = _AUTO_CEILING, rate: float = _AUTO_RATE, burst: int = 1
    ) -> RateLimit:
        """A limit to find out, for a server whose figure nobody knows.

        Starts at ``rate`` requests a second, ``burst`` at once, and doubles the rate every half
        second (slow start) until the server's first 429, or ``ceiling``. On that 429 it pauses
        for ``Retry-After``, then runs at 90 % of the replies per second the server accepted
        just before it, and refines that figure on the next 429, if any. See
        ``docs/rate-limits.md``.
        """
        return cls(rate=rate, burst=burst, jitter=0.0, adaptive=True, ceiling=ceiling)

    def __attrs_post_init__(self) -> None:
        _check_rate_limit(self)

    @property
    def capacity(self) -> float:
        """Tokens the client's bucket holds: the burst less the jitter margin, at least one."""
        return max(1.0, self.burst - self.rate * self.jitter)

    @property
    def effective_rate(self) -> float:
        """The refill rate the client uses: ``rate``, lowered only when the burst is too small."""
        shortfall = 1.0 - (self.burst - self.rate * self.jitter)
        return self.rate if shortfall <= 0 else self.rate / (1.0 + shortfall)


_SHARED = 0.25  # seconds within which two sites' 429s are one relay-wide reply
_TOLERANCE = 1e-9  # tokens: float rounding must not leave a waiter short of a whole token


class TokenBucket:
    """A FIFO token bucket for one site, adaptive to 429 replies.

    ``clock`` and ``sleep`` are injectable so tests can run it on a virtual clock.
    """

    __slots__ = (
        "_capacity",
        "_clock",
        "_control",
        "_last_429",
        "_limit",
        "_paused_until",
        "_rate",
        "_sleep",
        "_stamp",
        "_tokens",
        "_waiters",
    )

    def __init__(
        self, limit: RateLimit, *, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep
    ) -> None:
        self._limit = limit
        self._clock = clock
        self._sleep = sleep
        self._capacity = limit.capacity
        self._rate = limit.effective_rate
        self._stamp = now = clock()
        self._control: RateController | None = None
        if limit.ceiling is not None:
            self._control = RateController(
                limit.ceiling,
                rate=self._rate,
                burst=self._capacity,
                doubling=_AUTO_DOUBLING,
                started=now,
            )
        elif limit.adaptive:
            self._control = RateController(self._rate, burst=self._capacity, started=now)
        self._tokens = self._capacity
        self._paused_until = -math.inf
        self._last_429: tuple[float, int] | None = None
        self._waiters: deque[anyio.Event] | None = None  # made for the first wait: 760 bytes

    def __repr__(self) -> str:
        return f"<TokenBucket {self._rate:.3g}/s of {self._limit.rate:g}/s>"

    @property
    def limit(self) -> RateLimit:
        """The configured limit."""
        return self._limit

    @property
    def rate(self) -> float:
        """The rate in force now (lower than configured after 429s, until it recovers)."""
        return self._rate

    @property
    def decreases(self) -> int:
        """How many times 429s lowered the rate (once per congestion episode)."""
        return 0 if self._control is None else self._control.decreases

    @property
    def waiting(self) -> int:
        """How many callers are queued for a token."""
        return 0 if self._waiters is None else len(self._waiters)

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now

    def _delay(self, now: float) -> float:
        """Take a token and return 0.0, or return how long until one is due."""
        if now < self._paused_until:
            return self._paused_until - now
        self._refill(now)
        # The tolerance absorbs float rounding, which could otherwise leave a waiter sleeping
        # for a delay too small to move the clock, over and over.
        if self._tokens >= 1.0 - _TOLERANCE:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self._rate

    def try_acquire(self, first: bool = False) -> float | None:
        """Take a token without waiting: the grant time, or ``None`` if one is not free now.

        ``first``: a token given back (:meth:`give_back`) is taken again ahead of the queue.
        """
        if self._waiters and not first:
            return None  # FIFO: nobody jumps the queue
        now = self._clock()
        return now if self._delay(now) == 0.0 else None

    def ready(self) -> bool:
        """Whether :meth:`try_acquire` would grant a token now (nothing is taken).

        A spare token only: nobody queued, no pause, one in the bucket.
        """
        if self._waiters:
            return False
        now = self._clock()
        if now < self._paused_until:
            return False
        tokens = min(self._capacity, self._tokens + max(0.0, now - self._stamp) * self._rate)
        return tokens >= 1.0 - _TOLERANCE

    async def acquire(self, first: bool = False) -> float:
        """Wait for a token, in FIFO order; return the time it was granted.

        ``first``: wait at the head of the queue (a request taking back the token it gave back
        had its turn already). Cancelling the wait consumes nothing and lets the next waiter
        move up.
        """
        granted = self.try_acquire(first)
        if granted is not None:
            return granted
        me = anyio.Event()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = deque()
        if first:
            waiters.appendleft(me)  # the head it displaces may wake too: both draw tokens
        else:
            waiters.append(me)
        try:
            if waiters[0] is not me:
                await me.wait()  # the previous head wakes us when it leaves
            while True:
                now = self._clock()
                delay = self._delay(now)
                if delay == 0.0:
                    return now
                await self._sleep(delay)
        finally:
            head = waiters[0] is me
            waiters.remove(me)
            if head and waiters:
                waiters[0].set()

    def record_success(self) -> None:
        """A request went through: let the rate recover toward the configured one."""
        control = self._control
        if control is None:
            return
        now = self._clock()
        if self._rate < control.ceiling:
            self._refill(now)  # tokens earned so far count at the old rate
        control.success(now)
        self._rate = control.rate

    def record_rate_limited(self, granted_at: float, retry_after: float | None) -> None:
        """A request granted at ``granted_at`` got a 429: pause, and slow down once per episode.

        The pause lasts ``retry_after`` seconds (one token's time when the server gave none)
        and the bucket starts again empty, as the server's is. See
        :mod:`thinknx_async._adaptive` for how the rate follows.
        """
        now = self._clock()
        self._refill(now)
        self._tokens = 0.0
        pause = retry_after if retry_after is not None else 1.0 / self._rate
        self._paused_until = max(self._paused_until, now + pause)
        self._stamp = max(self._stamp, self._paused_until)
        if self._control is not None:
            self._control.rate_limited(now, granted_at, self._paused_until)
            self._rate = self._control.rate

    def give_back(self) -> None:
        """Return a token taken but not yet spent (its request is still opening a connection).

        Tokens are earned, never granted, so the queue's head finds it when it wakes.
        """
        self._refill(self._clock())
        self._tokens = min(self._capacity, self._tokens + 1.0)

    def shares_429(self, source: object) -> bool:
        """Note a 429 of ``source`` (a site) on this shared bucket: whether another source had
        one at nearly the same time (a quarter of a second), or during this bucket's pause.

        A relay that limits its caller as a whole answers many sites' requests with 429s at
        once; a site's own limit answers that site only.
        """
        now = self._clock()
        last = self._last_429
        self._last_429 = (now, id(source))
        if last is None:
            return False
        at, other = last
        return other != id(source) and (now - at <= _SHARED or now < self._paused_until)
