"""Token buckets: how fast one site (or one relay host) may be sent requests.

One :class:`TokenBucket` per site. It is FIFO-fair, only the head waiter sleeps (one timer, no
polling), a cancelled waiter consumes nothing, and its burst is explicit. It adapts: a 429 pauses
it until ``Retry-After`` has passed and lowers its rate once per congestion episode; successes
then raise the rate gradually back toward the configured one.
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


@attrs.frozen(slots=True)
class RateLimit:
    """How fast a server accepts requests: ``rate`` per second, ``burst`` at once.

    Give the server's own figures. The client keeps a safety margin under them: ``jitter`` is
    the spread of network delays it tolerates (seconds), because requests sent evenly can reach
    the server bunched up (a slow TLS handshake on one connection, a fast one on the next). The
    margin comes out of the burst (``burst - rate * jitter`` tokens, at least one); a burst too
    small to pay for it spaces requests by ``jitter`` more instead. With ``adaptive`` the rate
    drops on a 429 and recovers on successes, never above ``rate``.
    """

    rate: float
    burst: int = 1
    jitter: float = 0.05
    adaptive: bool = True

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


_TOLERANCE = 1e-9  # tokens: float rounding must not leave a waiter short of a whole token


class TokenBucket:
    """A FIFO token bucket for one site, adaptive to 429 replies.

    ``clock`` and ``sleep`` are injectable so tests can run it on a virtual clock.
    """

    __slots__ = (
        "_capacity",
        "_clock",
        "_control",
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
        self._control = RateController(self._rate) if limit.adaptive else None
        self._tokens = self._capacity
        self._stamp = clock()
        self._paused_until = -math.inf
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

    def try_acquire(self) -> float | None:
        """Take a token without waiting: the grant time, or ``None`` if one is not free now."""
        if self._waiters:
            return None  # FIFO: nobody jumps the queue
        now = self._clock()
        return now if self._delay(now) == 0.0 else None

    def ready(self) -> bool:
        """Whether :meth:`try_acquire` would grant a token now (nothing is taken)."""
        if self._waiters:
            return False
        now = self._clock()
        if now < self._paused_until:
            return False
        tokens = min(self._capacity, self._tokens + max(0.0, now - self._stamp) * self._rate)
        return tokens >= 1.0 - _TOLERANCE

    async def acquire(self) -> float:
        """Wait for a token, in FIFO order; return the time it was granted.

        Cancelling the wait consumes nothing and lets the next waiter move up.
        """
        granted = self.try_acquire()
        if granted is not None:
            return granted
        me = anyio.Event()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = deque()
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
        if self._rate < self._limit.effective_rate:
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
            self._control.rate_limited(now, granted_at)
            self._rate = self._control.rate
